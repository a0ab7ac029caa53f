//! `pix-gateway run`: the IO around the gateway core, on every core.
//!
//! `--workers N` (default: one per CPU) runs N shards of [`Gateway`], one per thread,
//! each thread with its own current-thread tokio runtime (its own epoll and timers).
//! Each shard owns its IKE SAs and ESP SAs and has its own sockets: UDP 500 and 4500 in
//! an `SO_REUSEPORT` group whose classic-BPF steering program makes the kernel deliver
//! each datagram to the socket of the shard that owns it (responder cookie, SPI, or the
//! peer's address for a first message: [`route::steering_program`]), a raw ESP socket
//! whose socket filter passes only the SPIs of its shard, a queue of the multi-queue TUN
//! device, and an AAA client socket. A datagram or inside packet that still reaches a
//! shard which does not own it (a reply from the inside on another TUN queue, mostly;
//! see [`pix_gateway::gateway::route`]) is handed to its owner over a channel. The main
//! thread serves the control socket, the metrics endpoint and the signals, asking every
//! shard and rendering the whole gateway.
// The driver reads the clock (Instant::now, SystemTime::now): the core never does.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::batch;
use super::control::{self, ControlMsg};
use super::syslog;
use pix_gateway::gateway::{guard, route, setup, view};
use pix_gateway::{
    DebugKind, EspDest, Gateway, Handled, Input, Level, LogRecord, Output, Settings,
};

/// The bundled demo configuration: the seed's `show run` with Xauth against LOCAL.
pub const DEMO_CONFIG: &str = pix_gateway::demo::CONFIG_PATH;
/// The demo secrets for it (group `vpn3000`, user `cisco_customer`).
pub const DEMO_SECRETS: &str = pix_gateway::demo::SECRETS_PATH;

/// `pix-gateway run` options.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The PIX configuration (`show running-config`). Default: the bundled demo (the
    /// seed's configuration with Xauth against LOCAL) and its demo secrets.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Secrets overlay: clear values for `********` keys and passwords, LOCAL users.
    #[arg(long)]
    pub secrets: Option<PathBuf>,
    /// The outside address to listen on (default: `ip address <crypto map interface>`;
    /// for the bundled demo, whose credentials are published, 127.0.0.1 only).
    #[arg(long)]
    pub outside_addr: Option<Ipv4Addr>,
    /// The TUN device that stands for the inside interface (created if missing).
    #[arg(long, default_value = "pixin0")]
    pub inside_tun: String,
    /// Do not add routes for the `ip local pool`s through the TUN device.
    #[arg(long)]
    pub no_routes: bool,
    /// Do not ask the TUN device for its offloads (the virtio-net header: TCP/UDP
    /// segmentation offload on read, GRO on write); one packet per read and write.
    #[arg(long)]
    pub no_offload: bool,
    /// Append Wireshark key tables for every SA to this file (decrypts the traffic!).
    /// Created 0600; a symbolic link, or an existing file that is not a regular file,
    /// not ours or wider than 0600, is refused.
    #[arg(long)]
    pub keylog: Option<PathBuf>,
    /// The control socket for `pix-gateway show|clear|debug` (mode 0600; only a stale
    /// socket at PATH is replaced, nothing else).
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// Limits and timers, `NAME=VALUE`, repeatable: the IKE ones (half-open-timeout,
    /// max-half-open, max-half-open-per-peer, max-sas, new-sas-per-peer-per-sec,
    /// retransmit-initial-ms, retransmit-max-interval-ms, retransmit-count, dpd-idle
    /// (0: off), dpd-retries,
    /// dpd-retry-interval, natt-keepalive, and the admission ones in the README) and
    /// the Xauth throttle's (xauth-max-failures, xauth-window, xauth-lockout, ...,
    /// log-interval). An unknown name lists them all.
    #[arg(long = "limit", value_name = "NAME=VALUE")]
    pub limits: Vec<String>,
    /// Serve Prometheus metrics (SAs, handshakes by result, Xauth verdicts, tunnel
    /// bytes, drops by reason) over HTTP on this address (off by default). At most 16
    /// connections at once, 8 KiB and 5 s each.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<SocketAddr>,
    /// Accept `aaa-server TAG` RADIUS hosts configured without a key (repeatable; by
    /// default a keyless host is a startup error: its replies can be forged and its
    /// passwords read). Never for TACACS+, which does not send a clear body.
    #[arg(long = "allow-keyless-aaa", value_name = "TAG")]
    pub allow_keyless_aaa: Vec<String>,
    /// Believe RADIUS replies of `aaa-server TAG` that carry no Message-Authenticator
    /// (repeatable; by default such a reply is refused: Blast-RADIUS, CVE-2024-3596).
    /// Only for a server that cannot send one; upgrade it instead when you can.
    #[arg(long = "radius-without-message-authenticator", value_name = "TAG")]
    pub radius_without_message_authenticator: Vec<String>,
    /// Answer an Aggressive Mode initiator whose identity names no `vpngroup` (an
    /// IPV4_ADDR, FQDN ...) with the `isakmp key ... address` key of its address. Off
    /// by default: Aggressive Mode sends its HASH in the clear before the peer proves
    /// anything, so anyone could fetch it and crack that key offline (ike-scan +
    /// psk-crack); such initiators get the unknown group's fake key. Only for
    /// site-to-site peers that cannot use Main Mode.
    #[arg(long)]
    pub allow_aggressive_address_keys: bool,
    /// Print debug lines on stderr: `--debug crypto isakmp`, `--debug crypto ipsec`.
    #[arg(long, num_args = 1.., value_name = "WORDS")]
    pub debug: Vec<String>,
    /// Worker threads, each running one shard of the gateway with its own IKE and ESP
    /// SAs (default: one per CPU; at most 64).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub workers: Option<u8>,
    /// The key of the hash that places a peer's first message on a worker (default:
    /// random at start, so that the placement cannot be computed from outside). For
    /// tests that check the placement.
    #[arg(long, hide = true, value_name = "U64")]
    pub shard_key: Option<u64>,
    /// VPN-session accounting to the RADIUS `aaa-server TAG`: Accounting Start when a
    /// user's tunnel is up, Interim-Update (see --interim-interval), Stop with the
    /// session's time, octets, packets and Acct-Terminate-Cause; Accounting-On when the
    /// gateway starts (or, with --failover, becomes active) and Accounting-Off when it
    /// stops cleanly, so that the server closes a restarted gateway's sessions and frees
    /// their address leases. Beside the PIX's per-connection `aaa accounting` records.
    #[arg(long, value_name = "TAG")]
    pub session_accounting: Option<String>,
    /// Seconds between Interim-Updates of a session (default 0: none, unless the
    /// Access-Accept carries Acct-Interim-Interval, which wins).
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    pub interim_interval: u64,
    /// NAS-Identifier in every RADIUS request (default: the configuration's `hostname`).
    /// Gateways that share one NAS-IP-Address (a failover pair) still tell apart.
    #[arg(long, value_name = "NAME")]
    pub nas_identifier: Option<String>,
    /// Run as one unit of a failover pair whose outside address a VRRP daemon
    /// (keepalived) moves: the sockets bind that address even while another box holds
    /// it (IP_FREEBIND), so a standby answers the moment the address arrives, without a
    /// restart. `active` starts serving at once (Accounting-On); `standby` waits for
    /// `pix-gateway failover active` (keepalived's notify script), which sends the
    /// Accounting-On that closes the failed unit's sessions in the AAA server. As on PIX
    /// 6.3, no IKE or IPsec state is carried over: clients log in again.
    #[arg(long, value_enum, value_name = "ROLE")]
    pub failover: Option<FailoverRole>,
    /// The inside interface: route each client's address to the TUN device with a host
    /// route and answer ARP for it on this interface (proxy ARP, as the PIX does for its
    /// pool), with a gratuitous ARP when it appears, instead of one route for each
    /// `ip local pool`. For addresses from RADIUS and for several gateways on one inside
    /// network (the gateways' namespace needs net.ipv4.ip_forward=1).
    #[arg(long, value_name = "IF")]
    pub inside_interface: Option<String>,
}

/// A failover unit's role at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailoverRole {
    /// Serve at once.
    Active,
    /// Bind and wait for `pix-gateway failover active`.
    Standby,
}

/// Sends the shell's own lines (start, configuration problems) to the log.
fn log(line: &str) {
    tracing::info!("{line}");
}

/// Writes a record of the core to the log (stderr, through `tracing`).
fn emit(r: &LogRecord) {
    let line = r.pix_line();
    match r.level {
        Level::Alert | Level::Critical | Level::Error => tracing::error!("{line}"),
        Level::Warning => tracing::warn!("{line}"),
        Level::Notice | Level::Info => tracing::info!("{line}"),
        Level::Debug => tracing::debug!("{line}"),
    }
}

std::thread_local! {
    /// A worker's log lines of one turn of its loop, written to stderr together at the
    /// end of the turn ([`write_log_lines`]); `None` (every other thread): at once.
    static LOG_LINES: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

/// stderr for `tracing`, through the worker's per-turn buffer when it has one.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let kept = LOG_LINES.with(|c| match c.borrow_mut().as_mut() {
            Some(v) => {
                v.extend_from_slice(b);
                true
            }
            None => false,
        });
        if kept {
            Ok(b.len())
        } else {
            std::io::stderr().write(b)
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes the current thread's buffered log lines to stderr in one call (a handshake's
/// records cost one system call, not one each).
fn write_log_lines() {
    LOG_LINES.with(|c| {
        if let Some(v) = c.borrow_mut().as_mut() {
            if !v.is_empty() {
                let _ = std::io::stderr().write_all(v);
                v.clear();
                // a burst of lines does not keep its memory
                v.shrink_to(16 << 10);
            }
        }
    });
}

/// The log on stderr: time, level, text (`RUST_LOG`-style filtering is not needed: the
/// core only produces what is asked for).
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(|| LogWriter)
        .with_target(false)
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .try_init();
}

fn debug_kinds(words: &[String]) -> Vec<DebugKind> {
    let mut v = Vec::new();
    let joined = words.join(" ").to_ascii_lowercase();
    if joined.contains("isakmp") || joined.contains("all") {
        v.push(DebugKind::Isakmp);
    }
    if joined.contains("ipsec") || joined.contains("all") {
        v.push(DebugKind::Ipsec);
    }
    v
}

/// Loads, lints and maps the configuration ([`super::reload::load`]); prints what it
/// found. `Err` is the exit code.
fn load(args: &RunArgs, count: u8) -> Result<super::reload::Loaded, ExitCode> {
    match super::reload::load(args, count) {
        Ok(l) => {
            for n in &l.notes {
                log(n);
            }
            Ok(l)
        }
        Err(r) => {
            if let Some(text) = &r.rendered {
                eprint!("{text}");
            }
            for l in &r.lines {
                log(l);
            }
            Err(ExitCode::from(1))
        }
    }
}

