//! The gateway core: everything a PIX 6.3 VPN headend holds that is not IO, driven
//! like the crates (Sans-IO): [`Gateway::handle`] for what arrives,
//! [`Gateway::poll_output`] for what to do, [`Gateway::poll_timeout`] /
//! [`Gateway::handle_timeout`] for time. The binary (`pix-gateway run`) is sockets, a
//! TUN device, timers and signals around it; tests and other programs drive the same
//! API in memory.
//!
//! * [`setup`] maps the PIX configuration onto the crates ([`setup::Plan`]).
//! * [`io`] is the contract: [`Input`], [`Handled`], [`Output`], [`LogRecord`].
//! * [`view`] is what the operator reads (`show`, metrics), typed and rendered.
//! * [`dataplane`] holds the ESP SAs, [`policy`] the PIX rules for tunnelled traffic,
//!   [`guard`] the Xauth throttle and the log budget.

pub mod dataplane;
pub mod guard;
pub mod io;
pub mod keylog;
#[cfg(test)]
mod ownership_tests;
pub mod policy;
pub mod reload;
pub mod route;
pub mod session_acct;
pub mod setup;
pub mod shared_pools;
pub mod show;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
pub mod view;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ike_sm::{Endpoint, Event, SaId};
use rand_core::CryptoRng;
use xauth::radius::TerminateCause;
use zeroize::Zeroizing;

use dataplane::DataPlane;
pub use io::{Handled, Input, Level, LogRecord, MsgId, Output};
use view::{Command, IpsecSaView, PoolView, Show, Snapshot, Stats};

/// One IKE SA the gateway knows about (a phase 1 that came up).
#[derive(Debug, Clone)]
pub struct Session {
    /// The IKE SA.
    pub sa: SaId,
    /// Our IKE address.
    pub local: SocketAddr,
    /// The peer's IKE address.
    pub remote: SocketAddr,
    /// The group (ID_KEY_ID) or peer identity.
    pub identity: String,
    /// The Xauth user, once accepted.
    pub user: Option<String>,
    /// Xauth asked and not answered yet.
    pub xauth_pending: bool,
    /// The Mode Config address.
    pub addr: Option<Ipv4Addr>,
    /// Phase 1 is up.
    pub established: bool,
    /// When phase 1 came up.
    pub created: Instant,
    /// Last packet through its tunnel (or phase 1 coming up).
    pub last_activity: Instant,
    /// `vpngroup idle-time`.
    pub idle_time: Option<Duration>,
    /// `vpngroup max-time`.
    pub max_time: Option<Duration>,
    /// Entered in the policy (uauth) after Xauth and Mode Config.
    pub in_policy: bool,
    /// RADIUS Class of the Access-Accept (echoed in the session's records).
    pub class: Option<Vec<u8>>,
    /// The Access-Accept's Acct-Interim-Interval.
    pub interim_from_server: Option<Duration>,
    /// Session accounting, once its Start went out.
    pub acct: Option<session_acct::SessionAcct>,
    /// Why we end it (set before we delete it: idle, max time, clear, shutdown).
    pub end_cause: Option<xauth::radius::TerminateCause>,
}

/// A short metric label for a failure.
pub fn fail_reason_key(r: &ike_sm::FailReason) -> String {
    use ike_sm::FailReason as F;
    match r {
        F::NoProposalChosen => "no_proposal_chosen".into(),
        F::AuthenticationFailed => "authentication_failed".into(),
        F::InvalidId => "invalid_id".into(),
        F::Timeout => "timeout".into(),
        F::XauthFailed => "xauth_failed".into(),
        F::AddressUnavailable => "address_unavailable".into(),
        F::PeerNotify(n) => format!("peer_notify_{n}"),
        F::DeadPeer => "dead_peer".into(),
        F::Protocol(_) => "protocol".into(),
        _ => "other".into(),
    }
}

/// What an operator reads for a failed SA.
pub fn fail_words(r: &ike_sm::FailReason) -> String {
    use ike_sm::FailReason as F;
    match r {
        F::NoProposalChosen => {
            "no isakmp policy accepts the peer's proposals (NO-PROPOSAL-CHOSEN)".into()
        }
        F::AuthenticationFailed => {
            "pre-shared key mismatch or unknown group (AUTHENTICATION-FAILED)".into()
        }
        F::InvalidId => "the peer's identity selects no key (INVALID-ID-INFORMATION)".into(),
        F::Timeout => "the peer stopped answering".into(),
        F::XauthFailed => "Xauth refused the user".into(),
        F::AddressUnavailable => {
            "no address left in the pool for Mode Config (ip local pool exhausted)".into()
        }
        F::PeerNotify(n) => format!("the peer sent error notify {n}"),
        F::DeadPeer => "dead peer (no answer to DPD R-U-THERE)".into(),
        F::Protocol(w) => format!("protocol error: {w}"),
        other => format!("{other:?}"),
    }
}

/// Which debug a line belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DebugKind {
    /// `debug crypto isakmp`.
    Isakmp,
    /// `debug crypto ipsec`.
    Ipsec,
}

impl DebugKind {
    /// Classifies a PIX debug line.
    pub fn of(line: &str) -> Self {
        if line.starts_with("IPSEC(") {
            DebugKind::Ipsec
        } else {
            DebugKind::Isakmp
        }
    }
}

/// The AAA client of one `aaa-server` group.
#[derive(Debug)]
struct Aaa {
    /// Its tag.
    tag: String,
    /// The Sans-IO client.
    client: xauth::aaa::AaaClient,
    /// Requests in flight, by request: the SA, the user and the client's address.
    pending: HashMap<xauth::aaa::RequestId, (SaId, String, Option<IpAddr>)>,
}

/// The users and Xauth logins in progress of a whole gateway, counted by every shard as
/// its sessions change (never per packet), with the most seen at once.
#[derive(Debug, Default)]
pub struct Peaks {
    users: AtomicUsize,
    in_progress: AtomicUsize,
    most_users: AtomicUsize,
    most_in_progress: AtomicUsize,
}

impl Peaks {
    fn count(&self, add: (usize, usize), remove: (usize, usize)) {
        for (now, most, a, r) in [
            (&self.users, &self.most_users, add.0, remove.0),
            (&self.in_progress, &self.most_in_progress, add.1, remove.1),
        ] {
            if a == r {
                continue;
            }
            let d = a.abs_diff(r);
            let after = if a > r {
                now.fetch_add(d, Relaxed).saturating_add(d)
            } else {
                now.fetch_sub(d, Relaxed).saturating_sub(d)
            };
            most.fetch_max(after, Relaxed);
        }
    }
}

/// How a core is set up beside its [`setup::Plan`] ([`Settings::new`], then the fields
/// to change).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// Our outside address (IKE and ESP).
    pub outside_addr: Ipv4Addr,
    /// Where the configuration came from (`show version`).
    pub config_name: String,
    /// Seconds since the Unix epoch at `now` of [`Gateway::new`]: accounting records
    /// carry wall time (the driver reads the clock; tests give 0).
    pub epoch_at_start: u64,
    /// The Xauth throttle and log-summary limits (`--limit xauth-*`, `log-interval`).
    pub guard: guard::GuardLimits,
    /// The Xauth throttle, when several cores share one (`None`: a throttle of its own).
    pub shared_throttle: Option<guard::SharedThrottle>,
    /// This core's shard number (0 for a gateway of one).
    pub shard: u8,
    /// The gateway-wide user counts, when several cores share them (`None`: its own).
    pub peaks: Option<Arc<Peaks>>,
    /// VPN-session accounting (`None`: only the PIX's per-connection records).
    pub session_accounting: Option<session_acct::SessionAccounting>,
    /// NAS-Identifier in every RADIUS request (`None`: left out).
    pub nas_identifier: Option<String>,
}

impl Settings {
    /// Defaults for a gateway of one core on `outside_addr`.
    #[must_use]
    pub fn new(outside_addr: Ipv4Addr) -> Self {
        Settings {
            outside_addr,
            config_name: String::new(),
            epoch_at_start: 0,
            guard: guard::GuardLimits::default(),
            shared_throttle: None,
            shard: 0,
            peaks: None,
            session_accounting: None,
            nas_identifier: None,
        }
    }
}

