//! `pix-loadgen`: a load generator for `pix-gateway run`, built on our own `ike-sm`
//! initiator (the seed's Cisco VPN Client 4.x preset: Aggressive Mode, Xauth, Mode Config
//! pull, then one Quick Mode for `assigned address <-> 0.0.0.0/0`).
//!
//! Every simulated user is one `ike_sm::Endpoint` with its own UDP socket on its own
//! ephemeral port, driven by one task of a single-threaded tokio runtime: datagrams in,
//! transmits out, and a timer loop on `Endpoint::poll_timeout`.
//!
//! * `--hold`: connect `--users` users (`--concurrency` handshakes in flight), report, then
//!   keep every SA up until SIGINT or EOF on stdin; then DELETE them all.
//! * `--rate-secs S`: connect, then delete, users continuously for S seconds; report the
//!   completed handshakes per second (and, with `--gateway-pid`, the gateway's CPU time).
//!   With `--reuse-client-dh` each of the `--concurrency` workers keeps one endpoint
//!   for all its handshakes (a new socket and port each time, as without it) with
//!   `ike_sm::Limits::initiator_dh_reuse` set to an hour: the client then makes one DH
//!   key pair per worker instead of one per handshake and pays half the gateway's DH,
//!   so that it can saturate a gateway on the same machine. A load-testing knob only:
//!   every handshake of a worker sends the same KE. `--cache-client-dh` (implies
//!   `--reuse-client-dh`) also keeps the worker's DH agreements by the gateway's public
//!   value (`ike_sm::Limits::initiator_dh_agreement_cache`): against a gateway under
//!   pressure (`pix-gateway run --limit pressure-half-open=0`: one key pair per group
//!   for `dh_reuse_window`) the client then does no modexp at all after each worker's
//!   first handshake of a window. The line `CLIENT_MODEXPS_PER_HANDSHAKE` says what the
//!   client paid.
//! * `--dh-bound S`: no network; the rate of (key pair generation + shared secret) in
//!   group 2 with the default exponent size, what a responder pays per handshake.
//! * `--flood mm1|am1|am1-unknown-group|header --rate R --sources CIDR --secs S
//!   [--max-packets N]`: spoofed IKE first messages from random addresses of CIDR
//!   through a raw socket, at R packets/s, for S seconds at most; a test tool for
//!   network namespaces only (see `loadgen_flood/mod.rs`). The last line is
//!   `FLOOD kind=K sent=N errors=E secs=S rate=R target=T cpu=C`.
//! * `--esp --tunnels N --esp-secs S --esp-rate PPS --esp-size BYTES --inside ADDR:PORT
//!   --direction up|down|both`: N real tunnels, then ESP through them for S seconds,
//!   against `--esp-inside --listen ADDR:PORT --secs S` behind the gateway (see
//!   `loadgen_esp/mod.rs`); lines `ESP_PPS_SENT`, `ESP_PPS_RECEIVED`, `LOSS_PCT`,
//!   `MBIT_PER_S`, `GATEWAY_CPU_SECS`, `GATEWAY_CPU_SECS_PER_GB`.
//!
//! The preset's INITIAL-CONTACT is turned off: every simulated user comes from the same
//! address without NAT, and INITIAL-CONTACT would make the gateway drop the others.
// The driver reads the clock (Instant::now, SystemTime::now): the library crates
// never do, the event loop does it for them.
#![allow(clippy::disallowed_methods)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use ike_sm::{presets, Config, Endpoint, Event, Limits, SaId};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

#[path = "loadgen_esp/mod.rs"]
mod esp_load;
#[path = "loadgen_flood/mod.rs"]
mod flood;

