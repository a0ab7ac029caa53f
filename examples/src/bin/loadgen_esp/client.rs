//! `pix-loadgen --esp`: the tunnels, the sender (this thread) and the receiver (a
//! thread of its own, which owns the inbound SAs).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use esp::udp_encap::{NAT_KEEPALIVE, NAT_T_PORT, NON_ESP_MARKER, UDP_HEADER_LEN};
use esp::{
    Encapsulation, EncryptionAlgorithm, EspKeys, EspSaParams, InboundSa, IntegrityAlgorithm,
    LifetimeConfig, OutboundSa,
};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::{presets, ChildSa, Endpoint, Event, QmOffer, SaId};
use pix_primitives::{Ipv4Error, Ipv4Packet};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_core::Rng as _;

use super::batch::{Batch, BATCH};
use super::wire::{self, Counters, Op, Start, IP_UDP, MAX_INNER, MIN_INNER};
use super::{Common, EspArgs};

/// Bounds on the command line (the tool must stop by itself).
const MAX_TUNNELS: usize = 4096;
const MAX_SECS: f64 = 3600.0;
const MAX_RATE: f64 = 10_000_000.0;
/// A buffer of the batches: the largest ESP packet the load sends or receives.
const BUF: usize = 2048;
/// How often the IKE sockets are served during the load (DPD, DELETE from the gateway).
const IKE_EVERY: Duration = Duration::from_millis(50);
/// After the window: time for the last packets to arrive before the counters are read.
const DRAIN: Duration = Duration::from_millis(500);
/// START and QUERY: retransmitted this often, for at most this long.
const CTL_EVERY: Duration = Duration::from_millis(200);
const CTL_FOR: Duration = Duration::from_secs(5);

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Tunnels asked for, and up.
    pub asked: usize,
    /// Tunnels whose handshake completed.
    pub up: usize,
    /// Wall time of the handshakes.
    pub handshake_secs: f64,
    /// Tunnels whose START was acknowledged (the down path works).
    pub started: usize,
    /// Tunnels whose REPORT came back.
    pub reported: usize,
    /// The load window.
    pub window_secs: f64,
    /// Up: packets handed to the kernel, sends refused, and what the inside received.
    pub up_sent: u64,
    /// Sends the kernel refused.
    pub up_errors: u64,
    /// Up: DATA packets the inside counterpart received.
    pub up_received: u64,
    /// Up: their inner bytes.
    pub up_bytes: u64,
    /// Down: DATA packets the inside counterpart sent.
    pub down_sent: u64,
    /// Down: DATA packets the clients decrypted.
    pub down_received: u64,
    /// Down: their inner bytes.
    pub down_bytes: u64,
    /// ESP packets that failed to decapsulate.
    pub esp_errors: u64,
    /// Down data packets decrypted and verified (`--esp-verify-every`).
    pub down_verified: u64,
    /// Other packets on the raw socket (unknown SPI, not ours).
    pub other: u64,
    /// Tunnels the gateway deleted or that failed during the load.
    pub lost: usize,
    /// The gateway's CPU seconds from the window's start to the end of the drain.
    pub gateway_cpu: Option<f64>,
    /// The seconds the gateway's threads were runnable but waiting for a CPU over the
    /// same time (`/proc/PID/task/*/schedstat`): the machine's other load.
    pub gateway_wait: Option<f64>,
    /// This process's CPU seconds over the same time.
    pub own_cpu: Option<f64>,
    /// The ESP transform of the first tunnel (PIX name).
    pub transform: String,
    /// `--esp-gso`: the UDP GSO sends that went out as such.
    pub gso_sends: u64,
}

impl Report {
    /// Every tunnel up, started and reported, none lost.
    pub fn complete(&self) -> bool {
        self.up == self.asked
            && self.started == self.asked
            && self.reported == self.asked
            && self.lost == 0
    }
}

#[allow(clippy::disallowed_methods)] // a driver with IO: the clock is ours to read
fn now() -> Instant {
    Instant::now()
}

/// One tunnel: its IKE endpoint and socket, and the child SA.
struct Tunnel {
    ep: Endpoint,
    sock: UdpSocket,
    rng: StdRng,
    local: SocketAddr,
    gw: SocketAddr,
    sa: SaId,
    addr: Ipv4Addr,
    child: Box<ChildSa>,
    lost: bool,
    /// `--natt`: the UDP socket on port 4500 (bound to our address, connected to the
    /// gateway's port 4500; a filter keeps only IKE behind the non-ESP marker).
    natt: Option<UdpSocket>,
    /// IKE moved to port 4500.
    floated: bool,
}

/// The sending half of a tunnel.
struct Tx {
    out: OutboundSa,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    /// For the control messages (the load goes through a `Batch`).
    buf: Vec<u8>,
    seq: u64,
    index: u32,
    /// Its sending socket (of the tunnel's IKE address).
    sock: usize,
}

/// One sending socket (one per client address): a raw ESP socket, or with `--natt` the
/// address's UDP socket on port 4500; connected to the gateway either way. The tunnels
/// it carries take turns within each batch.
struct Out {
    sock: UdpSocket,
    txs: Vec<usize>,
    next: usize,
}

/// What the receiver hands to the sender.
enum Ctl {
    Ack(usize),
    Report(usize, Counters),
}

/// What the receiver counted.
#[derive(Debug, Default)]
struct Rx {
    packets: u64,
    bytes: u64,
    esp_errors: u64,
    other: u64,
    /// Data packets decrypted and verified (the rest counted by length, unopened).
    verified: u64,
}