/// The gateway core: the IKE endpoint, the ESP SAs, the AAA clients, the sessions
/// (uauth), the PIX policy for tunnelled traffic, and the queue of what to do.
#[derive(Debug)]
pub struct Gateway {
    /// The IKE endpoint.
    ike: Endpoint,
    /// The ESP SAs.
    data: DataPlane,
    /// Sessions by IKE SA.
    sessions: BTreeMap<SaId, Session>,
    /// The AAA clients, one per `aaa-server` tag.
    aaa: BTreeMap<String, Aaa>,
    /// `crypto map ... client authentication TAG`.
    xauth_tag: Option<String>,
    /// The PIX policy for tunnelled traffic (pix-nat: permit-ipsec or ACLs, nat 0,
    /// uauth, per-connection accounting).
    policy: policy::Policy,
    /// Seconds since the Unix epoch at `info.started`.
    epoch_at_start: u64,
    /// What `show version` and the `show` headers print.
    info: view::Info,
    /// `vpngroup` idle/max times by group ("" for Main Mode peers).
    session_limits: BTreeMap<String, (Option<Duration>, Option<Duration>)>,
    /// Users and Xauth in progress of the whole gateway (shared by the shards), with
    /// their peaks (`show uauth` "Most Seen").
    peaks: Arc<Peaks>,
    /// Sessions with a user now / with Xauth in progress now, kept by
    /// [`Gateway::edit_session`] and friends, so that [`Gateway::process`] (after every
    /// IKE datagram) does not count every session (debug builds check the counts).
    users_now: usize,
    in_progress_now: usize,
    /// What to do, drained by [`Gateway::poll_output`].
    out: VecDeque<Output>,
    /// Debug lines wanted: `debug crypto isakmp`, `debug crypto ipsec`.
    debug_on: [bool; 2],
    /// Whether key log rows are produced.
    keylog_on: bool,
    /// A lower bound of the sessions' `idle-time`/`max-time` and the ESP SAs' lifetime
    /// deadlines: lowered when a session or an ESP SA appears, recomputed by
    /// [`Gateway::handle_timeout`]. Traffic only pushes those deadlines later, so
    /// [`Gateway::poll_timeout`] (asked after every packet) needs no pass over every user;
    /// a bound that traffic has made early only costs one wake-up that recomputes it.
    timers_bound: Option<Instant>,
    /// Counters for metrics.
    metrics: Metrics,
    /// The last packets the policy dropped, with the deciding config line (`show drops`).
    recent_drops: VecDeque<String>,
    /// Xauth guessing throttle and the rate-limited summaries of drops and refusals.
    guard: guard::Guard,
    /// The IKE endpoint's refusal total last seen (a change arms a summary).
    seen_refusals: u64,
    /// The encapsulation buffer ([`Handled::ToOutside`]).
    scratch: Vec<u8>,
    /// The pools shared with the other shards (`None`: the endpoint's own).
    shared_pools: Option<shared_pools::SharedPools>,
    /// This core's shard number.
    shard: u8,
    /// How many shards the gateway has.
    shard_count: u8,
    /// VPN-session accounting.
    session_accounting: Option<session_acct::SessionAccounting>,
    /// The Accounting-On this core sent and the server has not answered yet.
    nas_on: Option<xauth::aaa::RequestId>,
    /// Xauth waits ([`Gateway::hold_logins`]): until the Accounting-On is answered.
    logins_held: bool,
    /// Xauth credentials that arrived while [`Gateway::nas_on`] was pending.
    held_for_on: Vec<(SaId, String, ike_sm::Secret)>,
    /// The next Acct-Session-Id's serial.
    acct_serial: u32,
    /// Rate limit of the data plane's per-packet log messages (deny, bad SPI, ...).
    hot: io::HotLimiter,
    /// What [`Gateway::reload`] compares a new plan against.
    reload: reload::Kept,
}

/// A name from the peer, safe for one log line (control characters and quotes escaped,
/// at most 64 characters).
pub fn printable(name: &str) -> String {
    let mut o: String = name.chars().take(64).flat_map(char::escape_debug).collect();
    if name.chars().count() > 64 {
        o.push_str("...");
    }
    o
}

/// How many dropped packets `show drops` remembers.
const RECENT_DROPS: usize = 32;

/// The encapsulation buffer: the largest IP packet plus ESP's overhead.
const SCRATCH: usize = 65_535 + 128;

/// Counters since start that outlive the SAs they came from.
#[derive(Debug, Default)]
struct Metrics {
    /// Phase 1s that came up.
    handshakes_ok: u64,
    /// Accounting records: `session_records_sent` (VPN-session records handed to the
    /// AAA client), and every record (per-connection and session) `acknowledged` by a
    /// server or `lost` (no server of the group took it).
    accounting: BTreeMap<&'static str, u64>,
    /// SAs that failed, by reason.
    handshakes_failed: BTreeMap<String, u64>,
    /// Xauth verdicts: accepted / rejected.
    xauth: BTreeMap<&'static str, u64>,
    /// Inner bytes of IPsec SAs already removed (live ones are read from the data plane).
    bytes_in_closed: u64,
    /// Inner bytes sent to clients by removed SAs.
    bytes_out_closed: u64,
    /// Packets of removed SAs dropped, by reason.
    drops_closed: BTreeMap<&'static str, u64>,
    /// Packets decapsulated and passed on.
    packets_in: u64,
    /// Packets encapsulated.
    packets_out: u64,
}

fn bump<K: Ord>(m: &mut BTreeMap<K, u64>, k: K, n: u64) {
    let e = m.entry(k).or_insert(0);
    *e = e.saturating_add(n);
}

/// Lowers a kept deadline bound to `d` (the bound is never later than the real deadline).
pub(crate) fn lower_bound(bound: &mut Option<Instant>, d: Instant) {
    *bound = Some(bound.map_or(d, |b| b.min(d)));
}

/// Whether a kept deadline bound is no later than the `real` earliest deadline (the
/// debug check of every bound that saves a pass).
pub(crate) fn bound_holds(bound: Option<Instant>, real: Option<Instant>) -> bool {
    match (bound, real) {
        (_, None) => true,
        (Some(bound), Some(real)) => bound <= real,
        (None, Some(_)) => false,
    }
}

/// The view of one installed pair.
fn ipsec_view(now: Instant, spi_in: u32, c: &dataplane::Child) -> IpsecSaView {
    let overhead = 8usize
        .saturating_add(c.encryption.iv_len())
        .saturating_add(c.encryption.block_len().saturating_add(1))
        .saturating_add(c.integrity.icv_len())
        .saturating_add(20)
        .saturating_add(if c.natt.is_some() { 8 } else { 0 });
    let mode = match c.encapsulation {
        esp::Encapsulation::Tunnel => "Tunnel",
        esp::Encapsulation::Transport => "Transport",
        esp::Encapsulation::UdpTunnel => "Tunnel UDP-Encaps",
        esp::Encapsulation::UdpTransport => "Transport UDP-Encaps",
        _ => "Tunnel",
    };
    IpsecSaView {
        spi_in,
        spi_out: c.outbound.spi(),
        ike_sa: c.ike_sa,
        local_selector: c.local_selector,
        remote_selector: c.remote_selector,
        local: c.local,
        remote: c.remote,
        natt: c.natt.is_some(),
        cipher: c.encryption.pix_name(),
        integrity: c.integrity.pix_name(),
        overhead,
        iv_len: c.encryption.iv_len(),
        mode,
        life_secs: c.life_secs,
        life_kb: c.life_kb,
        age: now.saturating_duration_since(c.installed),
        bytes_in_sa: c.inbound.bytes(),
        bytes_out_sa: c.outbound.bytes(),
        serial: c.serial,
        counters: c.counters.clone(),
    }
}

/// The PIX's 602301 (created) or 602302 (deleted) for both SAs of a pair: the
/// inbound one (to us, `spi_in`) and the outbound one (to the peer).
fn sa_pair_records(created: bool, spi_in: u32, c: &dataplane::Child) -> [LogRecord; 2] {
    let trans = format!(
        "{}{}",
        c.encryption.pix_name(),
        c.integrity
            .pix_name()
            .map(|i| format!(" {i}"))
            .unwrap_or_default()
    );
    let (id, what) = if created {
        (MsgId::IpsecSaCreated, "sa created")
    } else {
        (MsgId::IpsecSaDeleted, "deleting SA")
    };
    let one = |dest: IpAddr, spi: u32, dir: &str| {
        LogRecord::pix(
            id,
            format!(
                "{what}, (sa) sa_dest= {dest}, sa_prot= 50, sa_spi= {}, sa_trans= {trans} , sa_conn_id= {}",
                io::pix_spi(spi),
                c.serial
            ),
        )
        .with("peer", c.remote)
        .with("spi", format!("{spi:#x}"))
        .with("direction", dir)
    };
    [
        one(c.local.ip(), spi_in, "inbound"),
        one(c.remote.ip(), c.outbound.spi(), "outbound"),
    ]
}

impl Gateway {
    /// A gateway core from a plan (the configuration mapped by [`setup`]) at `now`.
    #[must_use]
    pub fn new(plan: setup::Plan, settings: Settings, now: Instant) -> Self {
        Self::with_pools(plan, settings, now, None)
    }

    /// A core whose endpoint leases from `shared` (as shard `settings.shard` of
    /// `count`), or from the plan's own pools.
    fn with_pools(
        mut plan: setup::Plan,
        settings: Settings,
        now: Instant,
        shared: Option<(shared_pools::SharedPools, ike_sm::Shard)>,
    ) -> Self {
        let outside_addr = settings.outside_addr;
        let pools = std::mem::take(&mut plan.pools);
        let (ike, shared_pools) = match shared.clone() {
            Some((sp, shard)) => {
                let mut ike = Endpoint::with_lease_store(plan.ike, Box::new(sp.handle(shard)));
                ike.set_shard(shard);
                (ike, Some(sp))
            }
            None => (Endpoint::new(plan.ike, pools), None),
        };
        let mut local = reload::local_users(&plan.local_users);
        let mut aaa = BTreeMap::new();
        for (tag, group) in &plan.aaa {
            let users = if group.protocol == xauth::aaa::Protocol::Local {
                std::mem::take(&mut local)
            } else {
                xauth::LocalUsers::new()
            };
            let client = reload::new_aaa(
                group,
                outside_addr,
                plan.radius_ports,
                settings.nas_identifier.as_deref(),
                users,
            );
            aaa.insert(tag.clone(), client);
        }
        let guard = match settings.shared_throttle {
            Some(t) => guard::Guard::with_throttle(settings.guard, t),
            None => guard::Guard::new(settings.guard),
        };
        Gateway {
            ike,
            data: {
                let mut d = DataPlane::new();
                d.set_mtu_plan(plan.mtu);
                d
            },
            sessions: BTreeMap::new(),
            aaa,
            xauth_tag: plan.xauth_tag,
            policy: plan.policy,
            epoch_at_start: settings.epoch_at_start,
            info: view::Info {
                hostname: plan.hostname,
                outside_if: plan.outside_if,
                outside_addr,
                crypto_map: plan.crypto_map,
                config_name: settings.config_name,
                started: now,
                uauth_timeout: Duration::from_secs(300),
            },
            session_limits: plan.session_limits,
            peaks: settings.peaks.clone().unwrap_or_default(),
            users_now: 0,
            in_progress_now: 0,
            out: VecDeque::new(),
            debug_on: [false; 2],
            keylog_on: false,
            timers_bound: None,
            metrics: Metrics::default(),
            recent_drops: VecDeque::new(),
            guard,
            seen_refusals: 0,
            scratch: vec![0; SCRATCH],
            shard: settings.shard,
            shard_count: shared.as_ref().map_or(1, |(_, s)| s.count()),
            shared_pools,
            session_accounting: settings.session_accounting,
            nas_on: None,
            logins_held: false,
            held_for_on: Vec::new(),
            acct_serial: 0,
            hot: io::HotLimiter::default(),
            reload: reload::Kept::new(plan.aaa, plan.radius_ports, settings.nas_identifier),
        }
    }