/// `pix-gateway run`.
pub fn run(args: RunArgs) -> ExitCode {
    init_logging();
    let workers = args.workers.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| u8::try_from(n.get().min(64)).unwrap_or(64))
    });
    let loaded = match load(&args, workers) {
        Ok(x) => x,
        Err(code) => return code,
    };
    let super::reload::Loaded {
        plans,
        config,
        name: config_name,
        demo,
        guard: guard_limits,
        notes: _,
    } = loaded;
    let Some(plan) = plans.first() else {
        return ExitCode::from(1);
    };
    let outside = match (demo, args.outside_addr) {
        (_, Some(a)) => a,
        // The demo's credentials are published: it serves loopback only unless told.
        (true, None) => {
            log(&format!(
                "demo: listening on 127.0.0.1 only; the configuration's ip address {} is {} (pass --outside-addr A to listen on A)",
                plan.outside_if,
                plan.outside_addr
                    .map_or_else(|| "not set".to_string(), |a| a.to_string()),
            ));
            Ipv4Addr::LOCALHOST
        }
        (false, None) => match plan.outside_addr {
            Some(a) => a,
            None => {
                log(&format!(
                    "no address for interface {}: pass --outside-addr A",
                    plan.outside_if
                ));
                return ExitCode::from(1);
            }
        },
    };
    if demo {
        log(&format!(
            "WARNING: the bundled DEMO configuration runs with its PUBLISHED credentials LIVE (group vpn3000 / key cisco1234, user cisco_customer / password cisco123): anyone who reaches {outside} on UDP 500/4500 can log in; run with --config for real use"
        ));
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log(&format!("cannot start the event loop: {e}"));
            return ExitCode::from(1);
        }
    };
    let start = Start {
        plans,
        config,
        outside,
        config_name,
        guard: guard_limits,
        workers,
    };
    match rt.block_on(serve(args, start)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// What `run` worked out before the sockets open.
struct Start {
    plans: Vec<setup::Plan>,
    /// The parsed configuration (`show running-config`, reload's diff).
    config: pix_config::Config,
    outside: Ipv4Addr,
    config_name: String,
    guard: guard::GuardLimits,
    workers: u8,
}

/// Receive buffer for the IKE and ESP sockets: bursts of hundreds of clients (the load
/// test) overflow the kernel's default ~208 KiB, and a lost DELETE is never resent.
const RECV_BUFFER: usize = 4 << 20;

/// Asks the kernel to coalesce runs of one peer's datagrams (UDP GRO, Linux 5.0+):
/// ESP in UDP then arrives many packets per slot. Best effort: without it, one each.
fn udp_gro(s: std::net::UdpSocket) -> std::net::UdpSocket {
    let _ = nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::UdpGroSegment, &true);
    esp_send_buffer(&s);
    s
}

/// Send buffer for the ESP sockets: an ESP packet over the outside MTU leaves as two
/// fragments, and a batch of them overflows the default ~208 KiB (the batch then
/// counts them as refused). Forced past `wmem_max` (root); best effort.
const SEND_BUFFER: usize = 4 << 20;

fn esp_send_buffer<F: std::os::fd::AsFd>(s: &F) {
    let _ = nix::sys::socket::setsockopt(s, nix::sys::socket::sockopt::SndBufForce, &SEND_BUFFER);
}

fn bind_udp(addr: SocketAddr, reuse_port: bool) -> anyhow::Result<std::net::UdpSocket> {
    bind_udp_free(addr, reuse_port, false)
}

/// [`bind_udp`], with IP_FREEBIND when `freebind` (a failover standby binds the shared
/// address before it holds it).
fn bind_udp_free(
    addr: SocketAddr,
    reuse_port: bool,
    freebind: bool,
) -> anyhow::Result<std::net::UdpSocket> {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    if freebind {
        s.set_freebind_v4(true)
            .with_context(|| format!("cannot set IP_FREEBIND on UDP {addr}"))?;
    }
    s.bind(&addr.into()).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                "another IKE daemon (strongSwan, libreswan, racoon) holds it: stop it"
            }
            std::io::ErrorKind::PermissionDenied => {
                "ports below 1024 need root or CAP_NET_BIND_SERVICE: run as root"
            }
            std::io::ErrorKind::AddrNotAvailable => {
                "that address is not on this host: pass --outside-addr A"
            }
            _ => "check the address",
        };
        anyhow::anyhow!("cannot listen on UDP {addr}: {e} ({hint})")
    })?;
    s.set_nonblocking(true)?;
    // best effort: the kernel caps it at net.core.rmem_max
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    Ok(std::net::UdpSocket::from(s))
}

/// The socket filter of shard `index` of `count` on a raw ESP socket (the packet starts
/// at its IP header): it passes the ESP packets whose SPI names the shard (the top byte
/// modulo `count`, [`route::of_spi`]); shard 0 also takes packets too short to carry an
/// SPI, so that they are counted.
fn esp_filter(index: u8, count: u8) -> Vec<socket2::SockFilter> {
    esp_program(index, count)
        .into_iter()
        .map(|(code, jt, jf, k)| socket2::SockFilter::new(code, jt, jf, k))
        .collect()
}

// Classic BPF opcodes (linux/filter.h).
const LDX_B_MSH: u16 = 0x01 | 0x10 | 0xa0; // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (P[k] & 0xf)
const LD_W_LEN: u16 = 0x80; // BPF_LD | BPF_W | BPF_LEN: A = packet length
const ALU_SUB_X: u16 = 0x04 | 0x10 | 0x08; // BPF_ALU | BPF_SUB | BPF_X: A -= X
const JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K: if A >= k
const LD_B_IND: u16 = 0x10 | 0x40; // BPF_LD | BPF_B | BPF_IND: A = P[X + k]
const ALU_MOD_K: u16 = 0x04 | 0x90; // BPF_ALU | BPF_MOD | BPF_K: A %= k
const JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K: if A == k
const RET_K: u16 = 0x06; // BPF_RET | BPF_K: accept k bytes

/// [`esp_filter`] as (code, jt, jf, k) rows.
fn esp_program(index: u8, count: u8) -> Vec<(u16, u8, u8, u32)> {
    let short = if index == 0 { 0xffff } else { 0 };
    vec![
        (LDX_B_MSH, 0, 0, 0),
        (LD_W_LEN, 0, 0, 0),
        (ALU_SUB_X, 0, 0, 0),
        (JGE_K, 1, 0, 8),
        (RET_K, 0, 0, short),
        (LD_B_IND, 0, 0, 0),
        (ALU_MOD_K, 0, 0, u32::from(count)),
        (JEQ_K, 0, 1, u32::from(index)),
        (RET_K, 0, 0, 0xffff),
        (RET_K, 0, 0, 0),
    ]
}

/// Attaches the steering program of `port` ([`route::steering_program`]) to the
/// `SO_REUSEPORT` group of `socket`: the kernel then hands each datagram to the socket of
/// the shard that owns it (responder cookie, SPI, or the peer's address for a first
/// message), so that a worker seldom reads another's datagram.
fn steer(socket: &std::net::UdpSocket, port: u16, count: u8, key: u64) -> anyhow::Result<()> {
    let mut prog: Vec<libc::sock_filter> = route::steering_program(port, count, key)
        .into_iter()
        .map(|(code, jt, jf, k)| libc::sock_filter { code, jt, jf, k })
        .collect();
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).context("steering program too long")?,
        filter: prog.as_mut_ptr(),
    };
    nix::sys::socket::setsockopt(
        socket,
        nix::sys::socket::sockopt::AttachReusePortCbpf,
        &fprog,
    )
    .with_context(|| format!("cannot attach the steering program to UDP port {port}"))?;
    Ok(())
}

/// The raw ESP socket. It is driven through tokio's `UdpSocket`, which is only
/// `recvfrom`/`sendto` on a datagram file descriptor: on a raw IPv4 socket `recv_from`
/// returns the whole IP packet (header included) and the sender with port 0, and
/// `send_to` an ESP packet to which the kernel adds the IP header. Every raw socket of
/// protocol 50 sees every ESP packet: with several shards, each one's socket filter
/// keeps only its own.
fn raw_esp(
    addr: Ipv4Addr,
    shard: u8,
    count: u8,
    freebind: bool,
) -> anyhow::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(50))).map_err(|e| {
        anyhow::anyhow!(
            "cannot open a raw socket for ESP (IP protocol 50): {e} (needs root or CAP_NET_RAW: run as root)"
        )
    })?;
    if freebind {
        s.set_freebind_v4(true)
            .context("cannot set IP_FREEBIND on the raw ESP socket")?;
    }
    if count > 1 {
        s.attach_filter(&esp_filter(shard, count))
            .context("cannot attach the shard's filter to the raw ESP socket")?;
    }
    s.bind(&SocketAddr::new(addr.into(), 0).into())
        .with_context(|| format!("cannot bind the raw ESP socket to {addr}"))?;
    s.set_nonblocking(true)?;
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    esp_send_buffer(&s);
    Ok(std::net::UdpSocket::from(s))
}

/// Smallest set of prefixes covering `first..=last`.
pub fn cover(first: Ipv4Addr, last: Ipv4Addr) -> Vec<ipnet::Ipv4Net> {
    ipnet::Ipv4Subnets::new(first, last, 0).collect()
}

