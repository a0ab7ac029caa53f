//! `pix-gateway run`: the PIX-style VPN headend. The library crates are Sans-IO; this
//! module is the one place with sockets, a TUN device, the clock and the OS random
//! generator.
//!
//! * [`setup`] maps the PIX configuration onto the crates.
//! * [`Gateway`] is the state that is not IO: the IKE endpoint, the ESP SA database,
//!   the AAA clients, the sessions (uauth), and what the `show` commands print. It is
//!   driven by [`serve`], one event loop on a single-threaded tokio runtime.
//! * [`control`] is the control socket (`show`, `clear`, `debug`).

pub mod control;
pub mod dataplane;
pub mod guard;
pub mod keylog;
#[cfg(test)]
mod ownership_tests;
pub mod policy;
pub mod serve;
pub mod setup;
pub mod show;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use ike_sm::{Endpoint, Event, SaId};
use rand_core::CryptoRng;

use dataplane::DataPlane;

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

/// The AAA client of the `client authentication` group.
#[derive(Debug)]
pub struct Aaa {
    /// Its tag.
    pub tag: String,
    /// The Sans-IO client.
    pub client: xauth::aaa::AaaClient,
    /// Requests in flight, by request: the SA, the user and the client's address.
    pub pending: HashMap<xauth::aaa::RequestId, (SaId, String, Option<IpAddr>)>,
}

/// Everything the gateway holds that is not IO.
#[derive(Debug)]
pub struct Gateway {
    /// The IKE endpoint.
    pub ike: Endpoint,
    /// The ESP SAs.
    pub data: DataPlane,
    /// Sessions by IKE SA.
    pub sessions: BTreeMap<SaId, Session>,
    /// The AAA clients, one per `aaa-server` tag.
    pub aaa: BTreeMap<String, Aaa>,
    /// `crypto map ... client authentication TAG`.
    pub xauth_tag: Option<String>,
    /// The PIX policy for tunnelled traffic (pix-nat: permit-ipsec or ACLs, nat 0,
    /// uauth, per-connection accounting).
    pub policy: policy::Policy,
    /// Seconds since the Unix epoch at `started` (accounting records carry wall time;
    /// the driver supplies it, tests use 0).
    pub epoch_at_start: u64,
    /// `hostname`.
    pub hostname: String,
    /// The crypto map's interface.
    pub outside_if: String,
    /// Our outside address.
    pub outside_addr: Ipv4Addr,
    /// The crypto map's name.
    pub crypto_map: String,
    /// `vpngroup` idle/max times by group ("" for Main Mode peers).
    pub session_limits: BTreeMap<String, (Option<Duration>, Option<Duration>)>,
    /// Where the configuration came from (for `show version`).
    pub config_name: String,
    /// `timeout uauth`.
    pub uauth_timeout: Duration,
    /// Started.
    pub started: Instant,
    /// Most authenticated users seen at once.
    pub most_users: usize,
    /// Most Xauth in progress at once.
    pub most_in_progress: usize,
    /// Sessions with a user now / with Xauth in progress now, kept by
    /// [`Gateway::edit_session`] and friends, so that [`Gateway::process`] (after every
    /// IKE datagram) does not count every session (debug builds check the counts).
    users_now: usize,
    in_progress_now: usize,
    /// Debug lines not yet handed out (drained by the loop).
    pub debug: Vec<(DebugKind, String)>,
    /// Keylog lines not yet written (drained by the loop).
    pub keylog: Vec<String>,
    /// Whether keylog lines are collected.
    pub keylog_on: bool,
    /// A lower bound of the sessions' `idle-time`/`max-time` and the ESP SAs' lifetime
    /// deadlines: lowered when a session or an ESP SA appears, recomputed by
    /// [`Gateway::handle_timeout`]. Traffic only pushes those deadlines later, so
    /// [`Gateway::poll_timeout`] (asked after every packet) needs no pass over every user;
    /// a bound that traffic has made early only costs one wake-up that recomputes it.
    timers_bound: Option<Instant>,
    /// Log lines for the operator (drained by the loop).
    pub log: Vec<String>,
    /// Counters for `--metrics`.
    pub metrics: Metrics,
    /// The last packets the policy dropped, with the deciding config line (`show drops`).
    pub recent_drops: std::collections::VecDeque<String>,
    /// Xauth guessing throttle and the rate-limited summaries of drops and refusals.
    guard: guard::Guard,
    /// The IKE endpoint's refusal total last seen (a change arms a summary).
    seen_refusals: u64,
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

/// Counters the Prometheus listener exports (monotonic since start).
#[derive(Debug, Default)]
pub struct Metrics {
    /// Phase 1s that came up.
    pub handshakes_ok: u64,
    /// SAs that failed, by reason.
    pub handshakes_failed: BTreeMap<String, u64>,
    /// Xauth verdicts: accepted / rejected.
    pub xauth: BTreeMap<&'static str, u64>,
    /// Inner bytes of IPsec SAs already removed (live ones are read from the data plane).
    pub bytes_in_closed: u64,
    /// Inner bytes sent to clients by removed SAs.
    pub bytes_out_closed: u64,
    /// Packets of removed SAs dropped, by reason.
    pub drops_closed: BTreeMap<&'static str, u64>,
}

fn metric_label(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' || c == '\\' || c == '\n' {
                '_'
            } else {
                c
            }
        })
        .collect()
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

