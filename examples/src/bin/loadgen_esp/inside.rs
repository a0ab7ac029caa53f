//! `pix-loadgen --esp-inside`: the inside counterpart of the ESP load. One UDP socket;
//! the main thread receives (counts DATA per client address and run, answers START and
//! QUERY), a second thread sends DATA down to the clients whose START asked for it. Both
//! batch their system calls (`recvmmsg`, `sendmmsg`: up to 64 datagrams each).
//! Its readiness line is `INSIDE listening on ADDR:PORT`; its last line
//! `INSIDE clients=N rx_packets=.. rx_bytes=.. tx_packets=.. tx_errors=..`.

use std::collections::HashMap;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::batch::{Batch, BATCH};
use super::wire::{self, Counters, Op, IP_UDP, MAX_INNER, MIN_INNER};

/// Bounds: the counterpart keeps state per client address and must stop by itself.
const MAX_CLIENTS: usize = 65_536;
const MAX_SECS: f64 = 3600.0;
/// Packets sent to one client back to back (one `sendmmsg`) before the clock is read
/// again.
const BURST: u64 = BATCH as u64;

/// One client address: its current run and what it asked.
#[derive(Debug, Default)]
struct Client {
    run: u32,
    counters: Counters,
    down: Option<Down>,
}

/// Load to send down to a client.
#[derive(Debug, Clone, Copy)]
struct Down {
    milli_pps: u64,
    size: usize,
    start: Instant,
    until: Instant,
}

type Clients = Arc<Mutex<HashMap<SocketAddrV4, Client>>>;

fn lock(c: &Clients) -> MutexGuard<'_, HashMap<SocketAddrV4, Client>> {
    c.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the counterpart on `listen` for `secs` seconds.
pub fn run(listen: SocketAddrV4, secs: f64) -> anyhow::Result<()> {
    if !(secs.is_finite() && secs > 0.0 && secs <= MAX_SECS) {
        anyhow::bail!("--secs {secs}: give 0 < S <= {MAX_SECS}");
    }
    let sock = UdpSocket::bind(listen).with_context(|| {
        format!("--esp-inside: cannot bind UDP {listen} (is the address on an interface of this namespace?)")
    })?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .context("--esp-inside: socket read timeout")?;
    let s2 = socket2::SockRef::from(&sock);
    let _ = s2.set_recv_buffer_size(8 << 20);
    let _ = s2.set_send_buffer_size(4 << 20);
    let tx = sock.try_clone().context("--esp-inside: clone the socket")?;
    println!("INSIDE listening on {listen} for {secs} s");
    let clients: Clients = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (clients, stop) = (Arc::clone(&clients), Arc::clone(&stop));
        std::thread::spawn(move || send_down(&tx, &clients, &stop))
    };
    let end = Instant::now()
        .checked_add(Duration::from_secs_f64(secs))
        .context("--secs too large")?;
    // Datagrams larger than a buffer are not ours (the load's are at most MAX_INNER).
    let mut batch = Batch::new(2048);
    let (mut foreign, mut refused) = (0u64, 0u64);
    let mut replies: Vec<(Vec<u8>, SocketAddrV4)> = Vec::new();
    let fd = sock.as_raw_fd();
    while Instant::now() < end {
        let got = match batch.recv(fd) {
            Ok(n) => n,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                // e.g. ICMP unreachable for an earlier send: counted, never fatal
                refused = refused.saturating_add(1);
                continue;
            }
        };
        {
            // one lock for the batch
            let mut all = lock(&clients);
            for k in 0..got {
                let Some((msg, Some(from))) = batch.datagram_mut(k) else {
                    continue;
                };
                let from = SocketAddrV4::from(from);
                let n = msg.len();
                let Some((op, run, body)) = wire::parse(msg) else {
                    foreign = foreign.saturating_add(1);
                    continue;
                };
                if let Some(r) = handle(&mut all, from, op, run, body, n) {
                    replies.push((r, from));
                }
            }
        }
        for (r, to) in replies.drain(..) {
            let _ = sock.send_to(&r, to);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sender.join();
    let all = lock(&clients);
    let mut total = Counters::default();
    for (addr, c) in all.iter() {
        println!(
            "inside: client {addr} run {:08x}: received {} packets ({} bytes), sent {} ({} errors)",
            c.run,
            c.counters.rx_packets,
            c.counters.rx_bytes,
            c.counters.tx_packets,
            c.counters.tx_errors
        );
        total.rx_packets = total.rx_packets.saturating_add(c.counters.rx_packets);
        total.rx_bytes = total.rx_bytes.saturating_add(c.counters.rx_bytes);
        total.tx_packets = total.tx_packets.saturating_add(c.counters.tx_packets);
        total.tx_errors = total.tx_errors.saturating_add(c.counters.tx_errors);
    }
    println!("inside: {foreign} datagrams not ours, {refused} receive errors");
    println!(
        "INSIDE clients={} rx_packets={} rx_bytes={} tx_packets={} tx_errors={}",
        all.len(),
        total.rx_packets,
        total.rx_bytes,
        total.tx_packets,
        total.tx_errors
    );
    Ok(())
}