/// Checks the options, brings the tunnels up, runs the load, deletes the tunnels.
pub fn run(a: &EspArgs, c: &Common) -> anyhow::Result<Report> {
    if !(c.gateway.ip().is_private() || c.gateway.ip().is_loopback()) {
        anyhow::bail!(
            "--gateway {}: --esp is a test tool for namespaces; only loopback and private (RFC 1918) gateways",
            c.gateway.ip()
        );
    }
    if a.tunnels == 0 || a.tunnels > MAX_TUNNELS {
        anyhow::bail!("--tunnels {}: give 1..={MAX_TUNNELS}", a.tunnels);
    }
    if !(a.esp_secs.is_finite() && a.esp_secs > 0.0 && a.esp_secs <= MAX_SECS) {
        anyhow::bail!("--esp-secs {}: give 0 < S <= {MAX_SECS}", a.esp_secs);
    }
    if !(a.esp_rate.is_finite() && a.esp_rate >= 0.0 && a.esp_rate <= MAX_RATE) {
        anyhow::bail!(
            "--esp-rate {}: give 0 (as fast as possible) ..= {MAX_RATE}",
            a.esp_rate
        );
    }
    if !(MIN_INNER..=MAX_INNER).contains(&a.esp_size) {
        anyhow::bail!("--esp-size {}: give {MIN_INNER}..={MAX_INNER}", a.esp_size);
    }
    let mut rng: StdRng = match c.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => rand::make_rng(),
    };
    let run_id = rng.next_u32().max(1);
    let mut report = Report {
        asked: a.tunnels,
        ..Report::default()
    };
    let addrs = client_addrs(c)?;
    if a.natt && addrs.len() < a.tunnels {
        anyhow::bail!(
            "--natt with {} tunnels from {} address(es): give --bind-spread >= --tunnels (one tunnel per address; without a NAT all tunnels of one address would come from the same address and port 4500, which the gateway takes for one client)",
            a.tunnels,
            addrs.len()
        );
    }
    let t0 = now();
    let mut tunnels = Vec::new();
    for i in 0..a.tunnels {
        let bind = i
            .checked_rem(addrs.len())
            .and_then(|j| addrs.get(j).copied())
            .unwrap_or(c.bind);
        match connect(c, i as u64, bind, a.natt) {
            Ok(t) => tunnels.push(t),
            Err(e) => eprintln!("pix-loadgen: tunnel {i}: {e:#}"),
        }
    }
    report.up = tunnels.len();
    report.handshake_secs = now().saturating_duration_since(t0).as_secs_f64();
    println!(
        "esp: {} of {} tunnels up in {:.2} s",
        report.up, report.asked, report.handshake_secs
    );
    if tunnels.is_empty() {
        anyhow::bail!("no tunnel came up");
    }
    let r = load(a, c, &mut tunnels, run_id, &mut rng, &mut report);
    for t in &mut tunnels {
        let _ = t.ep.delete(now(), t.sa, &mut t.rng);
        flush(&mut t.ep, &t.sock, t.natt.as_ref(), t.gw);
    }
    r.map(|()| report)
}

/// The window and the control exchanges around it.
fn load(
    a: &EspArgs,
    c: &Common,
    tunnels: &mut [Tunnel],
    run_id: u32,
    rng: &mut StdRng,
    report: &mut Report,
) -> anyhow::Result<()> {
    let t = now();
    let mut txs = Vec::new();
    let mut inbound = HashMap::new();
    // One sending socket per client address, connected to the gateway: a raw ESP
    // socket bound to the address (the ESP's source is the SA's peer), or with --natt
    // the address's UDP socket on port 4500. One unbound raw socket receives for all of
    // them (ESP, or with --natt UDP: the ESP in UDP the filter keeps off the UDP
    // sockets).
    let gw_ip = *c.gateway.ip();
    let mut outs: Vec<Out> = Vec::new();
    let mut out_of: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (i, tun) in tunnels.iter().enumerate() {
        let std::net::IpAddr::V4(local) = tun.local.ip() else {
            anyhow::bail!("tunnel {i}: IKE address {} is not IPv4", tun.local);
        };
        let sock = match out_of.get(&local) {
            Some(r) => *r,
            None => {
                let sock = match &tun.natt {
                    Some(u) => u.try_clone().context("clone the port-4500 socket")?,
                    None => {
                        let r = raw_esp(Some(local))?;
                        r.connect(SocketAddrV4::new(gw_ip, 0))
                            .context("connect the raw ESP socket to the gateway")?;
                        r
                    }
                };
                outs.push(Out {
                    sock,
                    txs: Vec::new(),
                    next: 0,
                });
                out_of.insert(local, outs.len().saturating_sub(1));
                outs.len().saturating_sub(1)
            }
        };
        if let Some(o) = outs.get_mut(sock) {
            o.txs.push(i);
        }
        let (out, inb, name) =
            esp_sas(&tun.child, t, a.natt).with_context(|| format!("tunnel {i}"))?;
        if report.transform.is_empty() {
            report.transform = name;
        }
        inbound.insert(inb.spi(), (i, inb));
        txs.push(Tx {
            out,
            src: SocketAddrV4::new(tun.addr, tun.local.port()),
            dst: a.inside,
            buf: vec![0u8; BUF],
            seq: 0,
            index: u32::try_from(i).unwrap_or(u32::MAX),
            sock,
        });
    }
    let rx_sock = if a.natt { raw_udp()? } else { raw_esp(None)? };
    let stop = Arc::new(AtomicBool::new(false));
    let (ctl_tx, ctl_rx) = mpsc::channel();
    let receiver = {
        let stop = Arc::clone(&stop);
        let every = a.esp_verify_every.max(1);
        std::thread::spawn(move || receive(&rx_sock, inbound, run_id, every, &stop, &ctl_tx))
    };
    let r = window(
        a, c, tunnels, &mut txs, &mut outs, run_id, rng, &ctl_rx, report,
    );
    stop.store(true, Ordering::Relaxed);
    let rx = receiver
        .join()
        .map_err(|_| anyhow::anyhow!("the ESP receiver thread panicked"))?;
    report.down_received = rx.packets;
    report.down_bytes = rx.bytes;
    report.esp_errors = rx.esp_errors;
    report.down_verified = rx.verified;
    report.other = rx.other;
    report.lost = tunnels.iter().filter(|t| t.lost).count();
    r
}