impl Gateway {
    /// The Prometheus text exposition (version 0.0.4) of the gateway's state.
    pub fn metrics_text(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::new();
        let established = self.sessions.values().filter(|s| s.established).count();
        let total = self.ike.sa_count();
        let users = self.sessions.values().filter(|s| s.user.is_some()).count();
        let _ = writeln!(
            o,
            "# HELP pix_ike_sas IKE SAs by state.\n# TYPE pix_ike_sas gauge"
        );
        let _ = writeln!(o, "pix_ike_sas{{state=\"established\"}} {established}");
        let _ = writeln!(
            o,
            "pix_ike_sas{{state=\"embryonic\"}} {}",
            total.saturating_sub(established)
        );
        let _ = writeln!(
            o,
            "# HELP pix_ipsec_sa_pairs IPsec SA pairs installed.\n# TYPE pix_ipsec_sa_pairs gauge"
        );
        let _ = writeln!(o, "pix_ipsec_sa_pairs {}", self.data.len());
        let _ = writeln!(
            o,
            "# HELP pix_uauth_users Authenticated VPN users.\n# TYPE pix_uauth_users gauge"
        );
        let _ = writeln!(o, "pix_uauth_users {users}");
        let _ = writeln!(o, "# HELP pix_pool_addresses_in_use Leased ip local pool addresses.\n# TYPE pix_pool_addresses_in_use gauge");
        for p in self.ike.pools().pools() {
            let _ = writeln!(
                o,
                "pix_pool_addresses_in_use{{pool=\"{}\"}} {}",
                metric_label(p.name()),
                p.in_use()
            );
        }
        let _ = writeln!(o, "# HELP pix_handshakes_total Phase 1 negotiations by result.\n# TYPE pix_handshakes_total counter");
        let _ = writeln!(
            o,
            "pix_handshakes_total{{result=\"ok\"}} {}",
            self.metrics.handshakes_ok
        );
        for (r, n) in &self.metrics.handshakes_failed {
            let _ = writeln!(
                o,
                "pix_handshakes_total{{result=\"failed\",reason=\"{}\"}} {n}",
                metric_label(r)
            );
        }
        let _ = writeln!(
            o,
            "# HELP pix_xauth_total Xauth verdicts.\n# TYPE pix_xauth_total counter"
        );
        for (r, n) in &self.metrics.xauth {
            let _ = writeln!(o, "pix_xauth_total{{verdict=\"{r}\"}} {n}");
        }
        let (mut bin, mut bout) = (self.metrics.bytes_in_closed, self.metrics.bytes_out_closed);
        for (_, c) in self.data.children() {
            bin = bin.saturating_add(c.counters.bytes_in);
            bout = bout.saturating_add(c.counters.bytes_out);
        }
        let drops = self.esp_drops();
        let _ = writeln!(o, "# HELP pix_tunnel_bytes_total Inner bytes through IPsec SAs.\n# TYPE pix_tunnel_bytes_total counter");
        let _ = writeln!(
            o,
            "pix_tunnel_bytes_total{{direction=\"from_clients\"}} {bin}"
        );
        let _ = writeln!(
            o,
            "pix_tunnel_bytes_total{{direction=\"to_clients\"}} {bout}"
        );
        let _ = writeln!(o, "# HELP pix_drops_total Packets dropped, by stage and reason.\n# TYPE pix_drops_total counter");
        for (k, n) in &drops {
            let _ = writeln!(
                o,
                "pix_drops_total{{stage=\"esp\",reason=\"{}\"}} {n}",
                metric_label(k)
            );
        }
        for (k, n) in self.policy.drops() {
            let _ = writeln!(
                o,
                "pix_drops_total{{stage=\"policy\",reason=\"{}\"}} {n}",
                metric_label(k)
            );
        }
        let _ = writeln!(o, "# HELP pix_ike_refusals_total IKE datagrams dropped and negotiations refused, by reason.\n# TYPE pix_ike_refusals_total counter");
        for r in ike_sm::Refusal::ALL {
            let _ = writeln!(
                o,
                "pix_ike_refusals_total{{reason=\"{}\"}} {}",
                r.label(),
                self.ike.counters().get(*r)
            );
        }
        let _ = writeln!(o, "# HELP pix_ike_half_open Half-open IKE SAs (phase 1 not finished).\n# TYPE pix_ike_half_open gauge");
        let _ = writeln!(o, "pix_ike_half_open {}", self.ike.half_open_count());
        let _ = writeln!(o, "# HELP pix_ike_under_pressure 1 while admission is under pressure (shorter half-open wait, DH key pairs reused).\n# TYPE pix_ike_under_pressure gauge");
        let _ = writeln!(
            o,
            "pix_ike_under_pressure {}",
            u8::from(self.ike.under_pressure())
        );
        let _ = writeln!(o, "# HELP pix_ike_phase1_modexps_total Diffie-Hellman modular exponentiations of phase 1 (key pairs and agreements).\n# TYPE pix_ike_phase1_modexps_total counter");
        let _ = writeln!(
            o,
            "pix_ike_phase1_modexps_total {}",
            self.ike.phase1_modexps()
        );
        let t = self.guard.throttle().stats();
        let _ = writeln!(o, "# HELP pix_xauth_throttle_total Xauth guessing throttle: lockouts started and logins refused without asking AAA.\n# TYPE pix_xauth_throttle_total counter");
        for (what, n) in [
            ("lockout_user_source", t.lockouts_user_source),
            ("lockout_user", t.lockouts_user),
            ("refused_user_source", t.refused_user_source),
            ("refused_user", t.refused_user),
            ("refused_in_flight", t.refused_in_flight),
            ("failures", t.failures),
            ("refusals_delayed", self.guard.delayed),
        ] {
            let _ = writeln!(o, "pix_xauth_throttle_total{{event=\"{what}\"}} {n}");
        }
        let _ = writeln!(o, "# HELP pix_xauth_throttle_entries Entries of the Xauth throttle's tables.\n# TYPE pix_xauth_throttle_entries gauge");
        let _ = writeln!(
            o,
            "pix_xauth_throttle_entries{{table=\"user_source\"}} {}",
            t.pair_entries
        );
        let _ = writeln!(
            o,
            "pix_xauth_throttle_entries{{table=\"user\"}} {}",
            t.user_entries
        );
        let _ = writeln!(o, "# HELP pix_aaa_replies_refused_total AAA replies refused, by server group and reason.\n# TYPE pix_aaa_replies_refused_total counter");
        for a in self.aaa.values() {
            let _ = writeln!(
                o,
                "pix_aaa_replies_refused_total{{server_group=\"{}\",reason=\"no_message_authenticator\"}} {}",
                metric_label(&a.tag),
                a.client.refused_without_message_authenticator()
            );
        }
        let _ = writeln!(o, "# HELP pix_xauth_refusals_held Xauth refusals held back now (growing delay).\n# TYPE pix_xauth_refusals_held gauge");
        let _ = writeln!(o, "pix_xauth_refusals_held {}", self.guard.held());
        o
    }