    /// The cores of a gateway of `plans.len()` shards (one plan per shard, all from the
    /// same configuration), shard `i` numbered `i`. They share the Xauth throttle given
    /// in `settings` (or one made here) and the address pools.
    #[must_use]
    pub fn shards(mut plans: Vec<setup::Plan>, settings: &Settings, now: Instant) -> Vec<Gateway> {
        let count = u8::try_from(plans.len()).unwrap_or(u8::MAX);
        if count <= 1 {
            return plans
                .into_iter()
                .map(|p| Gateway::new(p, settings.clone(), now))
                .collect();
        }
        let throttle = settings
            .shared_throttle
            .clone()
            .unwrap_or_else(|| guard::SharedThrottle::new(settings.guard.xauth.clone()));
        let pools = plans
            .first_mut()
            .map(|p| std::mem::take(&mut p.pools))
            .unwrap_or_default();
        let shared = shared_pools::SharedPools::new(pools);
        let peaks = settings.peaks.clone().unwrap_or_default();
        plans
            .into_iter()
            .take(usize::from(count))
            .enumerate()
            .filter_map(|(i, plan)| {
                let index = u8::try_from(i).ok()?;
                let shard = ike_sm::Shard::new(index, count).ok()?;
                let mut s = settings.clone();
                s.shard = index;
                s.shared_throttle = Some(throttle.clone());
                s.peaks = Some(peaks.clone());
                Some(Gateway::with_pools(
                    plan,
                    s,
                    now,
                    Some((shared.clone(), shard)),
                ))
            })
            .collect()
    }

    /// The shard that leased `addr` to one of its clients, as far as the shared pools
    /// know (`None`: no shard did, or the pools are this core's own).
    #[must_use]
    pub fn owner_shard(&self, addr: Ipv4Addr) -> Option<u8> {
        self.shared_pools.as_ref()?.owner(addr)
    }

    /// Which debug lines to produce (`debug crypto isakmp`, `debug crypto ipsec`); none
    /// by default: with `no debug` nothing is even formatted.
    pub fn set_debug(&mut self, kinds: &[DebugKind]) {
        self.debug_on = [
            kinds.contains(&DebugKind::Isakmp),
            kinds.contains(&DebugKind::Ipsec),
        ];
        self.ike.set_debug_events(self.debug_on.iter().any(|b| *b));
    }

    /// Whether to produce key log rows ([`Output::Keylog`]); off by default.
    pub fn set_keylog(&mut self, on: bool) {
        self.keylog_on = on;
    }

    /// This core's shard number.
    #[must_use]
    pub fn shard(&self) -> u8 {
        self.shard
    }

    /// The fixed facts `show` prints.
    #[must_use]
    pub fn info(&self) -> &view::Info {
        &self.info
    }