/// One message from `from` (`len` bytes of UDP payload); returns the reply, if any.
fn handle(
    all: &mut HashMap<SocketAddrV4, Client>,
    from: SocketAddrV4,
    op: Op,
    run: u32,
    body: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    match op {
        Op::Data => {
            let c = all.get_mut(&from)?;
            if c.run == run {
                c.counters.rx_packets = c.counters.rx_packets.saturating_add(1);
                let bytes = len.saturating_add(IP_UDP) as u64;
                c.counters.rx_bytes = c.counters.rx_bytes.saturating_add(bytes);
            }
            None
        }
        Op::Start => {
            let s = wire::parse_start(body)?;
            if !all.contains_key(&from) && all.len() >= MAX_CLIENTS {
                return None;
            }
            let c = all.entry(from).or_default();
            // A repeated START (its ACK was lost) must not restart the run.
            // (A fresh entry has run 0, which the load generator never uses.)
            if c.run != run {
                *c = Client {
                    run,
                    ..Client::default()
                };
                let size = usize::from(s.size).clamp(MIN_INNER, MAX_INNER);
                if s.direction & 2 != 0 {
                    let start = Instant::now();
                    let dur = Duration::from_millis(u64::from(s.duration_ms));
                    c.down = Some(Down {
                        milli_pps: s.milli_pps,
                        size,
                        start,
                        until: start.checked_add(dur).unwrap_or(start),
                    });
                }
            }
            Some(wire::bare(Op::Ack, run))
        }
        Op::Query => {
            let counters = all
                .get(&from)
                .filter(|c| c.run == run)
                .map(|c| c.counters)
                .unwrap_or_default();
            Some(wire::report(run, &counters))
        }
        Op::Ack | Op::Report => None,
    }
}

/// Sends DATA to every client with a `Down` until `stop`.
fn send_down(sock: &UdpSocket, clients: &Clients, stop: &AtomicBool) {
    let mut batch = Batch::new(MAX_INNER);
    let fd = sock.as_raw_fd();
    let mut jobs: Vec<(SocketAddrV4, u32, u64, u64, usize)> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        jobs.clear();
        {
            let mut all = lock(clients);
            for (addr, c) in all.iter_mut() {
                let Some(d) = c.down else { continue };
                if now >= d.until {
                    c.down = None;
                    continue;
                }
                // sends the kernel refused count in the schedule too
                let sent = c.counters.tx_packets.saturating_add(c.counters.tx_errors);
                let due = if d.milli_pps == 0 {
                    sent.saturating_add(BURST)
                } else {
                    let el = now.saturating_duration_since(d.start).as_secs_f64();
                    ((d.milli_pps as f64 / 1000.0 * el) as u64).saturating_add(1)
                };
                let n = due.saturating_sub(sent).min(BURST);
                if n > 0 {
                    jobs.push((*addr, c.run, sent, n, d.size));
                }
            }
        }
        if jobs.is_empty() {
            std::thread::sleep(Duration::from_micros(500));
            continue;
        }
        for &(addr, run, first, n, size) in &jobs {
            let len = size.saturating_sub(IP_UDP);
            let mut filled = 0usize;
            for k in 0..n {
                let Some(p) = batch.buf_mut(filled).and_then(|b| b.get_mut(..len)) else {
                    break;
                };
                let _ = wire::data(p, run, 0, first.saturating_add(k));
                batch.set_len(filled, len);
                filled = filled.saturating_add(1);
            }
            let (ok, err) = batch.send(fd, filled, Some(addr.into()));
            let mut all = lock(clients);
            if let Some(c) = all.get_mut(&addr).filter(|c| c.run == run) {
                c.counters.tx_packets = c.counters.tx_packets.saturating_add(ok);
                c.counters.tx_errors = c.counters.tx_errors.saturating_add(err);
            }
        }
    }
}
