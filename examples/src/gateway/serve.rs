//! The event loop of `pix-gateway run`: one thread, one tokio current-thread runtime,
//! every socket and timer in one `select!`.
//!
//! * UDP 500 and 4500 on the outside address (4500: non-ESP marker for IKE, ESP in UDP,
//!   NAT keepalives),
//! * a raw IP socket for protocol 50 (ESP as a PIX 6.3 sees it without NAT-T),
//! * the TUN device standing for the inside interface,
//! * the AAA servers (RADIUS over UDP, TACACS+ over TCP),
//! * the control socket, SIGINT/SIGTERM, and the next deadline from the Sans-IO crates.
// The driver reads the clock (Instant::now, SystemTime::now): the library crates
// never do, the event loop does it for them.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::control::{self, ControlMsg};
use super::dataplane::EspDest;
use super::{setup, DebugKind, Gateway};

/// The bundled demo configuration: the seed's `show run` with Xauth against LOCAL.
pub const DEMO_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pix63-demo.cfg");
/// The demo secrets for it (group `vpn3000`, user `cisco_customer`).
pub const DEMO_SECRETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/pix63-demo.secrets");

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
    /// retransmit-initial-ms, retransmit-count, dpd-idle (0: off), dpd-retries,
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
}

fn stamp() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = t.as_secs();
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        t.subsec_millis()
    )
}

fn log(line: &str) {
    log_lines(std::iter::once(line));
}

/// Writes log lines to stderr in one `write` (stderr is unbuffered: `eprintln!` costs
/// a system call per formatted piece, which showed under load).
fn log_lines<'a>(lines: impl IntoIterator<Item = &'a str>) {
    use std::fmt::Write as _;
    let stamp = stamp();
    let mut out = String::new();
    for l in lines {
        let _ = writeln!(out, "{stamp} pix-gateway: {l}");
    }
    if !out.is_empty() {
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), out.as_bytes());
    }
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