/// Load generator for `pix-gateway run`: simulated VPN Client 4.x users from our own
/// ike-sm initiator.
#[derive(Parser, Debug, Clone)]
#[command(name = "pix-loadgen", version)]
struct Args {
    /// The gateway's outside address.
    #[arg(long, default_value = "192.168.1.1")]
    gateway: Ipv4Addr,
    /// The gateway's IKE port.
    #[arg(long, default_value_t = 500)]
    port: u16,
    /// Local address the users' sockets bind to (each on its own ephemeral port).
    #[arg(long, default_value = "0.0.0.0")]
    bind: Ipv4Addr,
    /// Spread the users over this many consecutive addresses from `--bind` (user or
    /// handshake i binds to `--bind` + i mod N; the addresses must be configured): a
    /// gateway of several workers places a peer's first messages by its address, so one
    /// address loads one worker.
    #[arg(long, default_value_t = 1, value_name = "N")]
    bind_spread: u32,
    /// Users to connect (`--hold`).
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Keep every SA up after connecting until SIGINT or EOF on stdin.
    #[arg(long)]
    hold: bool,
    /// Throughput: connect and delete users continuously for this many seconds.
    #[arg(long, value_name = "S")]
    rate_secs: Option<f64>,
    /// Only measure the DH-only rate (group 2 key pair + agree) for this many seconds.
    #[arg(long, value_name = "SECS")]
    dh_bound: Option<f64>,
    /// Xauth user name (all simulated users share it).
    #[arg(long, default_value = "cisco_customer")]
    user: String,
    /// Xauth password.
    #[arg(long, default_value = "cisco123")]
    password: String,
    /// Spread the handshakes over this many user names: handshake i logs in as
    /// `--user` followed by i mod N (`load0`, `load1`, ... for `--user load`), all with
    /// `--password`. 0: every handshake is `--user`. For an AAA tier whose address
    /// leases stick to a user name (sqlippool with pool_key = User-Name).
    #[arg(long, default_value_t = 0, value_name = "N")]
    user_count: u64,
    /// The vpngroup's pre-shared key (group name vpn3000).
    #[arg(long, default_value = "cisco1234")]
    group_key: String,
    /// Give up on one handshake after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// Seed the users' RNGs (seed + user number) instead of the OS generator.
    #[arg(long)]
    seed: Option<u64>,
    /// PID of the gateway: report its CPU time (utime+stime) over the measured window.
    #[arg(long)]
    gateway_pid: Option<u32>,
    /// `--rate-secs`: one DH key pair per worker for the whole run instead of one per
    /// handshake (`ike_sm::Limits::initiator_dh_reuse`; load testing only).
    #[arg(long)]
    reuse_client_dh: bool,
    /// `--rate-secs`: with `--reuse-client-dh` (implied), also remember each worker's DH
    /// agreements by the gateway's public value, so that a gateway under pressure (one
    /// reused key pair) costs the client no modexp per handshake
    /// (`ike_sm::Limits::initiator_dh_agreement_cache`; load testing only).
    #[arg(long)]
    cache_client_dh: bool,
    /// Flood the gateway with spoofed first messages of this kind (namespaces only).
    #[arg(long, value_enum, value_name = "KIND")]
    flood: Option<flood::Kind>,
    /// Flood: packets per second.
    #[arg(long, default_value_t = 1000.0, value_name = "R")]
    rate: f64,
    /// Flood: the spoofed source addresses.
    #[arg(long, default_value = "10.99.0.0/16", value_name = "CIDR")]
    sources: ipnet::Ipv4Net,
    /// Flood: how long, in seconds.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    secs: f64,
    /// Flood: at most this many packets (default rate x secs).
    #[arg(long, value_name = "N")]
    max_packets: Option<u64>,
    /// `--esp` / `--esp-inside`: tunnel traffic (see `loadgen_esp/mod.rs`).
    #[command(flatten)]
    esp: esp_load::EspArgs,
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    args.reuse_client_dh |= args.cache_client_dh;
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pix-loadgen: {e:#}");
            ExitCode::from(2)
        }
    }
}

#[allow(clippy::disallowed_methods)] // a driver with IO: the clock is ours to read
fn now() -> Instant {
    Instant::now()
}

fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if let Some(secs) = args.dh_bound {
        dh_bound(secs)?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.esp.esp || args.esp.esp_inside {
        let common = esp_load::Common {
            gateway: SocketAddrV4::new(args.gateway, args.port),
            bind: args.bind,
            bind_spread: args.bind_spread,
            user: args.user.clone(),
            password: args.password.clone(),
            group_key: args.group_key.clone(),
            timeout_secs: args.timeout_secs,
            seed: args.seed,
            gateway_pid: args.gateway_pid,
            secs: args.secs,
            cpu_secs: proc_cpu_secs,
        };
        let done = esp_load::run(&args.esp, &common)?;
        return Ok(if done {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if let Some(kind) = args.flood {
        let f = flood::Flood {
            kind,
            rate: args.rate,
            sources: args.sources,
            secs: args.secs,
            max_packets: args.max_packets,
            gateway: SocketAddrV4::new(args.gateway, args.port),
            seed: args.seed,
        };
        let report = flood_until_signal(&f)?;
        flood::print(&f, &report);
        return Ok(ExitCode::SUCCESS);
    }
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let local = tokio::task::LocalSet::new();
    if let Some(secs) = args.rate_secs {
        if !(secs.is_finite() && secs > 0.0) {
            anyhow::bail!("--rate-secs must be a positive number of seconds");
        }
        local.block_on(&rt, rate(args, Duration::from_secs_f64(secs)))
    } else if args.hold {
        local.block_on(&rt, hold(args))
    } else {
        anyhow::bail!("nothing to do: give --hold, --rate-secs S, --dh-bound S or --flood KIND")
    }
}

/// Floods on a thread of its own; SIGINT or SIGTERM ends it early, and the report is
/// printed all the same (the bench stops the flood when its logins are done).
fn flood_until_signal(f: &flood::Flood) -> anyhow::Result<flood::Report> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::signal::unix::{signal, SignalKind};
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (f, stop) = (f.clone(), Arc::clone(&stop));
        std::thread::spawn(move || flood::run(&f, self_cpu_secs, &stop))
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async {
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    if worker.is_finished() {
                        break;
                    }
                }
            }
        }
        anyhow::Ok(())
    })?;
    stop.store(true, Ordering::Relaxed);
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the flood thread panicked"))?
}

// ---- the DH-only bound --------------------------------------------------------------

fn dh_bound(secs: f64) -> anyhow::Result<()> {
    if !(secs.is_finite() && secs > 0.0) {
        anyhow::bail!("--dh-bound must be a positive number of seconds");
    }
    let group = DhGroup::Modp1024;
    let size = ExponentSize::default();
    let mut rng: StdRng = rand::make_rng();
    // The peer's public value: a full-width group element, as a client sends it.
    let peer = KeyPair::generate(group, ExponentSize::Full, &mut rng)
        .map_err(|e| anyhow::anyhow!("DH key pair: {e}"))?;
    let cpu0 = self_cpu_secs();
    let start = now();
    let window = Duration::from_secs_f64(secs);
    let mut n: u64 = 0;
    let (mut t_gen, mut t_agree) = (Duration::ZERO, Duration::ZERO);
    while now().saturating_duration_since(start) < window {
        let a = now();
        let ours = KeyPair::generate(group, size, &mut rng)
            .map_err(|e| anyhow::anyhow!("DH key pair: {e}"))?;
        let b = now();
        let shared = ours
            .agree(peer.public_value())
            .map_err(|e| anyhow::anyhow!("DH agree: {e}"))?;
        let c = now();
        std::hint::black_box(&shared);
        t_gen = t_gen.saturating_add(b.saturating_duration_since(a));
        t_agree = t_agree.saturating_add(c.saturating_duration_since(b));
        n = n.saturating_add(1);
    }
    let wall = now().saturating_duration_since(start).as_secs_f64();
    let cpu = self_cpu_secs().zip(cpu0).map(|(b, a)| b - a);
    let per = |d: Duration| {
        if n == 0 {
            0.0
        } else {
            d.as_secs_f64() * 1e6 / n as f64
        }
    };
    println!(
        "dh-bound: group 2 (MODP-1024), exponent {size:?}: {n} x (keypair generation + shared secret) in {wall:.2} s"
    );
    println!(
        "dh-bound: keypair {:.0} us + agree {:.0} us per handshake",
        per(t_gen),
        per(t_agree)
    );
    println!("DH_BOUND_PER_SEC {:.1}", n as f64 / wall);
    if let Some(cpu) = cpu.filter(|c| *c > 0.0) {
        // On a shared machine the wall-clock rate includes time other processes had the
        // CPU; per CPU-second is what to compare with the gateway's CPU time.
        println!("dh-bound: process CPU {cpu:.2} s of {wall:.2} s wall");
        println!("DH_BOUND_PER_CPU_SEC {:.1}", n as f64 / cpu);
    }
    Ok(())
}