#[allow(clippy::too_many_arguments)]
fn window(
    a: &EspArgs,
    c: &Common,
    tunnels: &mut [Tunnel],
    txs: &mut [Tx],
    outs: &mut [Out],
    run_id: u32,
    rng: &mut StdRng,
    ctl: &mpsc::Receiver<Ctl>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let n = txs.len();
    let milli_pps = if a.esp_rate > 0.0 {
        ((a.esp_rate * 1000.0 / n as f64) as u64).max(1)
    } else {
        0
    };
    let start_msg = wire::start(
        run_id,
        &Start {
            direction: a.direction.bits(),
            milli_pps,
            size: u16::try_from(a.esp_size).unwrap_or(u16::MAX),
            duration_ms: (a.esp_secs * 1000.0) as u32,
        },
    );
    let acked = exchange(tunnels, txs, outs, rng, ctl, &start_msg, |c| {
        matches!(c, Ctl::Ack(_))
    });
    report.started = acked.iter().filter(|x| x.is_some()).count();
    if report.started < n {
        anyhow::bail!(
            "{} of {n} tunnels had no answer to START from the inside counterpart {} within {} s (is `pix-loadgen --esp-inside --listen {}` running behind the gateway?)",
            n.saturating_sub(report.started),
            a.inside,
            CTL_FOR.as_secs(),
            a.inside
        );
    }

    let gw_stat = c.gateway_pid.map(|p| format!("/proc/{p}/stat"));
    let gw_cpu0 = gw_stat.as_deref().and_then(c.cpu_secs);
    let gw_wait0 = c.gateway_pid.and_then(runqueue_wait_secs);
    let own_cpu0 = (c.cpu_secs)("/proc/self/stat");
    let start = now();
    let span = Duration::from_secs_f64(a.esp_secs);
    let (mut sent, mut errors, mut next) = (0u64, 0u64, 0usize);
    let mut served = start;
    let up = a.direction.up();
    let mut batch = Batch::new(BUF);
    let gso = a.esp_gso && a.natt;
    let mut gso_sends = 0u64;
    loop {
        let t = now();
        let el = t.saturating_duration_since(start);
        if el >= span {
            break;
        }
        if t.saturating_duration_since(served) >= IKE_EVERY {
            serve_ike(tunnels);
            served = t;
        }
        if !up {
            std::thread::sleep(span.saturating_sub(el).min(Duration::from_millis(5)));
            continue;
        }
        let due = if a.esp_rate > 0.0 {
            ((a.esp_rate * el.as_secs_f64()) as u64).saturating_add(1)
        } else {
            sent.saturating_add(BATCH as u64)
        };
        if sent >= due {
            let wait = ((sent as f64 + 1.0) / a.esp_rate - el.as_secs_f64()).clamp(0.0, 0.002);
            std::thread::sleep(Duration::from_secs_f64(wait));
            continue;
        }
        // One batch: the next socket in turn, its tunnels in turn within the batch.
        let mut want = usize::try_from(due.saturating_sub(sent))
            .unwrap_or(BATCH)
            .min(BATCH);
        if gso {
            want = want.min(Batch::gso_limit(BUF.min(a.esp_size.saturating_add(64))));
        }
        next = next.wrapping_add(1).checked_rem(outs.len()).unwrap_or(0);
        let Some(o) = outs.get_mut(next) else { break };
        let (mut filled, mut failed) = (0usize, 0u64);
        for _ in 0..want {
            o.next = o.next.wrapping_add(1).checked_rem(o.txs.len()).unwrap_or(0);
            let Some(tx) = o.txs.get(o.next).and_then(|i| txs.get_mut(*i)) else {
                break;
            };
            tx.seq = tx.seq.wrapping_add(1);
            let (run, index, seq) = (run_id, tx.index, tx.seq);
            let Some(buf) = batch.buf_mut(filled) else {
                break;
            };
            match tx.build(t, rng, buf, a.esp_size, |p| {
                let _ = wire::data(p, run, index, seq);
            }) {
                Ok(len) => {
                    batch.set_len(filled, len);
                    filled = filled.saturating_add(1);
                }
                Err(_) => failed = failed.saturating_add(1),
            }
        }
        let refused = if gso {
            let seg = o
                .txs
                .first()
                .and_then(|i| txs.get(*i))
                .and_then(|tx| tx.out.encapsulated_len(a.esp_size).ok())
                .unwrap_or(0);
            let (_, refused, used) = batch.send_gso(o.sock.as_raw_fd(), filled, seg);
            gso_sends = gso_sends.saturating_add(u64::from(used));
            refused
        } else {
            batch.send(o.sock.as_raw_fd(), filled, None).1
        };
        errors = errors.saturating_add(refused).saturating_add(failed);
        sent = sent.saturating_add(want as u64);
    }
    report.window_secs = now().saturating_duration_since(start).as_secs_f64();
    let drain_end = now().checked_add(DRAIN).unwrap_or_else(now);
    while now() < drain_end {
        serve_ike(tunnels);
        std::thread::sleep(IKE_EVERY);
    }
    let gw_cpu1 = gw_stat.as_deref().and_then(c.cpu_secs);
    let gw_wait1 = c.gateway_pid.and_then(runqueue_wait_secs);
    report.gateway_wait = gw_wait0.zip(gw_wait1).map(|(a, b)| b - a);
    let own_cpu1 = (c.cpu_secs)("/proc/self/stat");
    report.gateway_cpu = gw_cpu0.zip(gw_cpu1).map(|(a, b)| b - a);
    report.own_cpu = own_cpu0.zip(own_cpu1).map(|(a, b)| b - a);
    report.up_sent = sent.saturating_sub(errors);
    report.gso_sends = gso_sends;
    report.up_errors = errors;

    let query = wire::bare(Op::Query, run_id);
    let reports = exchange(tunnels, txs, outs, rng, ctl, &query, |c| {
        matches!(c, Ctl::Report(..))
    });
    for r in reports.iter().flatten() {
        if let Ctl::Report(_, k) = r {
            report.reported = report.reported.saturating_add(1);
            report.up_received = report.up_received.saturating_add(k.rx_packets);
            report.up_bytes = report.up_bytes.saturating_add(k.rx_bytes);
            report.down_sent = report.down_sent.saturating_add(k.tx_packets);
        }
    }
    if report.reported < n {
        anyhow::bail!(
            "{} of {n} tunnels had no answer to QUERY from the inside counterpart within {} s",
            n.saturating_sub(report.reported),
            CTL_FOR.as_secs()
        );
    }
    Ok(())
}

