//! The one scenario harness of ike-sm's integration tests: a gateway [`Endpoint`] and
//! clients of ours on a virtual clock with a seeded RNG, pumping datagrams, answering
//! Xauth and driving timeouts.
//!
//! By default [`Net::run`] delivers every datagram (5 ms each), answers Xauth with
//! [`Net::passwords_ok`] and runs timers at the endpoints' next deadlines
//! ([`Net::run_for`] also lets the clock reach the end of the span). Every delivered
//! datagram is kept in [`Net::wire`] (with its sender in [`Net::wire_side`]), every event
//! with the time it was seen ([`Net::gw_log`], [`Net::cli_log`]). Options:
//! * [`Net::drop`] loses chosen datagrams, [`Net::latency`] and [`Net::nat`] shape the path;
//! * [`Net::users`] answers Xauth per user, with an AAA-assigned address;
//!   [`Net::any_password`] accepts every password;
//!   [`Net::hold_verdicts`] keeps verdicts in [`Net::held`] until
//!   [`Net::release_verdicts`]; [`Net::answer_xauth`] `false` never answers;
//! * [`Net::after_gw_input`] looks at the gateway after each datagram, timer run and
//!   verdict it handled (a lease store's usage at every step);
//! * [`Net::flood`] runs a hook before each client datagram reaches the gateway (spoofed
//!   traffic in progress), [`Net::timer_step`] drives the gateway's timers on a fixed
//!   step and [`Net::keep_gw_event`] keeps the gateway's event log small under a flood.

use ike_sm::presets;
use ike_sm::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The gateway's address in every scenario.
pub const GW: &str = "192.168.1.1:500";
/// The seed's group key (`vpngroup vpn3000 password ********`) and PSK.
pub const SEED_PSK: &[u8] = b"cisco1234";
/// The seed's `ip local pool VPNpool`.
pub const SEED_POOL: (&str, &str) = ("10.89.129.200", "10.89.129.204");

/// The seed's PIX configuration with pool `first..=last`.
pub fn seed_gateway_config((first, last): (&str, &str)) -> (Config, modecfg::Pools) {
    presets::seed_gateway(SEED_PSK, first.parse().unwrap(), last.parse().unwrap()).unwrap()
}

/// VPN Client 4.x's first offers, the 3DES and DES ones (3DES/DES x XAUTH/PSK x SHA/MD5,
/// group 2): the first eight of [`presets::vpn_client_4x_offers`].
pub fn offers_4x_des() -> Vec<P1Offer> {
    let mut v = presets::vpn_client_4x_offers(ike_sm::crypto::dh::DhGroup::Modp1024);
    v.truncate(8);
    v
}

/// A client endpoint of ours (no gateway configuration).
pub fn client_endpoint() -> Endpoint {
    Endpoint::new(presets::client(), modecfg::Pools::new())
}

/// Decides whether the n-th datagram is lost.
pub type DropFn = Box<dyn FnMut(usize, &Transmit) -> bool>;

/// Runs before each client datagram reaches the gateway (a flood in progress): gets the
/// gateway, the time and the network's RNG; datagrams the gateway queued for one of the
/// clients meanwhile go to the vector (they are delivered next).
pub type FloodHook = Box<dyn FnMut(&mut Endpoint, Instant, &mut StdRng, &mut Vec<Transmit>)>;

/// user -> (password, RADIUS-style Framed-IP-Address).
pub type Users = BTreeMap<String, (&'static str, Option<Ipv4Addr>)>;

/// Who sent a datagram on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Gateway,
    Client,
}

/// Looks at the gateway after each of its inputs.
pub type GwHook = Box<dyn FnMut(&Endpoint)>;