// ---- one simulated user ---------------------------------------------------------------

/// The users' endpoint configuration: the client preset, with `--reuse-client-dh` one
/// DH key pair per group for an hour, with `--cache-client-dh` also its agreements with
/// the last 16 peer public values.
fn client_config(args: &Args) -> Config {
    let mut c = presets::client();
    if args.reuse_client_dh {
        c.limits = Limits {
            initiator_dh_reuse: Duration::from_secs(3600),
            ..c.limits
        };
    }
    if args.cache_client_dh {
        c.limits.initiator_dh_agreement_cache = 16;
    }
    c
}

/// One simulated VPN client: its endpoint, socket and RNG.
struct User {
    ep: Endpoint,
    sock: UdpSocket,
    rng: StdRng,
    gw: SocketAddr,
    local: SocketAddr,
    buf: Vec<u8>,
    /// The Xauth user name of this handshake.
    name: String,
}

/// What ended a handshake early.
type Failure = String;

impl User {
    async fn new(args: &Args, index: u64) -> anyhow::Result<User> {
        let spread = u64::from(args.bind_spread.max(1));
        let offset = u32::try_from(index.checked_rem(spread).unwrap_or(0)).unwrap_or(0);
        let bind = Ipv4Addr::from(u32::from(args.bind).wrapping_add(offset));
        let sock = UdpSocket::bind(SocketAddrV4::new(bind, 0))
            .await
            .with_context(|| format!("bind UDP socket to {bind}"))?;
        let gw = SocketAddr::V4(SocketAddrV4::new(args.gateway, args.port));
        sock.connect(gw).await.context("connect UDP socket")?;
        let mut local = sock.local_addr().context("local address")?;
        if local.ip().is_unspecified() {
            local.set_ip(std::net::IpAddr::V4(bind));
        }
        let rng = match args.seed {
            Some(s) => StdRng::seed_from_u64(s.wrapping_add(index)),
            None => rand::make_rng(),
        };
        let name = match index.checked_rem(args.user_count) {
            Some(n) => format!("{}{n}", args.user),
            None => args.user.clone(),
        };
        Ok(User {
            ep: Endpoint::new(client_config(args), modecfg::Pools::new()),
            sock,
            rng,
            gw,
            local,
            buf: vec![0u8; 65_536],
            name,
        })
    }

    /// The same user on a new socket (a new port) with the endpoint and RNG of `self`:
    /// `--reuse-client-dh` keeps the endpoint, and with it its reused key pair. The
    /// events left from the last handshake (its own `Deleted`) are dropped first.
    async fn next(mut self, args: &Args, index: u64) -> anyhow::Result<User> {
        while self.ep.poll_event().is_some() {}
        let mut u = User::new(args, index).await?;
        u.ep = self.ep;
        u.rng = self.rng;
        Ok(u)
    }

    /// Sends everything the endpoint wants sent.
    async fn flush(&mut self) -> Result<(), Failure> {
        while let Some(t) = self.ep.poll_transmit() {
            if t.remote != self.gw {
                continue;
            }
            self.sock
                .send(&t.bytes)
                .await
                .map_err(|e| format!("send: {}", e.kind()))?;
        }
        Ok(())
    }