    /// A gateway from a plan, on `outside_addr`.
    pub fn new(
        plan: setup::Plan,
        outside_addr: Ipv4Addr,
        now: Instant,
        config_name: String,
    ) -> Self {
        let mut local = xauth::LocalUsers::new();
        for (n, sec, p) in &plan.local_users {
            let _ = local.add(
                n.as_bytes(),
                xauth::Secret::new(sec.expose_secret().to_vec()),
                *p,
            );
        }
        let mut aaa = BTreeMap::new();
        for (tag, group) in &plan.aaa {
            let users = if group.protocol == xauth::aaa::Protocol::Local {
                std::mem::take(&mut local)
            } else {
                xauth::LocalUsers::new()
            };
            aaa.insert(
                tag.clone(),
                Aaa {
                    tag: tag.clone(),
                    client: xauth::aaa::AaaClient::new(
                        setup::aaa_config(group, outside_addr, plan.radius_ports),
                        users,
                    ),
                    pending: HashMap::new(),
                },
            );
        }
        Gateway {
            ike: Endpoint::new(plan.ike, plan.pools),
            data: DataPlane::new(),
            sessions: BTreeMap::new(),
            aaa,
            xauth_tag: plan.xauth_tag,
            policy: plan.policy,
            epoch_at_start: 0,
            hostname: plan.hostname,
            outside_if: plan.outside_if,
            outside_addr,
            crypto_map: plan.crypto_map,
            session_limits: plan.session_limits,
            config_name,
            uauth_timeout: Duration::from_secs(300),
            started: now,
            most_users: 0,
            most_in_progress: 0,
            users_now: 0,
            in_progress_now: 0,
            debug: Vec::new(),
            keylog: Vec::new(),
            keylog_on: false,
            timers_bound: None,
            log: Vec::new(),
            metrics: Metrics::default(),
            recent_drops: std::collections::VecDeque::new(),
            guard: guard::Guard::new(guard::GuardLimits::default()),
            seen_refusals: 0,
        }
    }

