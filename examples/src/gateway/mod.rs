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
pub mod keylog;
pub mod policy;
pub mod serve;
pub mod setup;
pub mod show;
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
    /// Requests in flight, by request: the SA and the user.
    pub pending: HashMap<xauth::aaa::RequestId, (SaId, String)>,
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
    /// Xauth's AAA client.
    pub aaa: Option<Aaa>,
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
    /// Debug lines not yet handed out (drained by the loop).
    pub debug: Vec<(DebugKind, String)>,
    /// Keylog lines not yet written (drained by the loop).
    pub keylog: Vec<String>,
    /// Whether keylog lines are collected.
    pub keylog_on: bool,
    /// Log lines for the operator (drained by the loop).
    pub log: Vec<String>,
}

impl Gateway {
    /// A gateway from a plan, on `outside_addr`.
    pub fn new(
        plan: setup::Plan,
        outside_addr: Ipv4Addr,
        now: Instant,
        config_name: String,
    ) -> Self {
        let aaa = plan.xauth_tag.as_ref().and_then(|tag| {
            let group = plan.aaa.get(tag)?;
            let mut local = xauth::LocalUsers::new();
            for (n, s, p) in &plan.local_users {
                let _ = local.add(
                    n.as_bytes(),
                    xauth::Secret::new(s.expose_secret().to_vec()),
                    *p,
                );
            }
            Some(Aaa {
                tag: tag.clone(),
                client: xauth::aaa::AaaClient::new(
                    setup::aaa_config(group, outside_addr, plan.radius_ports),
                    local,
                ),
                pending: HashMap::new(),
            })
        });
        Gateway {
            ike: Endpoint::new(plan.ike, plan.pools),
            data: DataPlane::new(),
            sessions: BTreeMap::new(),
            aaa,
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
            debug: Vec::new(),
            keylog: Vec::new(),
            keylog_on: false,
            log: Vec::new(),
        }
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
            let aaa_events: Vec<xauth::aaa::AaaEvent> = match &mut self.aaa {
                Some(a) => std::iter::from_fn(|| a.client.poll_event()).collect(),
                None => Vec::new(),
            };
            for e in aaa_events {
                progressed = true;
                self.on_aaa(now, e, rng);
            }
            if !progressed {
                break;
            }
        }
        let in_progress = self.sessions.values().filter(|s| s.xauth_pending).count();
        self.most_in_progress = self.most_in_progress.max(in_progress);
        let users = self.sessions.values().filter(|s| s.user.is_some()).count();
        self.most_users = self.most_users.max(users);
    }

    fn on_aaa<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        e: xauth::aaa::AaaEvent,
        rng: &mut R,
    ) {
        let xauth::aaa::AaaEvent::Auth { request, outcome } = e else {
            return;
        };
        let Some(a) = &mut self.aaa else { return };
        let Some((sa, user)) = a.pending.remove(&request) else {
            return;
        };
        let accept = matches!(outcome, xauth::aaa::AuthOutcome::Accept(_));
        let why = match &outcome {
            xauth::aaa::AuthOutcome::Accept(_) => "accepted",
            xauth::aaa::AuthOutcome::Reject { .. } => "rejected",
            xauth::aaa::AuthOutcome::Challenge { .. } => {
                "challenged (not supported for Xauth here: rejected)"
            }
            xauth::aaa::AuthOutcome::Unreachable => "no AAA server answered: rejected",
        };
        let tag = a.tag.clone();
        self.log
            .push(format!("xauth: user '{user}' {why} by aaa-server {tag}"));
        if let Some(s) = self.sessions.get_mut(&sa) {
            s.xauth_pending = false;
        }
        if let Err(e) = self.ike.xauth_verdict(now, sa, accept, rng) {
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
                self.sessions.insert(
                    sa,
                    Session {
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
                    },
                );
            }
            Event::XauthCredentials { sa, user, password } => {
                let client_addr = self.sessions.get(&sa).map(|s| s.remote.ip());
                if let Some(s) = self.sessions.get_mut(&sa) {
                    s.xauth_pending = true;
                }
                match &mut self.aaa {
                    Some(a) => {
                        let req = xauth::aaa::AuthRequest {
                            user: user.clone().into_bytes(),
                            password: xauth::Secret::new(password.expose_secret().to_vec()),
                            client_addr,
                            radius_state: None,
                        };
                        match a.client.authenticate(now, rng, req) {
                            Ok(id) => {
                                a.pending.insert(id, (sa, user));
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
                if let Some(s) = self.sessions.get_mut(&sa) {
                    s.xauth_pending = false;
                    s.user.clone_from(&user);
                }
            }
            Event::AddressAssigned { sa, addr } => {
                if let Some(s) = self.sessions.get_mut(&sa) {
                    s.addr = Some(addr);
                }
                self.log
                    .push(format!("mode config: SA {} gets {addr}", sa.0));
            }
            Event::ChildSa(c) => {
                match self.data.install(&c, now) {
                    Ok(_) => {
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
                if let Some(o) = self.sessions.remove(&old) {
                    if let Some(n) = self.sessions.get_mut(&new) {
                        n.user = n.user.take().or(o.user);
                        n.addr = n.addr.or(o.addr);
                        n.created = o.created;
                    }
                }
                self.log.push(format!(
                    "IKE SA {} replaced by IKE SA {} (phase 1 rekey): {moved} IPsec SA(s) moved",
                    old.0, new.0
                ));
            }
            Event::Deleted { sa } => self.forget(sa, "deleted"),
            Event::Failed { sa, reason } => {
                let peer = self
                    .sessions
                    .get(&sa)
                    .map(|s| format!(" with {}", s.remote))
                    .unwrap_or_default();
                self.log
                    .push(format!("SA {}{peer} failed: {}", sa.0, fail_words(&reason)));
                self.forget(sa, "failed");
            }
            Event::Debug(d) => {
                for l in d.pix_lines() {
                    self.debug_line(l);
                }
            }
            _ => {}
        }
    }

    fn forget(&mut self, sa: SaId, why: &str) {
        let gone = self.data.remove_ike(sa);
        if let Some(s) = self.sessions.remove(&sa) {
            self.log.push(format!(
                "SA {} with {} {why}{}{}; {} IPsec SA(s) removed",
                sa.0,
                s.remote,
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
        if let Some(a) = &mut self.aaa {
            a.pending.retain(|_, (s, _)| *s != sa);
        }
    }

    /// Marks traffic on an IKE SA (idle-time).
    pub fn touch(&mut self, sa: SaId, now: Instant) {
        if let Some(s) = self.sessions.get_mut(&sa) {
            s.last_activity = now;
        }
    }

    /// The next deadline of anything (IKE, AAA, ESP lifetimes, idle/max time).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = self.sessions.values().filter_map(|s| {
            let idle = s.idle_time.and_then(|d| s.last_activity.checked_add(d));
            let max = s.max_time.and_then(|d| s.created.checked_add(d));
            match (idle, max) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        });
        [
            self.ike.poll_timeout(),
            self.aaa.as_ref().and_then(|a| a.client.poll_timeout()),
            self.data.poll_timeout(),
            sessions.min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Timers: IKE retransmissions/DPD/lifetimes, AAA timeouts, ESP lifetimes,
    /// `vpngroup idle-time` / `max-time`.
    pub fn handle_timeout<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        self.ike.handle_timeout(now, rng);
        if let Some(a) = &mut self.aaa {
            a.client.handle_timeout(now, rng);
        }
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
        self.process(now, rng);
    }

    /// Deletes an IKE SA and its IPsec SAs; the peer gets the ISAKMP DELETE first, then
    /// the IPsec DELETEs (`ike_sm::Endpoint::delete`).
    pub fn disconnect<R: CryptoRng + ?Sized>(&mut self, now: Instant, sa: SaId, rng: &mut R) {
        let _ = self.ike.delete(now, sa, rng);
        self.process(now, rng);
        // An SA that was never established produces no Deleted event.
        self.forget(sa, "cleared");
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
                 show local-pool [NAME] | show version | clear crypto isakmp sa [PEER] | \
                 debug crypto isakmp | debug crypto ipsec\n"
            ),
        }
    }
}