/// A gateway and clients of ours on a virtual clock.
pub struct Net {
    /// The clock's start ([`Net::secs`] counts from it).
    pub start: Instant,
    pub now: Instant,
    pub rng: StdRng,
    pub gw: Endpoint,
    pub clients: Vec<(SocketAddr, Endpoint)>,
    /// Drops the n-th datagram (0-based, counted over both directions) when true.
    pub drop: DropFn,
    /// Datagrams sent, both directions (dropped ones included).
    pub sent: usize,
    /// Datagrams the clients sent (dropped ones included).
    pub cli_sent: usize,
    pub latency: Duration,
    pub gw_events: Vec<Event>,
    /// When each of [`Net::gw_events`] was seen.
    pub gw_event_at: Vec<Instant>,
    pub cli_events: Vec<(SocketAddr, Event)>,
    /// When each of [`Net::cli_events`] was seen.
    pub cli_event_at: Vec<Instant>,
    /// Every delivered datagram, in order.
    pub wire: Vec<Vec<u8>>,
    /// Who sent each of [`Net::wire`].
    pub wire_side: Vec<Side>,
    /// The one password Xauth accepts (when [`Net::users`] is `None`).
    pub passwords_ok: &'static str,
    /// Xauth accepts every password (when [`Net::users`] is `None`).
    pub any_password: bool,
    /// Per-user Xauth answers with an AAA address; overrides [`Net::passwords_ok`].
    pub users: Option<Users>,
    /// Xauth credentials get no verdict at all while false.
    pub answer_xauth: bool,
    /// Verdicts are held in [`Net::held`] (not given) while true.
    pub hold_verdicts: bool,
    pub held: Vec<(SaId, bool, Option<Ipv4Addr>)>,
    /// A NAT in front of the clients: (private IP, public IP, port offset added on the way out).
    pub nat: Option<(Ipv4Addr, Ipv4Addr, u16)>,
    /// See [`FloodHook`]. While set, the gateway's events are also collected (and Xauth
    /// answered) before each client datagram reaches it, and its datagrams to addresses
    /// that are not clients of ours are dropped (spoofed sources never answer).
    pub flood: Option<FloodHook>,
    /// Timers run every `step` (or at a client's deadline if sooner) instead of at the
    /// gateway's next deadline, and only while the limit has not passed.
    pub timer_step: Option<Duration>,
    /// Which gateway events are logged in [`Net::gw_events`].
    pub keep_gw_event: fn(&Event) -> bool,
    /// Runs after each datagram, timer run and verdict the gateway handled.
    pub after_gw_input: Option<GwHook>,
    /// Gateway datagrams queued by the flood hook for a client.
    pending: Vec<Transmit>,
}

impl Net {
    pub fn new(seed: u64, gw: Endpoint) -> Self {
        // The one real clock reading: the base of the virtual clock.
        #[allow(clippy::disallowed_methods)]
        let base = Instant::now();
        Net {
            start: base,
            now: base,
            rng: StdRng::seed_from_u64(seed),
            gw,
            clients: Vec::new(),
            drop: Box::new(|_, _| false),
            sent: 0,
            cli_sent: 0,
            latency: Duration::from_millis(5),
            gw_events: Vec::new(),
            gw_event_at: Vec::new(),
            cli_events: Vec::new(),
            cli_event_at: Vec::new(),
            wire: Vec::new(),
            wire_side: Vec::new(),
            passwords_ok: "cisco123",
            any_password: false,
            users: None,
            answer_xauth: true,
            hold_verdicts: false,
            held: Vec::new(),
            nat: None,
            flood: None,
            timer_step: None,
            keep_gw_event: |_| true,
            after_gw_input: None,
            pending: Vec::new(),
        }
    }

    /// The client endpoint at `addr`, made if new.
    pub fn client(&mut self, addr: &str) -> SocketAddr {
        let a: SocketAddr = addr.parse().unwrap();
        if !self.clients.iter().any(|(x, _)| *x == a) {
            self.clients.push((a, client_endpoint()));
        }
        a
    }

    /// A fresh client endpoint at `addr` (a restart: the old one and its SAs are gone).
    pub fn restart_client(&mut self, addr: &str) -> SocketAddr {
        let a: SocketAddr = addr.parse().unwrap();
        self.clients.retain(|(x, _)| *x != a);
        self.client(addr)
    }

    /// `ep` as the client at `addr` (replacing any client there).
    pub fn client_with(&mut self, addr: &str, ep: Endpoint) -> SocketAddr {
        let a: SocketAddr = addr.parse().unwrap();
        self.clients.retain(|(x, _)| *x != a);
        self.clients.push((a, ep));
        a
    }

    /// Whole seconds of virtual time since the start.
    pub fn secs(&self) -> u64 {
        (self.now - self.start).as_secs()
    }

    fn gw_input_done(&mut self) {
        if let Some(h) = self.after_gw_input.as_mut() {
            h(&self.gw);
        }
    }

    pub fn cli(&mut self, a: SocketAddr) -> &mut Endpoint {
        &mut self.clients.iter_mut().find(|(x, _)| *x == a).unwrap().1
    }

    /// The client at `c` starts phase 1 with the gateway now; the IKE SA it starts.
    pub fn initiate(&mut self, c: SocketAddr, profile: ClientProfile, rng: &mut StdRng) -> SaId {
        let now = self.now;
        self.cli(c)
            .initiate(now, c, GW.parse().unwrap(), profile, rng)
            .unwrap()
    }

    /// The gateway's verdict on `sa`, with an AAA address.
    pub fn verdict(&mut self, sa: SaId, ok: bool, addr: Option<Ipv4Addr>) {
        let now = self.now;
        let aaa = addr.map(|addr| modecfg::AaaAddress {
            addr,
            netmask: None,
        });
        self.gw
            .xauth_verdict_with_address(now, sa, ok, aaa, &mut self.rng)
            .unwrap();
        self.gw_input_done();
    }