/// The time all threads of `pid` spent runnable but waiting for a CPU, in seconds (the
/// second field of `/proc/PID/task/TID/schedstat`, in nanoseconds).
fn runqueue_wait_secs(pid: u32) -> Option<f64> {
    let mut ns: u64 = 0;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
        let w: u64 = s
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        ns = ns.saturating_add(w);
    }
    Some(ns as f64 / 1e9)
}

/// Sends `msg` through every tunnel until each has an answer that `wanted` accepts
/// (retransmitted every `CTL_EVERY`, for at most `CTL_FOR`); the answers by tunnel.
#[allow(clippy::too_many_arguments)]
fn exchange(
    tunnels: &mut [Tunnel],
    txs: &mut [Tx],
    outs: &[Out],
    rng: &mut StdRng,
    ctl: &mpsc::Receiver<Ctl>,
    msg: &[u8],
    wanted: impl Fn(&Ctl) -> bool,
) -> Vec<Option<Ctl>> {
    let mut got: Vec<Option<Ctl>> = txs.iter().map(|_| None).collect();
    let end = now().checked_add(CTL_FOR).unwrap_or_else(now);
    while now() < end && got.iter().any(Option::is_none) {
        for (tx, g) in txs.iter_mut().zip(&got) {
            if g.is_none() {
                let len = msg.len().saturating_add(IP_UDP);
                let _ = tx.send(rng, outs, len, |p| {
                    if let Some(d) = p.get_mut(..msg.len()) {
                        d.copy_from_slice(msg);
                    }
                });
            }
        }
        serve_ike(tunnels);
        let round = now().checked_add(CTL_EVERY).unwrap_or_else(now);
        while got.iter().any(Option::is_none) {
            let left = round.saturating_duration_since(now());
            if left.is_zero() {
                break;
            }
            let m = match ctl.recv_timeout(left) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                // the receiver is gone: no answer can come
                Err(mpsc::RecvTimeoutError::Disconnected) => return got,
            };
            if !wanted(&m) {
                continue;
            }
            let i = match m {
                Ctl::Ack(i) | Ctl::Report(i, _) => i,
            };
            if let Some(slot) = got.get_mut(i) {
                *slot = Some(m);
            }
        }
    }
    got
}

impl Tx {
    /// Writes an inner packet of `len` bytes (IP header included) whose UDP payload
    /// `fill` writes into `buf` and encapsulates it there, in place; returns the ESP
    /// packet's length (what goes to the gateway: the raw socket or the UDP socket on
    /// port 4500 adds the header in front).
    fn build(
        &mut self,
        now: Instant,
        rng: &mut StdRng,
        buf: &mut [u8],
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> anyhow::Result<usize> {
        let off = self.out.payload_offset();
        let inner = buf
            .get_mut(off..off.saturating_add(len))
            .context("ESP buffer")?;
        wire::ipv4_udp(inner, self.src, self.dst, len.saturating_sub(IP_UDP))
            .context("inner packet")?;
        fill(inner.get_mut(IP_UDP..).unwrap_or_default());
        self.out
            .encapsulate_in_place(now, rng, 4, buf, len)
            .map_err(|e| anyhow::anyhow!("ESP encapsulation: {e}"))
    }

    /// One packet on its own (the control messages): `build`, then a send.
    fn send(
        &mut self,
        rng: &mut StdRng,
        outs: &[Out],
        len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> anyhow::Result<()> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.build(now(), rng, &mut buf, len, fill);
        let sent = r.and_then(|n| {
            outs.get(self.sock)
                .context("sending socket")?
                .sock
                .send(buf.get(..n).unwrap_or_default())
                .context("send ESP")
        });
        self.buf = buf;
        sent.map(|_| ())
    }
}

/// A raw ESP socket: bound to `bind` for sending only (a filter drops everything it
/// would receive), or unbound for receiving.
fn raw_esp(bind: Option<Ipv4Addr>) -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Protocol, SockFilter, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(50)))
        .context("raw socket for ESP (IP protocol 50): --esp needs root (CAP_NET_RAW)")?;
    match bind {
        Some(a) => {
            // BPF_RET|BPF_K 0: keep nothing
            s.attach_filter(&[SockFilter::new(0x06, 0, 0, 0)])
                .context("drop filter on the sending raw socket")?;
            let _ = s.set_send_buffer_size(4 << 20);
            if !a.is_unspecified() {
                s.bind(&SocketAddr::V4(SocketAddrV4::new(a, 0)).into())
                    .with_context(|| format!("bind a raw ESP socket to {a}"))?;
            }
        }
        None => {
            let _ = s.set_recv_buffer_size(8 << 20);
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .context("raw ESP socket read timeout")?;
        }
    }
    Ok(UdpSocket::from(s))
}

/// The receiving socket of `--natt`: a raw UDP socket, which sees a copy of every UDP
/// datagram for this namespace (the ESP in UDP from the gateway among them).
fn raw_udp() -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP))
        .context("raw UDP socket: --esp --natt needs root (CAP_NET_RAW)")?;
    let _ = s.set_recv_buffer_size(8 << 20);
    s.set_read_timeout(Some(Duration::from_millis(50)))
        .context("raw UDP socket read timeout")?;
    Ok(UdpSocket::from(s))
}