    /// Sessions (IKE SAs that came up), by IKE SA.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// The IKE endpoint (read only: its pools, counters, SAs).
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.ike
    }

    /// The ESP SAs (read only).
    #[must_use]
    pub fn data_plane(&self) -> &DataPlane {
        &self.data
    }

    fn log(&mut self, level: Level, id: MsgId, text: String) {
        self.out
            .push_back(Output::Log(LogRecord::new(level, id, text)));
    }

    fn log_record(&mut self, r: LogRecord) {
        self.out.push_back(Output::Log(r));
    }

    fn debug_wanted(&self, kind: DebugKind) -> bool {
        match kind {
            DebugKind::Isakmp => self.debug_on[0],
            DebugKind::Ipsec => self.debug_on[1],
        }
    }

    fn keylog(&mut self, line: String) {
        self.out.push_back(Output::Keylog(Zeroizing::new(line)));
    }

    /// Everything to do, one at a time, until `None`: drain it after every call of
    /// [`Gateway::handle`] and [`Gateway::handle_timeout`] (the queue is not bounded:
    /// the driver is).
    pub fn poll_output(&mut self) -> Option<Output> {
        if let Some(t) = self.ike.poll_transmit() {
            // RFC 3948 2.2: IKE on port 4500 is preceded by the non-ESP marker; the
            // NAT keepalive (one 0xFF byte) is not.
            let payload = if t.local.port() == 4500 && t.bytes.as_slice() != [0xFF] {
                let mut b = Vec::with_capacity(t.bytes.len().saturating_add(4));
                b.extend_from_slice(&esp::udp_encap::NON_ESP_MARKER);
                b.extend_from_slice(&t.bytes);
                b
            } else {
                t.bytes
            };
            return Some(Output::Udp {
                local: t.local,
                remote: t.remote,
                payload,
            });
        }
        for (tag, a) in &mut self.aaa {
            if let Some(t) = a.client.poll_transmit() {
                return Some(match t {
                    xauth::aaa::AaaTransmit::Datagram { to, payload, .. } => {
                        Output::AaaDatagram { to, payload }
                    }
                    xauth::aaa::AaaTransmit::Stream { conn, to, payload } => Output::AaaStream {
                        group: tag.clone(),
                        conn,
                        to,
                        payload,
                    },
                    xauth::aaa::AaaTransmit::Close { conn } => Output::AaaClose {
                        group: tag.clone(),
                        conn,
                    },
                });
            }
        }
        self.out.pop_front()
    }

    /// Handles one thing that arrived at `now`.
    pub fn handle<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        input: Input<'_>,
        rng: &mut R,
    ) -> Handled<'_> {
        match input {
            Input::Udp {
                local,
                remote,
                payload,
            } => {
                if local.port() != 4500 {
                    self.ike.handle_datagram(now, local, remote, payload, rng);
                    self.process(now, rng);
                    return Handled::Done;
                }
                match esp::udp_encap::classify(payload) {
                    Ok(esp::udp_encap::Port4500::Ike(ike)) => {
                        self.ike.handle_datagram(now, local, remote, ike, rng);
                        self.process(now, rng);
                        Handled::Done
                    }
                    Ok(esp::udp_encap::Port4500::Esp(_)) => {
                        match self.packet_from_client(now, remote.ip(), payload, rng) {
                            Some(r) => Handled::ToInside(r),
                            None => Handled::Done,
                        }
                    }
                    Ok(esp::udp_encap::Port4500::Keepalive) => Handled::Done,
                    Err(_) => {
                        self.truncated_esp(now);
                        Handled::Done
                    }
                }
            }
            Input::RawEsp { packet } => {
                let (src, ihl, total) = match pix_primitives::Ipv4Packet::new_checked(&*packet) {
                    Ok(ip) if usize::from(ip.total_len()) > ip.header_len() => {
                        (ip.src_addr(), ip.header_len(), usize::from(ip.total_len()))
                    }
                    _ => {
                        self.truncated_esp(now);
                        return Handled::Done;
                    }
                };
                let Some(esp_part) = packet.get_mut(ihl..total) else {
                    return Handled::Done;
                };
                match self.packet_from_client(now, IpAddr::V4(src), esp_part, rng) {
                    Some(r) => {
                        Handled::ToInside(r.start.saturating_add(ihl)..r.end.saturating_add(ihl))
                    }
                    None => Handled::Done,
                }
            }
            Input::InsideInPlace { buf, len } => {
                match self.packet_to_client_in_place(now, buf, len, rng) {
                    Some((range, dest, sa)) => Handled::ToOutsideIn { dest, range, sa },
                    None => Handled::Done,
                }
            }
            Input::Inside { packet } => match self.packet_to_client(now, packet, rng) {
                Some((len, dest, sa)) => Handled::ToOutside {
                    dest,
                    datagram: self.scratch.get(..len).unwrap_or_default(),
                    sa,
                },
                None => Handled::Done,
            },
            Input::AaaDatagram { from, payload } => {
                // The reply belongs to the group whose request it answers: each client
                // checks identifier, authenticator and source itself.
                let mut first_err = None;
                let mut taken = false;
                for a in self.aaa.values_mut() {
                    match a.client.handle_datagram(now, rng, from, payload) {
                        Ok(()) => {
                            taken = true;
                            break;
                        }
                        // Not the first error: the group that sent the request says
                        // what was wrong (a missing Message-Authenticator, ...), the
                        // others only that it is not theirs.
                        Err(e) => {
                            if matches!(
                                first_err,
                                None | Some(xauth::XauthError::StrayReply { .. })
                            ) {
                                first_err = Some(e);
                            }
                        }
                    }
                }
                if !taken {
                    if let Some(e) = first_err {
                        self.log(
                            Level::Warning,
                            MsgId::AaaProblem,
                            format!("RADIUS reply from {from} dropped: {e}"),
                        );
                    }
                }
                self.process(now, rng);
                Handled::Done
            }
            Input::AaaStream { group, conn, bytes } => {
                if let Some(a) = self.aaa.get_mut(group) {
                    if let Err(e) = a.client.handle_stream(now, rng, conn, bytes) {
                        self.log(
                            Level::Warning,
                            MsgId::AaaProblem,
                            format!("TACACS+ reply from aaa-server {group} dropped: {e}"),
                        );
                    }
                }
                self.process(now, rng);
                Handled::Done
            }
            Input::AaaStreamClosed { group, conn } => {
                if let Some(a) = self.aaa.get_mut(group) {
                    a.client.handle_stream_closed(now, rng, conn);
                }
                self.process(now, rng);
                Handled::Done
            }
            Input::SendFailed { sa } => {
                self.data.send_failed(sa);
                Handled::Done
            }
            Input::Command { line } => Handled::Answer(self.command(now, line, rng)),
            Input::Shutdown => {
                let n = self.sessions.len();
                self.log(
                    Level::Notice,
                    MsgId::Lifecycle,
                    format!("deleting {n} IKE SA(s) and their IPsec SAs, releasing addresses"),
                );
                self.clear_because(now, None, TerminateCause::AdminReboot, rng);
                Handled::Done
            }
        }
    }

    /// Everything this core shows, at `now`; `show` says which extra parts to take
    /// (a policy table, a pool's addresses).
    #[must_use]
    pub fn snapshot(&self, now: Instant, show: Option<&Show>) -> Snapshot {
        let mut ipsec: Vec<IpsecSaView> = self
            .data
            .children()
            .map(|(spi, c)| ipsec_view(now, *spi, c))
            .collect();
        ipsec.sort_by_key(|c| c.serial);
        let named_pool = match show {
            Some(Show::LocalPool(Some(n))) => Some(n.as_str()),
            _ => None,
        };
        let mut pools = Vec::new();
        self.ike.with_pools(&mut |all| {
            pools = all
                .pools()
                .iter()
                .map(|p| PoolView {
                    name: p.name().to_string(),
                    first: p.first(),
                    last: p.last(),
                    available: p.available(),
                    in_use: p.in_use(),
                    addresses: if named_pool == Some(p.name()) {
                        (u32::from(p.first())..=u32::from(p.last()))
                            .take(4096)
                            .map(|x| (Ipv4Addr::from(x), p.is_leased(Ipv4Addr::from(x))))
                            .collect()
                    } else {
                        Vec::new()
                    },
                })
                .collect();
        });
        let policy = match show {
            Some(Show::Policy(what)) => self.policy.show(now, what),
            _ => None,
        };
        Snapshot {
            shard: self.shard,
            sessions: self.sessions.values().cloned().collect(),
            ipsec,
            stats: self.stats(),
            recent_drops: self.recent_drops.iter().cloned().collect(),
            pools,
            policy,
        }
    }

    /// This core's counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let established = self.sessions.values().filter(|s| s.established).count();
        let (mut bin, mut bout) = (self.metrics.bytes_in_closed, self.metrics.bytes_out_closed);
        for (_, c) in self.data.children() {
            bin = bin.saturating_add(c.counters.bytes_in);
            bout = bout.saturating_add(c.counters.bytes_out);
        }
        Stats {
            ike_sas: self.ike.sa_count(),
            established,
            half_open: self.ike.half_open_count(),
            max_half_open: self.ike.limits().max_half_open,
            under_pressure: self.ike.under_pressure(),
            modexps: self.ike.phase1_modexps(),
            ipsec_pairs: self.data.len(),
            users: self.users_now,
            most_users: self.peaks.most_users.load(Relaxed),
            in_progress: self.in_progress_now,
            most_in_progress: self.peaks.most_in_progress.load(Relaxed),
            handshakes_ok: self.metrics.handshakes_ok,
            handshakes_failed: self.metrics.handshakes_failed.clone(),
            xauth: self.metrics.xauth.clone(),
            bytes_in: bin,
            bytes_out: bout,
            refusals: ike_sm::Refusal::ALL
                .iter()
                .map(|r| (*r, self.ike.counters().get(*r)))
                .collect(),
            throttle: self.guard.throttle_stats(),
            delayed: self.guard.delayed,
            held: self.guard.held(),
            aaa_refused: self
                .aaa
                .values()
                .map(|a| {
                    (
                        a.tag.clone(),
                        a.client.refused_without_message_authenticator(),
                    )
                })
                .collect(),
            accounting: self.metrics.accounting.clone(),
            esp_drops: self.esp_drops(),
            mtu: self.data.mtu_counters(),
            policy_drops: self.policy.drops().clone(),
            packets_in: self.metrics.packets_in,
            packets_out: self.metrics.packets_out,
        }
    }

    /// This core alone as a whole gateway (what `show` and metrics render).
    #[must_use]
    pub fn whole(&self, now: Instant, show: Option<&Show>) -> view::Whole {
        view::Whole {
            info: self.info.clone(),
            shards: vec![self.snapshot(now, show)],
        }
    }

    /// The Prometheus text exposition of this core as a whole gateway.
    #[must_use]
    pub fn metrics_text(&self, now: Instant) -> String {
        self.whole(now, None).metrics_text()
    }

    /// A debug line, when its kind is wanted (callers that format something costly
    /// ask [`Gateway::debug_wanted`] first).
    fn debug_line(&mut self, line: String) {
        let kind = DebugKind::of(&line);
        if self.debug_wanted(kind) {
            self.out.push_back(Output::Debug(kind, line));
        }
    }

    /// Drains the endpoint's events and the AAA client's events, acting on each.
    fn process<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.ike.poll_event() {
                progressed = true;
                self.on_event(now, ev, rng);
            }
            let mut aaa_events = Vec::new();
            for (tag, a) in &mut self.aaa {
                while let Some(e) = a.client.poll_event() {
                    aaa_events.push((tag.clone(), e));
                }
            }
            for (tag, e) in aaa_events {
                progressed = true;
                self.on_aaa(now, &tag, e, rng);
            }
            if !progressed {
                break;
            }
        }
        debug_assert_eq!(
            (self.users_now, self.in_progress_now),
            (
                self.sessions.values().filter(|s| s.user.is_some()).count(),
                self.sessions.values().filter(|s| s.xauth_pending).count()
            ),
            "session counts out of date"
        );
        let refusals = self
            .ike
            .counters()
            .total()
            .saturating_add(self.radius_refused_unauthenticated());
        if refusals != self.seen_refusals {
            self.seen_refusals = refusals;
            self.guard.something_counted(now);
        }
    }

    /// What one session adds to (users, Xauth in progress).
    fn counts_of(s: &Session) -> (usize, usize) {
        (usize::from(s.user.is_some()), usize::from(s.xauth_pending))
    }

    fn count(&mut self, add: (usize, usize), remove: (usize, usize)) {
        self.peaks.count(add, remove);
        self.users_now = self
            .users_now
            .saturating_add(add.0)
            .saturating_sub(remove.0);
        self.in_progress_now = self
            .in_progress_now
            .saturating_add(add.1)
            .saturating_sub(remove.1);
    }

    /// Changes a session's user or Xauth state, keeping the counts.
    fn edit_session(&mut self, sa: SaId, f: impl FnOnce(&mut Session)) {
        if let Some(s) = self.sessions.get_mut(&sa) {
            let before = Self::counts_of(s);
            f(s);
            let after = Self::counts_of(s);
            self.count(after, before);
        }
    }

    fn insert_session(&mut self, s: Session) {
        let add = Self::counts_of(&s);
        let replaced = self.sessions.insert(s.sa, s);
        self.count(add, replaced.as_ref().map_or((0, 0), Self::counts_of));
    }

    fn remove_session(&mut self, sa: SaId) -> Option<Session> {
        let s = self.sessions.remove(&sa)?;
        self.count((0, 0), Self::counts_of(&s));
        Some(s)
    }

    fn on_aaa<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        tag: &str,
        e: xauth::aaa::AaaEvent,
        rng: &mut R,
    ) {
        let (request, outcome) = match e {
            xauth::aaa::AaaEvent::Auth { request, outcome } => (request, outcome),
            xauth::aaa::AaaEvent::Accounting { ok, request } => {
                bump(
                    &mut self.metrics.accounting,
                    if ok { "acknowledged" } else { "lost" },
                    1,
                );
                if self.nas_on == Some(request) {
                    self.accounting_on_done(now, ok, rng);
                }
                if !ok {
                    self.log(
                        Level::Warning,
                        MsgId::AaaProblem,
                        format!("accounting: no server of aaa-server {tag} took a record"),
                    );
                }
                return;
            }
        };
        let Some(a) = self.aaa.get_mut(tag) else {
            return;
        };
        let Some((sa, user, source)) = a.pending.remove(&request) else {
            return;
        };
        let accept = matches!(outcome, xauth::aaa::AuthOutcome::Accept(_));
        // Only a real verdict counts for the throttle (a dead server is no guess).
        let mut refuse_at = now;
        if let Some(source) = source {
            if matches!(outcome, xauth::aaa::AuthOutcome::Unreachable) {
                self.guard.abandon(now, &user, source);
            } else {
                refuse_at = self.guard.verdict(now, &user, source, accept);
            }
        }
        bump(
            &mut self.metrics.xauth,
            if accept { "accepted" } else { "rejected" },
            1,
        );
        let why = match &outcome {
            xauth::aaa::AuthOutcome::Accept(_) => "accepted",
            xauth::aaa::AuthOutcome::Reject { .. } => "rejected",
            xauth::aaa::AuthOutcome::Challenge { .. } => {
                "challenged (not supported for Xauth here: rejected)"
            }
            xauth::aaa::AuthOutcome::Unreachable => "no AAA server answered: rejected",
        };
        let tag = a.tag.clone();
        let shown = printable(&user);
        // The PIX's 109005/109006 (109003 when no server answered): from the client's
        // IKE address to ours, on the outside interface.
        let from = self
            .sessions
            .get(&sa)
            .map(|s| format!("{}/{}", s.remote.ip(), s.remote.port()))
            .or_else(|| source.map(|s| format!("{s}/0")))
            .unwrap_or_else(|| "0.0.0.0/0".into());
        let to = format!("{}/500", self.info.outside_addr);
        let on = &self.info.outside_if;
        let (id, text) = match &outcome {
            xauth::aaa::AuthOutcome::Accept(_) => (
                MsgId::AuthSucceeded,
                format!("Authentication succeeded for user '{shown}' from {from} to {to} on interface {on}"),
            ),
            xauth::aaa::AuthOutcome::Unreachable => (
                MsgId::AuthServersFailed,
                format!("Auth from {from} to {to} failed (all servers failed) on interface {on}"),
            ),
            _ => (
                MsgId::AuthFailed,
                format!("Authentication failed for user '{shown}' from {from} to {to} on interface {on}"),
            ),
        };
        let mut rec = LogRecord::pix(
            id,
            format!("{text}; xauth: user '{shown}' {why} by aaa-server {tag}"),
        )
        .with("user", &shown)
        .with("server_group", &tag);
        if let Some(src) = source {
            rec = rec.with("peer", src);
        }
        self.log_record(rec);
        if !accept && refuse_at > now {
            // A wrong guess: the peer hears the refusal only after the growing delay.
            self.guard.hold(refuse_at, sa);
            return;
        }
        self.edit_session(sa, |s| {
            s.xauth_pending = false;
            if let xauth::aaa::AuthOutcome::Accept(info) = &outcome {
                s.class.clone_from(&info.class);
                s.interim_from_server = info
                    .interim_interval
                    .filter(|n| *n > 0)
                    .map(|n| Duration::from_secs(u64::from(n)));
            }
        });
        // RADIUS Framed-IP-Address: Mode Config hands out that address.
        let framed = match &outcome {
            xauth::aaa::AuthOutcome::Accept(info) => info.framed_ip.map(|addr| {
                self.log(
                    Level::Info,
                    MsgId::AddressAssigned,
                    format!(
                        "xauth: aaa-server {tag} assigns {addr} to user '{shown}' (Framed-IP-Address)"
                    ),
                );
                modecfg::AaaAddress {
                    addr,
                    netmask: info.framed_netmask,
                }
            }),
            _ => None,
        };
        if let Err(e) = self
            .ike
            .xauth_verdict_with_address(now, sa, accept, framed, rng)
        {
            self.log(
                Level::Warning,
                MsgId::Internal,
                format!("xauth: verdict for SA {} not delivered: {e}", sa.0),
            );
        }
    }

    /// Reacts to one event of the IKE endpoint (sessions, AAA requests, data-plane SAs,
    /// logs and counters); the larger cases have their own method below.
    fn on_event<R: CryptoRng + ?Sized>(&mut self, now: Instant, ev: Event, rng: &mut R) {
        match ev {
            Event::Phase1Established {
                sa,
                remote,
                identity,
            } => self.on_phase1_established(now, sa, remote, identity),
            Event::XauthCredentials { sa, user, password } => {
                self.on_xauth_credentials(now, sa, user, &password, rng);
            }
            Event::XauthDone { sa, user } => {
                self.edit_session(sa, |s| {
                    s.xauth_pending = false;
                    s.user.clone_from(&user);
                });
                self.connect_policy(now, sa, rng);
            }
            Event::AddressAssigned { sa, addr } => {
                let mut rec = LogRecord::new(
                    Level::Info,
                    MsgId::AddressAssigned,
                    format!("mode config: SA {} gets {addr}", sa.0),
                )
                .with("addr", addr);
                if let Some(s) = self.sessions.get_mut(&sa) {
                    s.addr = Some(addr);
                    rec.text = format!(
                        "mode config: SA {} gets {addr} (peer {}{})",
                        sa.0,
                        s.remote,
                        s.user
                            .as_ref()
                            .map(|u| format!(", user '{}'", printable(u)))
                            .unwrap_or_default()
                    );
                    rec = rec.with("peer", s.remote);
                }
                self.log_record(rec);
                self.connect_policy(now, sa, rng);
            }
            Event::ChildSa(c) => self.on_child_sa(now, &c),
            Event::ChildDeleted { sa: _, spi_in } => {
                if let Some(c) = self.data.remove(spi_in) {
                    for r in sa_pair_records(false, spi_in, &c) {
                        self.log_record(r);
                    }
                    self.acct_child_gone(&c);
                }
            }
            Event::Phase1Rekeyed { old, new } => self.on_phase1_rekeyed(now, old, new, rng),
            Event::Deleted { sa, reason } => self.forget(
                now,
                sa,
                "deleted",
                session_acct::cause_of_delete(reason),
                rng,
            ),
            Event::Failed { sa, reason } => self.on_failed(now, sa, &reason, rng),
            Event::Debug(d) if self.debug_on.iter().any(|b| *b) => {
                for l in d.pix_lines() {
                    self.debug_line(l);
                }
            }
            _ => {}
        }
    }

    /// Phase 1 is up: counted, logged (and key-logged), and a session opens with its
    /// group's `vpngroup` idle-time / max-time.
    fn on_phase1_established(
        &mut self,
        now: Instant,
        sa: SaId,
        remote: SocketAddr,
        identity: String,
    ) {
        self.metrics.handshakes_ok = self.metrics.handshakes_ok.saturating_add(1);
        let (idle_time, max_time) = self
            .session_limits
            .get(&identity)
            .or_else(|| self.session_limits.get(""))
            .copied()
            .unwrap_or((None, None));
        self.log_record(
            LogRecord::pix(
                MsgId::Phase1Completed,
                format!(
                    "ISAKMP Phase 1 SA created (local {}/500 (responder), remote {}/{}, identity {}, SA {})",
                    self.info.outside_addr,
                    remote.ip(),
                    remote.port(),
                    printable(&identity),
                    sa.0
                ),
            )
            .with("peer", remote)
            .with("group", printable(&identity)),
        );
        if self.keylog_on {
            if let Some((cky_i, key)) = self.ike.phase1_keylog(sa) {
                self.keylog(keylog::ike_line(&cky_i, key.expose_secret()));
            }
        }
        self.insert_session(Session {
            sa,
            local: SocketAddr::new(self.info.outside_addr.into(), 500),
            remote,
            identity,
            user: None,
            xauth_pending: false,
            addr: None,
            established: true,
            created: now,
            last_activity: now,
            idle_time,
            max_time,
            in_policy: false,
            class: None,
            interim_from_server: None,
            acct: None,
            end_cause: None,
        });
        self.lower_timers_bound(Self::session_deadline(self.sessions.get(&sa)));
    }

    /// Xauth credentials arrived: refused at once for a locked-out user, else sent to
    /// the `crypto map ... client authentication` AAA group (its answer comes in
    /// [`Self::on_aaa`]); no group or an AAA error refuses.
    fn on_xauth_credentials<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        user: String,
        password: &ike_sm::Secret,
        rng: &mut R,
    ) {
        let client_addr = self.sessions.get(&sa).map(|s| s.remote.ip());
        self.edit_session(sa, |s| s.xauth_pending = true);
        if self.logins_held {
            // Until the server has closed this NAS's old sessions and freed their
            // leases, a new login's lease and Start could be swept away with them.
            self.held_for_on.push((sa, user, password.duplicate()));
            return;
        }
        if let Some(source) = client_addr {
            if let guard::Admit::RefuseAt(at) = self.guard.admit(now, &user, source) {
                // Locked out: the AAA server is not asked; the refusal waits.
                self.debug_line(format!(
                    "xauth: user '{}' from {source} locked out: refused without asking AAA",
                    printable(&user)
                ));
                self.guard.hold(at, sa);
                return;
            }
        }
        match self.xauth_tag.as_ref().and_then(|t| self.aaa.get_mut(t)) {
            Some(a) => {
                let req = xauth::aaa::AuthRequest {
                    user: user.clone().into_bytes(),
                    password: xauth::Secret::new(password.expose_secret().to_vec()),
                    client_addr,
                    radius_state: None,
                };
                match a.client.authenticate(now, rng, req) {
                    Ok(id) => {
                        a.pending.insert(id, (sa, user, client_addr));
                    }
                    Err(e) => {
                        let text = format!("xauth: cannot ask aaa-server {}: {e}", a.tag);
                        self.log(Level::Error, MsgId::AaaProblem, text);
                        let _ = self.ike.xauth_verdict(now, sa, false, rng);
                    }
                }
            }
            None => {
                self.log(
                    Level::Error,
                    MsgId::AaaProblem,
                    "xauth: no `crypto map ... client authentication TAG`: refused".into(),
                );
                let _ = self.ike.xauth_verdict(now, sa, false, rng);
            }
        }
    }

    /// An IPsec SA pair was negotiated: installed in the data plane (logged, and
    /// key-logged), and its IKE session follows a NAT-T float.
    fn on_child_sa(&mut self, now: Instant, c: &ike_sm::ChildSa) {
        match self.data.install(c, now) {
            Ok(_) => {
                self.lower_timers_bound(self.data.deadline_of(c.spi_in));
                let recs = self
                    .data
                    .children()
                    .find(|(spi, _)| **spi == c.spi_in)
                    .map(|(spi, child)| sa_pair_records(true, *spi, child));
                for r in recs.into_iter().flatten() {
                    self.log_record(r);
                }
                if self.keylog_on {
                    for l in keylog::esp_lines(c, self.info.outside_addr) {
                        self.keylog(l);
                    }
                }
            }
            Err(e) => self.log(
                Level::Error,
                MsgId::Internal,
                format!("cannot install IPsec SA: {e}"),
            ),
        }
        if let Some(s) = self.sessions.get_mut(&c.ike_sa) {
            s.last_activity = now;
            // After a NAT-T float the IKE SA lives on port 4500.
            s.local = c.local;
        }
    }

    /// Phase 1 ran again: the IPsec SAs, address and uauth entry of IKE SA `old` move
    /// to `new`.
    fn on_phase1_rekeyed<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        old: SaId,
        new: SaId,
        rng: &mut R,
    ) {
        // The peer ran phase 1 again: its IPsec SAs and its lease now live
        // under the new IKE SA, and the old one's Deleted must not tear them down.
        let moved = self.data.reassign(old, new);
        if let Some(o) = self.remove_session(old) {
            // The tunnels carry the old session's address: the new session takes
            // it, and its uauth entry (the PIX policy's) with it.
            let mut stale = None;
            self.edit_session(new, |n| {
                n.user = n.user.take().or(o.user);
                if let (Some(a), Some(b)) = (o.addr, n.addr) {
                    if a != b && n.in_policy {
                        stale = Some(b);
                    }
                }
                n.addr = o.addr.or(n.addr);
                n.in_policy |= o.in_policy;
                n.created = o.created;
                // The new SA carries the old one's session on (its Start was not sent).
                n.carry_accounting(o.acct, o.class, o.interim_from_server);
            });
            if let Some(b) = stale {
                // The new SA was given another address that carries nothing.
                let ev = self.policy.vpn_disconnect(b, now);
                self.account(now, ev, rng);
            }
            self.lower_timers_bound(Self::session_deadline(self.sessions.get(&new)));
        }
        self.log(
            Level::Info,
            MsgId::Phase1Completed,
            format!(
                "IKE SA {} replaced by IKE SA {} (phase 1 rekey): {moved} IPsec SA(s) moved",
                old.0, new.0
            ),
        );
    }

    /// An IKE SA failed: logged (within the guard's budget for a flood's never-established
    /// ones), counted by reason, and forgotten.
    fn on_failed<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        reason: &ike_sm::FailReason,
        rng: &mut R,
    ) {
        let session = self.sessions.get(&sa).map(|s| s.remote);
        // A negotiation that never came up may be one of a flood's spoofed first
        // messages: its line comes out only within the guard's budget, the rest
        // are counted and summarised (`phase1` in the log summary).
        if session.is_some() || self.guard.line_budget(now) {
            let peer = session.map(|r| format!(" with {r}")).unwrap_or_default();
            let words = fail_words(reason);
            let (id, text) = match reason {
                ike_sm::FailReason::AddressUnavailable => {
                    let mut empty = Vec::new();
                    self.ike.with_pools(&mut |all| {
                        empty = all
                            .pools()
                            .iter()
                            .filter(|p| p.available() == 0)
                            .map(|p| p.name().to_string())
                            .collect();
                    });
                    (
                        MsgId::PoolExhausted,
                        format!(
                            "ISAKMP: Failed to allocate address for client from pool {} (SA {}{peer})",
                            if empty.is_empty() { "(none configured)".into() } else { empty.join(", ") },
                            sa.0
                        ),
                    )
                }
                ike_sm::FailReason::DeadPeer => (
                    MsgId::DpdTimeout,
                    format!(
                        "ISAKMP DPD timed out (local {}/500 (responder), remote {}): SA {} {words}",
                        self.info.outside_addr,
                        session.map_or_else(|| "?".to_string(), |r| r.ip().to_string()),
                        sa.0
                    ),
                ),
                _ => (
                    MsgId::NegotiationFailed,
                    format!("SA {}{peer} failed: {words}", sa.0),
                ),
            };
            let mut rec = LogRecord::new(Level::Warning, id, text);
            if let Some(r) = session {
                rec = rec.with("peer", r);
            }
            self.log_record(rec);
        } else {
            self.guard.something_counted(now);
        }
        bump(
            &mut self.metrics.handshakes_failed,
            fail_reason_key(reason),
            1,
        );
        self.forget(
            now,
            sa,
            "failed",
            session_acct::cause_of_failure(reason),
            rng,
        );
    }

    /// Forgets an IKE SA: its IPsec SAs, its session (uauth entry, accounting Stop with
    /// `cause` unless the session had a cause of its own), its pending AAA requests.
    fn forget<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        why: &str,
        cause: xauth::radius::TerminateCause,
        rng: &mut R,
    ) {
        let gone = self.data.remove_ike(sa);
        for c in &gone {
            self.account_closed(c);
            for r in sa_pair_records(false, c.inbound.spi(), c) {
                self.log_record(r);
            }
        }
        if let Some(s) = self.remove_session(sa) {
            // During a phase-1 rekey the old and the new IKE SA of one client share its
            // address: whichever goes first leaves the address, and its uauth entry, to
            // the other.
            let heir = s.addr.and_then(|a| {
                self.sessions
                    .values()
                    .find(|o| o.addr == Some(a) && o.remote.ip() == s.remote.ip())
                    .map(|o| o.sa)
            });
            if let Some(h) = heir {
                let mut acct = s.acct.clone();
                if let Some(a) = acct.as_mut() {
                    for c in &gone {
                        a.closed.add_child(c);
                    }
                }
                self.edit_session(h, |o| {
                    o.in_policy |= s.in_policy;
                    o.carry_accounting(acct, s.class.clone(), s.interim_from_server);
                });
            } else {
                if let (Some(addr), true) = (s.addr, s.in_policy) {
                    let ev = self.policy.vpn_disconnect(addr, now);
                    self.account(now, ev, rng);
                    self.out.push_back(Output::ClientRoute { addr, up: false });
                }
                let cause = s.end_cause.unwrap_or(cause);
                self.acct_stop(now, &s, &gone, cause, rng);
            }
            if let (Some(u), None) = (&s.user, heir) {
                let shown = printable(u);
                let mut rec = LogRecord::pix(
                    MsgId::AuthSessionEnd,
                    format!(
                        "Authen Session End: user '{shown}', sid {}, elapsed {} seconds",
                        sa.0,
                        now.saturating_duration_since(s.created).as_secs()
                    ),
                )
                .with("user", shown)
                .with("peer", s.remote);
                if let Some(a) = s.addr {
                    rec = rec.with("addr", a);
                }
                self.log_record(rec);
            }
            self.log(
                Level::Info,
                MsgId::Phase1Deleted,
                format!(
                    "ISAKMP Phase 1 delete {} (local {}/500 (responder), remote {}): SA {} with {} ({}) {why}{}{}; {} IPsec SA(s) removed",
                    if why == "deleted" { "received" } else { "sent" },
                    self.info.outside_addr,
                    s.remote.ip(),
                    sa.0,
                    s.remote,
                    s.identity,
                    s.user
                        .as_ref()
                        .map(|u| format!(", user '{u}'"))
                        .unwrap_or_default(),
                    match (s.addr, heir) {
                        (Some(a), Some(h)) => format!(", {a} stays with SA {}", h.0),
                        (Some(a), None) => format!(", {a} back to the pool"),
                        (None, _) => String::new(),
                    },
                    gone.len()
                ),
            );
        }
        let mut abandoned = Vec::new();
        for a in self.aaa.values_mut() {
            a.pending.retain(|_, (s, user, source)| {
                if *s == sa {
                    abandoned.push((core::mem::take(user), *source));
                }
                *s != sa
            });
        }
        for (user, source) in abandoned {
            if let Some(source) = source {
                self.guard.abandon(now, &user, source);
            }
        }
        self.guard.forget(sa);
    }

    /// Enters a user in the policy (uauth, route) once Xauth and Mode Config are done.
    fn connect_policy<R: CryptoRng + ?Sized>(&mut self, now: Instant, sa: SaId, rng: &mut R) {
        let Some(s) = self.sessions.get_mut(&sa) else {
            return;
        };
        if s.in_policy {
            return;
        }
        let (Some(user), Some(addr)) = (s.user.clone(), s.addr) else {
            return;
        };
        s.in_policy = true;
        let peer = s.remote.ip();
        self.policy.vpn_connect(&user, addr, Some(peer), now);
        self.out.push_back(Output::ClientRoute { addr, up: true });
        // A phase-1 rekey's new SA takes over the old one's session (and its records)
        // in `on_phase1_rekeyed`: no second Start for the same tunnel.
        // (A pass over the sessions: only with session accounting on.)
        if self.session_accounting.is_some() {
            let carried = self.sessions.values().any(|o| {
                o.sa != sa && o.acct.is_some() && o.addr == Some(addr) && o.remote.ip() == peer
            });
            if !carried {
                self.acct_start(now, sa, rng);
            }
        }
    }

    /// Sends accounting records to the server group their `aaa accounting` names.
    fn account<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        events: Vec<policy::AcctEvent>,
        rng: &mut R,
    ) {
        // The policy's connection built/teardown messages (302013-302016) of the same
        // call (none on the established-flow fast path: nothing allocated there).
        for r in self.policy.take_conn_logs() {
            self.log_record(r);
        }
        for e in events {
            let Some(tag) = e.tag.clone() else { continue };
            let start_time = self
                .epoch_at_start
                .saturating_add(now.saturating_duration_since(self.info.started).as_secs())
                .saturating_sub(if e.start { 0 } else { e.elapsed.as_secs() });
            let info = xauth::aaa::AcctInfo {
                status: if e.start {
                    xauth::radius::AcctStatus::Start
                } else {
                    xauth::radius::AcctStatus::Stop
                },
                user: e.user.clone().into_bytes(),
                group: None,
                client_addr: IpAddr::V4(e.client),
                framed_ip: Some(e.client),
                service: e.service.clone().into_bytes(),
                // Each shard's policy numbers its connections from 1: the record names
                // the shard too, so that the server never sees one task id twice.
                task_id: e
                    .task_id
                    .wrapping_mul(u32::from(self.shard_count))
                    .wrapping_add(u32::from(self.shard)),
                start_time,
                elapsed_time: (!e.start)
                    .then(|| u32::try_from(e.elapsed.as_secs()).unwrap_or(u32::MAX)),
                bytes_in: (!e.start).then_some(e.bytes_in),
                bytes_out: (!e.start).then_some(e.bytes_out),
                packets_in: None,
                packets_out: None,
                class: None,
                terminate_cause: None,
                session_id: None,
            };
            self.log(
                Level::Info,
                MsgId::Accounting,
                format!(
                    "accounting {}: user '{}' at {} {} to {}{}",
                    if e.start { "start" } else { "stop" },
                    e.user,
                    e.client,
                    e.service,
                    e.local,
                    if e.start {
                        String::new()
                    } else {
                        format!(
                            ", {} bytes in, {} bytes out, {} s",
                            e.bytes_in,
                            e.bytes_out,
                            e.elapsed.as_secs()
                        )
                    }
                ),
            );
            match self.aaa.get_mut(&tag) {
                Some(a) => {
                    if let Err(err) = a.client.account(now, rng, info) {
                        self.log(
                            Level::Warning,
                            MsgId::AaaProblem,
                            format!("accounting: aaa-server {tag} refused a record: {err}"),
                        );
                    }
                }
                None => self.log(
                    Level::Error,
                    MsgId::AaaProblem,
                    format!("accounting: `aaa accounting ... {tag}` names no aaa-server {tag}"),
                ),
            }
        }
    }

    /// A decrypted ESP packet from `from`: decapsulated in place, checked against its
    /// SA's selectors and the PIX policy; the inner packet's range when it goes to the
    /// inside.
    fn packet_from_client<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        from: IpAddr,
        esp: &mut [u8],
        rng: &mut R,
    ) -> Option<std::ops::Range<usize>> {
        match self.data.inbound(now, from, esp) {
            Ok((range, sa, _, _)) => {
                self.metrics.packets_in = self.metrics.packets_in.saturating_add(1);
                self.touch(sa, now);
                let inner = esp.get_mut(range.clone())?;
                if pix_nat::frag::is_fragment(inner) {
                    self.reassembled_from_client(now, inner, rng);
                    return None;
                }
                self.data.clamp_mss(inner);
                let (d, ev) = self.policy.from_client(now, inner);
                self.account(now, ev, rng);
                let pass = self.policy_verdict(d, "inbound");
                if !pass {
                    self.guard.something_counted(now);
                    self.log_denied(now);
                }
                pass.then_some(range)
            }
            Err(d) => {
                if d != dataplane::Drop::Dummy {
                    self.guard.something_counted(now);
                    self.log_esp_drop(now, from, esp, &d);
                    // Formatted only for `debug crypto ipsec`: a dropped packet costs
                    // no allocation otherwise.
                    if self.debug_wanted(DebugKind::Ipsec) {
                        self.debug_line(format!(
                            "IPSEC(inbound): packet from {from} dropped: {}",
                            d.word()
                        ));
                    }
                }
                None
            }
        }
    }

    /// A packet from the inside TUN for a client: checked by the PIX policy, then
    /// encapsulated into `out`. The length and where to send it.
    fn packet_to_client<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        packet: &mut [u8],
        rng: &mut R,
    ) -> Option<(usize, dataplane::EspDest, SaId)> {
        if pix_nat::frag::is_fragment(packet) {
            self.reassembled_to_client(now, packet, rng);
            return None;
        }
        if !self.outbound_allowed(now, packet, rng) {
            return None;
        }
        self.data.clamp_mss(packet);
        let r = self.data.outbound(now, rng, packet, &mut self.scratch);
        self.encapsulated(now, r)
    }

    fn packet_to_client_in_place<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        len: usize,
        rng: &mut R,
    ) -> Option<(std::ops::Range<usize>, dataplane::EspDest, SaId)> {
        let packet = buf.get_mut(io::INSIDE_HEADROOM..io::INSIDE_HEADROOM.saturating_add(len))?;
        if pix_nat::frag::is_fragment(packet) {
            self.reassembled_to_client(now, packet, rng);
            return None;
        }
        if !self.outbound_allowed(now, packet, rng) {
            return None;
        }
        self.data.clamp_mss(packet);
        let r = self.data.outbound_in_place(now, rng, buf, len);
        self.encapsulated(now, r)
    }

    /// The PIX policy for an inside packet to a client (accounting it; a refusal is
    /// counted).
    fn outbound_allowed<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        packet: &mut [u8],
        rng: &mut R,
    ) -> bool {
        let (d, ev) = self.policy.to_client(now, packet);
        self.account(now, ev, rng);
        let ok = self.policy_verdict(d, "outbound");
        if !ok {
            self.guard.something_counted(now);
            self.log_denied(now);
        }
        ok
    }

    /// What the data plane made of an allowed inside packet: counted and the session
    /// touched, or the drop told to `debug crypto ipsec`.
    fn encapsulated<T>(
        &mut self,
        now: Instant,
        r: Result<(T, dataplane::EspDest, SaId), dataplane::Drop>,
    ) -> Option<(T, dataplane::EspDest, SaId)> {
        match r {
            Ok((at, dest, sa)) => {
                self.metrics.packets_out = self.metrics.packets_out.saturating_add(1);
                self.touch(sa, now);
                Some((at, dest, sa))
            }
            Err(d) => {
                while let Some(p) = self.data.poll_to_inside() {
                    self.out.push_back(Output::ToInside(p));
                }
                if self.debug_wanted(DebugKind::Ipsec) {
                    self.debug_line(format!("IPSEC(outbound): packet dropped: {}", d.word()));
                }
                None
            }
        }
    }

    /// A decrypted fragment from a client: held until its datagram is complete (bounded,
    /// drops counted by the data plane), which then goes through the policy like any
    /// decrypted packet and out as [`Output::ToInside`].
    fn reassembled_from_client<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        fragment: &[u8],
        rng: &mut R,
    ) {
        let Some(mut whole) = self.data.reassemble(now, true, fragment) else {
            return;
        };
        self.data.clamp_mss(&mut whole);
        let (d, ev) = self.policy.from_client(now, &mut whole);
        self.account(now, ev, rng);
        if self.policy_verdict(d, "inbound") {
            self.out.push_back(Output::ToInside(whole));
        } else {
            self.guard.something_counted(now);
        }
    }

    /// An inside fragment for a client: held until its datagram is complete, which then
    /// goes through the policy and is encapsulated whole ([`Output::Esp`]; the kernel
    /// fragments the outer packet when it exceeds the outside MTU).
    fn reassembled_to_client<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        fragment: &[u8],
        rng: &mut R,
    ) {
        let Some(mut whole) = self.data.reassemble(now, false, fragment) else {
            return;
        };
        if !self.outbound_allowed(now, &mut whole, rng) {
            return;
        }
        self.data.clamp_mss(&mut whole);
        let mut out = vec![0u8; whole.len().saturating_add(128)];
        let r = self.data.outbound(now, rng, &whole, &mut out);
        if let Some((n, dest, sa)) = self.encapsulated(now, r) {
            out.truncate(n);
            self.out.push_back(Output::Esp {
                dest,
                datagram: out,
                sa,
            });
        }
    }

    fn policy_verdict(&mut self, d: policy::Decision, dir: &str) -> bool {
        if d.forwarded() {
            return true;
        }
        if let policy::Decision::Drop { reason, line } = d {
            let text = format!(
                "IPSEC({dir}): packet dropped by policy{}: {reason}",
                line.map(|l| format!(" (config line {l})"))
                    .unwrap_or_default()
            );
            if self.recent_drops.len() >= RECENT_DROPS {
                self.recent_drops.pop_front();
            }
            self.recent_drops.push_back(text.clone());
            self.debug_line(text);
        }
        false
    }

    /// The PIX's message for the packet the policy just denied (106023 for an
    /// access-list, 106015 for TCP without a connection, 800009 otherwise), within the
    /// data plane's log rate limit (the others are only counted).
    fn log_denied(&mut self, now: Instant) {
        let Some(d) = self.policy.take_denied() else {
            return;
        };
        let hot = match d.kind {
            policy::DenyKind::Acl(_) => io::Hot::AclDeny,
            policy::DenyKind::NoConnection => io::Hot::NoConnection,
            policy::DenyKind::Other(_) => io::Hot::PolicyDrop,
        };
        let Some(n) = self.hot.allow(now, hot) else {
            return;
        };
        let (i_in, i_out) = &d.interfaces;
        let at = |(a, p): (Ipv4Addr, u16)| {
            if d.proto == 1 {
                a.to_string()
            } else {
                format!("{a}/{p}")
            }
        };
        let icmp = if d.proto == 1 {
            format!(" (type {}, code {})", d.icmp.0, d.icmp.1)
        } else {
            String::new()
        };
        let proto = io::proto_name(d.proto);
        let (src, dst) = (at(d.src), at(d.dst));
        let (id, text) = match &d.kind {
            policy::DenyKind::Acl(acl) => (
                MsgId::AclDeny,
                format!("Deny {proto} src {i_in}:{src} dst {i_out}:{dst}{icmp} by access-group \"{acl}\""),
            ),
            policy::DenyKind::NoConnection => {
                let f = d.flags;
                let flags: Vec<&str> = [(f.syn, "SYN"), (f.fin, "FIN"), (f.rst, "RST"), (f.ack, "ACK")]
                    .into_iter()
                    .filter_map(|(on, w)| on.then_some(w))
                    .collect();
                (
                    MsgId::TcpNoConnection,
                    format!(
                        "Deny TCP (no connection) from {src} to {dst} flags {} on interface {i_in}",
                        flags.join(" ")
                    ),
                )
            }
            policy::DenyKind::Other(code) => (
                MsgId::PolicyDrop,
                format!("Deny {proto} src {i_in}:{src} dst {i_out}:{dst}{icmp}: {code}"),
            ),
        };
        let mut rec = LogRecord::new(
            Level::Warning,
            id,
            format!("{text}{}", io::suppressed_note(n)),
        )
        .with("src", d.src.0)
        .with("dst", d.dst.0);
        if let policy::DenyKind::Acl(acl) = d.kind {
            rec = rec.with("acl", acl);
        }
        self.log_record(rec);
    }

    /// The message for an ESP packet dropped (402101 for an unknown SPI, 800010/800011
    /// for a bad ICV or a replay, 800012 otherwise), within the data plane's log rate
    /// limit (the others are only counted: no allocation).
    fn log_esp_drop(&mut self, now: Instant, from: IpAddr, esp: &[u8], d: &dataplane::Drop) {
        let hot = match d {
            dataplane::Drop::UnknownSpi(_) => io::Hot::BadSpi,
            dataplane::Drop::Esp("bad-icv") => io::Hot::BadIcv,
            dataplane::Drop::Esp("replayed" | "outside-window") => io::Hot::Replay,
            _ => io::Hot::EspOther,
        };
        let Some(n) = self.hot.allow(now, hot) else {
            return;
        };
        let spi = esp::peek_spi(esp).unwrap_or(0);
        let dest = self.info.outside_addr;
        let note = io::suppressed_note(n);
        let (id, level, text) = match hot {
            io::Hot::BadSpi => (
                MsgId::BadSpi,
                Level::Warning,
                format!("decaps: rec'd IPSEC packet has invalid spi for destaddr={dest}, prot=esp, spi={spi:#x} (from {from}){note}"),
            ),
            io::Hot::BadIcv => (
                MsgId::EspBadIcv,
                Level::Warning,
                format!("decaps: rec'd IPSEC packet failed authentication (bad ICV) from {from} for destaddr={dest}, prot=esp, spi={spi:#x}{note}"),
            ),
            io::Hot::Replay => (
                MsgId::EspReplay,
                Level::Warning,
                format!("decaps: rec'd IPSEC packet failed anti-replay check ({}) from {from} for destaddr={dest}, prot=esp, spi={spi:#x}{note}", d.word()),
            ),
            _ => (
                MsgId::EspDropped,
                Level::Info,
                format!("decaps: rec'd IPSEC packet from {from} for destaddr={dest}, prot=esp, spi={spi:#x} dropped: {}{note}", d.word()),
            ),
        };
        self.log_record(
            LogRecord::new(level, id, text)
                .with("peer", from)
                .with("spi", format!("{spi:#x}")),
        );
    }

    fn account_closed(&mut self, c: &dataplane::Child) {
        let m = &mut self.metrics;
        m.bytes_in_closed = m.bytes_in_closed.saturating_add(c.counters.bytes_in);
        m.bytes_out_closed = m.bytes_out_closed.saturating_add(c.counters.bytes_out);
        for (k, n) in &c.counters.recv_errors {
            bump(&mut m.drops_closed, *k, *n);
        }
    }

    /// ESP-stage drops since start, by reason: removed SAs, live SAs, and packets that
    /// matched no SA.
    fn esp_drops(&self) -> BTreeMap<&'static str, u64> {
        let mut drops = self.metrics.drops_closed.clone();
        for (_, c) in self.data.children() {
            for (k, n) in &c.counters.recv_errors {
                bump(&mut drops, *k, *n);
            }
        }
        for (k, n) in &self.data.global_drops {
            bump(&mut drops, *k, *n);
        }
        drops
    }

    /// A datagram on an ESP path too short to be anything (a port-4500 payload of 1-7
    /// bytes that is no keepalive, a raw packet without its IP header): counted as an
    /// ESP-stage drop (`truncated`), then dropped.
    fn truncated_esp(&mut self, now: Instant) {
        bump(&mut self.data.global_drops, "truncated", 1);
        self.guard.something_counted(now);
    }

    /// Marks traffic on an IKE SA (idle-time).
    fn touch(&mut self, sa: SaId, now: Instant) {
        if let Some(s) = self.sessions.get_mut(&sa) {
            s.last_activity = now;
        }
    }

    /// The next deadline of anything (IKE, AAA, ESP lifetimes, idle/max time).
    pub fn poll_timeout(&self) -> Option<Instant> {
        // Every test run (debug builds) checks the bound against the pass it saves.
        debug_assert!(
            bound_holds(self.timers_bound, self.scan_timers()),
            "the timers bound must never be later than the real deadline"
        );
        [
            self.ike.poll_timeout(),
            self.aaa
                .values()
                .filter_map(|a| a.client.poll_timeout())
                .min(),
            self.policy.poll_timeout(),
            self.timers_bound,
            self.guard.poll_timeout(),
            self.data.frag_poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The earliest `idle-time`/`max-time` of one session.
    fn session_deadline(s: Option<&Session>) -> Option<Instant> {
        let s = s?;
        let idle = s.idle_time.and_then(|d| s.last_activity.checked_add(d));
        let max = s.max_time.and_then(|d| s.created.checked_add(d));
        [idle, max, Self::interim_deadline(s)]
            .into_iter()
            .flatten()
            .min()
    }

    /// The exact earliest session and ESP lifetime deadline: a pass over every user.
    fn scan_timers(&self) -> Option<Instant> {
        let sessions = self
            .sessions
            .values()
            .filter_map(|s| Self::session_deadline(Some(s)))
            .min();
        [sessions, self.data.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn lower_timers_bound(&mut self, d: Option<Instant>) {
        if let Some(d) = d {
            lower_bound(&mut self.timers_bound, d);
        }
    }

    /// Timers: IKE retransmissions/DPD/lifetimes, AAA timeouts, ESP lifetimes,
    /// `vpngroup idle-time` / `max-time`.
    pub fn handle_timeout<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        self.ike.handle_timeout(now, rng);
        for a in self.aaa.values_mut() {
            a.client.handle_timeout(now, rng);
        }
        self.sweep_retired();
        let ev = self.policy.expire(now);
        self.account(now, ev, rng);
        self.acct_interims(now, rng);
        self.data.expire_fragments(now);
        for (sa, spi) in self.data.expired(now) {
            if let Some(c) = self.data.remove(spi) {
                for r in sa_pair_records(false, spi, &c) {
                    self.log_record(r);
                }
                self.acct_child_gone(&c);
            }
            let _ = self.ike.delete_child(now, sa, spi, rng);
        }
        let mut ended = Vec::new();
        for s in self.sessions.values() {
            if s.idle_time
                .is_some_and(|d| now.saturating_duration_since(s.last_activity) >= d)
            {
                ended.push((s.sa, "idle-time", TerminateCause::IdleTimeout));
            } else if s
                .max_time
                .is_some_and(|d| now.saturating_duration_since(s.created) >= d)
            {
                ended.push((s.sa, "max-time", TerminateCause::SessionTimeout));
            }
        }
        for (sa, why, cause) in ended {
            self.log(
                Level::Info,
                MsgId::SessionLimit,
                format!("SA {}: vpngroup {why} reached: disconnecting", sa.0),
            );
            self.disconnect_because(now, sa, cause, rng);
        }
        for sa in self.guard.due_refusals(now) {
            self.edit_session(sa, |s| s.xauth_pending = false);
            // The SA may have gone meanwhile (the client gave up): nothing to tell.
            let _ = self.ike.xauth_verdict(now, sa, false, rng);
        }
        self.process(now, rng);
        // The counts (a pass over every IPsec SA, maps cloned) only when a summary is
        // due, not at every timer.
        if self.guard.summary_due(now) {
            let counts = self.stats().refusal_counts();
            for line in self.guard.summary(now, counts) {
                self.log(Level::Notice, MsgId::Summary, line);
            }
        }
        self.timers_bound = self.scan_timers();
    }

    /// AAA requests (authentications, accounting records) still waiting for a server.
    #[must_use]
    pub fn aaa_pending(&self) -> usize {
        self.aaa.values().map(|a| a.client.pending()).sum()
    }

    /// RADIUS replies refused for want of a Message-Authenticator, over every group.
    fn radius_refused_unauthenticated(&self) -> u64 {
        self.aaa
            .values()
            .map(|a| a.client.refused_without_message_authenticator())
            .fold(0, u64::saturating_add)
    }

    /// Deletes an IKE SA and its IPsec SAs; the peer gets the ISAKMP DELETE first, then
    /// the IPsec DELETEs (`ike_sm::Endpoint::delete`).
    pub fn disconnect<R: CryptoRng + ?Sized>(&mut self, now: Instant, sa: SaId, rng: &mut R) {
        self.disconnect_because(now, sa, TerminateCause::AdminReset, rng);
    }

    /// [`Gateway::disconnect`] with the cause its accounting Stop gives.
    pub fn disconnect_because<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        cause: TerminateCause,
        rng: &mut R,
    ) {
        self.edit_session(sa, |s| {
            s.end_cause.get_or_insert(cause);
        });
        let _ = self.ike.delete(now, sa, rng);
        self.process(now, rng);
        // An SA that was never established produces no Deleted event.
        self.forget(now, sa, "cleared", cause, rng);
    }

    /// `clear crypto isakmp sa [PEER]`: how many were cleared.
    pub fn clear<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        peer: Option<IpAddr>,
        rng: &mut R,
    ) -> usize {
        self.clear_because(now, peer, TerminateCause::AdminReset, rng)
    }

    /// [`Gateway::clear`] with the cause the sessions' accounting Stops give.
    fn clear_because<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        peer: Option<IpAddr>,
        cause: TerminateCause,
        rng: &mut R,
    ) -> usize {
        let sas: Vec<SaId> = self
            .sessions
            .values()
            .filter(|s| peer.is_none_or(|p| s.remote.ip() == p))
            .map(|s| s.sa)
            .collect();
        for sa in &sas {
            self.disconnect_because(now, *sa, cause, rng);
        }
        sas.len()
    }

    /// Answers an operator's command line (`show ...`, `clear ...`).
    fn command<R: CryptoRng + ?Sized>(&mut self, now: Instant, line: &str, rng: &mut R) -> String {
        match Command::parse(line) {
            Command::Show(what) => self.whole(now, Some(&what)).show(now, &what),
            Command::Clear(peer) => {
                let n = self.clear(now, peer, rng);
                view::cleared(n, peer)
            }
            Command::Invalid(answer) => answer,
        }
    }
}