    /// Sets the Xauth throttle and log-summary limits (`--limit xauth-*`,
    /// `--limit log-interval`); the throttle starts empty.
    pub fn set_guard_limits(&mut self, limits: guard::GuardLimits) {
        self.guard = guard::Guard::new(limits);
    }

    /// The Xauth throttle and refusal summaries.
    #[cfg(test)]
    #[must_use]
    pub fn guard(&self) -> &guard::Guard {
        &self.guard
    }

    fn debug_line(&mut self, line: String) {
        self.debug.push((DebugKind::of(&line), line));
    }

    /// Drains the endpoint's events and the AAA client's events, acting on each.
    pub fn process<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
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
        self.most_in_progress = self.most_in_progress.max(self.in_progress_now);
        self.most_users = self.most_users.max(self.users_now);
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
            xauth::aaa::AaaEvent::Accounting { ok, .. } => {
                if !ok {
                    self.log.push(format!(
                        "accounting: no server of aaa-server {tag} took a record"
                    ));
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
        self.log
            .push(format!("xauth: user '{shown}' {why} by aaa-server {tag}"));
        if !accept && refuse_at > now {
            // A wrong guess: the peer hears the refusal only after the growing delay.
            self.guard.hold(refuse_at, sa);
            return;
        }
        self.edit_session(sa, |s| s.xauth_pending = false);
        // RADIUS Framed-IP-Address: Mode Config hands out that address.
        let framed = match &outcome {
            xauth::aaa::AuthOutcome::Accept(info) => info.framed_ip.map(|addr| {
                self.log.push(format!(
                    "xauth: aaa-server {tag} assigns {addr} to user '{shown}' (Framed-IP-Address)"
                ));
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
            self.log
                .push(format!("xauth: verdict for SA {} not delivered: {e}", sa.0));
        }
    }

    fn on_event<R: CryptoRng + ?Sized>(&mut self, now: Instant, ev: Event, rng: &mut R) {
        match ev {
            Event::Phase1Established {
                sa,
                remote,
                identity,
            } => {
                self.metrics.handshakes_ok = self.metrics.handshakes_ok.saturating_add(1);
                let (idle_time, max_time) = self
                    .session_limits
                    .get(&identity)
                    .or_else(|| self.session_limits.get(""))
                    .copied()
                    .unwrap_or((None, None));
                self.log.push(format!(
                    "phase 1 up with {remote} ({identity}), SA {}",
                    sa.0
                ));
                if self.keylog_on {
                    if let Some((cky_i, key)) = self.ike.phase1_keylog(sa) {
                        self.keylog
                            .push(keylog::ike_line(&cky_i, key.expose_secret()));
                    }
                }
                self.insert_session(Session {
                    sa,
                    local: SocketAddr::new(self.outside_addr.into(), 500),
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
                });
                self.lower_timers_bound(Self::session_deadline(self.sessions.get(&sa)));
            }
            Event::XauthCredentials { sa, user, password } => {
                let client_addr = self.sessions.get(&sa).map(|s| s.remote.ip());
                self.edit_session(sa, |s| s.xauth_pending = true);
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
                                self.log
                                    .push(format!("xauth: cannot ask aaa-server {}: {e}", a.tag));
                                let _ = self.ike.xauth_verdict(now, sa, false, rng);
                            }
                        }
                    }
                    None => {
                        self.log.push(
                            "xauth: no `crypto map ... client authentication TAG`: refused".into(),
                        );
                        let _ = self.ike.xauth_verdict(now, sa, false, rng);
                    }
                }
            }
            Event::XauthDone { sa, user } => {
                self.edit_session(sa, |s| {
                    s.xauth_pending = false;
                    s.user.clone_from(&user);
                });
                self.connect_policy(now, sa);
            }
            Event::AddressAssigned { sa, addr } => {
                if let Some(s) = self.sessions.get_mut(&sa) {
                    s.addr = Some(addr);
                }
                self.log
                    .push(format!("mode config: SA {} gets {addr}", sa.0));
                self.connect_policy(now, sa);
            }
            Event::ChildSa(c) => {
                match self.data.install(&c, now) {
                    Ok(_) => {
                        self.lower_timers_bound(self.data.deadline_of(c.spi_in));
                        self.log.push(format!(
                            "IPsec SA up with {}: inbound spi {:#x}, outbound spi {:#x}{}",
                            c.remote,
                            c.spi_in,
                            c.spi_out,
                            if c.natt_ports.is_some() {
                                " (UDP-encapsulated)"
                            } else {
                                ""
                            }
                        ));
                        if self.keylog_on {
                            self.keylog.extend(keylog::esp_lines(&c, self.outside_addr));
                        }
                    }
                    Err(e) => self.log.push(format!("cannot install IPsec SA: {e}")),
                }
                if let Some(s) = self.sessions.get_mut(&c.ike_sa) {
                    s.last_activity = now;
                }
            }
            Event::ChildDeleted { sa: _, spi_in } => {
                self.data.remove(spi_in);
            }
            Event::Phase1Rekeyed { old, new } => {
                // The peer ran phase 1 again: its IPsec SAs and its lease now live
                // under the new IKE SA, and the old one's Deleted must not tear them down.
                let moved = self.data.reassign(old, new);
                if let Some(o) = self.remove_session(old) {
                    self.edit_session(new, |n| {
                        n.user = n.user.take().or(o.user);
                        n.addr = n.addr.or(o.addr);
                        n.created = o.created;
                    });
                    self.lower_timers_bound(Self::session_deadline(self.sessions.get(&new)));
                }
                self.log.push(format!(
                    "IKE SA {} replaced by IKE SA {} (phase 1 rekey): {moved} IPsec SA(s) moved",
                    old.0, new.0
                ));
            }
            Event::Deleted { sa } => self.forget(now, sa, "deleted", rng),
            Event::Failed { sa, reason } => {
                let session = self.sessions.get(&sa).map(|s| s.remote);
                // A negotiation that never came up may be one of a flood's spoofed first
                // messages: its line comes out only within the guard's budget, the rest
                // are counted and summarised (`phase1` in the log summary).
                if session.is_some() || self.guard.line_budget(now) {
                    let peer = session.map(|r| format!(" with {r}")).unwrap_or_default();
                    self.log
                        .push(format!("SA {}{peer} failed: {}", sa.0, fail_words(&reason)));
                } else {
                    self.guard.something_counted(now);
                }
                bump(
                    &mut self.metrics.handshakes_failed,
                    fail_reason_key(&reason),
                    1,
                );
                self.forget(now, sa, "failed", rng);
            }
            Event::Debug(d) => {
                for l in d.pix_lines() {
                    self.debug_line(l);
                }
            }
            _ => {}
        }
    }

    fn forget<R: CryptoRng + ?Sized>(&mut self, now: Instant, sa: SaId, why: &str, rng: &mut R) {
        let gone = self.data.remove_ike(sa);
        for c in &gone {
            self.account_closed(c);
        }
        if let Some(s) = self.remove_session(sa) {
            if let (Some(addr), true) = (s.addr, s.in_policy) {
                let ev = self.policy.vpn_disconnect(addr, now);
                self.account(now, ev, rng);
            }
            self.log.push(format!(
                "SA {} with {} ({}) {why}{}{}; {} IPsec SA(s) removed",
                sa.0,
                s.remote,
                s.identity,
                s.user
                    .as_ref()
                    .map(|u| format!(", user '{u}'"))
                    .unwrap_or_default(),
                s.addr
                    .map(|a| format!(", {a} back to the pool"))
                    .unwrap_or_default(),
                gone.len()
            ));
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
    fn connect_policy(&mut self, now: Instant, sa: SaId) {
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
    }

    /// Sends accounting records to the server group their `aaa accounting` names.
    fn account<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        events: Vec<policy::AcctEvent>,
        rng: &mut R,
    ) {
        for e in events {
            let Some(tag) = e.tag.clone() else { continue };
            let start_time = self
                .epoch_at_start
                .saturating_add(now.saturating_duration_since(self.started).as_secs())
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
                task_id: e.task_id,
                start_time,
                elapsed_time: (!e.start)
                    .then(|| u32::try_from(e.elapsed.as_secs()).unwrap_or(u32::MAX)),
                bytes_in: (!e.start).then_some(e.bytes_in),
                bytes_out: (!e.start).then_some(e.bytes_out),
                packets_in: None,
                packets_out: None,
                class: None,
            };
            self.log.push(format!(
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
            ));
            match self.aaa.get_mut(&tag) {
                Some(a) => {
                    if let Err(err) = a.client.account(now, rng, info) {
                        self.log.push(format!(
                            "accounting: aaa-server {tag} refused a record: {err}"
                        ));
                    }
                }
                None => self.log.push(format!(
                    "accounting: `aaa accounting ... {tag}` names no aaa-server {tag}"
                )),
            }
        }
    }

    /// A decrypted ESP packet from `from`: decapsulated in place, checked against its
    /// SA's selectors and the PIX policy; the inner packet's range when it goes to the
    /// inside.
    pub fn packet_from_client<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        from: IpAddr,
        esp: &mut [u8],
        rng: &mut R,
    ) -> Option<std::ops::Range<usize>> {
        match self.data.inbound(now, from, esp) {
            Ok((range, sa, _, _)) => {
                self.touch(sa, now);
                let inner = esp.get_mut(range.clone())?;
                let (d, ev) = self.policy.from_client(now, inner);
                self.account(now, ev, rng);
                let pass = self.policy_verdict(d, "inbound");
                if !pass {
                    self.guard.something_counted(now);
                }
                pass.then_some(range)
            }
            Err(d) => {
                if d != dataplane::Drop::Dummy {
                    self.guard.something_counted(now);
                    self.debug_line(format!(
                        "IPSEC(inbound): packet from {from} dropped: {}",
                        d.word()
                    ));
                }
                None
            }
        }
    }

    /// A packet from the inside TUN for a client: checked by the PIX policy, then
    /// encapsulated into `out`. The length and where to send it.
    pub fn packet_to_client<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        packet: &mut [u8],
        out: &mut [u8],
        rng: &mut R,
    ) -> Option<(usize, dataplane::EspDest, SaId)> {
        let (d, ev) = self.policy.to_client(now, packet);
        self.account(now, ev, rng);
        if !self.policy_verdict(d, "outbound") {
            self.guard.something_counted(now);
            return None;
        }
        match self.data.outbound(now, rng, packet, out) {
            Ok((n, dest, sa)) => {
                self.touch(sa, now);
                Some((n, dest, sa))
            }
            Err(d) => {
                self.debug_line(format!("IPSEC(outbound): packet dropped: {}", d.word()));
                None
            }
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

    /// `show drops`: packets dropped in the data plane by stage and reason, and the
    /// last ones the policy dropped with the configuration line that decided.
    fn show_drops(&self) -> String {
        use std::fmt::Write as _;
        let mut o = String::from("Dropped packets and refused negotiations (since start)\n");
        for (stage, _, words, n) in self.refusal_counts() {
            let _ = writeln!(o, "  {stage:<7}{n:>10}  {words}");
        }
        let _ = writeln!(o, "\nLast {} policy drops:", self.recent_drops.len());
        for l in &self.recent_drops {
            let _ = writeln!(o, "  {l}");
        }
        o
    }

    /// `show crypto isakmp stats`: the IKE SAs by state, every refusal of the endpoint by
    /// reason, and the Xauth throttle (in the manner of the ASA's command of that name).
    fn show_isakmp_stats(&self) -> String {
        use std::fmt::Write as _;
        let established = self.sessions.values().filter(|s| s.established).count();
        let total = self.ike.sa_count();
        let mut o = String::from("Global IKE Statistics\n");
        let _ = writeln!(o, "Active SAs:      {established}");
        let _ = writeln!(o, "Embryonic SAs:   {}", total.saturating_sub(established));
        let l = self.ike.limits();
        let _ = writeln!(
            o,
            "Half-open SAs:   {} of {}{}",
            self.ike.half_open_count(),
            l.max_half_open,
            if self.ike.under_pressure() {
                " (under pressure: shorter wait, DH key pairs reused)"
            } else {
                ""
            }
        );
        let _ = writeln!(o, "Phase 1 modexps: {}", self.ike.phase1_modexps());
        let _ = writeln!(o, "Phase 1 up:      {}", self.metrics.handshakes_ok);
        let failed: u64 = self.metrics.handshakes_failed.values().sum();
        let _ = writeln!(o, "Phase 1 failed:  {failed}");
        let _ = writeln!(o, "\nDropped or refused, by reason:");
        for r in ike_sm::Refusal::ALL {
            let n = self.ike.counters().get(*r);
            let _ = writeln!(o, "  {n:>10}  {}", r.text());
        }
        let t = self.guard.throttle().stats();
        let _ = writeln!(o, "\nXauth throttle:");
        let _ = writeln!(o, "  {:>10}  wrong passwords", t.failures);
        let _ = writeln!(
            o,
            "  {:>10}  lockouts of a user from one address",
            t.lockouts_user_source
        );
        let _ = writeln!(
            o,
            "  {:>10}  lockouts of a user from every address",
            t.lockouts_user
        );
        let _ = writeln!(
            o,
            "  {:>10}  logins refused without asking AAA (locked out)",
            t.refused_user_source.saturating_add(t.refused_user)
        );
        let _ = writeln!(
            o,
            "  {:>10}  logins refused without asking AAA (too many in flight)",
            t.refused_in_flight
        );
        let _ = writeln!(o, "  {:>10}  refusals held back now", self.guard.held());
        let _ = writeln!(o, "  {:>10}  table entries (user, address)", t.pair_entries);
        o
    }

    /// A datagram on an ESP path too short to be anything (a port-4500 payload of 1-7
    /// bytes that is no keepalive, a raw packet without its IP header): counted as an
    /// ESP-stage drop (`truncated`), then dropped.
    pub fn truncated_esp(&mut self, now: Instant) {
        bump(&mut self.data.global_drops, "truncated", 1);
        self.guard.something_counted(now);
    }

    /// Marks traffic on an IKE SA (idle-time).
    pub fn touch(&mut self, sa: SaId, now: Instant) {
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
        match (idle, max) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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
        let ev = self.policy.expire(now);
        self.account(now, ev, rng);
        for (sa, spi) in self.data.expired(now) {
            self.log
                .push(format!("IPsec SA {spi:#x} reached its lifetime: deleted"));
            self.data.remove(spi);
            let _ = self.ike.delete_child(now, sa, spi, rng);
        }
        let mut ended = Vec::new();
        for s in self.sessions.values() {
            if s.idle_time
                .is_some_and(|d| now.saturating_duration_since(s.last_activity) >= d)
            {
                ended.push((s.sa, "idle-time"));
            } else if s
                .max_time
                .is_some_and(|d| now.saturating_duration_since(s.created) >= d)
            {
                ended.push((s.sa, "max-time"));
            }
        }
        for (sa, why) in ended {
            self.log.push(format!(
                "SA {}: vpngroup {why} reached: disconnecting",
                sa.0
            ));
            self.disconnect(now, sa, rng);
        }
        for sa in self.guard.due_refusals(now) {
            self.edit_session(sa, |s| s.xauth_pending = false);
            // The SA may have gone meanwhile (the client gave up): nothing to tell.
            let _ = self.ike.xauth_verdict(now, sa, false, rng);
        }
        self.process(now, rng);
        let counts = self.refusal_counts();
        let lines = self.guard.summary(now, counts);
        self.log.extend(lines);
        self.timers_bound = self.scan_timers();
    }

    /// RADIUS replies refused for want of a Message-Authenticator, over every group.
    fn radius_refused_unauthenticated(&self) -> u64 {
        self.aaa
            .values()
            .map(|a| a.client.refused_without_message_authenticator())
            .fold(0, u64::saturating_add)
    }

    /// Every drop and refusal since start, by (stage, label, words, count): the IKE
    /// endpoint's, the Xauth throttle's, the ESP data plane's and the policy's.
    pub fn refusal_counts(&self) -> Vec<(&'static str, String, String, u64)> {
        let mut v = Vec::new();
        for (r, n) in self.ike.counters().iter() {
            v.push(("isakmp", r.label().to_string(), r.text().to_string(), n));
        }
        let t = self.guard.throttle().stats();
        for (label, words, n) in [
            (
                "refused_locked_user_source",
                "logins refused without asking AAA: user locked out from that address",
                t.refused_user_source,
            ),
            (
                "refused_locked_user",
                "logins refused without asking AAA: user locked out from every address",
                t.refused_user,
            ),
            (
                "refused_in_flight",
                "logins refused without asking AAA: too many of the user's logins waiting for AAA",
                t.refused_in_flight,
            ),
            (
                "lockout_user_source",
                "lockouts started (user from one address, too many wrong passwords)",
                t.lockouts_user_source,
            ),
            (
                "lockout_user",
                "lockouts started (user from several addresses, too many wrong passwords)",
                t.lockouts_user,
            ),
        ] {
            if n > 0 {
                v.push(("xauth", label.to_string(), words.to_string(), n));
            }
        }
        for a in self.aaa.values() {
            let n = a.client.refused_without_message_authenticator();
            if n > 0 {
                v.push((
                    "aaa",
                    format!("radius_without_message_authenticator_{}", a.tag),
                    format!(
                        "RADIUS replies of aaa-server {} refused: no Message-Authenticator (Blast-RADIUS, CVE-2024-3596)",
                        a.tag
                    ),
                    n,
                ));
            }
        }
        for (k, n) in &self.esp_drops() {
            v.push(("ipsec", (*k).to_string(), (*k).to_string(), *n));
        }
        for (k, n) in self.policy.drops() {
            v.push(("policy", k.clone(), k.clone(), *n));
        }
        for (k, n) in &self.metrics.handshakes_failed {
            v.push((
                "phase1",
                k.clone(),
                format!("phase 1 negotiations failed ({k})"),
                *n,
            ));
        }
        v
    }

    /// Deletes an IKE SA and its IPsec SAs; the peer gets the ISAKMP DELETE first, then
    /// the IPsec DELETEs (`ike_sm::Endpoint::delete`).
    pub fn disconnect<R: CryptoRng + ?Sized>(&mut self, now: Instant, sa: SaId, rng: &mut R) {
        let _ = self.ike.delete(now, sa, rng);
        self.process(now, rng);
        // An SA that was never established produces no Deleted event.
        self.forget(now, sa, "cleared", rng);
    }

    /// `clear crypto isakmp sa [PEER]`: how many were cleared.
    pub fn clear<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        peer: Option<IpAddr>,
        rng: &mut R,
    ) -> usize {
        let sas: Vec<SaId> = self
            .sessions
            .values()
            .filter(|s| peer.is_none_or(|p| s.remote.ip() == p))
            .map(|s| s.sa)
            .collect();
        for sa in &sas {
            self.disconnect(now, *sa, rng);
        }
        sas.len()
    }

    /// Answers a `show` / `clear` command line (without the leading `show`/`clear`
    /// handled by the caller: the whole line is given).
    pub fn command<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        line: &str,
        rng: &mut R,
    ) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let l: Vec<&str> = lower.iter().map(String::as_str).collect();
        match l.as_slice() {
            ["show", "crypto", "isakmp", "sa", ..] | ["show", "isakmp", "sa", ..] => {
                let s: Vec<&Session> = self.sessions.values().collect();
                let c: Vec<&dataplane::Child> = self.data.children().map(|(_, c)| c).collect();
                show::isakmp_sa(&s, self.ike.sa_count(), &c)
            }
            ["show", "crypto", "ipsec", "sa", ..] => {
                let mut c: Vec<(u32, &dataplane::Child)> =
                    self.data.children().map(|(s, c)| (*s, c)).collect();
                c.sort_by_key(|(_, c)| c.serial);
                show::ipsec_sa(
                    now,
                    &self.outside_if,
                    &self.crypto_map,
                    Some(self.outside_addr),
                    &c,
                )
            }
            ["show", "uauth", ..] => {
                let s: Vec<&Session> = self.sessions.values().collect();
                show::uauth(
                    now,
                    &s,
                    self.most_users,
                    self.most_in_progress,
                    self.uauth_timeout,
                )
            }
            ["show", "local-pool", rest @ ..] | ["show", "ip", "local", "pool", rest @ ..] => {
                let name = rest.first().and_then(|_| words.last().copied());
                show::local_pool(self.ike.pools(), name)
            }
            ["show", what @ ("xlate" | "conn" | "local-host"), ..] => {
                self.policy.show(now, what).unwrap_or_default()
            }
            ["show", "drops", ..] => self.show_drops(),
            ["show", "crypto", "isakmp", "stats", ..] | ["show", "isakmp", "stats", ..] => {
                self.show_isakmp_stats()
            }
            ["show", "version", ..] => show::version(
                &self.hostname,
                now.saturating_duration_since(self.started),
                &self.config_name,
            ),
            ["clear", "crypto", "isakmp", "sa"] | ["clear", "isakmp", "sa"] => {
                let n = self.clear(now, None, rng);
                format!("{n} IKE SA(s) cleared\n")
            }
            ["clear", "crypto", "isakmp", "sa", _] | ["clear", "isakmp", "sa", _] => {
                match words.last().and_then(|w| w.parse::<IpAddr>().ok()) {
                    Some(p) => {
                        let n = self.clear(now, Some(p), rng);
                        format!("{n} IKE SA(s) with {p} cleared\n")
                    }
                    None => "% Invalid peer address\n".into(),
                }
            }
            _ => format!(
                "% Unknown command: {line}\n\
                 % Known: show crypto isakmp sa | show crypto ipsec sa | show uauth | \
                 show local-pool [NAME] | show drops | show crypto isakmp stats | show version | \
                 clear crypto isakmp sa [PEER] | \
                 debug crypto isakmp | debug crypto ipsec\n"
            ),
        }
    }
}