/// `--natt`: the UDP socket on `local`:4500, connected to the gateway's port 4500. A
/// socket filter keeps only what starts with the non-ESP marker (IKE): the ESP that
/// arrives on it is read from the raw UDP socket instead, and a NAT keepalive is of no
/// use to us.
fn natt_socket(local: Ipv4Addr, gw: Ipv4Addr) -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Protocol, SockFilter, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .context("UDP socket for port 4500")?;
    // The filter sees the datagram from its UDP header on: the 32-bit word at offset 8
    // is the marker. ld [8]; jeq #0 ? keep : drop (a datagram too short to load: drop).
    s.attach_filter(&[
        SockFilter::new(0x20, 0, 0, UDP_HEADER_LEN as u32),
        SockFilter::new(0x15, 0, 1, 0),
        SockFilter::new(0x06, 0, 0, u32::MAX),
        SockFilter::new(0x06, 0, 0, 0),
    ])
    .context("IKE-only filter on the port-4500 socket")?;
    let _ = s.set_send_buffer_size(4 << 20);
    s.bind(&SocketAddr::V4(SocketAddrV4::new(local, NAT_T_PORT)).into())
        .with_context(|| {
            format!("bind UDP {local}:{NAT_T_PORT} (--natt: one tunnel per address, and nothing else on port 4500 there)")
        })?;
    s.connect(&SocketAddr::V4(SocketAddrV4::new(gw, NAT_T_PORT)).into())
        .context("connect the port-4500 socket to the gateway")?;
    Ok(UdpSocket::from(s))
}

/// The IKE addresses of the tunnels: `--bind`, or with `--bind-spread N` the N
/// consecutive addresses from `--bind` on.
fn client_addrs(c: &Common) -> anyhow::Result<Vec<Ipv4Addr>> {
    if c.bind_spread <= 1 {
        return Ok(vec![c.bind]);
    }
    if c.bind.is_unspecified() || c.bind_spread as usize > MAX_TUNNELS {
        anyhow::bail!(
            "--bind-spread {}: give --bind (the first address) and at most {MAX_TUNNELS}",
            c.bind_spread
        );
    }
    let first = u32::from(c.bind);
    (0..c.bind_spread)
        .map(|i| {
            first
                .checked_add(i)
                .map(Ipv4Addr::from)
                .context("--bind-spread: past 255.255.255.255")
        })
        .collect()
}

/// The receiver: decrypts what arrives on the raw socket until `stop`.
fn receive(
    sock: &UdpSocket,
    sas: HashMap<u32, (usize, InboundSa)>,
    run_id: u32,
    every: u32,
    stop: &AtomicBool,
    ctl: &mpsc::Sender<Ctl>,
) -> Rx {
    let mut r = Receiver {
        sas,
        run_id,
        every,
        ctl,
        rx: Rx::default(),
        data_len: None,
        skipped: 0,
    };
    let mut batch = Batch::new(BUF);
    let fd = sock.as_raw_fd();
    while !stop.load(Ordering::Relaxed) {
        let got = match batch.recv(fd) {
            Ok(n) => n,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
        };
        let t = now();
        for k in 0..got {
            if let Some((d, _)) = batch.datagram_mut(k) {
                r.packet(t, d);
            }
        }
    }
    r.rx
}

/// The receiver's state.
struct Receiver<'a> {
    sas: HashMap<u32, (usize, InboundSa)>,
    run_id: u32,
    every: u32,
    ctl: &'a mpsc::Sender<Ctl>,
    rx: Rx,
    /// The ESP length and inner length of a data packet, once one was opened; a packet
    /// of that ESP length is counted unopened except one in `every` (control packets
    /// are shorter and always opened).
    data_len: Option<(usize, u64)>,
    skipped: u32,
}

impl Receiver<'_> {
    /// One datagram from the raw socket (IP header first): ESP (protocol 50), or with
    /// `--natt` UDP from port 4500 whose payload is ESP (not IKE behind the marker).
    fn packet(&mut self, now: Instant, buf: &mut [u8]) {
        let rx = &mut self.rx;
        // The kernel hands over whole IPv4 packets; one longer than the receive buffer
        // arrives cut short (its total length past the end) and is still tried (its ICV
        // fails: an ESP error).
        let (ip, end) = match Ipv4Packet::new_checked(&*buf) {
            Ok(ip) => (ip, usize::from(ip.total_len())),
            Err(Ipv4Error::TotalLen { total_len, len, .. }) if total_len > len => {
                (Ipv4Packet::new_unchecked(&*buf), len)
            }
            Err(_) => {
                rx.other = rx.other.saturating_add(1);
                return;
            }
        };
        let ihl = ip.header_len();
        let esp_at = match ip.next_header() {
            50 => Some(ihl),
            17 => {
                let udp = buf.get(ihl..end).unwrap_or_default();
                let src_port = udp
                    .get(..2)
                    .and_then(|p| <[u8; 2]>::try_from(p).ok())
                    .map(u16::from_be_bytes);
                let marker = udp
                    .get(UDP_HEADER_LEN..)
                    .is_some_and(|p| p.starts_with(&NON_ESP_MARKER));
                (src_port == Some(NAT_T_PORT) && !marker)
                    .then(|| ihl.saturating_add(UDP_HEADER_LEN))
            }
            _ => None,
        };
        let Some(packet) = esp_at.and_then(|at| buf.get_mut(at..end)) else {
            rx.other = rx.other.saturating_add(1);
            return;
        };
        let Some((i, sa)) = esp::peek_spi(packet)
            .ok()
            .and_then(|spi| self.sas.get_mut(&spi))
        else {
            rx.other = rx.other.saturating_add(1);
            return;
        };
        if let Some((len, inner_len)) = self.data_len {
            if packet.len() == len && self.every > 1 {
                self.skipped = self.skipped.saturating_add(1);
                if self.skipped < self.every {
                    rx.packets = rx.packets.saturating_add(1);
                    rx.bytes = rx.bytes.saturating_add(inner_len);
                    return;
                }
                self.skipped = 0;
            }
        }
        let esp_len = packet.len();
        let d = match sa.decapsulate(now, packet) {
            Ok(d) if !d.is_dummy() => d,
            Ok(_) => return,
            Err(_) => {
                rx.esp_errors = rx.esp_errors.saturating_add(1);
                return;
            }
        };
        let inner = packet.get(d.payload).unwrap_or_default();
        let Some((op, run, body)) =
            wire::parse_ipv4_udp(inner).and_then(|(_, _, payload)| wire::parse(payload))
        else {
            rx.other = rx.other.saturating_add(1);
            return;
        };
        if run != self.run_id {
            rx.other = rx.other.saturating_add(1);
            return;
        }
        match op {
            Op::Data => {
                rx.packets = rx.packets.saturating_add(1);
                rx.verified = rx.verified.saturating_add(1);
                rx.bytes = rx.bytes.saturating_add(inner.len() as u64);
                self.data_len = Some((esp_len, inner.len() as u64));
            }
            Op::Ack => {
                let _ = self.ctl.send(Ctl::Ack(*i));
            }
            Op::Report => {
                if let Some(k) = wire::parse_report(body) {
                    let _ = self.ctl.send(Ctl::Report(*i, k));
                }
            }
            Op::Start | Op::Query => rx.other = rx.other.saturating_add(1),
        }
    }
}