fn add_routes(tun: &str, pools: &modecfg::Pools) -> anyhow::Result<()> {
    for p in pools.pools() {
        for net in cover(p.first(), p.last()) {
            let out = std::process::Command::new("ip")
                .args(["route", "replace", &net.to_string(), "dev", tun])
                .output()
                .map_err(|e| anyhow::anyhow!("cannot run `ip route` to route pool {}: {e} (install iproute2, or pass --no-routes and add the routes yourself)", p.name()))?;
            if !out.status.success() {
                anyhow::bail!(
                    "`ip route replace {net} dev {tun}` failed: {} (pass --no-routes and add the routes yourself)",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
    }
    Ok(())
}

/// A TACACS+ connection: the server group's tag and the client's connection id.
type ConnKey = (String, xauth::aaa::ConnId);

enum AaaIn {
    Data(ConnKey, Vec<u8>),
    Closed(ConnKey),
}

/// A packet read by one shard for another.
enum Handoff {
    Udp {
        local: SocketAddr,
        remote: SocketAddr,
        payload: Vec<u8>,
    },
    Raw(Vec<u8>),
    Inside(Vec<u8>),
}

/// What the main thread asks of a shard.
enum ShardCmd {
    Snapshot(Option<view::Show>, oneshot::Sender<view::Snapshot>),
    Clear(Option<IpAddr>, oneshot::Sender<usize>),
    Debug(Vec<DebugKind>),
    /// Accounting-On/Off for the whole gateway (shard 0 sends it). For an Accounting-On
    /// the answer comes once the server answered it (or no server did).
    Nas(
        xauth::radius::AcctStatus,
        oneshot::Sender<Result<(), String>>,
    ),
    /// Hold new logins (another shard's Accounting-On is unanswered).
    HoldLogins,
    /// Let the held logins go on.
    ReleaseLogins,
    /// Delete every SA and stop (with an Accounting-Off last when `off`); the answer is
    /// the addresses still leased after it.
    Shutdown(oneshot::Sender<usize>, bool),
    /// Run on a new plan (`reload`); `None`: this shard reconfigures the shared pools
    /// and answers the orphaned addresses, which the other shards then get.
    Reload(
        Box<setup::Plan>,
        Option<Arc<Vec<Ipv4Addr>>>,
        oneshot::Sender<pix_gateway::gateway::reload::Reloaded>,
    ),
}

/// Packets handed between shards wait at most this many per shard; past it they are
/// dropped and counted (`pix_handoff_dropped_total`).
const HANDOFF_QUEUE: usize = 4096;

/// What every shard shares: none of it on the per-packet path of a packet the shard
/// owns.
struct Shared {
    count: u8,
    /// The batched data path's system calls and packets (`pix_batch_*`).
    io: batch::IoCounters,
    handoff: Vec<mpsc::Sender<Handoff>>,
    handoff_dropped: std::sync::atomic::AtomicU64,
    handed: std::sync::atomic::AtomicU64,
    keylog: Option<Mutex<std::fs::File>>,
    debug: mpsc::Sender<(DebugKind, String)>,
    outside: Ipv4Addr,
    /// The key of [`route::of_peer`].
    peer_key: u64,
    /// Per-client routes (`--inside-interface`): to the thread that runs `ip` and
    /// `arping`.
    routes: Option<std::sync::mpsc::Sender<(Ipv4Addr, bool)>>,
    /// The PIX syslog (`logging host`, `logging buffered`): every record goes there too.
    syslog: syslog::Syslog,
}

impl Shared {
    /// Hands a packet to the shard that owns it.
    fn hand(&self, to: u8, h: Handoff) {
        use std::sync::atomic::Ordering::Relaxed;
        let sent = self
            .handoff
            .get(usize::from(to))
            .is_some_and(|tx| tx.try_send(h).is_ok());
        if sent {
            self.handed.fetch_add(1, Relaxed);
        } else {
            self.handoff_dropped.fetch_add(1, Relaxed);
        }
    }
}

/// One shard's sockets as opened by the main thread (errors are reported before any
/// worker starts); each worker registers them with its own runtime ([`Io::new`]).
struct StdIo {
    udp500: std::net::UdpSocket,
    udp4500: std::net::UdpSocket,
    raw: std::net::UdpSocket,
    tun: tun_rs::SyncDevice,
    aaa_udp: std::net::UdpSocket,
}

/// One shard's sockets.
struct Io {
    udp500: UdpSocket,
    udp4500: UdpSocket,
    raw: UdpSocket,
    tun: tun_rs::AsyncDevice,
    /// The TUN device speaks the virtio-net header (GSO on read, GRO on write).
    tun_offload: bool,
    tun_mtu: usize,
    aaa_udp: UdpSocket,
    aaa_conns: HashMap<ConnKey, mpsc::UnboundedSender<Option<Vec<u8>>>>,
    aaa_in: mpsc::Sender<AaaIn>,
}

impl Io {
    /// The sockets registered with the current (the worker's) runtime.
    fn new(s: StdIo, aaa_in: mpsc::Sender<AaaIn>) -> std::io::Result<Io> {
        Ok(Io {
            udp500: UdpSocket::from_std(s.udp500)?,
            udp4500: UdpSocket::from_std(s.udp4500)?,
            raw: UdpSocket::from_std(s.raw)?,
            tun_offload: s.tun.tcp_gso(),
            tun_mtu: s.tun.mtu().map_or(1500, usize::from),
            tun: tun_rs::AsyncDevice::new(s.tun)?,
            aaa_udp: UdpSocket::from_std(s.aaa_udp)?,
            aaa_conns: HashMap::new(),
            aaa_in,
        })
    }

    async fn send_udp(&self, local: SocketAddr, remote: SocketAddr, payload: &[u8]) {
        let s = if local.port() == 4500 {
            &self.udp4500
        } else {
            &self.udp500
        };
        if let Err(e) = s.send_to(payload, remote).await {
            log(&format!("send to {remote} failed: {e}"));
        }
    }

    async fn send_esp(&self, dest: EspDest, bytes: &[u8]) -> std::io::Result<()> {
        match dest {
            EspDest::Udp(to) => self.udp4500.send_to(bytes, to).await.map(|_| ()),
            EspDest::Raw(ip) => self
                .raw
                .send_to(bytes, pix_gateway::gateway::io::raw_destination(ip))
                .await
                .map(|_| ()),
        }
    }

    fn spawn_tcp(
        &mut self,
        conn: ConnKey,
        to: SocketAddr,
    ) -> mpsc::UnboundedSender<Option<Vec<u8>>> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Option<Vec<u8>>>();
        let back = self.aaa_in.clone();
        tokio::spawn(async move {
            let s =
                tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(to))
                    .await;
            let Ok(Ok(mut s)) = s else {
                let _ = back.send(AaaIn::Closed(conn.clone())).await;
                return;
            };
            let mut buf = vec![0u8; 4096];
            loop {
                tokio::select! {
                    w = rx.recv() => match w {
                        Some(Some(bytes)) => if s.write_all(&bytes).await.is_err() { break },
                        _ => break,
                    },
                    r = s.read(&mut buf) => match r {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            let _ = back.send(AaaIn::Data(conn.clone(), buf.get(..n).unwrap_or_default().to_vec())).await;
                        }
                    },
                }
            }
            let _ = back.send(AaaIn::Closed(conn.clone())).await;
        });
        tx
    }

    /// Does what `handle` answered for a data-plane packet whose buffer is `buf`.
    async fn deliver(&self, h: Handled<'_>, buf: &[u8]) -> Option<ike_sm::SaId> {
        match h {
            Handled::ToInside(r) => {
                // (with the offloads a write needs its virtio-net header)
                if let Some(inner) = buf.get(r) {
                    write_tun_one(self, inner).await;
                }
                None
            }
            Handled::ToOutside { dest, datagram, sa } => {
                self.send_esp(dest, datagram).await.err().map(|_| sa)
            }
            // Only for Input::InsideInPlace, which this path does not use.
            Handled::ToOutsideIn { .. } | Handled::Done | Handled::Answer(_) => None,
        }
    }
}

/// Does everything the core asked for.
async fn flush(gw: &mut Gateway, io: &mut Io, shared: &Shared) {
    let mut keylog = Vec::new();
    // IKE answers of this turn, per port, sent together with sendmmsg.
    let mut ike: [Vec<(std::net::SocketAddrV4, Vec<u8>)>; 2] = [Vec::new(), Vec::new()];
    while let Some(o) = gw.poll_output() {
        match o {
            Output::Udp {
                local,
                remote: SocketAddr::V4(remote),
                payload,
            } => {
                if let Some(q) = ike.get_mut(usize::from(local.port() == 4500)) {
                    q.push((remote, payload));
                }
            }
            Output::Udp {
                local,
                remote,
                payload,
            } => io.send_udp(local, remote, &payload).await,
            Output::AaaDatagram { to, payload } => {
                if let Err(e) = io.aaa_udp.send_to(&payload, to).await {
                    log(&format!("RADIUS send to {to} failed: {e}"));
                }
            }
            Output::AaaStream {
                group,
                conn,
                to,
                payload,
            } => {
                let key = (group, conn);
                let tx = match io.aaa_conns.get(&key) {
                    Some(tx) => tx.clone(),
                    None => {
                        let tx = io.spawn_tcp(key.clone(), to);
                        io.aaa_conns.insert(key, tx.clone());
                        tx
                    }
                };
                let _ = tx.send(Some(payload));
            }
            Output::AaaClose { group, conn } => {
                if let Some(tx) = io.aaa_conns.remove(&(group, conn)) {
                    let _ = tx.send(None);
                }
            }
            Output::Log(r) => {
                emit(&r);
                shared
                    .syslog
                    .record(&r, std::time::SystemTime::now(), Instant::now());
            }
            Output::Keylog(line) => keylog.push(line),
            Output::Debug(kind, line) => {
                // Only produced while someone reads them (`--debug`, `debug crypto ...`).
                let _ = shared.debug.try_send((kind, line));
            }
            Output::ClientRoute { addr, up } => {
                if let Some(tx) = &shared.routes {
                    let _ = tx.send((addr, up));
                }
            }
            Output::ToInside(p) => write_tun_one(io, &p).await,
            Output::Esp { dest, datagram, sa } => {
                if let Err(e) = io.send_esp(dest, &datagram).await {
                    log(&format!(
                        "sending ESP of IKE SA {sa:?} to {dest:?} failed: {e}"
                    ));
                }
            }
        }
    }
    for (q, sock) in ike.iter().zip([&io.udp500, &io.udp4500]) {
        if !q.is_empty() {
            for (to, e) in batch::send_owned(sock, q).await {
                log(&format!("send to {to} failed: {e}"));
            }
        }
    }
    write_log_lines();
    if !keylog.is_empty() {
        if let Some(f) = &shared.keylog {
            let mut f = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for l in &keylog {
                let _ = writeln!(f, "{}", l.as_str());
            }
            let _ = f.flush();
        }
    }
}

/// Writes one packet the core made (a reassembled datagram, an ICMP
/// fragmentation-needed) to the TUN device: behind a zeroed virtio-net header when the
/// device has the offloads (no checksum or segmentation to do: the packet is whole).
async fn write_tun_one(io: &Io, p: &[u8]) {
    let r = if io.tun_offload {
        let mut b = vec![0u8; batch::VNET.saturating_add(p.len())];
        if let Some(dst) = b.get_mut(batch::VNET..) {
            dst.copy_from_slice(p);
        }
        io.tun.send(&b).await
    } else {
        io.tun.send(p).await
    };
    if let Err(e) = r {
        log(&format!("write to the inside TUN failed: {e}"));
    }
}

/// Which outside socket a batch comes from (the index of [`batch::SOCKETS`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Port {
    /// UDP 500: IKE.
    Ike,
    /// UDP 4500: IKE with the non-ESP marker, ESP in UDP, keepalives.
    NatT,
    /// Raw IP protocol 50.
    Raw,
}

/// recvmmsg calls per readiness event before the loop looks at its other sockets and
/// timers again (4 x 32 datagrams).
const ROUNDS: usize = 4;

/// One worker's data-path buffers (allocated once; see [`batch`]).
struct DataBufs {
    ike: batch::Slots,
    natt: batch::Slots,
    raw: batch::Slots,
    tun: batch::Slots,
    tun_sizes: Vec<usize>,
    tun_read: Vec<u8>,
    gro: tun_rs::GROTable,
    /// Decrypted packets of the current batch for the TUN device: (slot, range).
    to_inside: Vec<(usize, std::ops::Range<usize>)>,
    raw_out: batch::SendQueue,
    udp_out: batch::SendQueue,
}