/// Loads, lints and maps the configuration; prints diagnostics. `Err` is the exit code.
fn load(args: &RunArgs) -> Result<(setup::Plan, String, bool), ExitCode> {
    let demo = args.config.is_none();
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEMO_CONFIG));
    let secrets_path = args
        .secrets
        .clone()
        .or_else(|| demo.then(|| PathBuf::from(DEMO_SECRETS)));
    let fail = |m: String| {
        log(&m);
        ExitCode::from(1)
    };
    let bytes = std::fs::read(&config_path)
        .map_err(|e| fail(format!("cannot read {}: {e}", config_path.display())))?;
    let (overlay, odiags) = match &secrets_path {
        Some(p) => {
            let raw =
                std::fs::read(p).map_err(|e| fail(format!("cannot read {}: {e}", p.display())))?;
            let text = String::from_utf8(raw).map_err(|_| {
                fail(format!(
                    "{}: the secrets file must be UTF-8 text",
                    p.display()
                ))
            })?;
            let (ov, d) = pix_config::SecretsOverlay::parse(&text);
            (Some(ov), d)
        }
        None => (None, Vec::new()),
    };
    if !odiags.is_empty() {
        for d in &odiags {
            log(&format!(
                "{}:{}: {}: {}",
                secrets_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                d.line,
                format!("{:?}", d.severity).to_ascii_lowercase(),
                d.error
            ));
        }
        if odiags
            .iter()
            .any(|d| d.severity == pix_config::Severity::Error)
        {
            return Err(ExitCode::from(1));
        }
    }
    let outcome = pix_config::parse_bytes(
        &bytes,
        &pix_config::ParseOptions {
            strict: false,
            secrets: overlay.as_ref(),
        },
    );
    let text = pix_config::decode(&bytes);
    let errors = outcome
        .diagnostics
        .iter()
        .filter(|d| d.severity == pix_config::Severity::Error)
        .count();
    if errors > 0 {
        let rendered = pix_config::render_diagnostics(
            &config_path.display().to_string(),
            &text,
            &outcome.diagnostics,
        );
        eprint!("{rendered}");
        return Err(fail(format!(
            "{}: {errors} error(s) in the configuration; `pix-gateway check` shows them all",
            config_path.display()
        )));
    }
    let findings = pix_config::lint(&outcome.config);
    for f in &findings {
        log(&format!(
            "lint: {}:{}: {}",
            config_path.display(),
            f.line,
            f.message
        ));
    }
    let users: Vec<(String, ike_sm::crypto::secret::Secret)> = overlay
        .as_ref()
        .map(|o| {
            o.users()
                .into_iter()
                .map(|(n, s)| {
                    (
                        n.to_string(),
                        ike_sm::crypto::secret::Secret::from_slice(s.expose().as_bytes()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    match setup::plan_with(&outcome.config, users, &args.allow_keyless_aaa) {
        Ok(p) => {
            for w in &p.warnings {
                log(&format!("warning: {w}"));
            }
            Ok((p, config_path.display().to_string(), demo))
        }
        Err(errs) => {
            for e in &errs {
                log(&format!("{}: {e}", config_path.display()));
            }
            Err(ExitCode::from(1))
        }
    }
}

/// `pix-gateway run`.
pub fn run(args: RunArgs) -> ExitCode {
    let (mut plan, config_name, demo) = match load(&args) {
        Ok(x) => x,
        Err(code) => return code,
    };
    if args.allow_aggressive_address_keys {
        if let Some(g) = plan.ike.gateway.as_mut() {
            g.aggressive_address_keys = true;
        }
        log("WARNING: --allow-aggressive-address-keys: an Aggressive Mode initiator with an address identity is answered with the isakmp key of its address, in a HASH anyone can fetch and crack offline (ike-scan + psk-crack)");
    }
    for tag in &args.radius_without_message_authenticator {
        match plan.aaa.get_mut(tag) {
            Some(g) if g.protocol == xauth::aaa::Protocol::Radius => {
                g.require_message_authenticator = false;
                log(&format!(
                    "WARNING: aaa-server {tag}: RADIUS replies without Message-Authenticator are believed (--radius-without-message-authenticator): a man in the middle can forge an Access-Accept (Blast-RADIUS, CVE-2024-3596); make the server send Message-Authenticator instead"
                ));
            }
            _ => {
                log(&format!(
                    "--radius-without-message-authenticator {tag}: no `aaa-server {tag} protocol radius`"
                ));
                return ExitCode::from(1);
            }
        }
    }
    let mut guard_limits = super::guard::GuardLimits::default();
    for spec in &args.limits {
        let applied = match super::guard::apply_limit(&mut guard_limits, spec) {
            Ok(true) => Ok(()),
            Ok(false) => setup::apply_limit(&mut plan.ike.limits, spec).map_err(|e| {
                if e.contains("unknown name") {
                    format!("{e}; and {}", super::guard::LIMIT_NAMES)
                } else {
                    e
                }
            }),
            Err(e) => Err(e),
        };
        if let Err(e) = applied {
            log(&e);
            return ExitCode::from(1);
        }
    }
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
    match rt.block_on(serve(args, plan, outside, config_name)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}

/// Receive buffer for the IKE and ESP sockets: bursts of hundreds of clients (the load
/// test) overflow the kernel's default ~208 KiB, and a lost DELETE is never resent.
const RECV_BUFFER: usize = 4 << 20;

fn bind_udp(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let s = std::net::UdpSocket::bind(addr).map_err(|e| {
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
    let s = socket2::Socket::from(s);
    // best effort: the kernel caps it at net.core.rmem_max
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    Ok(UdpSocket::from_std(std::net::UdpSocket::from(s))?)
}

/// The raw ESP socket. It is driven through tokio's `UdpSocket`, which is only
/// `recvfrom`/`sendto` on a datagram file descriptor: on a raw IPv4 socket `recv_from`
/// returns the whole IP packet (header included) and the sender with port 0, and
/// `send_to` an ESP packet to which the kernel adds the IP header.
fn raw_esp(addr: Ipv4Addr) -> anyhow::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(50))).map_err(|e| {
        anyhow::anyhow!(
            "cannot open a raw socket for ESP (IP protocol 50): {e} (needs root or CAP_NET_RAW: run as root)"
        )
    })?;
    s.bind(&SocketAddr::new(addr.into(), 0).into())
        .with_context(|| format!("cannot bind the raw ESP socket to {addr}"))?;
    s.set_nonblocking(true)?;
    let _ = s.set_recv_buffer_size(RECV_BUFFER);
    Ok(UdpSocket::from_std(std::net::UdpSocket::from(s))?)
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

struct Io {
    udp500: UdpSocket,
    udp4500: UdpSocket,
    raw: UdpSocket,
    tun: tokio_tun::Tun,
    aaa_udp: UdpSocket,
    aaa_conns: HashMap<ConnKey, mpsc::UnboundedSender<Option<Vec<u8>>>>,
    aaa_in: mpsc::Sender<AaaIn>,
    keylog: Option<std::fs::File>,
    subscribers: Vec<(Vec<DebugKind>, mpsc::Sender<String>)>,
    stderr_debug: Vec<DebugKind>,
    outside: Ipv4Addr,
}

impl Io {
    async fn send_ike(&self, t: ike_sm::Transmit) {
        let r = if t.local.port() == 4500 {
            let mut b = Vec::with_capacity(t.bytes.len().saturating_add(4));
            if t.bytes.as_slice() != [0xFF] {
                b.extend_from_slice(&esp::udp_encap::NON_ESP_MARKER);
            }
            b.extend_from_slice(&t.bytes);
            self.udp4500.send_to(&b, t.remote).await
        } else {
            self.udp500.send_to(&t.bytes, t.remote).await
        };
        if let Err(e) = r {
            log(&format!("send to {} failed: {e}", t.remote));
        }
    }

    async fn send_esp(&self, dest: EspDest, bytes: &[u8]) -> std::io::Result<()> {
        match dest {
            EspDest::Udp(to) => self.udp4500.send_to(bytes, to).await.map(|_| ()),
            EspDest::Raw(ip) => self
                .raw
                .send_to(bytes, SocketAddr::V4(SocketAddrV4::new(ip, 0)))
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
}

/// Drains everything the gateway wants sent, logged or published.
async fn flush(gw: &mut Gateway, io: &mut Io) {
    while let Some(t) = gw.ike.poll_transmit() {
        io.send_ike(t).await;
    }
    let mut ts = Vec::new();
    for (tag, a) in &mut gw.aaa {
        while let Some(t) = a.client.poll_transmit() {
            ts.push((tag.clone(), t));
        }
    }
    {
        for (tag, t) in ts {
            match t {
                xauth::aaa::AaaTransmit::Datagram { to, payload, .. } => {
                    if let Err(e) = io.aaa_udp.send_to(&payload, to).await {
                        log(&format!("RADIUS send to {to} failed: {e}"));
                    }
                }
                xauth::aaa::AaaTransmit::Stream { conn, to, payload } => {
                    let key = (tag, conn);
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
                xauth::aaa::AaaTransmit::Close { conn } => {
                    if let Some(tx) = io.aaa_conns.remove(&(tag, conn)) {
                        let _ = tx.send(None);
                    }
                }
            }
        }
    }
    log_lines(gw.log.iter().map(String::as_str));
    gw.log.clear();
    if !gw.keylog.is_empty() {
        if let Some(f) = &mut io.keylog {
            for l in gw.keylog.drain(..) {
                let _ = writeln!(f, "{l}");
            }
            let _ = f.flush();
        } else {
            gw.keylog.clear();
        }
    }
    for (kind, line) in gw.debug.drain(..) {
        if io.stderr_debug.contains(&kind) {
            eprintln!("{line}");
        }
        io.subscribers.retain(|(kinds, tx)| {
            if !kinds.contains(&kind) {
                return !tx.is_closed();
            }
            !matches!(
                tx.try_send(line.clone()),
                Err(mpsc::error::TrySendError::Closed(_))
            )
        });
    }
    // Debug events are built only while someone reads them (`--debug`, or a control
    // client in `debug crypto ...`): the PIX with `no debug` formats nothing.
    io.subscribers.retain(|(_, tx)| !tx.is_closed());
    gw.ike
        .set_debug_events(!io.stderr_debug.is_empty() || !io.subscribers.is_empty());
}

async fn serve(
    args: RunArgs,
    plan: setup::Plan,
    outside: Ipv4Addr,
    config_name: String,
) -> anyhow::Result<()> {
    let now = Instant::now();
    let udp500 = bind_udp(SocketAddr::new(outside.into(), 500))?;
    let udp4500 = bind_udp(SocketAddr::new(outside.into(), 4500))?;
    let raw = raw_esp(outside)?;
    let tun = tokio_tun::Tun::builder()
        .name(&args.inside_tun)
        .mtu(1400)
        .up()
        .build()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot create TUN device {}: {e} (needs root or CAP_NET_ADMIN and /dev/net/tun)",
                args.inside_tun
            )
        })?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("TUN device {} was not created", args.inside_tun))?;
    if !args.no_routes {
        add_routes(&args.inside_tun, &plan.pools)?;
    }
    let aaa_udp = bind_udp(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))?;
    let keylog = match &args.keylog {
        Some(p) => {
            let f = super::keylog::open(p)?;
            log(&format!(
                "WARNING: --keylog {} is ON: every IKE and ESP key is written there; anyone with the file decrypts the traffic",
                p.display()
            ));
            Some(f)
        }
        None => None,
    };
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<ControlMsg>(64);
    let control_path = control::path(args.control.clone());
    let control_slots = Arc::new(Mutex::new(control::Slots::new(control::MAX_CONNS)));
    let metrics_slots = Arc::new(Mutex::new(control::Slots::new(METRICS_MAX_CONNS)));
    let control_bound = control::listen(&control_path, ctl_tx, control_slots.clone())?;
    let (aaa_tx, mut aaa_rx) = mpsc::channel::<AaaIn>(256);
    let (metrics_tx, mut metrics_rx) = mpsc::channel::<tokio::sync::oneshot::Sender<String>>(16);
    if let Some(addr) = args.metrics {
        let l = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
        log(&format!("metrics on http://{addr}/metrics"));
        tokio::spawn(serve_metrics(l, metrics_tx, metrics_slots.clone()));
    }
    log(if plan.permit_ipsec {
        "sysopt connection permit-ipsec: tunnelled traffic bypasses the interface ACLs"
    } else {
        "no sysopt connection permit-ipsec: tunnelled traffic is checked by the outside ACL"
    });
    let mut gw = Gateway::new(plan, outside, now, config_name);
    gw.epoch_at_start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    gw.keylog_on = keylog.is_some();
    gw.set_guard_limits(super::guard::from_specs(&args.limits));
    let mut io = Io {
        udp500,
        udp4500,
        raw,
        tun,
        aaa_udp,
        aaa_conns: HashMap::new(),
        aaa_in: aaa_tx,
        keylog,
        subscribers: Vec::new(),
        stderr_debug: debug_kinds(&args.debug),
        outside,
    };
    gw.ike.set_debug_events(!io.stderr_debug.is_empty());
    let mut rng = rand::rng();
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    log(&format!(
        "{} up: IKE on {outside}:500 and :4500, raw ESP, inside TUN {}, control {}",
        gw.hostname,
        args.inside_tun,
        control_path.display()
    ));
    let mut b500 = vec![0u8; 65_536];
    let mut b4500 = vec![0u8; 65_536];
    let mut braw = vec![0u8; 65_536];
    let mut btun = vec![0u8; 65_536];
    let mut baaa = vec![0u8; 4096];
    let mut out = vec![0u8; 65_536];
    loop {
        let deadline = gw
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            r = io.udp500.recv_from(&mut b500) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now();
                    let local = SocketAddr::new(outside.into(), 500);
                    gw.ike.handle_datagram(now, local, from, b500.get(..n).unwrap_or_default(), &mut rng);
                    gw.process(now, &mut rng);
                }
            }
            r = io.udp4500.recv_from(&mut b4500) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now();
                    let local = SocketAddr::new(outside.into(), 4500);
                    let d = b4500.get_mut(..n).unwrap_or_default();
                    match esp::udp_encap::classify(d) {
                        Ok(esp::udp_encap::Port4500::Ike(ike)) => {
                            gw.ike.handle_datagram(now, local, from, ike, &mut rng);
                            gw.process(now, &mut rng);
                        }
                        Ok(esp::udp_encap::Port4500::Esp(_)) => {
                            inbound_esp(&mut gw, &io, now, from.ip(), d, &mut rng).await;
                        }
                        Ok(esp::udp_encap::Port4500::Keepalive) => {}
                        Err(_) => gw.truncated_esp(now),
                    }
                }
            }
            r = io.raw.recv_from(&mut braw) => {
                if let Ok((n, _)) = r {
                    let now = Instant::now();
                    let pkt = braw.get_mut(..n).unwrap_or_default();
                    let ihl = pkt.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
                    let src = pkt.get(12..16).and_then(|s| <[u8; 4]>::try_from(s).ok()).map(Ipv4Addr::from);
                    if let (Some(src), Some(esp_part)) = (src, pkt.get_mut(ihl..)) {
                        inbound_esp(&mut gw, &io, now, IpAddr::V4(src), esp_part, &mut rng).await;
                    } else {
                        gw.truncated_esp(now);
                    }
                }
            }
            r = io.tun.recv(&mut btun) => {
                if let Ok(n) = r {
                    let now = Instant::now();
                    let pkt = btun.get_mut(..n).unwrap_or_default();
                    if let Some((len, dest, sa)) = gw.packet_to_client(now, pkt, &mut out, &mut rng) {
                        if io.send_esp(dest, out.get(..len).unwrap_or_default()).await.is_err() {
                            gw.data.send_failed(sa);
                        }
                    }
                }
            }
            r = io.aaa_udp.recv_from(&mut baaa) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now();
                    let d = baaa.get(..n).unwrap_or_default();
                    // The reply belongs to the group whose request it answers: each
                    // client checks identifier, authenticator and source itself.
                    let mut first_err = None;
                    let mut taken = false;
                    for a in gw.aaa.values_mut() {
                        match a.client.handle_datagram(now, &mut rng, from, d) {
                            Ok(()) => { taken = true; break; }
                            // Why not the first error: the group that sent the request
                            // says what was wrong (a missing Message-Authenticator, ...),
                            // the others only that it is not theirs.
                            Err(e) => {
                                if matches!(first_err, None | Some(xauth::XauthError::StrayReply { .. })) {
                                    first_err = Some(e);
                                }
                            }
                        }
                    }
                    if !taken {
                        if let Some(e) = first_err {
                            log(&format!("RADIUS reply from {from} dropped: {e}"));
                        }
                    }
                    gw.process(now, &mut rng);
                }
            }
            Some(m) = aaa_rx.recv() => {
                let now = Instant::now();
                match m {
                    AaaIn::Data((tag, c), b) => {
                        if let Some(a) = gw.aaa.get_mut(&tag) {
                            if let Err(e) = a.client.handle_stream(now, &mut rng, c, &b) {
                                log(&format!("TACACS+ reply from aaa-server {tag} dropped: {e}"));
                            }
                        }
                    }
                    AaaIn::Closed((tag, c)) => {
                        io.aaa_conns.remove(&(tag.clone(), c));
                        if let Some(a) = gw.aaa.get_mut(&tag) {
                            a.client.handle_stream_closed(now, &mut rng, c);
                        }
                    }
                }
                gw.process(now, &mut rng);
            }
            Some(reply) = metrics_rx.recv() => {
                let mut text = gw.metrics_text();
                listener_metrics(&control_slots, &metrics_slots, &mut text);
                let _ = reply.send(text);
            }
            Some(m) = ctl_rx.recv() => {
                let now = Instant::now();
                match m {
                    ControlMsg::Command(line, reply) => {
                        let answer = gw.command(now, &line, &mut rng);
                        let _ = reply.send(answer);
                    }
                    ControlMsg::Subscribe(kinds, tx) => io.subscribers.push((kinds, tx)),
                }
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                gw.handle_timeout(Instant::now(), &mut rng);
            }
            _ = sigint.recv() => { shutdown(&mut gw, &mut io, "SIGINT", &mut rng).await; break; }
            _ = sigterm.recv() => { shutdown(&mut gw, &mut io, "SIGTERM", &mut rng).await; break; }
        }
        flush(&mut gw, &mut io).await;
    }
    drop(control_bound); // removes the socket
    let _ = io.outside;
    Ok(())
}