    /// Gives the held verdicts and runs the network for 30 s.
    pub fn release_verdicts(&mut self) {
        self.hold_verdicts = false;
        for (sa, ok, addr) in std::mem::take(&mut self.held) {
            self.verdict(sa, ok, addr);
        }
        self.run(Duration::from_secs(30));
    }

    /// The client a gateway datagram to `to` reaches (through the NAT): its index and
    /// its own address for the datagram.
    fn route(&self, to: SocketAddr) -> Option<(usize, SocketAddr)> {
        let mut to = to;
        if let Some((private, public, off)) = self.nat {
            if to.ip() == IpAddr::V4(public) {
                to = SocketAddr::from((private, to.port() - off));
            }
        }
        let i = self.clients.iter().position(|(a, _)| a.ip() == to.ip())?;
        Some((i, to))
    }

    /// One gateway datagram on its way to the clients (lost, or delivered after the
    /// latency).
    fn gw_to_client(&mut self, t: &Transmit) {
        let n = self.sent;
        self.sent += 1;
        if (self.drop)(n, t) {
            return;
        }
        self.wire.push(t.bytes.clone());
        self.wire_side.push(Side::Gateway);
        self.now += self.latency;
        let now = self.now;
        if let Some((i, to)) = self.route(t.remote) {
            self.clients[i]
                .1
                .handle_datagram(now, to, t.local, &t.bytes, &mut self.rng);
        }
    }

    /// Collects the gateway's events and answers (or holds) Xauth; whether a verdict
    /// was given.
    fn gw_events_pump(&mut self) -> bool {
        let mut answered = false;
        while let Some(e) = self.gw.poll_event() {
            if let Event::XauthCredentials { sa, user, password } = &e {
                if self.answer_xauth {
                    let (ok, addr) = match &self.users {
                        Some(users) => match users.get(user) {
                            Some((pw, addr)) => (password.ct_eq(pw.as_bytes()), *addr),
                            None => (false, None),
                        },
                        None => (
                            self.any_password || password.ct_eq(self.passwords_ok.as_bytes()),
                            None,
                        ),
                    };
                    if self.hold_verdicts {
                        self.held.push((*sa, ok, addr));
                    } else {
                        self.verdict(*sa, ok, addr);
                        answered = true;
                    }
                }
            }
            if (self.keep_gw_event)(&e) {
                self.record_gw_event(e);
            }
        }
        answered
    }