impl DataBufs {
    fn new(tun_mtu: usize) -> DataBufs {
        DataBufs {
            ike: batch::Slots::new(batch::BATCH, batch::SLOT),
            natt: batch::Slots::with_gro(batch::BATCH, batch::SLOT),
            raw: batch::Slots::new(batch::BATCH, batch::SLOT),
            tun: batch::Slots::new(batch::TUN_BATCH, batch::tun_slot(tun_mtu)),
            tun_sizes: vec![0; batch::TUN_BATCH],
            tun_read: vec![0; batch::VNET + 65_536],
            gro: tun_rs::GROTable::default(),
            to_inside: Vec::with_capacity(batch::BATCH),
            raw_out: batch::SendQueue::default(),
            udp_out: batch::SendQueue::with_gso(),
        }
    }
}

/// Reads what waits on one outside socket, up to [`ROUNDS`] batches, hands each
/// datagram to the core (or to the shard that owns it), writes the decrypted packets of
/// each batch to the TUN device together. Returns the IKE SAs whose sends failed.
#[allow(clippy::too_many_arguments)]
async fn outside_batch(
    port: Port,
    index: u8,
    gw: &mut Gateway,
    io: &mut Io,
    db: &mut DataBufs,
    shared: &Shared,
    rng: &mut rand::rngs::StdRng,
) {
    let n = shared.count;
    let outside = shared.outside;
    let local = SocketAddr::new(outside.into(), if port == Port::Ike { 500 } else { 4500 });
    for _ in 0..ROUNDS {
        let (sock, slots) = match port {
            Port::Ike => (&io.udp500, &mut db.ike),
            Port::NatT => (&io.udp4500, &mut db.natt),
            Port::Raw => (&io.raw, &mut db.raw),
        };
        let got = sock.try_io(tokio::io::Interest::READABLE, || slots.recv(sock));
        let Ok(count) = got else { break };
        let k = port as usize;
        if let (Some(c), Some(d)) = (shared.io.recv_calls.get(k), shared.io.recv_datagrams.get(k)) {
            batch::IoCounters::add(c, 1);
            batch::IoCounters::add(d, count);
        }
        let now = Instant::now();
        db.to_inside.clear();
        for i in 0..count {
            let (len, from) = slots.got.get(i).copied().unwrap_or((0, None));
            // One datagram, or a run of one peer's datagrams coalesced by UDP GRO.
            let seg = slots
                .segments
                .get(i)
                .copied()
                .filter(|s| *s > 0)
                .unwrap_or(len.max(1));
            let Some(buf) = slots.bufs.get_mut(i) else {
                continue;
            };
            let mut at = 0usize;
            while at < len {
                let end = at.saturating_add(seg).min(len);
                let start = at;
                at = end;
                let Some(d) = buf.get_mut(start..end) else {
                    break;
                };
                let h = if port == Port::Raw {
                    match route::raw(n, d) {
                        route::Route::Shard(o) if o != index => {
                            shared.hand(o, Handoff::Raw(d.to_vec()));
                            continue;
                        }
                        _ => gw.handle(now, Input::RawEsp { packet: d }, rng),
                    }
                } else {
                    let Some(from) = from.map(SocketAddr::V4) else {
                        continue;
                    };
                    match first_to_peer(route::udp(n, local.port(), d), n, shared.peer_key, from) {
                        route::Route::Shard(o) if o != index => {
                            shared.hand(
                                o,
                                Handoff::Udp {
                                    local,
                                    remote: from,
                                    payload: d.to_vec(),
                                },
                            );
                            continue;
                        }
                        _ => gw.handle(
                            now,
                            Input::Udp {
                                local,
                                remote: from,
                                payload: d,
                            },
                            rng,
                        ),
                    }
                };
                if let Handled::ToInside(r) = h {
                    db.to_inside.push((
                        i,
                        r.start.saturating_add(start)..r.end.saturating_add(start),
                    ));
                }
            }
        }
        if !db.to_inside.is_empty() {
            let bufs = match port {
                Port::Ike => &mut db.ike.bufs,
                Port::NatT => &mut db.natt.bufs,
                Port::Raw => &mut db.raw.bufs,
            };
            write_inside(&io.tun, io.tun_offload, &mut db.gro, bufs, &db.to_inside).await;
            batch::IoCounters::add(&shared.io.tun_write_batches, 1);
            batch::IoCounters::add(&shared.io.tun_write_packets, db.to_inside.len());
        }
        // IKE answers, AAA requests and log records of this batch.
        flush(gw, io, shared).await;
        if count < batch::BATCH {
            break;
        }
    }
}

/// Writes the decrypted packets `bufs[slot][range]` to the TUN device: with the
/// offloads, coalesced by tun-rs's GRO (segments of one TCP or UDP flow become one
/// super-packet) behind the virtio-net header written before each packet.
async fn write_inside(
    tun: &tun_rs::AsyncDevice,
    offload: bool,
    gro: &mut tun_rs::GROTable,
    bufs: &mut [Vec<u8>],
    packets: &[(usize, std::ops::Range<usize>)],
) {
    let result = if offload {
        let mut wins = batch::Win::of(bufs, packets);
        tun.send_multiple(gro, &mut wins, batch::VNET)
            .await
            .map(|_| ())
    } else {
        let mut r = Ok(());
        for (slot, range) in packets {
            if let Some(p) = bufs.get(*slot).and_then(|b| b.get(range.clone())) {
                if let Err(e) = tun.send(p).await {
                    r = Err(e);
                }
            }
        }
        r
    };
    if let Err(e) = result {
        log(&format!("write to the inside TUN failed: {e}"));
    }
}

/// Encapsulates the inside packets in `db.tun`'s first `used` slots where they lie and
/// sends the ESP with one `sendmmsg` (or UDP GSO `sendmsg`) per socket. With `index`,
/// packets for another shard's clients are handed to it. Returns the IKE SAs whose
/// sends failed.
async fn encrypt_slots(
    used: usize,
    index: Option<u8>,
    gw: &mut Gateway,
    io: &mut Io,
    db: &mut DataBufs,
    shared: &Shared,
    rng: &mut rand::rngs::StdRng,
) -> Vec<ike_sm::SaId> {
    use pix_gateway::gateway::dataplane::EspDest;
    use pix_gateway::gateway::io::INSIDE_HEADROOM;
    let mut failed = Vec::new();
    let now = Instant::now();
    for (i, (buf, len)) in db
        .tun
        .bufs
        .iter_mut()
        .zip(db.tun_sizes.iter())
        .enumerate()
        .take(used)
    {
        let end = INSIDE_HEADROOM.saturating_add(*len);
        // Only packets read here may belong to another worker (hand-overs are ours).
        let owner = index
            .and_then(|_| buf.get(INSIDE_HEADROOM..end))
            .and_then(route::inside_destination)
            .and_then(|d| gw.owner_shard(d));
        if let Some(o) = owner.filter(|o| index.is_some_and(|i| i != *o)) {
            shared.hand(
                o,
                Handoff::Inside(buf.get(INSIDE_HEADROOM..end).unwrap_or_default().to_vec()),
            );
            continue;
        }
        if let Handled::ToOutsideIn { dest, range, sa } =
            gw.handle(now, Input::InsideInPlace { buf, len: *len }, rng)
        {
            match dest {
                EspDest::Udp(to) => db.udp_out.push(i, range, to, sa),
                EspDest::Raw(ip) => {
                    db.raw_out
                        .push(i, range, pix_gateway::gateway::io::raw_destination(ip), sa)
                }
            }
        }
    }
    let bufs = &db.tun.bufs;
    let queued = db.raw_out.len().saturating_add(db.udp_out.len());
    let refused_before = failed.len();
    if !db.raw_out.is_empty() {
        failed.extend(db.raw_out.send(bufs, &io.raw).await);
    }
    if !db.udp_out.is_empty() {
        let before = db.udp_out.gso_sends;
        failed.extend(db.udp_out.send(bufs, &io.udp4500).await);
        let after = db.udp_out.gso_sends;
        batch::IoCounters::add(
            &shared.io.gso_sends,
            (after.0.saturating_sub(before.0)) as usize,
        );
        batch::IoCounters::add(
            &shared.io.gso_datagrams,
            (after.1.saturating_sub(before.1)) as usize,
        );
    }
    if queued > 0 {
        let refused = failed.len().saturating_sub(refused_before);
        batch::IoCounters::add(&shared.io.send_batches, 1);
        batch::IoCounters::add(&shared.io.sent, queued.saturating_sub(refused));
        batch::IoCounters::add(&shared.io.send_refused, refused);
    }
    failed
}

/// Handles what other workers handed over, everything that is waiting (up to a TUN
/// batch): inside packets are copied into the worker's TUN slots and encapsulated and
/// sent together like its own; outside packets one by one (the kernel's steering
/// already put nearly all of them on the right worker).
async fn handoff_batch(
    first: Handoff,
    rx: &mut mpsc::Receiver<Handoff>,
    gw: &mut Gateway,
    io: &mut Io,
    db: &mut DataBufs,
    shared: &Shared,
    rng: &mut rand::rngs::StdRng,
) -> Vec<ike_sm::SaId> {
    use pix_gateway::gateway::io::{INSIDE_HEADROOM, INSIDE_TAILROOM};
    let now = Instant::now();
    let mut failed = Vec::new();
    let mut used = 0usize;
    let mut next = Some(first);
    while let Some(h) = next.take() {
        match h {
            Handoff::Inside(p) => {
                let room = INSIDE_HEADROOM
                    .saturating_add(p.len())
                    .saturating_add(INSIDE_TAILROOM);
                let slot = db.tun.bufs.get_mut(used).filter(|b| b.len() >= room);
                if let (Some(buf), Some(size)) = (slot, db.tun_sizes.get_mut(used)) {
                    if let Some(dst) =
                        buf.get_mut(INSIDE_HEADROOM..INSIDE_HEADROOM.saturating_add(p.len()))
                    {
                        dst.copy_from_slice(&p);
                        *size = p.len();
                        used = used.saturating_add(1);
                    }
                } else {
                    let mut p = p;
                    let h = gw.handle(now, Input::Inside { packet: &mut p }, rng);
                    failed.extend(io.deliver(h, &[]).await);
                }
            }
            Handoff::Udp {
                local,
                remote,
                mut payload,
            } => {
                let h = gw.handle(
                    now,
                    Input::Udp {
                        local,
                        remote,
                        payload: &mut payload,
                    },
                    rng,
                );
                failed.extend(io.deliver(h, &payload).await);
            }
            Handoff::Raw(mut p) => {
                let h = gw.handle(now, Input::RawEsp { packet: &mut p }, rng);
                failed.extend(io.deliver(h, &p).await);
            }
        }
        if used < batch::TUN_BATCH {
            next = rx.try_recv().ok();
        }
    }
    if used > 0 {
        failed.extend(encrypt_slots(used, None, gw, io, db, shared, rng).await);
    }
    failed
}