/// The outbound and inbound ESP SAs of a child SA, and the transform's PIX name.
fn esp_sas(
    c: &ChildSa,
    now: Instant,
    natt: bool,
) -> anyhow::Result<(OutboundSa, InboundSa, String)> {
    let (enc, integ) = (c.encryption, c.integrity);
    let encap = Encapsulation::from_attribute(c.encapsulation)
        .map_err(|e| anyhow::anyhow!("encapsulation {}: {e}", c.encapsulation))?;
    if encap.is_udp() != natt {
        anyhow::bail!(
            "encapsulation {}: {}",
            c.encapsulation,
            if natt {
                "--natt, but the tunnel did not float to UDP-encapsulated ESP (isakmp nat-traversal on the gateway?)"
            } else {
                "the tunnel floated to NAT-T (UDP-encapsulated ESP): give --natt"
            }
        );
    }
    let params = |spi: u32, ek: &[u8], ak: &[u8]| {
        let mut p = EspSaParams::new(spi, enc, integ, encap, EspKeys::new(ek, ak));
        p.lifetime = LifetimeConfig::from_hard(Some(c.life_secs), None);
        p
    };
    let out = OutboundSa::new(
        &params(
            c.spi_out,
            c.enc_key_out.expose_secret(),
            c.auth_key_out.expose_secret(),
        ),
        now,
    )
    .map_err(|e| anyhow::anyhow!("outbound SA: {e}"))?;
    let inb = InboundSa::new(
        &params(
            c.spi_in,
            c.enc_key_in.expose_secret(),
            c.auth_key_in.expose_secret(),
        ),
        now,
    )
    .map_err(|e| anyhow::anyhow!("inbound SA: {e}"))?;
    let name = format!("{} {}", enc.pix_name(), integ.pix_name().unwrap_or("none"));
    Ok((out, inb, name))
}

// ---- IKE -------------------------------------------------------------------------------

/// The Quick Mode of the 4.x client, with AES offered after the seed's DES and 3DES
/// proposals (a transform set of `esp-aes esp-sha-hmac` then matches).
fn quick_mode(addr: Ipv4Addr) -> ike_sm::QuickModeRequest {
    let mut q = presets::vpn_client_quick_mode(addr);
    for (cipher, auth) in [
        (EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacSha1_96),
        (EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacMd5_96),
        (EncryptionAlgorithm::Aes256, IntegrityAlgorithm::HmacSha1_96),
        (EncryptionAlgorithm::Aes256, IntegrityAlgorithm::HmacMd5_96),
    ] {
        q.offers.push(QmOffer {
            cipher,
            auth,
            with_ipcomp: false,
            transport: false,
        });
    }
    q
}