async fn inbound_esp<R: rand_core::CryptoRng + ?Sized>(
    gw: &mut Gateway,
    io: &Io,
    now: Instant,
    from: IpAddr,
    esp: &mut [u8],
    rng: &mut R,
) {
    if let Some(range) = gw.packet_from_client(now, from, esp, rng) {
        if let Some(inner) = esp.get(range) {
            if let Err(e) = io.tun.send(inner).await {
                log(&format!("write to the inside TUN failed: {e}"));
            }
        }
    }
}

async fn shutdown<R: rand_core::CryptoRng + ?Sized>(
    gw: &mut Gateway,
    io: &mut Io,
    why: &str,
    rng: &mut R,
) {
    let n = gw.sessions.len();
    log(&format!(
        "{why}: deleting {n} IKE SA(s) and their IPsec SAs, releasing addresses"
    ));
    gw.clear(Instant::now(), None, rng);
    flush(gw, io).await;
    log(&format!(
        "stopped; {} address(es) still leased",
        gw.ike.pools().total_in_use()
    ));
}

/// Metrics connections served at once (see [`control::Slots`]).
const METRICS_MAX_CONNS: usize = 16;
/// Longest metrics request read.
const METRICS_MAX_REQUEST: usize = 8192;
/// Time for a whole metrics connection: request, answer and write.
const METRICS_TIME: Duration = Duration::from_secs(5);

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
            let deadline = tokio::time::Instant::now() + METRICS_TIME;
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