/// Reads what waits on the TUN device (with the offloads a read may be a GSO
/// super-packet, split into segments), encapsulates every packet where it lies and
/// sends the ESP with one `sendmmsg` per socket. Returns the IKE SAs whose sends failed.
async fn inside_batch(
    index: u8,
    gw: &mut Gateway,
    io: &mut Io,
    db: &mut DataBufs,
    shared: &Shared,
    rng: &mut rand::rngs::StdRng,
) -> Vec<ike_sm::SaId> {
    use pix_gateway::gateway::io::INSIDE_HEADROOM;
    let mut failed = Vec::new();
    for _ in 0..ROUNDS {
        let mut used = 0usize;
        while used.saturating_add(batch::TUN_READ_ROOM) <= batch::TUN_BATCH {
            let (Some(bufs), Some(sizes)) =
                (db.tun.bufs.get_mut(used..), db.tun_sizes.get_mut(used..))
            else {
                break;
            };
            match io
                .tun
                .try_recv_multiple(&mut db.tun_read, bufs, sizes, INSIDE_HEADROOM)
            {
                Ok(k) => {
                    used = used.saturating_add(k);
                    batch::IoCounters::add(&shared.io.tun_reads, 1);
                    batch::IoCounters::add(&shared.io.tun_packets, k);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    log(&format!("read from the inside TUN failed: {e}"));
                    break;
                }
            }
        }
        if used == 0 {
            break;
        }
        failed.extend(encrypt_slots(used, Some(index), gw, io, db, shared, rng).await);
        flush(gw, io, shared).await;
        if used < batch::TUN_READ_ROOM {
            break;
        }
    }
    failed
}

/// IKE that names no shard (a first message) belongs to the shard of its peer's address.
fn first_to_peer(r: route::Route, n: u8, key: u64, from: SocketAddr) -> route::Route {
    match r {
        route::Route::Any if n > 1 => route::Route::Shard(route::of_peer(n, key, from.ip())),
        r => r,
    }
}

/// One shard: its core and its sockets, until shutdown.
#[allow(clippy::too_many_lines)]
async fn shard(
    index: u8,
    mut gw: Gateway,
    mut io: Io,
    mut cmds: mpsc::Receiver<ShardCmd>,
    mut handoff: mpsc::Receiver<Handoff>,
    mut aaa_rx: mpsc::Receiver<AaaIn>,
    shared: Arc<Shared>,
) {
    use rand::SeedableRng as _;
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let mut db = DataBufs::new(io.tun_mtu);
    LOG_LINES.with(|c| *c.borrow_mut() = Some(Vec::with_capacity(16 << 10)));
    let mut baaa = vec![0u8; 4096];
    // The driver waiting for this shard's Accounting-On to be answered.
    let mut on_waiter: Option<oneshot::Sender<Result<(), String>>> = None;
    loop {
        if on_waiter.is_some() && !gw.accounting_on_pending() {
            if let Some(w) = on_waiter.take() {
                let _ = w.send(Ok(()));
            }
        }
        let deadline = gw.poll_timeout().unwrap_or_else(|| {
            Instant::now()
                .checked_add(Duration::from_secs(3600))
                .expect("an hour from now is a representable instant")
        });
        let mut failed: Vec<ike_sm::SaId> = Vec::new();
        tokio::select! {
            r = io.udp500.readable() => {
                if r.is_ok() {
                    outside_batch(Port::Ike, index, &mut gw, &mut io, &mut db, &shared, &mut rng).await;
                }
            }
            r = io.udp4500.readable() => {
                if r.is_ok() {
                    outside_batch(Port::NatT, index, &mut gw, &mut io, &mut db, &shared, &mut rng).await;
                }
            }
            r = io.raw.readable() => {
                if r.is_ok() {
                    outside_batch(Port::Raw, index, &mut gw, &mut io, &mut db, &shared, &mut rng).await;
                }
            }
            r = io.tun.readable() => {
                if r.is_ok() {
                    failed = inside_batch(index, &mut gw, &mut io, &mut db, &shared, &mut rng).await;
                }
            }
            Some(h) = handoff.recv() => {
                failed = handoff_batch(h, &mut handoff, &mut gw, &mut io, &mut db, &shared, &mut rng).await;
            }
            r = io.aaa_udp.recv_from(&mut baaa) => {
                if let Ok((len, from)) = r {
                    let d = baaa.get(..len).unwrap_or_default();
                    let _ = gw.handle(Instant::now(), Input::AaaDatagram { from, payload: d }, &mut rng);
                }
            }
            Some(m) = aaa_rx.recv() => aaa_in(&mut gw, &mut io, m, &mut rng),
            Some(c) = cmds.recv() => {
                let now = Instant::now();
                match c {
                    ShardCmd::Snapshot(show, reply) => { let _ = reply.send(gw.snapshot(now, show.as_ref())); }
                    ShardCmd::Clear(peer, reply) => { let _ = reply.send(gw.clear(now, peer, &mut rng)); }
                    ShardCmd::Debug(kinds) => gw.set_debug(&kinds),
                    ShardCmd::Nas(status, reply) => {
                        match gw.account_nas(now, status, &mut rng) {
                            Ok(()) if gw.accounting_on_pending() => on_waiter = Some(reply),
                            r => { let _ = reply.send(r); }
                        }
                    }
                    ShardCmd::HoldLogins => gw.hold_logins(),
                    ShardCmd::ReleaseLogins => gw.release_logins(now, &mut rng),
                    ShardCmd::Reload(plan, orphans, reply) => {
                        let r = gw.reload(*plan, orphans.as_ref().map(|o| o.as_slice()), now, &mut rng);
                        let _ = reply.send(r);
                    }
                    ShardCmd::Shutdown(reply, off) => {
                        let _ = gw.handle(now, Input::Shutdown, &mut rng);
                        if off {
                            if let Err(e) = gw.account_nas(now, xauth::radius::AcctStatus::AccountingOff, &mut rng) {
                                log(&format!("no Accounting-Off: {e}"));
                            }
                        }
                        flush(&mut gw, &mut io, &shared).await;
                        drain_aaa(&mut gw, &mut io, &mut aaa_rx, &shared, &mut baaa, &mut rng).await;
                        let _ = reply.send(gw.endpoint().lease_store().total_in_use());
                        return;
                    }
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                gw.handle_timeout(Instant::now(), &mut rng);
            }
        }
        for sa in failed {
            let _ = gw.handle(Instant::now(), Input::SendFailed { sa }, &mut rng);
        }
        flush(&mut gw, &mut io, &shared).await;
    }
}

/// A TACACS+ connection's bytes or its end, to the core.
fn aaa_in(gw: &mut Gateway, io: &mut Io, m: AaaIn, rng: &mut rand::rngs::StdRng) {
    let now = Instant::now();
    match m {
        AaaIn::Data((group, conn), b) => {
            let _ = gw.handle(
                now,
                Input::AaaStream {
                    group: &group,
                    conn,
                    bytes: &b,
                },
                rng,
            );
        }
        AaaIn::Closed((group, conn)) => {
            io.aaa_conns.remove(&(group.clone(), conn));
            let _ = gw.handle(
                now,
                Input::AaaStreamClosed {
                    group: &group,
                    conn,
                },
                rng,
            );
        }
    }
}

/// How long a stopping shard waits for its AAA servers to acknowledge the last records
/// (accounting Stops, Accounting-Off), answering their replies and resending on time.
const AAA_DRAIN: Duration = Duration::from_secs(4);

/// After a shutdown: serves the AAA sockets and timers until no request is pending or
/// [`AAA_DRAIN`] has passed.
async fn drain_aaa(
    gw: &mut Gateway,
    io: &mut Io,
    aaa_rx: &mut mpsc::Receiver<AaaIn>,
    shared: &Shared,
    baaa: &mut [u8],
    rng: &mut rand::rngs::StdRng,
) {
    let Some(end) = Instant::now().checked_add(AAA_DRAIN) else {
        return;
    };
    while gw.aaa_pending() > 0 && Instant::now() < end {
        let wake = gw.poll_timeout().map_or(end, |t| t.min(end));
        tokio::select! {
            r = io.aaa_udp.recv_from(baaa) => {
                if let Ok((len, from)) = r {
                    let d = baaa.get(..len).unwrap_or_default();
                    let _ = gw.handle(Instant::now(), Input::AaaDatagram { from, payload: d }, rng);
                }
            }
            Some(m) = aaa_rx.recv() => aaa_in(gw, io, m, rng),
            () = tokio::time::sleep_until(wake.into()) => {
                gw.handle_timeout(Instant::now(), rng);
            }
        }
        flush(gw, io, shared).await;
    }
    if gw.aaa_pending() > 0 {
        log(&format!(
            "stopping with {} AAA request(s) unanswered after {} s",
            gw.aaa_pending(),
            AAA_DRAIN.as_secs()
        ));
    }
}

/// `failover active|standby` and `show failover`, which the main thread answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failover {
    Active,
    Standby,
    Show,
}

fn failover_command(line: &str) -> Option<Failover> {
    let w: Vec<&str> = line.split_whitespace().collect();
    match w.as_slice() {
        ["failover", "active"] => Some(Failover::Active),
        ["failover", "standby"] | ["no", "failover", "active"] => Some(Failover::Standby),
        ["show", "failover"] => Some(Failover::Show),
        _ => None,
    }
}

/// Applies a failover command; the answer, and whether to send Accounting-On now.
fn failover_change(f: Failover, active: &mut bool, accounting: bool) -> (String, bool) {
    let state = |a: bool| if a { "Active" } else { "Standby" };
    match f {
        Failover::Show => (
            format!("Failover On\nThis host: {}\n", state(*active)),
            false,
        ),
        Failover::Active if *active => ("This unit is already active\n".into(), false),
        Failover::Active => {
            *active = true;
            log("failover: this unit is now active");
            (
                format!(
                    "This unit is now active{}\n",
                    if accounting {
                        " (Accounting-On sent)"
                    } else {
                        ""
                    }
                ),
                accounting,
            )
        }
        Failover::Standby => {
            let was = std::mem::replace(active, false);
            if was {
                log("failover: this unit is now standby (its SAs stay until they end)");
            }
            ("This unit is now standby\n".into(), false)
        }
    }
}

/// Accounting-On/Off through shard 0 (logged when it cannot go). For an Accounting-On,
/// every other shard holds its new logins until shard 0 has the server's answer (a
/// task waits for it and releases them), so that no login's lease or Start is swept
/// away with this NAS's old sessions.
async fn nas_accounting(handles: &[ShardHandle], status: xauth::radius::AcctStatus) {
    let Some(s) = handles.first() else { return };
    let on = status == xauth::radius::AcctStatus::AccountingOn;
    let others: Vec<mpsc::Sender<ShardCmd>> =
        handles.iter().skip(1).map(|h| h.cmds.clone()).collect();
    if on {
        for o in &others {
            let _ = o.send(ShardCmd::HoldLogins).await;
        }
    }
    let (tx, rx) = oneshot::channel();
    if s.cmds.send(ShardCmd::Nas(status, tx)).await.is_err() {
        return;
    }
    tokio::spawn(async move {
        if let Ok(Err(e)) = rx.await {
            log(&format!("no {}: {e}", status.name()));
        }
        if on {
            for o in &others {
                let _ = o.send(ShardCmd::ReleaseLogins).await;
            }
        }
    });
}