    /// Waits for one datagram or the endpoint's next deadline (or `limit`) and feeds it.
    async fn step(&mut self, limit: Instant) -> Result<(), Failure> {
        let deadline = self.ep.poll_timeout().map_or(limit, |t| t.min(limit));
        tokio::select! {
            r = self.sock.recv(&mut self.buf) => {
                let n = r.map_err(|e| format!("recv: {}", e.kind()))?;
                let bytes = self.buf.get(..n).unwrap_or_default();
                let t = now();
                self.ep.handle_datagram(t, self.local, self.gw, bytes, &mut self.rng);
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                let t = now();
                if self.ep.poll_timeout().is_some_and(|d| d <= t) {
                    self.ep.handle_timeout(t, &mut self.rng);
                }
            }
        }
        Ok(())
    }

    /// Aggressive Mode + Xauth + Mode Config, then Quick Mode: done at the first child SA.
    async fn handshake(&mut self, args: &Args) -> Result<SaId, Failure> {
        let mut profile = presets::vpn_client_4x(
            DhGroup::Modp1024,
            args.group_key.as_bytes(),
            &self.name,
            args.password.as_bytes(),
        );
        profile.initial_contact = false;
        let start = now();
        let limit = start
            .checked_add(Duration::from_secs(args.timeout_secs))
            .unwrap_or(start);
        let sa = self
            .ep
            .initiate(start, self.local, self.gw, profile, &mut self.rng)
            .map_err(|e| format!("initiate: {e}"))?;
        let mut qm_started = false;
        loop {
            self.flush().await?;
            while let Some(e) = self.ep.poll_event() {
                match e {
                    Event::ChildSa(_) => return Ok(sa),
                    Event::Failed { reason, .. } => return Err(format!("{reason:?}")),
                    Event::Deleted { .. } => return Err("deleted by the gateway".into()),
                    Event::XauthDone { user: None, .. } => return Err("Xauth refused".into()),
                    _ => {}
                }
            }
            if !qm_started && self.ep.ready_for_quick_mode(sa) {
                let addr = self
                    .ep
                    .assigned_address(sa)
                    .ok_or_else(|| "no Mode Config address".to_string())?;
                let t = now();
                self.ep
                    .initiate_quick_mode(t, sa, presets::vpn_client_quick_mode(addr), &mut self.rng)
                    .map_err(|e| format!("Quick Mode: {e}"))?;
                qm_started = true;
                continue;
            }
            if now() >= limit {
                return Err(format!(
                    "timeout ({} s, state {:?})",
                    args.timeout_secs,
                    self.ep.sa_state(sa)
                ));
            }
            self.step(limit).await?;
        }
    }

    /// DELETE (ISAKMP, then the IPsec SAs) and send it.
    async fn delete(&mut self, sa: SaId) {
        let t = now();
        let _ = self.ep.delete(t, sa, &mut self.rng);
        let _ = self.flush().await;
    }

    /// Keeps the SA alive (answers whatever the gateway sends) until `stop` turns true.
    async fn hold(&mut self, sa: SaId, stop: &mut watch::Receiver<bool>) {
        loop {
            while let Some(e) = self.ep.poll_event() {
                if let Event::Deleted { .. } | Event::Failed { .. } = e {
                    eprintln!(
                        "pix-loadgen: user {} lost its SA while held: {e:?}",
                        self.local
                    );
                }
            }
            if self.flush().await.is_err() || *stop.borrow() {
                break;
            }
            let far = now()
                .checked_add(Duration::from_secs(3600))
                .unwrap_or_else(now);
            tokio::select! {
                r = self.step(far) => { if r.is_err() { break; } }
                _ = stop.changed() => {}
            }
        }
        self.delete(sa).await;
    }
}

// ---- statistics ------------------------------------------------------------------------

#[derive(Default)]
struct Stats {
    completed: u64,
    latencies: Vec<Duration>,
    failed: BTreeMap<String, u64>,
}

impl Stats {
    fn fail(&mut self, why: String) {
        let c = self.failed.entry(why).or_insert(0);
        *c = c.saturating_add(1);
    }

    fn failed_total(&self) -> u64 {
        self.failed.values().fold(0u64, |a, b| a.saturating_add(*b))
    }