/// Brings up one tunnel: Aggressive Mode, Xauth, Mode Config, Quick Mode.
fn connect(c: &Common, index: u64, bind: Ipv4Addr, natt: bool) -> anyhow::Result<Tunnel> {
    let sock = UdpSocket::bind(SocketAddrV4::new(bind, 0))
        .with_context(|| format!("bind UDP socket to {bind}"))?;
    let gw = SocketAddr::V4(c.gateway);
    sock.connect(gw).context("connect UDP socket")?;
    let mut local = sock.local_addr().context("local address")?;
    if local.ip().is_unspecified() {
        // the address the kernel picks towards the gateway (one interface here)
        let probe = UdpSocket::bind("0.0.0.0:0").context("bind probe socket")?;
        probe.connect(gw).context("route to the gateway")?;
        local.set_ip(probe.local_addr().context("local address")?.ip());
    }
    let mut rng = match c.seed {
        Some(s) => StdRng::seed_from_u64(s.wrapping_add(index).wrapping_add(1)),
        None => rand::make_rng(),
    };
    let mut ep = Endpoint::new(presets::client(), modecfg::Pools::new());
    let mut profile = presets::vpn_client_4x(
        DhGroup::Modp1024,
        c.group_key.as_bytes(),
        &c.user,
        c.password.as_bytes(),
    );
    // Every tunnel comes from the same address: INITIAL-CONTACT would drop the others.
    profile.initial_contact = false;
    profile.nat_t = natt;
    profile.force_natt_encapsulation = natt;
    let (std::net::IpAddr::V4(local_ip), std::net::IpAddr::V4(gw_ip)) = (local.ip(), gw.ip())
    else {
        anyhow::bail!("IKE addresses {local} and {gw}: IPv4 only");
    };
    let natt_sock = if natt {
        Some(natt_socket(local_ip, gw_ip)?)
    } else {
        None
    };
    let local4500 = SocketAddr::V4(SocketAddrV4::new(local_ip, NAT_T_PORT));
    let gw4500 = SocketAddr::V4(SocketAddrV4::new(gw_ip, NAT_T_PORT));
    let mut floated = false;
    let start = now();
    let limit = start
        .checked_add(Duration::from_secs(c.timeout_secs))
        .unwrap_or(start);
    let sa = ep
        .initiate(start, local, gw, profile, &mut rng)
        .map_err(|e| anyhow::anyhow!("initiate: {e}"))?;
    let mut qm_started = false;
    let mut buf = vec![0u8; 65_536];
    let mut addr = Ipv4Addr::UNSPECIFIED;
    loop {
        floated |= flush(&mut ep, &sock, natt_sock.as_ref(), gw);
        while let Some(e) = ep.poll_event() {
            match e {
                Event::ChildSa(child) => {
                    sock.set_nonblocking(true)
                        .context("IKE socket non-blocking")?;
                    return Ok(Tunnel {
                        ep,
                        sock,
                        rng,
                        local,
                        gw,
                        sa,
                        addr,
                        child,
                        lost: false,
                        natt: natt_sock,
                        floated,
                    });
                }
                Event::Failed { reason, .. } => anyhow::bail!("handshake failed: {reason:?}"),
                Event::Deleted { .. } => anyhow::bail!("deleted by the gateway"),
                Event::XauthDone { user: None, .. } => anyhow::bail!("Xauth refused"),
                _ => {}
            }
        }
        if !qm_started && ep.ready_for_quick_mode(sa) {
            addr = ep.assigned_address(sa).context("no Mode Config address")?;
            ep.initiate_quick_mode(now(), sa, quick_mode(addr), &mut rng)
                .map_err(|e| anyhow::anyhow!("Quick Mode: {e}"))?;
            qm_started = true;
            continue;
        }
        let tn = now();
        if tn >= limit {
            anyhow::bail!(
                "timeout ({} s, state {:?})",
                c.timeout_secs,
                ep.sa_state(sa)
            );
        }
        let deadline = ep.poll_timeout().map_or(limit, |d| d.min(limit));
        let wait = deadline
            .saturating_duration_since(tn)
            .max(Duration::from_millis(1));
        // After the float to port 4500 everything comes there, behind the marker.
        let (rsock, from_local, from_gw) = match (&natt_sock, floated) {
            (Some(u), true) => (u, local4500, gw4500),
            _ => (&sock, local, gw),
        };
        rsock
            .set_read_timeout(Some(wait))
            .context("IKE socket timeout")?;
        match rsock.recv(&mut buf) {
            Ok(n) => {
                let bytes = buf.get(..n).unwrap_or_default();
                let bytes = if floated {
                    bytes.strip_prefix(&NON_ESP_MARKER[..]).unwrap_or_default()
                } else {
                    bytes
                };
                if !bytes.is_empty() {
                    ep.handle_datagram(now(), from_local, from_gw, bytes, &mut rng);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                let tn = now();
                if ep.poll_timeout().is_some_and(|d| d <= tn) {
                    ep.handle_timeout(tn, &mut rng);
                }
            }
            Err(e) => anyhow::bail!("IKE receive: {e}"),
        }
    }
}

/// Sends what the endpoint wants sent to the gateway (a full socket drops it: IKE
/// retransmits): to its port 500 on `sock`, after the float to port 4500 on `natt`
/// behind the non-ESP marker (a NAT keepalive without). Returns whether anything went
/// to port 4500.
fn flush(ep: &mut Endpoint, sock: &UdpSocket, natt: Option<&UdpSocket>, gw: SocketAddr) -> bool {
    let mut to_4500 = false;
    while let Some(t) = ep.poll_transmit() {
        if t.remote == gw {
            let _ = sock.send(&t.bytes);
        } else if t.remote.ip() == gw.ip() && t.remote.port() == NAT_T_PORT {
            let Some(u) = natt else { continue };
            to_4500 = true;
            if t.bytes == [NAT_KEEPALIVE] {
                let _ = u.send(&t.bytes);
            } else {
                let mut m = Vec::with_capacity(t.bytes.len().saturating_add(4));
                m.extend_from_slice(&NON_ESP_MARKER);
                m.extend_from_slice(&t.bytes);
                let _ = u.send(&m);
            }
        }
    }
    to_4500
}

/// Feeds every tunnel's IKE socket and timers (non-blocking): DPD and DELETE from the
/// gateway are answered during the load; a tunnel the gateway deletes is marked lost.
fn serve_ike(tunnels: &mut [Tunnel]) {
    let mut buf = [0u8; 4096];
    for t in tunnels {
        while let Ok(n) = t.sock.recv(&mut buf) {
            let bytes = buf.get(..n).unwrap_or_default();
            t.ep.handle_datagram(now(), t.local, t.gw, bytes, &mut t.rng);
        }
        if let Some(u) = &t.natt {
            // blocking for the batched sends: read without waiting
            while let Ok(n) = nix::sys::socket::recv(
                u.as_raw_fd(),
                &mut buf,
                nix::sys::socket::MsgFlags::MSG_DONTWAIT,
            ) {
                let bytes = buf.get(..n).unwrap_or_default();
                if let Some(ike) = bytes.strip_prefix(&NON_ESP_MARKER[..]) {
                    let (std::net::IpAddr::V4(l), std::net::IpAddr::V4(g)) =
                        (t.local.ip(), t.gw.ip())
                    else {
                        continue;
                    };
                    let (l, g) = (
                        SocketAddr::V4(SocketAddrV4::new(l, NAT_T_PORT)),
                        SocketAddr::V4(SocketAddrV4::new(g, NAT_T_PORT)),
                    );
                    t.ep.handle_datagram(now(), l, g, ike, &mut t.rng);
                }
            }
        }
        let tn = now();
        if t.ep.poll_timeout().is_some_and(|d| d <= tn) {
            t.ep.handle_timeout(tn, &mut t.rng);
        }
        t.floated |= flush(&mut t.ep, &t.sock, t.natt.as_ref(), t.gw);
        while let Some(e) = t.ep.poll_event() {
            if let Event::Deleted { .. } | Event::Failed { .. } = e {
                if !t.lost {
                    eprintln!(
                        "pix-loadgen: tunnel {} ({}) lost during the load: {e:?}",
                        t.local, t.addr
                    );
                }
                t.lost = true;
            }
        }
    }
}

// ---- report ----------------------------------------------------------------------------

/// Prints the report: sentences, then the machine-readable lines (`KEY value`).
pub fn print(a: &EspArgs, c: &Common, r: &Report) {
    let secs = r.window_secs.max(1e-9);
    let loss = |sent: u64, got: u64| {
        if sent == 0 {
            0.0
        } else {
            (sent as f64 - got as f64) * 100.0 / sent as f64
        }
    };
    let mbit = |bytes: u64| bytes as f64 * 8.0 / 1e6 / secs;
    println!(
        "esp: {} tunnels ({}), direction {}, inner packets of {} bytes to {}, asked {} packets/s per direction ({}), window {:.2} s",
        r.up,
        r.transform,
        a.direction.name(),
        a.esp_size,
        a.inside,
        a.esp_rate,
        if a.esp_rate > 0.0 { "total" } else { "as fast as possible" },
        r.window_secs
    );
    let mut lines: Vec<(String, String)> = vec![
        ("ESP_TUNNELS".into(), r.up.to_string()),
        ("ESP_DIRECTION".into(), a.direction.name().into()),
        ("ESP_SIZE".into(), a.esp_size.to_string()),
        ("ESP_SECS".into(), format!("{:.3}", r.window_secs)),
    ];
    let (mut sent, mut got, mut bytes) = (0u64, 0u64, 0u64);
    for (on, name, s, g, b) in [
        (a.direction.up(), "UP", r.up_sent, r.up_received, r.up_bytes),
        (
            a.direction.down(),
            "DOWN",
            r.down_sent,
            r.down_received,
            r.down_bytes,
        ),
    ] {
        if !on {
            continue;
        }
        println!(
            "esp: {}: sent {s}, received {g} ({:.2}% lost), {:.0} packets/s received, {:.1} Mbit/s inner",
            if name == "UP" {
                "up (clients -> inside counterpart)"
            } else {
                "down (inside counterpart -> clients)"
            },
            loss(s, g),
            g as f64 / secs,
            mbit(b)
        );
        lines.push((format!("ESP_{name}_SENT"), s.to_string()));
        lines.push((format!("ESP_{name}_RECEIVED"), g.to_string()));
        lines.push((
            format!("ESP_{name}_PPS_SENT"),
            format!("{:.0}", s as f64 / secs),
        ));
        lines.push((
            format!("ESP_{name}_PPS_RECEIVED"),
            format!("{:.0}", g as f64 / secs),
        ));
        lines.push((format!("ESP_{name}_LOSS_PCT"), format!("{:.2}", loss(s, g))));
        lines.push((format!("ESP_{name}_MBIT_PER_S"), format!("{:.1}", mbit(b))));
        sent = sent.saturating_add(s);
        got = got.saturating_add(g);
        bytes = bytes.saturating_add(b);
    }
    println!(
        "esp: {} send errors, {} ESP packets that failed to decrypt, {} other packets on the raw socket, {} tunnels lost",
        r.up_errors, r.esp_errors, r.other, r.lost
    );
    lines.push(("ESP_PPS_SENT".into(), format!("{:.0}", sent as f64 / secs)));
    lines.push((
        "ESP_PPS_RECEIVED".into(),
        format!("{:.0}", got as f64 / secs),
    ));
    lines.push(("LOSS_PCT".into(), format!("{:.2}", loss(sent, got))));
    lines.push(("MBIT_PER_S".into(), format!("{:.1}", mbit(bytes))));
    lines.push(("ESP_DECRYPT_ERRORS".into(), r.esp_errors.to_string()));
    lines.push(("ESP_DOWN_VERIFIED".into(), r.down_verified.to_string()));
    if a.esp_gso {
        println!(
            "esp: {} UDP GSO sends (one per batch of a tunnel)",
            r.gso_sends
        );
        lines.push(("ESP_GSO_SENDS".into(), r.gso_sends.to_string()));
    }
    let span = secs + DRAIN.as_secs_f64();
    if let Some(cpu) = r.own_cpu {
        println!(
            "esp: load generator CPU {cpu:.2} s over {span:.2} s ({:.0}% of one CPU)",
            cpu * 100.0 / span
        );
        lines.push(("LOADGEN_CPU_SECS".into(), format!("{cpu:.2}")));
    }
    if c.gateway_pid.is_some() {
        match r.gateway_cpu {
            Some(cpu) => {
                println!(
                    "esp: gateway CPU {cpu:.2} s over {span:.2} s (window and drain, {:.0}% of one CPU)",
                    cpu * 100.0 / span
                );
                lines.push(("GATEWAY_CPU_SECS".into(), format!("{cpu:.2}")));
                if let Some(w) = r.gateway_wait {
                    println!(
                        "esp: the gateway's threads waited {w:.2} s for a CPU (runnable, not running: other load on its CPUs)"
                    );
                    lines.push(("GATEWAY_RUNQUEUE_WAIT_SECS".into(), format!("{w:.2}")));
                }
                lines.push((
                    "GATEWAY_CPU_UTIL_PCT".into(),
                    format!("{:.0}", cpu * 100.0 / span),
                ));
                if bytes > 0 {
                    lines.push((
                        "GATEWAY_CPU_SECS_PER_GB".into(),
                        format!("{:.2}", cpu / (bytes as f64 / 1e9)),
                    ));
                }
            }
            None => println!("esp: the gateway's CPU time could not be read"),
        }
    }
    for (k, v) in lines {
        println!("{k} {v}");
    }
}