/// Starts the thread that keeps one host route and one proxy-ARP entry per client
/// address (`--inside-interface`), and announces each new one with a gratuitous ARP.
fn client_routes(
    tun: &str,
    inside: &str,
) -> anyhow::Result<std::sync::mpsc::Sender<(Ipv4Addr, bool)>> {
    let garp = Garp::open(inside)?;
    log(&format!(
        "client addresses: a host route to {tun} and proxy ARP on {inside} each, announced by gratuitous ARP from {}",
        garp.mac_text()
    ));
    let (tx, rx) = std::sync::mpsc::channel::<(Ipv4Addr, bool)>();
    let (tun, inside) = (tun.to_string(), inside.to_string());
    std::thread::Builder::new()
        .name("pix-routes".into())
        .spawn(move || {
            let run = |args: &[&str]| match std::process::Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .output()
            {
                Ok(o) if o.status.success() => {}
                Ok(o) => log(&format!(
                    "`ip {}` failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                )),
                Err(e) => log(&format!("cannot run `ip {}`: {e}", args.join(" "))),
            };
            for (addr, up) in rx {
                let a = addr.to_string();
                let host = format!("{a}/32");
                if up {
                    run(&["route", "replace", &host, "dev", &tun]);
                    run(&["neigh", "replace", "proxy", &a, "dev", &inside]);
                    if let Err(e) = garp.announce(addr) {
                        log(&format!("gratuitous ARP for {a} on {inside} failed: {e}"));
                    }
                } else {
                    run(&["neigh", "del", "proxy", &a, "dev", &inside]);
                    run(&["route", "del", &host, "dev", &tun]);
                }
            }
        })
        .context("cannot start the client-routes thread")?;
    Ok(tx)
}

/// Gratuitous ARP on one interface: an ARP request for an address from that address,
/// with the interface's MAC, broadcast, so that the hosts of the inside network that
/// still map a client's address to the unit it was on (before a failover, a restart)
/// map it to this one at once.
struct Garp {
    fd: std::os::fd::OwnedFd,
    /// The interface's link address (index and MAC), as getifaddrs(3) gives it.
    link: nix::sys::socket::SockaddrStorage,
    mac: [u8; 6],
}

impl Garp {
    fn open(ifname: &str) -> anyhow::Result<Garp> {
        use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
        let found = nix::ifaddrs::getifaddrs()
            .context("getifaddrs")?
            .filter(|i| i.interface_name == ifname)
            .find_map(|i| {
                let a = i.address?;
                let mac = a.as_link_addr()?.addr()?;
                Some((a, mac))
            });
        let Some((link, mac)) = found else {
            anyhow::bail!("--inside-interface {ifname}: no such Ethernet interface");
        };
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open a packet socket for gratuitous ARP on {ifname}: {e} (needs root or CAP_NET_RAW)"
            )
        })?;
        Ok(Garp { fd, link, mac })
    }

    fn mac_text(&self) -> String {
        self.mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    fn announce(&self, addr: Ipv4Addr) -> nix::Result<usize> {
        use std::os::fd::AsRawFd as _;
        let mut f = Vec::with_capacity(42);
        f.extend_from_slice(&[0xff; 6]);
        f.extend_from_slice(&self.mac);
        f.extend_from_slice(&[0x08, 0x06]); // ARP
        f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]); // Ethernet/IPv4, request
        f.extend_from_slice(&self.mac);
        f.extend_from_slice(&addr.octets());
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&addr.octets());
        nix::sys::socket::sendto(
            self.fd.as_raw_fd(),
            &f,
            &self.link,
            nix::sys::socket::MsgFlags::empty(),
        )
    }
}

/// The main thread's handle on one shard.
struct ShardHandle {
    cmds: mpsc::Sender<ShardCmd>,
}

/// Asks every shard for its snapshot and renders the whole gateway.
async fn whole(
    shards: &[ShardHandle],
    info: &view::Info,
    show: Option<&view::Show>,
) -> view::Whole {
    let mut parts = Vec::with_capacity(shards.len());
    for s in shards {
        let (tx, rx) = oneshot::channel();
        if s.cmds
            .send(ShardCmd::Snapshot(show.cloned(), tx))
            .await
            .is_ok()
        {
            if let Ok(p) = rx.await {
                parts.push(p);
            }
        }
    }
    view::Whole {
        info: info.clone(),
        shards: parts,
    }
}

/// Answers a control command for the whole gateway.
async fn command(shards: &[ShardHandle], info: &view::Info, line: &str) -> String {
    match view::Command::parse(line) {
        view::Command::Show(what) => whole(shards, info, Some(&what))
            .await
            .show(Instant::now(), &what),
        view::Command::Clear(peer) => {
            let mut n = 0usize;
            for s in shards {
                let (tx, rx) = oneshot::channel();
                if s.cmds.send(ShardCmd::Clear(peer, tx)).await.is_ok() {
                    n = n.saturating_add(rx.await.unwrap_or(0));
                }
            }
            view::cleared(n, peer)
        }
        view::Command::Invalid(answer) => answer,
    }
}

/// What `reload` works with in the main loop.
struct Reloader<'a> {
    args: &'a RunArgs,
    workers: u8,
    outside: Ipv4Addr,
    session_accounting: Option<&'a str>,
    handles: &'a [ShardHandle],
}

/// `pix-gateway reload` and SIGHUP: reads the configuration again, validates it whole
/// (parse, lint, mapping for every worker, what a running gateway cannot change), and
/// only then applies it on every shard (shard 0 first: it reconfigures the shared
/// pools). The answer says what changed and who was logged out, or why nothing changed.
async fn reload_all(
    r: &Reloader<'_>,
    running: &mut super::reload::RunningConfig,
    info: &mut view::Info,
) -> String {
    let loaded = match super::reload::load(r.args, r.workers) {
        Ok(l) => l,
        Err(e) => {
            return format!(
                "% Reload refused, the running configuration is unchanged:\n{}",
                e.text()
            )
        }
    };
    let Some(first) = loaded.plans.first() else {
        return "% Reload refused: no worker\n".into();
    };
    if let Err(e) = super::reload::runnable(
        first,
        running,
        r.outside,
        r.args.outside_addr.is_some(),
        r.session_accounting,
    ) {
        return format!("% Reload refused, the running configuration is unchanged: {e}\n");
    }
    let changes = super::reload::diff(&running.config, &loaded.config);
    let pools = first.pools.clone();
    let (hostname, crypto_map) = (first.hostname.clone(), first.crypto_map.clone());
    let mut orphans: Option<Arc<Vec<Ipv4Addr>>> = None;
    let (mut kept, mut logged_out, mut aaa) = (0usize, Vec::new(), Vec::new());
    for (h, plan) in r.handles.iter().zip(loaded.plans) {
        let (tx, rx) = oneshot::channel();
        if h.cmds
            .send(ShardCmd::Reload(Box::new(plan), orphans.clone(), tx))
            .await
            .is_err()
        {
            continue;
        }
        if let Ok(done) = rx.await {
            if orphans.is_none() {
                orphans = Some(Arc::new(done.orphans.clone().unwrap_or_default()));
                aaa = done.aaa_replaced.clone();
            }
            kept = kept.saturating_add(done.kept);
            logged_out.extend(done.logged_out);
        }
    }
    let mut out = format!(
        "Reloaded {}: {} line(s) of the running configuration changed\n",
        loaded.name,
        changes.len()
    );
    for c in &changes {
        out.push_str(c);
        out.push('\n');
    }
    for n in &loaded.notes {
        out.push_str(n);
        out.push('\n');
    }
    if r.args.inside_interface.is_none() && !r.args.no_routes {
        if let Err(e) = add_routes(&r.args.inside_tun, &pools) {
            out.push_str(&format!("% routes for the new pools: {e:#}\n"));
        }
    }
    if !aaa.is_empty() {
        out.push_str(&format!(
            "aaa-server {}: new client(s) (servers, keys or ports changed)\n",
            aaa.join(", ")
        ));
    }
    out.push_str(&format!(
        "{kept} session(s) kept, {} logged out\n",
        logged_out.len()
    ));
    for l in &logged_out {
        out.push_str(&format!("  logged out {l}\n"));
    }
    let (was, now) = (running.config.mtu("inside"), loaded.config.mtu("inside"));
    if was != now {
        out.push_str(&format!(
            "% mtu inside {now}: the TUN device {} keeps its MTU ({was}) and read buffers until the gateway restarts\n",
            r.args.inside_tun
        ));
    }
    running.config = loaded.config;
    info.hostname = hostname;
    info.crypto_map = crypto_map;
    out
}