    fn percentile(&self, p: usize) -> Option<Duration> {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        let i = v.len().saturating_mul(p) / 100;
        v.get(i.min(v.len().saturating_sub(1))).copied()
    }

    fn print(&self, label: &str) {
        let ms =
            |d: Option<Duration>| d.map_or("-".into(), |d| format!("{:.1}", d.as_secs_f64() * 1e3));
        println!(
            "{label}: completed {} failed {} latency median {} ms p95 {} ms",
            self.completed,
            self.failed_total(),
            ms(self.percentile(50)),
            ms(self.percentile(95))
        );
        for (why, n) in &self.failed {
            println!("{label}: failed {n} x {why}");
        }
    }
}

/// utime+stime of a process in seconds, from /proc/PID/stat.
fn proc_cpu_secs(path: &str) -> Option<f64> {
    let s = std::fs::read_to_string(path).ok()?;
    // The fields after the ")" that closes comm: state is field 3, utime 14, stime 15.
    let rest = s.get(s.rfind(')')?.checked_add(2)?..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime.saturating_add(stime) as f64 / clock_ticks())
}

fn self_cpu_secs() -> Option<f64> {
    proc_cpu_secs("/proc/self/stat")
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

// ---- --hold ----------------------------------------------------------------------------

async fn hold(args: &Args) -> anyhow::Result<ExitCode> {
    let args = Rc::new(args.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<Duration, Failure>>();
    let slots = Rc::new(tokio::sync::Semaphore::new(args.concurrency));
    let mut tasks = Vec::new();
    let start = now();
    for i in 0..args.users {
        let (args, done_tx, mut stop_rx, slots) = (
            args.clone(),
            done_tx.clone(),
            stop_rx.clone(),
            slots.clone(),
        );
        tasks.push(tokio::task::spawn_local(async move {
            let Ok(permit) = slots.acquire().await else {
                return;
            };
            let mut u = match User::new(&args, i as u64).await {
                Ok(u) => u,
                Err(e) => {
                    let _ = done_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            let t0 = now();
            let r = u.handshake(&args).await;
            drop(permit);
            match r {
                Ok(sa) => {
                    let _ = done_tx.send(Ok(now().saturating_duration_since(t0)));
                    u.hold(sa, &mut stop_rx).await;
                }
                Err(e) => {
                    let _ = done_tx.send(Err(e));
                }
            }
        }));
    }
    drop(done_tx);
    let mut stats = Stats::default();
    let mut reported = 0usize;
    while reported < args.users {
        match done_rx.recv().await {
            Some(Ok(d)) => {
                stats.completed = stats.completed.saturating_add(1);
                stats.latencies.push(d);
            }
            Some(Err(e)) => stats.fail(e),
            None => break,
        }
        reported = reported.saturating_add(1);
    }
    let wall = now().saturating_duration_since(start).as_secs_f64();
    stats.print("hold");
    println!(
        "hold: {} users connected in {wall:.2} s ({:.1} handshakes/s, concurrency {})",
        stats.completed,
        stats.completed as f64 / wall.max(1e-9),
        args.concurrency
    );
    println!(
        "HOLDING {} (SIGINT or EOF on stdin ends it)",
        stats.completed
    );
    wait_for_release().await;
    let _ = stop_tx.send(true);
    let all = futures_join(tasks);
    if tokio::time::timeout(Duration::from_secs(10), all)
        .await
        .is_err()
    {
        println!("hold: some users did not finish their DELETE within 10 s");
    }
    println!("hold: released");
    Ok(if stats.failed_total() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// SIGINT or EOF on stdin (read by a plain thread: the runtime has no stdin support).
async fn wait_for_release() {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        let _ = tx.send(());
    });
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = rx.recv() => {}
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

// ---- --rate-secs -----------------------------------------------------------------------

async fn rate(args: &Args, window: Duration) -> anyhow::Result<ExitCode> {
    let args = Rc::new(args.clone());
    let stats = Rc::new(RefCell::new(Stats::default()));
    let late = Rc::new(RefCell::new(0u64));
    // Phase-1 modexps the users did (all handshakes, counted or late).
    let modexps = Rc::new(RefCell::new(0u64));
    let gw_stat = args.gateway_pid.map(|p| format!("/proc/{p}/stat"));
    let gw_cpu0 = gw_stat.as_deref().and_then(proc_cpu_secs);
    let self_cpu0 = self_cpu_secs();
    let start = now();
    let end = start.checked_add(window).unwrap_or(start);
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (args, stats, late, modexps) =
            (args.clone(), stats.clone(), late.clone(), modexps.clone());
        workers.push(tokio::task::spawn_local(async move {
            let mut n: u64 = 0;
            let mut kept: Option<User> = None;
            while now() < end {
                // Handshake n of worker w: numbered so that the workers' handshakes at
                // any moment have consecutive numbers (distinct `--user-count` names).
                let index = n
                    .saturating_mul(args.concurrency as u64)
                    .saturating_add(w as u64);
                n = n.saturating_add(1);
                let made = match kept.take() {
                    Some(prev) => prev.next(&args, index).await,
                    None => User::new(&args, index).await,
                };
                let mut u = match made {
                    Ok(u) => u,
                    Err(e) => {
                        stats.borrow_mut().fail(format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let t0 = now();
                let m0 = u.ep.initiator_phase1_modexps();
                let r = u.handshake(&args).await;
                let t1 = now();
                {
                    let mut m = modexps.borrow_mut();
                    *m = m.saturating_add(u.ep.initiator_phase1_modexps().saturating_sub(m0));
                }
                match r {
                    Ok(sa) => {
                        if t1 <= end {
                            let mut s = stats.borrow_mut();
                            s.completed = s.completed.saturating_add(1);
                            s.latencies.push(t1.saturating_duration_since(t0));
                        } else {
                            let mut l = late.borrow_mut();
                            *l = l.saturating_add(1);
                        }
                        u.delete(sa).await;
                        if args.reuse_client_dh {
                            kept = Some(u);
                        }
                    }
                    Err(e) => stats.borrow_mut().fail(e),
                }
            }
        }));
    }
    tokio::time::sleep_until(tokio::time::Instant::from_std(end)).await;
    let gw_cpu1 = gw_stat.as_deref().and_then(proc_cpu_secs);
    let self_cpu1 = self_cpu_secs();
    let wall = now().saturating_duration_since(start).as_secs_f64();
    futures_join(workers).await;
    let s = stats.borrow();
    s.print("rate");
    let hs = s.completed as f64 / wall.max(1e-9);
    println!(
        "rate: {} handshakes completed in {wall:.2} s window (concurrency {}), {} more finished after it (not counted)",
        s.completed,
        args.concurrency,
        late.borrow()
    );
    println!("RATE_HANDSHAKES_PER_SEC {hs:.1}");
    let finished = s.completed.saturating_add(*late.borrow());
    if finished > 0 {
        println!(
            "CLIENT_MODEXPS_PER_HANDSHAKE {:.3}",
            *modexps.borrow() as f64 / finished as f64
        );
    }
    if let (Some(a), Some(b)) = (self_cpu0, self_cpu1) {
        println!(
            "rate: load generator CPU {:.2} s ({:.0}% of one CPU)",
            b - a,
            (b - a) * 100.0 / wall.max(1e-9)
        );
    }
    if let (Some(a), Some(b)) = (gw_cpu0, gw_cpu1) {
        let cpu = b - a;
        println!(
            "rate: gateway CPU {cpu:.2} s ({:.0}% of one CPU)",
            cpu * 100.0 / wall.max(1e-9)
        );
        println!("GATEWAY_CPU_SECS {cpu:.2}");
        println!("GATEWAY_CPU_UTIL_PCT {:.0}", cpu * 100.0 / wall.max(1e-9));
        if cpu > 0.0 {
            println!(
                "HANDSHAKES_PER_GATEWAY_CPU_SEC {:.1}",
                s.completed as f64 / cpu
            );
        }
    }
    Ok(if s.failed_total() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