    /// Delivers datagrams and runs timers until nothing is left or `limit` passes.
    pub fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            let mut moved = false;
            for t in std::mem::take(&mut self.pending) {
                self.gw_to_client(&t);
            }
            // gateway -> clients
            while let Some(t) = self.gw.poll_transmit() {
                moved = true;
                self.gw_to_client(&t);
            }
            for i in 0..self.clients.len() {
                while let Some(t) = self.clients[i].1.poll_transmit() {
                    moved = true;
                    let n = self.sent;
                    self.sent += 1;
                    self.cli_sent += 1;
                    if (self.drop)(n, &t) {
                        continue;
                    }
                    self.wire.push(t.bytes.clone());
                    self.wire_side.push(Side::Client);
                    self.now += self.latency;
                    let now = self.now;
                    if let Some(hook) = self.flood.as_mut() {
                        hook(&mut self.gw, now, &mut self.rng, &mut self.pending);
                        moved |= self.gw_events_pump();
                        // The flood's answers went out meanwhile (to nobody).
                        while let Some(a) = self.gw.poll_transmit() {
                            if self.route(a.remote).is_some() {
                                self.pending.push(a);
                            }
                        }
                        moved |= !self.pending.is_empty();
                    }
                    let mut from = t.local;
                    if let Some((private, public, off)) = self.nat {
                        if from.ip() == IpAddr::V4(private) {
                            from = SocketAddr::from((public, from.port() + off));
                        }
                    }
                    self.gw
                        .handle_datagram(now, t.remote, from, &t.bytes, &mut self.rng);
                    self.gw_input_done();
                }
                while let Some(e) = self.clients[i].1.poll_event() {
                    self.record_cli_event(self.clients[i].0, e);
                }
            }
            moved |= self.gw_events_pump();
            if moved {
                continue;
            }
            let next = match self.timer_step {
                None => [self.gw.poll_timeout()]
                    .into_iter()
                    .chain(self.clients.iter().map(|(_, c)| c.poll_timeout()))
                    .flatten()
                    .min(),
                // `poll_timeout` checks the gateway's index against a pass over every SA
                // in debug builds, which thousands of half-open SAs make slow (a
                // test-only cost): its timers are driven on the step instead.
                Some(step) => {
                    let step = self.now + step;
                    let next = self
                        .clients
                        .iter()
                        .filter_map(|(_, c)| c.poll_timeout())
                        .fold(step, Instant::min);
                    Some(next).filter(|_| self.now < end)
                }
            };
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    let now = self.now;
                    self.gw.handle_timeout(now, &mut self.rng);
                    self.gw_input_done();
                    for (_, c) in &mut self.clients {
                        c.handle_timeout(now, &mut self.rng);
                    }
                    if self.timer_step.is_some() {
                        // Spoofed sources never answer.
                        while let Some(a) = self.gw.poll_transmit() {
                            if self.route(a.remote).is_some() {
                                self.gw_to_client(&a);
                            }
                        }
                    }
                }
                _ => break,
            }
        }
    }

    /// Keeps a gateway event (seen now).
    pub fn record_gw_event(&mut self, e: Event) {
        self.gw_events.push(e);
        self.gw_event_at.push(self.now);
    }

    /// Keeps an event of the client at `a` (seen now).
    pub fn record_cli_event(&mut self, a: SocketAddr, e: Event) {
        self.cli_events.push((a, e));
        self.cli_event_at.push(self.now);
    }

    /// Forgets the events kept so far.
    pub fn clear_events(&mut self) {
        self.gw_events.clear();
        self.gw_event_at.clear();
        self.cli_events.clear();
        self.cli_event_at.clear();
    }

    /// [`Net::run`], then the clock moves on to the end of `limit` if nothing was due.
    pub fn run_for(&mut self, limit: Duration) {
        let end = self.now + limit;
        self.run(limit);
        self.now = self.now.max(end);
    }

    /// The gateway's events with the second (since the start) each was seen at.
    pub fn gw_log(&self) -> Vec<(u64, &Event)> {
        let secs = |t: &Instant| (*t - self.start).as_secs();
        self.gw_event_at
            .iter()
            .map(secs)
            .zip(&self.gw_events)
            .collect()
    }

    /// The clients' events likewise.
    pub fn cli_log(&self) -> Vec<(u64, &Event)> {
        let secs = |t: &Instant| (*t - self.start).as_secs();
        self.cli_event_at
            .iter()
            .map(secs)
            .zip(self.cli_events.iter().map(|(_, e)| e))
            .collect()
    }

    /// The delivered datagrams `side` sent, in order.
    pub fn sent_by(&self, side: Side) -> impl Iterator<Item = &[u8]> {
        self.wire
            .iter()
            .zip(&self.wire_side)
            .filter(move |(_, s)| **s == side)
            .map(|(w, _)| w.as_slice())
    }

    /// The gateway's `debug crypto isakmp` lines.
    pub fn gw_debug(&self) -> Vec<String> {
        self.gw_events
            .iter()
            .filter_map(|e| match e {
                Event::Debug(d) => Some(d.pix_lines()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// The gateway's first established IKE SA.
    pub fn gw_first_sa(&self) -> SaId {
        self.gw_events
            .iter()
            .find_map(|e| match e {
                Event::Phase1Established { sa, .. } => Some(*sa),
                _ => None,
            })
            .expect("gateway phase 1 established")
    }

    /// The gateway's IKE SA of the last phase 1 established with `peer`.
    pub fn gw_sa_of(&self, peer: SocketAddr) -> SaId {
        self.gw_events
            .iter()
            .rev()
            .find_map(|e| match e {
                Event::Phase1Established { sa, remote, .. } if *remote == peer => Some(*sa),
                _ => None,
            })
            .expect("gateway phase 1 with the peer")
    }

    /// The first IKE SA the client at `addr` established.
    pub fn client_sa(&self, addr: SocketAddr) -> SaId {
        self.cli_events
            .iter()
            .find_map(|(a, e)| match e {
                Event::Phase1Established { sa, .. } if *a == addr => Some(*sa),
                _ => None,
            })
            .expect("client phase 1 established")
    }

    /// The addresses the gateway assigned, in order.
    pub fn gw_assigned(&self) -> Vec<Ipv4Addr> {
        self.gw_events
            .iter()
            .filter_map(|e| match e {
                Event::AddressAssigned { addr, .. } => Some(*addr),
                _ => None,
            })
            .collect()
    }

    pub fn gw_deleted(&self) -> Vec<SaId> {
        self.gw_events
            .iter()
            .filter_map(|e| match e {
                Event::Deleted { sa, .. } => Some(*sa),
                _ => None,
            })
            .collect()
    }

    pub fn gw_children(&self) -> Vec<&ChildSa> {
        self.gw_events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSa(c) => Some(&**c),
                _ => None,
            })
            .collect()
    }

    pub fn cli_children(&self) -> Vec<&ChildSa> {
        self.cli_events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildSa(c) => Some(&**c),
                _ => None,
            })
            .collect()
    }
}