#[allow(clippy::too_many_lines)]
async fn serve(args: RunArgs, start: Start) -> anyhow::Result<()> {
    let Start {
        plans,
        config,
        outside,
        config_name,
        guard: guard_limits,
        workers,
    } = start;
    let now = Instant::now();
    let count = workers;
    let reuse = count > 1;
    let tun_err = |e: std::io::Error| {
        anyhow::anyhow!(
            "cannot create TUN device {}: {e} (needs root or CAP_NET_ADMIN and /dev/net/tun: run as root)",
            args.inside_tun
        )
    };
    // One queue per worker (IFF_MULTI_QUEUE when there are several).
    let build = |offload: bool| {
        tun_rs::DeviceBuilder::new()
            .name(&args.inside_tun)
            // The inside interface's MTU (`mtu inside N`, 1500 by default), not less:
            // a packet too big for the tunnel reaches the gateway, which answers with
            // the tunnel's own next-hop MTU (the kernel would answer with the TUN's).
            // The outside sockets keep the kernel's default path-MTU mode: an ESP
            // packet over the outside MTU is fragmented by the kernel, as the PIX
            // fragments after encryption.
            .mtu(plans.first().map_or(1500, |p| p.mtu.inside_mtu))
            .multi_queue(count > 1)
            .offload(offload)
            .enable(true)
            .build_sync()
    };
    let first_queue = match build(!args.no_offload) {
        Ok(d) => d,
        // Only a kernel that lacks them falls back; no permission stays an error.
        Err(e) if !args.no_offload && e.kind() != std::io::ErrorKind::PermissionDenied => {
            log(&format!(
                "TUN device {} without offloads (the kernel refused them: {e}): one packet per read and write",
                args.inside_tun
            ));
            build(false).map_err(tun_err)?
        }
        Err(e) => return Err(tun_err(e)),
    };
    log(&format!(
        "TUN device {}: {} queue(s), offloads {}",
        args.inside_tun,
        count,
        if first_queue.tcp_gso() {
            if first_queue.udp_gso() {
                "TSO and USO (virtio-net header, GRO on write)"
            } else {
                "TSO (virtio-net header, GRO on write)"
            }
        } else {
            "off"
        }
    ));
    let mut tuns = Vec::with_capacity(usize::from(count));
    for _ in 1..count {
        tuns.push(first_queue.try_clone().map_err(tun_err)?);
    }
    tuns.insert(0, first_queue);
    let Some(first) = plans.first() else {
        anyhow::bail!("no worker");
    };
    let syslog = {
        let (settings, warnings) = syslog::Settings::from_config(&config);
        for w in &warnings {
            log(&format!("logging: {w}"));
        }
        syslog::Syslog::new(settings)?
    };
    let mut running = super::reload::RunningConfig {
        config,
        outside_if: first.outside_if.clone(),
    };
    let freebind = args.failover.is_some();
    let routes = match &args.inside_interface {
        Some(inside) if !args.no_routes => Some(client_routes(&args.inside_tun, inside)?),
        _ => {
            if !args.no_routes {
                add_routes(&args.inside_tun, &first.pools)?;
            }
            None
        }
    };
    let session_accounting = match &args.session_accounting {
        Some(tag) => {
            match first.aaa.iter().find(|(t, _)| *t == tag) {
                Some((_, g)) if g.protocol == xauth::aaa::Protocol::Radius => {}
                Some(_) => anyhow::bail!(
                    "--session-accounting {tag}: aaa-server {tag} is not RADIUS (session records, Accounting-On/Off and address leases are RADIUS accounting)"
                ),
                None => anyhow::bail!(
                    "--session-accounting {tag}: the configuration has no `aaa-server {tag} protocol radius`"
                ),
            }
            Some(pix_gateway::gateway::session_acct::SessionAccounting {
                tag: tag.clone(),
                interim: (args.interim_interval > 0)
                    .then(|| Duration::from_secs(args.interim_interval)),
            })
        }
        None => None,
    };
    let nas_identifier = args
        .nas_identifier
        .clone()
        .unwrap_or_else(|| first.hostname.clone());
    let permit_ipsec = first.permit_ipsec;
    let keylog = match &args.keylog {
        Some(p) => {
            let f = super::keylog_file::open(p)?;
            log(&format!(
                "WARNING: --keylog {} is ON: every IKE and ESP key is written there; anyone with the file decrypts the traffic",
                p.display()
            ));
            Some(Mutex::new(f))
        }
        None => None,
    };
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ControlMsg>(64);
    let control_path = control::path(args.control.clone());
    let control_slots = Arc::new(Mutex::new(control::Slots::new(control::MAX_CONNS)));
    let metrics_slots = Arc::new(Mutex::new(control::Slots::new(METRICS_MAX_CONNS)));
    let control_bound = control::listen(&control_path, ctl_tx, control_slots.clone())?;
    let (metrics_tx, mut metrics_rx) = mpsc::channel::<oneshot::Sender<String>>(16);
    if let Some(addr) = args.metrics {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
        log(&format!("metrics on http://{addr}/metrics"));
        tokio::spawn(serve_metrics(l, metrics_tx, metrics_slots.clone()));
    }
    log(if permit_ipsec {
        "sysopt connection permit-ipsec: tunnelled traffic bypasses the interface ACLs"
    } else {
        "no sysopt connection permit-ipsec: tunnelled traffic is checked by the outside ACL"
    });
    let epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let stderr_debug = debug_kinds(&args.debug);
    let throttle = guard::SharedThrottle::new(guard_limits.xauth.clone());
    let (debug_tx, mut debug_rx) = mpsc::channel::<(DebugKind, String)>(65_536);
    let mut handoff_tx = Vec::new();
    let mut handoff_rx = Vec::new();
    for _ in 0..count {
        let (tx, rx) = mpsc::channel(HANDOFF_QUEUE);
        handoff_tx.push(tx);
        handoff_rx.push(rx);
    }
    let shared = Arc::new(Shared {
        count,
        io: batch::IoCounters::default(),
        handoff: handoff_tx,
        handoff_dropped: std::sync::atomic::AtomicU64::new(0),
        handed: std::sync::atomic::AtomicU64::new(0),
        keylog,
        debug: debug_tx,
        outside,
        peer_key: args.shard_key.unwrap_or_else(rand::random),
        routes,
        syslog,
    });
    let cores = pix_gateway::gateway::Gateway::shards(
        plans,
        &{
            let mut s = Settings::new(outside);
            s.config_name = config_name;
            s.epoch_at_start = epoch;
            s.guard = guard_limits;
            s.shared_throttle = Some(throttle);
            s.session_accounting = session_accounting.clone();
            s.nas_identifier = Some(nas_identifier.clone());
            s
        },
        now,
    );
    let mut info = cores
        .first()
        .map(|g| g.info().clone())
        .context("no shard")?;
    let mut handles = Vec::new();
    let mut threads = Vec::new();
    let mut readies = Vec::new();
    // Every worker's sockets first: the UDP ones join their SO_REUSEPORT group in
    // worker order, which the steering program's answer indexes.
    let mut std_ios = Vec::with_capacity(usize::from(count));
    for (index, tun) in (0..count).zip(tuns) {
        std_ios.push(StdIo {
            udp500: bind_udp_free(SocketAddr::new(outside.into(), 500), reuse, freebind)?,
            udp4500: udp_gro(bind_udp_free(
                SocketAddr::new(outside.into(), 4500),
                reuse,
                freebind,
            )?),
            raw: raw_esp(outside, index, count, freebind)?,
            tun,
            aaa_udp: bind_udp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0), false)?,
        });
    }
    if let Some(first) = std_ios.first().filter(|_| count > 1) {
        steer(&first.udp500, 500, count, shared.peer_key)?;
        steer(&first.udp4500, 4500, count, shared.peer_key)?;
    }
    for ((mut gw, std_io), hrx) in cores.into_iter().zip(std_ios).zip(handoff_rx) {
        let index = gw.shard();
        gw.set_keylog(shared.keylog.is_some());
        gw.set_debug(&stderr_debug);
        let (ctx, crx) = mpsc::channel(64);
        handles.push(ShardHandle { cmds: ctx });
        let shared = shared.clone();
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), String>>();
        readies.push(ready_rx);
        // One thread per shard, each with its own runtime (its own epoll and timers):
        // nothing but the hand-off channels and the shared pools between them.
        let t = std::thread::Builder::new()
            .name(format!("pix-worker-{index}"))
            .spawn(move || -> anyhow::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start a worker's event loop")?;
                rt.block_on(async move {
                    let (aaa_tx, aaa_rx) = mpsc::channel::<AaaIn>(256);
                    let io = match Io::new(std_io, aaa_tx) {
                        Ok(io) => io,
                        Err(e) => {
                            let e = format!("worker {index}: cannot register its sockets: {e}");
                            let _ = ready_tx.send(Err(e.clone()));
                            anyhow::bail!(e);
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    shard(index, gw, io, crx, hrx, aaa_rx, shared).await;
                    Ok(())
                })
            })
            .context("cannot start a worker thread")?;
        threads.push(t);
    }
    for r in readies {
        match r.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => anyhow::bail!(e),
            Err(_) => anyhow::bail!("a worker thread ended before it started serving"),
        }
    }
    let mut subscribers: Vec<(Vec<DebugKind>, mpsc::Sender<String>)> = Vec::new();
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sighup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    let reloader = Reloader {
        args: &args,
        workers: count,
        outside,
        session_accounting: session_accounting.as_ref().map(|s| s.tag.as_str()),
        handles: &handles,
    };
    log(&format!(
        "{} up: IKE on {outside}:500 and :4500, raw ESP, inside TUN {}, control {}, {count} worker(s)",
        info.hostname,
        args.inside_tun,
        control_path.display()
    ));
    let mut wanted = stderr_debug.clone();
    // Failover: a standby waits for `failover active`; anything else is active now.
    let mut active = args.failover != Some(FailoverRole::Standby);
    if let Some(role) = args.failover {
        log(&format!(
            "failover: this unit starts {} (outside {outside} bound with IP_FREEBIND)",
            if role == FailoverRole::Active {
                "active"
            } else {
                "standby: it answers once the address is here"
            }
        ));
    }
    if active && session_accounting.is_some() {
        nas_accounting(&handles, xauth::radius::AcctStatus::AccountingOn).await;
    }
    let why = loop {
        tokio::select! {
            Some((kind, line)) = debug_rx.recv() => {
                if stderr_debug.contains(&kind) {
                    eprintln!("{line}");
                }
                subscribers.retain(|(kinds, tx)| {
                    if !kinds.contains(&kind) {
                        return !tx.is_closed();
                    }
                    !matches!(
                        tx.try_send(line.clone()),
                        Err(mpsc::error::TrySendError::Closed(_))
                    )
                });
            }
            Some(reply) = metrics_rx.recv() => {
                let mut text = whole(&handles, &info, None).await.metrics_text();
                handoff_metrics(&shared, &mut text);
                shared.io.render(&mut text);
                listener_metrics(&control_slots, &metrics_slots, &mut text);
                let _ = reply.send(text);
            }
            Some(m) = ctl_rx.recv() => {
                match m {
                    ControlMsg::Command(line, reply) if super::reload::is_reload(&line) => {
                        let answer = reload_all(&reloader, &mut running, &mut info).await;
                        shared.syslog.reconfigure(syslog::Settings::from_config(&running.config).0);
                        for l in answer.lines() {
                            log(&format!("reload: {l}"));
                        }
                        let _ = reply.send(answer);
                    }
                    ControlMsg::Command(line, reply) if syslog::is_show_logging(&line) => {
                        let _ = reply.send(shared.syslog.show());
                    }
                    ControlMsg::Command(line, reply) if syslog::is_clear_logging(&line) => {
                        let _ = reply.send(shared.syslog.clear());
                    }
                    ControlMsg::Command(line, reply) if super::reload::is_show_running(&line) => {
                        let _ = reply.send(super::reload::show_running_config(&running.config));
                    }
                    ControlMsg::Command(line, reply) => {
                        let answer = match failover_command(&line) {
                            Some(f) => {
                                let (answer, on) = failover_change(f, &mut active, session_accounting.is_some());
                                if on {
                                    nas_accounting(&handles, xauth::radius::AcctStatus::AccountingOn).await;
                                }
                                answer
                            }
                            None => command(&handles, &info, &line).await,
                        };
                        let _ = reply.send(answer);
                    }
                    ControlMsg::Subscribe(kinds, tx) => subscribers.push((kinds, tx)),
                }
            }
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = sigint.recv() => break "SIGINT",
            _ = sigterm.recv() => break "SIGTERM",
            _ = sighup.recv() => {
                log("SIGHUP: reloading the configuration");
                for l in reload_all(&reloader, &mut running, &mut info).await.lines() {
                    log(&format!("reload: {l}"));
                }
                shared.syslog.reconfigure(syslog::Settings::from_config(&running.config).0);
            }
        }
        // Debug lines are built only while someone reads them (`--debug`, or a control
        // client in `debug crypto ...`): the PIX with `no debug` formats nothing.
        subscribers.retain(|(_, tx)| !tx.is_closed());
        let mut now_wanted = stderr_debug.clone();
        for (kinds, _) in &subscribers {
            for k in kinds {
                if !now_wanted.contains(k) {
                    now_wanted.push(*k);
                }
            }
        }
        if now_wanted != wanted {
            wanted = now_wanted;
            for s in &handles {
                let _ = s.cmds.send(ShardCmd::Debug(wanted.clone())).await;
            }
        }
    };
    log(&format!("{why}: stopping {count} worker(s)"));
    // One after the other: the last answer counts every shard's leases (shared pools).
    // Shard 0 goes last: its Accounting-Off follows every shard's Stops.
    let mut leased = 0;
    for (i, s) in handles.iter().enumerate().rev() {
        let (tx, rx) = oneshot::channel();
        let off = i == 0 && active && session_accounting.is_some();
        if s.cmds.send(ShardCmd::Shutdown(tx, off)).await.is_ok() {
            leased = rx.await.unwrap_or(leased);
        }
    }
    log(&format!("stopped; {leased} address(es) still leased"));
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log(&format!("a worker failed: {e:#}")),
            Err(_) => log("a worker panicked"),
        }
    }
    drop(control_bound); // removes the socket
    Ok(())
}

/// Metrics connections served at once (see [`control::Slots`]).
const METRICS_MAX_CONNS: usize = 16;
/// Longest metrics request read.
const METRICS_MAX_REQUEST: usize = 8192;
/// Time for a whole metrics connection: request, answer and write.
const METRICS_TIME: Duration = Duration::from_secs(5);

fn handoff_metrics(shared: &Shared, out: &mut String) {
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering::Relaxed;
    let _ = writeln!(out, "# HELP pix_handoff_total Packets read by one worker and handed to the worker that owns them.\n# TYPE pix_handoff_total counter");
    let _ = writeln!(out, "pix_handoff_total {}", shared.handed.load(Relaxed));
    let _ = writeln!(out, "# HELP pix_handoff_dropped_total Packets dropped because the owning worker's queue was full.\n# TYPE pix_handoff_dropped_total counter");
    let _ = writeln!(
        out,
        "pix_handoff_dropped_total {}",
        shared.handoff_dropped.load(Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP pix_workers Worker threads (shards of the gateway core).\n# TYPE pix_workers gauge"
    );
    let _ = writeln!(out, "pix_workers {}", shared.count);
}
fn listener_metrics(
    control: &Mutex<control::Slots>,
    metrics: &Mutex<control::Slots>,
    out: &mut String,
) {
    out.push_str(control::METRICS_HELP);
    control::lock(control).metrics("control", out);
    control::lock(metrics).metrics("metrics", out);
}

/// A minimal HTTP/1.0 responder for `GET /metrics` (anything else: 404). At most
/// [`METRICS_MAX_CONNS`] connections at once (a new one evicts the oldest that has not
/// sent its request yet, or is closed at once when all are answering); a request is read
/// up to 8 KiB, and the whole connection (request, answer, write) gets 5 s. The text
/// comes from the event loop.
async fn serve_metrics(
    l: tokio::net::TcpListener,
    ask: mpsc::Sender<tokio::sync::oneshot::Sender<String>>,
    slots: Arc<Mutex<control::Slots>>,
) {
    let lock = control::lock;
    loop {
        let mut s = match l.accept().await {
            Ok((s, _)) => s,
            Err(_) => {
                // out of file descriptors and the like: do not spin
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let admitted = lock(&slots).admit();
        let Some((id, evicted)) = admitted else {
            continue; // dropped: closed at once
        };
        let ask = ask.clone();
        let slots = slots.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now()
                .checked_add(METRICS_TIME)
                .expect("a few seconds from now is a representable instant");
            let mut buf = vec![0u8; METRICS_MAX_REQUEST];
            let mut n = 0usize;
            let read = async {
                while n < buf.len() {
                    match s.read(buf.get_mut(n..).unwrap_or_default()).await {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            n = n.saturating_add(k);
                            if buf
                                .get(..n)
                                .is_some_and(|b| b.windows(4).any(|w| w == b"\r\n\r\n"))
                            {
                                break;
                            }
                        }
                    }
                }
            };
            let read = tokio::select! {
                _ = evicted => return, // a newer connection has our slot
                r = tokio::time::timeout_at(deadline, read) => r,
            };
            if read.is_err() {
                lock(&slots).done(id, control::Outcome::TimedOut);
                return;
            }
            if !lock(&slots).busy(id) {
                return;
            }
            let head = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
            drop(buf);
            let respond = async {
                let ok = head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?");
                let body = if ok {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    if ask.send(tx).await.is_err() {
                        return;
                    }
                    rx.await.unwrap_or_default()
                } else {
                    "not found: try /metrics\n".to_string()
                };
                let status = if ok { "200 OK" } else { "404 Not Found" };
                let resp = format!(
                    "HTTP/1.0 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            };
            let how = match tokio::time::timeout_at(deadline, respond).await {
                Ok(()) => control::Outcome::Served,
                Err(_) => control::Outcome::TimedOut,
            };
            lock(&slots).done(id, how);
        });
        // Let the connection just evicted (if any) close before the next accept: on this
        // one-thread runtime a burst of accepts would otherwise hold every evicted
        // socket open until the burst ends.
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    /// Datagrams to a group of `count` sockets steered by the program of `port`: which
    /// socket got each (payload, source).
    fn steered(
        port: u16,
        count: u8,
        key: u64,
        sends: &[(u8, Vec<u8>)],
    ) -> Vec<(usize, u8, Vec<u8>)> {
        let first = bind_udp("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let addr = first.local_addr().unwrap();
        let mut socks = vec![first];
        for _ in 1..count {
            socks.push(bind_udp(addr, true).unwrap());
        }
        steer(&socks[0], port, count, key).unwrap();
        for (src, payload) in sends {
            let from = std::net::UdpSocket::bind((Ipv4Addr::new(127, 0, 0, *src), 0)).unwrap();
            from.send_to(payload, addr).unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        for (i, s) in socks.iter().enumerate() {
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let IpAddr::V4(f) = from.ip() else { panic!() };
                got.push((i, f.octets()[3], buf[..n].to_vec()));
            }
        }
        got
    }

    #[test]
    fn the_kernel_steers_each_datagram_to_the_socket_of_its_shard() {
        let (count, key) = (3u8, 0x5eed_u64);
        let ike = |rcookie0: u8, zero: bool| {
            let mut h = vec![0x11u8; 28];
            h[8..16].fill(if zero { 0 } else { 0x22 });
            if !zero {
                h[8] = rcookie0;
            }
            h
        };
        // Port 500: first messages from 12 addresses (their peer's shard), then IKE
        // with a responder cookie (the cookie's shard).
        let mut sends: Vec<(u8, Vec<u8>)> = (2..14).map(|a| (a, ike(0, true))).collect();
        sends.extend((0..12u8).map(|b| (2, ike(b.wrapping_mul(37), false))));
        let got = steered(500, count, key, &sends);
        assert_eq!(got.len(), sends.len());
        let mut used = [false; 3];
        for (sock, src, p) in &got {
            let want = match route::udp(count, 500, p) {
                route::Route::Shard(s) => s,
                route::Route::Any => {
                    route::of_peer(count, key, Ipv4Addr::new(127, 0, 0, *src).into())
                }
            };
            assert_eq!(*sock, usize::from(want), "from .{src}: {p:02x?}");
            used[*sock] = true;
        }
        assert_eq!(used, [true; 3]);
        // Port 4500: ESP by SPI, IKE behind the marker by cookie or peer.
        let mut sends: Vec<(u8, Vec<u8>)> = (0..12u8)
            .map(|b| {
                (
                    3,
                    [&[b.wrapping_mul(29), 1, 2, 3, 0, 0, 0, 1][..], &[9; 20]].concat(),
                )
            })
            .collect();
        sends.extend((2..10).map(|a| (a, [&[0u8; 4][..], &ike(0, true)].concat())));
        sends.extend((0..6u8).map(|b| (4, [&[0u8; 4][..], &ike(b * 5 + 1, false)].concat())));
        let got = steered(4500, count, key, &sends);
        assert_eq!(got.len(), sends.len());
        for (sock, src, p) in &got {
            let want = match route::udp(count, 4500, p) {
                route::Route::Shard(s) => s,
                route::Route::Any => {
                    route::of_peer(count, key, Ipv4Addr::new(127, 0, 0, *src).into())
                }
            };
            assert_eq!(*sock, usize::from(want), "from .{src}: {p:02x?}");
        }
    }

    #[test]
    fn pool_cover_prefixes() {
        let v = cover(
            "10.89.129.200".parse().unwrap(),
            "10.89.129.204".parse().unwrap(),
        );
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(s, ["10.89.129.200/30", "10.89.129.204/32"]);
    }

    /// The classic BPF machine, for the instructions the filter uses (an out-of-range
    /// load ends the program with 0, as the kernel does).
    fn run_bpf(prog: &[(u16, u8, u8, u32)], p: &[u8]) -> u32 {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        // u32 arithmetic wraps, as in the kernel's interpreter.
        while let Some(&(code, jt, jf, k)) = prog.get(pc) {
            pc = pc.saturating_add(1);
            match code {
                LDX_B_MSH => match p.get(k as usize) {
                    Some(b) => x = 4 * u32::from(b & 0xf),
                    None => return 0,
                },
                LD_W_LEN => a = p.len() as u32,
                ALU_SUB_X => a = a.wrapping_sub(x),
                LD_B_IND => match p.get(x.wrapping_add(k) as usize) {
                    Some(b) => a = u32::from(*b),
                    None => return 0,
                },
                // the kernel refuses a program that divides by a constant 0
                ALU_MOD_K => a = a.checked_rem(k).expect("MOD by a constant 0"),
                JGE_K => pc = pc.saturating_add(usize::from(if a >= k { jt } else { jf })),
                JEQ_K => pc = pc.saturating_add(usize::from(if a == k { jt } else { jf })),
                RET_K => return k,
                other => panic!("opcode {other:#x} not modelled"),
            }
        }
        0
    }

    #[test]
    fn each_esp_packet_passes_exactly_the_filter_of_its_spis_shard() {
        for count in [2u8, 3, 7, 64] {
            for top in 0..=255u8 {
                for ihl in [5u8, 6] {
                    let mut p = vec![0x40 | ihl];
                    p.resize(usize::from(ihl) * 4, 0);
                    p.extend_from_slice(&[top, 1, 2, 3, 0, 0, 0, 1, 0xaa]);
                    let passed: Vec<u8> = (0..count)
                        .filter(|i| run_bpf(&esp_program(*i, count), &p) > 0)
                        .collect();
                    let spi = u32::from_be_bytes([top, 1, 2, 3]);
                    assert_eq!(
                        passed,
                        [route::of_spi(count, spi)],
                        "count {count} spi {spi:#x}"
                    );
                }
            }
            // Too short to hold an SPI and a sequence number: shard 0 takes it (counted).
            let short = [
                0x45u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
            ];
            let passed: Vec<u8> = (0..count)
                .filter(|i| run_bpf(&esp_program(*i, count), &short) > 0)
                .collect();
            assert_eq!(passed, [0]);
        }
    }
}
