//! The Sans-IO IKEv1 [`Endpoint`]: one per gateway (or client), many IKE SAs keyed by
//! cookies, fed datagrams and timeouts, drained of transmits, events and deadlines.

mod admission;
mod dialogue;
mod fragment;
mod info;
mod msg;
mod natt;
mod phase;
mod phase1;
pub(crate) mod policy;
mod quick;
mod rekey;
mod sa;
mod transaction;

pub use sa::{P1State, Role};

use crate::config::{ClientProfile, Config, QuickModeRequest};
use crate::crypto::hash::Digest;
use crate::crypto::hash::HashAlg;
use crate::event::{DebugEvent, Event, FailReason, SaId};
use crate::outcome::{DropReason, Outcome};
use crate::SmError;
use core::net::{IpAddr, SocketAddr};
use core::ops::ControlFlow;
use isakmp_wire::{ExchangeType, Message};
use pix_primitives::retransmit::{Action, Retransmit};
use rand_core::CryptoRng;
use sa::{IkeSa, Retx, Timer};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// A datagram to send. Addresses are the IKE ones (UDP 500, or 4500 after a NAT-T float);
/// on port 4500 the caller prefixes the 4-byte non-ESP marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Our address.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// The ISAKMP message.
    pub bytes: Vec<u8>,
}

/// A Sans-IO IKEv1 endpoint.
///
/// # Driving it
/// Feed it datagrams ([`Endpoint::handle_datagram`]), timeouts
/// ([`Endpoint::handle_timeout`] once [`Endpoint::poll_timeout`] passes) and commands
/// ([`Endpoint::initiate`], [`Endpoint::xauth_verdict`], ...); after each, drain
/// [`Endpoint::poll_transmit`] and [`Endpoint::poll_event`].
///
/// # Back-pressure
/// Nothing the endpoint queues is ever discarded, except debug events: every transmit
/// and every [`Event`] other than [`Event::Debug`] (`ChildSa`, `Deleted`, ...) reaches
/// the driver. The queues are bounded by refusing new work instead: while either queue
/// holds [`Endpoint::QUEUE_BOUND`] items, [`Endpoint::handle_datagram`] refuses every
/// datagram before parsing it, with [`DropReason::Backpressure`] (counted as
/// [`crate::Refusal::Backpressure`]); the peer's retransmission brings it again once the
/// driver drained. Timers and commands still run, so a queue can pass its bound by what
/// they produce (a few items per IKE SA). Debug events past the bound are shed and
/// counted ([`crate::Refusal::DebugShed`]). A driver that drains after every datagram
/// (or every batch of fewer than `QUEUE_BOUND` / 8 datagrams) never sees back-pressure.
pub struct Endpoint {
    pub(crate) config: Config,
    /// Where Mode Config leases addresses from: the endpoint's own pools, or a store
    /// shared with other endpoints ([`Endpoint::with_lease_store`]).
    pub(crate) pools: Leases,
    /// Which shard's cookies and inbound SPIs this endpoint chooses ([`Endpoint::set_shard`]).
    pub(crate) shard: crate::Shard,
    /// The inbound SPIs of every child SA of every IKE SA (kept by [`Endpoint::event`]
    /// from the `ChildSa` and `ChildDeleted` events, which every path that makes or ends
    /// a child SA reports), so that a fresh SPI is never one in use.
    pub(crate) spis_in: BTreeSet<u32>,
    /// Boxed: an SA is taken out of the map while a datagram is processed, and moving a
    /// pointer is cheaper than moving the whole state.
    pub(crate) sas: BTreeMap<SaId, Box<IkeSa>>,
    pub(crate) by_cookies: BTreeMap<[u8; 16], SaId>,
    /// The responder's half-open SAs with their admission state: source-prefix counts
    /// for eviction, recently completed peers, the per-source rate buckets, the key pairs
    /// reused under pressure (`admission.rs`).
    pub(crate) half_open: admission::Admission,
    /// Every SA's next deadline ([`IkeSa::next_deadline`]), kept current whenever an SA is
    /// filed back: [`Endpoint::poll_timeout`] reads the first entry and
    /// [`Endpoint::handle_timeout`] visits only the SAs that are due, instead of a pass
    /// over every SA (a gateway asks for the next deadline after every datagram).
    pub(crate) timers: BTreeSet<(Instant, SaId)>,
    /// Every SA under its peer's address, kept current with [`Endpoint::timers`]:
    /// INITIAL-CONTACT and the hand-over of a dying SA's children look up the SAs of one
    /// peer here instead of passing over every SA (once per login and per logout of every
    /// user, which on a gateway with thousands of users was the largest per-handshake
    /// cost that grew with the number of users).
    pub(crate) peers: BTreeSet<(IpAddr, SaId)>,
    pub(crate) next_id: u64,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) pending_dpd_ack: Option<(SaId, u32)>,
    /// Phase-1 rekeys in progress: new SA -> the SA it replaces.
    pub(crate) rekeys: BTreeMap<SaId, SaId>,
    /// Finished rekeys: old SA -> the SA that replaced it (bounded).
    pub(crate) replaced: BTreeMap<SaId, SaId>,
    /// The gateway's Xauth and Mode Config server configurations, shared by every IKE
    /// SA's dialogue (the configuration never changes after [`Endpoint::new`]).
    pub(crate) shared: Option<SharedServerConfig>,
    /// Drops and refusals by reason ([`Endpoint::counters`]).
    pub(crate) counters: crate::counters::Counters,
    /// The refusal of the datagram being processed, already counted where it was decided
    /// (see [`crate::Refusal::refuses_message`]): it becomes the datagram's [`Outcome`].
    pub(crate) refused_now: Option<crate::counters::Refusal>,
}

/// Where an endpoint leases Mode Config addresses from.
#[derive(Debug)]
pub(crate) enum Leases {
    /// Its own pools ([`Endpoint::new`]).
    Own(modecfg::Pools),
    /// A store shared with other endpoints ([`Endpoint::with_lease_store`]).
    Store(Box<dyn modecfg::LeaseStore>),
}

/// What [`Endpoint::pools`] shows for an endpoint that owns no pools.
static NO_POOLS: modecfg::Pools = modecfg::Pools::new();

impl Leases {
    fn get(&self) -> &dyn modecfg::LeaseStore {
        match self {
            Leases::Own(p) => p,
            Leases::Store(s) => s.as_ref(),
        }
    }

    fn get_mut(&mut self) -> &mut dyn modecfg::LeaseStore {
        match self {
            Leases::Own(p) => p,
            Leases::Store(s) => s.as_mut(),
        }
    }

    /// Gives a lease back.
    pub(crate) fn release(&mut self, lease: modecfg::Lease) -> Result<(), modecfg::ModeCfgError> {
        self.get_mut().release(lease)
    }

    /// The first address of `first..=last` that Mode Config hands out.
    pub(crate) fn overlaps(
        &self,
        first: core::net::Ipv4Addr,
        last: core::net::Ipv4Addr,
    ) -> Option<core::net::Ipv4Addr> {
        self.get().overlaps(first, last)
    }
}

/// So that `modecfg::Assign { pools: &mut endpoint.pools, .. }` reads as before.
impl modecfg::LeaseStore for Leases {
    fn allocate(
        &mut self,
        pools: &[String],
        user: &str,
    ) -> Result<modecfg::Lease, modecfg::ModeCfgError> {
        self.get_mut().allocate(pools, user)
    }

    fn assign_aaa(
        &mut self,
        aaa: modecfg::AaaAddress,
        user: &str,
    ) -> Result<modecfg::Lease, modecfg::ModeCfgError> {
        self.get_mut().assign_aaa(aaa, user)
    }

    fn acquire(
        &mut self,
        user: &str,
        aaa: Option<modecfg::AaaAddress>,
        pools: &[String],
    ) -> Result<modecfg::Lease, modecfg::ModeCfgError> {
        self.get_mut().acquire(user, aaa, pools)
    }

    fn release(&mut self, lease: modecfg::Lease) -> Result<(), modecfg::ModeCfgError> {
        self.get_mut().release(lease)
    }

    fn overlaps(
        &self,
        first: core::net::Ipv4Addr,
        last: core::net::Ipv4Addr,
    ) -> Option<core::net::Ipv4Addr> {
        self.get().overlaps(first, last)
    }

    fn is_in_use(&self, addr: core::net::Ipv4Addr) -> bool {
        self.get().is_in_use(addr)
    }

    fn total_in_use(&self) -> usize {
        self.get().total_in_use()
    }

    fn with_pools(&self, f: &mut dyn FnMut(&modecfg::Pools)) {
        self.get().with_pools(f);
    }
}

/// See [`Endpoint::shared`].
#[derive(Debug)]
pub(crate) struct SharedServerConfig {
    pub(crate) xauth: std::sync::Arc<xauth::ServerConfig>,
    pub(crate) modecfg: std::sync::Arc<modecfg::ServerConfig>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sas", &self.sas.len())
            .field("transmits", &self.transmits.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// The bound on queued transmits and on queued events at which
    /// [`Endpoint::handle_datagram`] refuses new datagrams (back-pressure, see
    /// [`Endpoint`]) and debug events are shed.
    pub const QUEUE_BOUND: usize = 4096;

    /// An endpoint with its configuration and the address pools Mode Config leases from.
    #[must_use]
    pub fn new(config: Config, pools: modecfg::Pools) -> Self {
        Self::with_leases(config, Leases::Own(pools))
    }

    /// An endpoint that leases Mode Config addresses from `store`: a handle to pools
    /// shared with other endpoints (one per worker thread of a gateway), so that an
    /// address is never handed to two sessions whichever endpoint serves them. The store
    /// is asked once per lease decision (an address handed out or given back, a Quick
    /// Mode selector checked against the pools), never per packet.
    #[must_use]
    pub fn with_lease_store(config: Config, store: Box<dyn modecfg::LeaseStore>) -> Self {
        Self::with_leases(config, Leases::Store(store))
    }

    fn with_leases(mut config: Config, pools: Leases) -> Self {
        // One retransmission schedule: a Mode Config SET is resent as every other
        // message the endpoint starts.
        let backoff = config.limits.retransmit_backoff();
        if let Some(gw) = config.gateway.as_mut() {
            gw.modecfg.retransmit = backoff;
        }
        let shared = config.gateway.as_ref().map(|gw| SharedServerConfig {
            xauth: std::sync::Arc::new(gw.xauth.clone()),
            modecfg: std::sync::Arc::new(gw.modecfg.clone()),
        });
        Self {
            shared,
            config,
            pools,
            shard: crate::Shard::SOLE,
            spis_in: BTreeSet::new(),
            sas: BTreeMap::new(),
            by_cookies: BTreeMap::new(),
            half_open: admission::Admission::default(),
            timers: BTreeSet::new(),
            peers: BTreeSet::new(),
            next_id: 1,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            pending_dpd_ack: None,
            rekeys: BTreeMap::new(),
            replaced: BTreeMap::new(),
            counters: crate::counters::Counters::default(),
            refused_now: None,
        }
    }

    /// The sizes in bytes of the structures an IKE SA is made of, by name (the heap
    /// accounting test of issue 20 prints them beside its allocator figures).
    #[doc(hidden)]
    #[must_use]
    pub fn layout() -> Vec<(&'static str, usize)> {
        use core::mem::size_of;
        vec![
            ("IkeSa", size_of::<IkeSa>()),
            ("QuickMode", size_of::<quick::QuickMode>()),
            ("Skeyids", size_of::<crate::crypto::phase1::Skeyids>()),
            ("IkeCipher", size_of::<crate::crypto::cipher::IkeCipher>()),
            ("IvChain", size_of::<crate::crypto::iv::IvChain>()),
            ("XauthServer", size_of::<xauth::XauthServer>()),
            ("PullServer", size_of::<modecfg::PullServer>()),
            ("PushServer", size_of::<modecfg::PushServer>()),
        ]
    }

    /// Drops and refusals since the endpoint was made, by reason: visible without debug
    /// (a flood of spoofed first messages, malformed datagrams, rate limits, evictions).
    #[must_use]
    pub fn counters(&self) -> &crate::counters::Counters {
        &self.counters
    }

    /// Phase-1 Diffie-Hellman modular exponentiations the responder did since the endpoint
    /// was made (key pairs made, shared secrets agreed): what a flood of first messages
    /// costs in CPU. Under pressure it grows by one per group and
    /// [`crate::Limits::dh_reuse_window`], not per first message.
    #[must_use]
    pub fn phase1_modexps(&self) -> u64 {
        self.half_open.modexps
    }

    /// Phase-1 Diffie-Hellman modular exponentiations this endpoint did as an initiator
    /// since it was made (key pairs made, shared secrets agreed): two per phase 1 by
    /// default, fewer with the load-testing knobs [`crate::Limits::initiator_dh_reuse`]
    /// and [`crate::Limits::initiator_dh_agreement_cache`].
    #[must_use]
    pub fn initiator_phase1_modexps(&self) -> u64 {
        self.half_open.initiator_modexps
    }

    /// Half-open responder SAs (phase 1 not finished), at most
    /// [`crate::Limits::max_half_open`].
    #[must_use]
    pub fn half_open_count(&self) -> usize {
        self.half_open.len()
    }

    /// The limits in force (`max_half_open`, `pressure_half_open`, ...).
    #[must_use]
    pub fn limits(&self) -> &crate::Limits {
        &self.config.limits
    }

    /// Whether admission is under pressure now: at least
    /// [`crate::Limits::pressure_half_open`] half-open SAs (shorter half-open wait, DH key
    /// pairs reused).
    #[must_use]
    pub fn under_pressure(&self) -> bool {
        self.half_open.len() >= self.config.limits.pressure_half_open
    }

    /// Counts one drop or refusal; one that refuses the message being processed becomes
    /// its [`Outcome`].
    pub(crate) fn refuse(&mut self, r: crate::counters::Refusal) {
        self.counters.bump(r);
        if r.refuses_message() {
            self.refused_now = Some(r);
        }
    }

    /// A follow-up action the endpoint took on its own failed (a DPD, a rekey, a DELETE,
    /// a held Quick Mode): counted, and a debug event says what.
    pub(crate) fn follow_up_failed(&mut self, e: &SmError) {
        self.counters.bump(crate::counters::Refusal::FollowUpFailed);
        self.debug(DebugEvent::Dropped(error_word(e)));
    }

    /// The address pools of an endpoint made with [`Endpoint::new`] (for `show ip local
    /// pool`). An endpoint made with [`Endpoint::with_lease_store`] owns no pools and gets
    /// an empty set here: read its store with [`Endpoint::with_pools`] (which works for
    /// both), or the shared pools where they are kept.
    #[must_use]
    pub fn pools(&self) -> &modecfg::Pools {
        match &self.pools {
            Leases::Own(p) => p,
            Leases::Store(_) => &NO_POOLS,
        }
    }

    /// Calls `f` with the pools Mode Config leases from as they are now: the endpoint's
    /// own, or those of its shared store (which holds its lock while `f` runs).
    pub fn with_pools(&self, f: &mut dyn FnMut(&modecfg::Pools)) {
        self.pools.get().with_pools(f);
    }

    /// Where Mode Config leases addresses from (usage: `total_in_use`, `is_in_use`).
    #[must_use]
    pub fn lease_store(&self) -> &dyn modecfg::LeaseStore {
        self.pools.get()
    }

    /// Puts the endpoint on `shard`: from now on every cookie it chooses (the responder
    /// cookie of the SAs it answers, the initiator cookie of those it starts) and every
    /// inbound SPI has the shard's first byte ([`crate::Shard`]), so that a dispatcher
    /// in front of several endpoints routes each datagram and ESP packet to its owner by
    /// [`crate::Shard::of_cookie`] and [`crate::Shard::of_spi`]. Set it before the first
    /// datagram: SAs made before keep the cookies and SPIs they have. The default is
    /// [`crate::Shard::SOLE`], which draws exactly as an endpoint without shards.
    pub fn set_shard(&mut self, shard: crate::Shard) {
        self.shard = shard;
    }

    /// The shard this endpoint chooses cookies and inbound SPIs for.
    #[must_use]
    pub fn shard(&self) -> crate::Shard {
        self.shard
    }

    /// How many IKE SAs exist.
    #[must_use]
    pub fn sa_count(&self) -> usize {
        self.sas.len()
    }

    /// Phase-1 state of an SA.
    #[must_use]
    pub fn sa_state(&self, sa: SaId) -> Option<P1State> {
        self.sas.get(&sa).map(|s| s.state())
    }

    /// The Mode Config address of an SA (leased by a gateway, received by a client).
    #[must_use]
    pub fn assigned_address(&self, sa: SaId) -> Option<core::net::Ipv4Addr> {
        self.sas.get(&sa).and_then(|s| s.assigned)
    }

    /// Key-log material of an established SA, for Wireshark's `ikev1_decryption_table`:
    /// the initiator cookie and the phase-1 encryption key (RFC 2409 Appendix B expanded
    /// where needed). A secret: for a driver whose operator asked for a key log
    /// (`pix-gateway run --keylog`), never for a log line.
    #[must_use]
    pub fn phase1_keylog(&self, sa: SaId) -> Option<([u8; 8], pix_primitives::Secret)> {
        let s = self.sas.get(&sa)?;
        let phase::Phase::Established(e) = &s.phase else {
            return None;
        };
        Some((s.cky_i, e.keys.encryption_key(e.cipher.alg())))
    }

    /// Whether Xauth and Mode Config are done (Quick Mode may run).
    #[must_use]
    pub fn ready_for_quick_mode(&self, sa: SaId) -> bool {
        self.sas
            .get(&sa)
            .is_some_and(|s| s.established() && s.xauth_done && s.cfg_done)
    }

    /// Puts a datagram back at the head of the transmit queue (tests that reorder).
    #[doc(hidden)]
    pub fn transmits_for_test(&mut self, t: Transmit) {
        self.transmits.push_front(t);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The earliest deadline; call [`Endpoint::handle_timeout`] when it passes.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = self.timers.first().map(|(t, _)| *t);
        // Every test run (debug builds) checks the index against a pass over every SA.
        debug_assert_eq!(
            first,
            self.sas.values().filter_map(|s| s.next_deadline()).min(),
            "timer index out of date"
        );
        debug_assert_eq!(
            self.timers.len(),
            self.sas
                .values()
                .filter(|s| s.next_deadline().is_some())
                .count(),
            "timer index out of date"
        );
        debug_assert!(
            self.peers.len() == self.sas.len()
                && self
                    .sas
                    .values()
                    .all(|s| self.peers.contains(&(s.remote.ip(), s.id))),
            "peer index out of date"
        );
        first
    }

    /// The gateway's Xauth server configuration, shared (no copy per IKE SA).
    pub(crate) fn shared_xauth(
        &self,
        gw: &crate::config::GatewayConfig,
    ) -> std::sync::Arc<xauth::ServerConfig> {
        match &self.shared {
            Some(s) => std::sync::Arc::clone(&s.xauth),
            None => std::sync::Arc::new(gw.xauth.clone()),
        }
    }

    /// The gateway's Mode Config server configuration, shared (no copy per IKE SA).
    pub(crate) fn shared_modecfg(
        &self,
        gw: &crate::config::GatewayConfig,
    ) -> std::sync::Arc<modecfg::ServerConfig> {
        match &self.shared {
            Some(s) => std::sync::Arc::clone(&s.modecfg),
            None => std::sync::Arc::new(gw.modecfg.clone()),
        }
    }

    pub(crate) fn debug(&mut self, d: DebugEvent) {
        if self.config.limits.debug_events {
            self.event(Event::Debug(d));
        }
    }

    /// Whether debug events are wanted ([`crate::Limits::debug_events`]): lets callers
    /// skip building the ones that cost something (formatted lines, lists).
    pub(crate) fn debugging(&self) -> bool {
        self.config.limits.debug_events
    }

    /// Turns [`Event::Debug`] on or off at run time, as the PIX's `debug crypto isakmp`
    /// and `no debug` do: a driver with nobody reading the debug output turns it off, and
    /// no debug event is built (see [`crate::Limits::debug_events`]).
    pub fn set_debug_events(&mut self, on: bool) {
        self.config.limits.debug_events = on;
    }

    /// Whether [`Event::Debug`] events are produced.
    #[must_use]
    pub fn debug_events(&self) -> bool {
        self.config.limits.debug_events
    }

    /// Queues an event. Never discards one but a debug event past
    /// [`Endpoint::QUEUE_BOUND`] (counted): the queue is bounded by back-pressure (see
    /// [`Endpoint`]).
    pub(crate) fn event(&mut self, e: Event) {
        match &e {
            Event::ChildSa(c) => {
                self.spis_in.insert(c.spi_in);
            }
            Event::ChildDeleted { spi_in, .. } => {
                self.spis_in.remove(spi_in);
            }
            Event::Debug(_) if self.events.len() >= Self::QUEUE_BOUND => {
                self.counters.bump(crate::counters::Refusal::DebugShed);
                return;
            }
            _ => {}
        }
        self.events.push_back(e);
    }

    /// Queues a datagram to the SA's peer. Never discards one: the queue is bounded by
    /// back-pressure (see [`Endpoint`]).
    pub(crate) fn send(&mut self, sa: &IkeSa, bytes: Vec<u8>) {
        self.transmits.push_back(Transmit {
            local: sa.local,
            remote: sa.remote,
            bytes,
        });
    }

    /// Whether a queue is at its bound: new datagrams are refused
    /// ([`DropReason::Backpressure`]).
    fn backpressure(&self) -> Option<DropReason> {
        let (transmits, events) = (self.transmits.len(), self.events.len());
        (transmits >= Self::QUEUE_BOUND || events >= Self::QUEUE_BOUND)
            .then_some(DropReason::Backpressure { transmits, events })
    }

    /// Sends `bytes` and remembers them as the answer to the datagram `incoming`.
    /// The digest of `incoming` is the one [`Endpoint::datagram`] already took when
    /// `incoming` is the very datagram being processed (same buffer, same length: hashed
    /// once, not twice); anything else (a held Quick Mode replayed later) is hashed here.
    pub(crate) fn reply(&mut self, sa: &mut IkeSa, incoming: &[u8], bytes: Vec<u8>) {
        let digest = match sa.cur_in.take() {
            Some(d) if sa.cur_in_at == (incoming.as_ptr().addr(), incoming.len()) => {
                sa.cur_in = Some(d.clone());
                d
            }
            other => {
                sa.cur_in = other;
                HashAlg::Sha1.digest(&[incoming])
            }
        };
        self.store_reply(sa, digest, bytes.clone());
        self.send(sa, bytes);
    }

    /// Remembers `bytes` as the answer to the datagram whose digest is `digest`.
    pub(crate) fn store_reply(&mut self, sa: &mut IkeSa, digest: Digest, bytes: Vec<u8>) {
        while sa.replies.len() >= self.config.limits.stored_replies.max(1) {
            sa.replies.pop_front();
        }
        sa.replies.push_back((digest, bytes));
    }

    /// Sends `bytes` and resends them on the PIX schedule until `msgid` gets an answer.
    pub(crate) fn send_awaiting(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        msgid: u32,
        incoming: Option<&[u8]>,
        bytes: Vec<u8>,
    ) {
        let backoff = self.config.limits.retransmit_backoff();
        sa.timers.retx.insert(
            msgid,
            Retx {
                bytes: bytes.clone(),
                timer: Retransmit::started(backoff, now),
            },
        );
        match incoming {
            Some(i) => self.reply(sa, i, bytes),
            None => self.send(sa, bytes),
        }
    }

    fn next_sa_id(&mut self) -> SaId {
        let id = SaId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        id
    }

    pub(crate) fn insert_sa(&mut self, mut sa: IkeSa) {
        self.by_cookies.insert(sa.cookies(), sa.id);
        self.file_timer(&mut sa);
        self.sas.insert(sa.id, Box::new(sa));
    }

    /// Files `sa` in [`Endpoint::timers`] under its current next deadline, and in
    /// [`Endpoint::peers`] under its peer's current address (each a no-op when that did
    /// not change). Every path that puts an SA back into `sas` calls it.
    pub(crate) fn file_timer(&mut self, sa: &mut IkeSa) {
        sa.release_empty();
        let peer = sa.remote.ip();
        if sa.filed_peer != Some(peer) {
            if let Some(old) = sa.filed_peer.take() {
                self.peers.remove(&(old, sa.id));
            }
            self.peers.insert((peer, sa.id));
            sa.filed_peer = Some(peer);
        }
        let due = sa.next_deadline();
        if due != sa.filed_deadline {
            if let Some(old) = sa.filed_deadline.take() {
                self.timers.remove(&(old, sa.id));
            }
            if let Some(new) = due {
                self.timers.insert((new, sa.id));
            }
            sa.filed_deadline = due;
        }
    }

    /// The SAs filed under peer address `ip` (from [`Endpoint::peers`]; the SA being
    /// processed, which is out of `sas` meanwhile, is not among them).
    pub(crate) fn sas_of_peer(&self, ip: IpAddr) -> impl Iterator<Item = &IkeSa> + '_ {
        self.peers
            .range((ip, SaId(0))..=(ip, SaId(u64::MAX)))
            .filter_map(|(_, id)| self.sas.get(id).map(|b| &**b))
    }

    /// Re-files the timers of an SA changed in place in `sas`.
    pub(crate) fn refile_timer(&mut self, id: SaId) {
        if let Some(mut sa) = self.sas.remove(&id) {
            self.file_timer(&mut sa);
            self.sas.insert(id, sa);
        }
    }

    /// Feeds one UDP datagram (the ISAKMP message, without a non-ESP marker) and says
    /// what became of it. Every [`Outcome::Dropped`] is also counted in
    /// [`Endpoint::counters`] (debug events on or off), so a driver may ignore the
    /// outcome. While a queue is at [`Endpoint::QUEUE_BOUND`] the datagram is refused
    /// unparsed ([`DropReason::Backpressure`]).
    pub fn handle_datagram<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        rng: &mut R,
    ) -> Outcome {
        if let Some(why) = self.backpressure() {
            self.counters.bump(why.refusal());
            return Outcome::Dropped(why);
        }
        self.datagram(now, local, remote, bytes, rng, false)
    }

    /// Counts `why` unless it was counted where it was decided, and makes it the outcome.
    fn drop_datagram(&mut self, why: DropReason) -> Outcome {
        let r = why.refusal();
        if self.refused_now.take() != Some(r) {
            self.counters.bump(r);
        }
        Outcome::Dropped(why)
    }

    fn datagram<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        rng: &mut R,
        reassembled: bool,
    ) -> Outcome {
        self.refused_now = None;
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.debug(DebugEvent::Dropped("malformed ISAKMP message"));
                return self.drop_datagram(DropReason::Malformed(e));
            }
        };
        let h = msg.header;
        self.debug(DebugEvent::ProcessBlock {
            src: remote,
            dst: local,
            exchange: h.exchange_type.into(),
        });
        let Some(id) = self.sa_of(&h, remote) else {
            return self.no_sa(now, local, remote, bytes, &msg, rng);
        };
        let Some(mut sa) = self.sas.remove(&id) else {
            // The cookie index names an SA that is not there (cannot happen: the index is
            // kept with the map): as unknown cookies.
            return self.drop_datagram(DropReason::UnknownCookies {
                exchange: h.exchange_type.into(),
                message_id: h.message_id,
            });
        };
        if h.next_payload == isakmp_wire::PayloadType::CiscoFragmentation && !h.flags.encrypted() {
            // Reassembled: the whole message goes through here again.
            let full = (!reassembled)
                .then(|| self.fragment(&mut sa, &msg))
                .flatten();
            self.file_timer(&mut sa);
            self.sas.insert(id, sa);
            if let Some(full) = full {
                return self.datagram(now, local, remote, &full, rng, true);
            }
            return match self.refused_now {
                Some(r) => self.drop_datagram(sa_drop(id, &h, r, None)),
                None => Outcome::Handled,
            };
        }
        // A byte-identical retransmission gets the stored reply, never a second computation.
        let digest = HashAlg::Sha1.digest(&[bytes]);
        if let Some((_, reply)) = sa.replies.iter().find(|(d, _)| *d == digest) {
            let reply = reply.clone();
            self.debug(DebugEvent::Retransmission {
                message_id: h.message_id,
            });
            self.send(&sa, reply);
            self.put_back_unchanged(sa);
            return Outcome::Handled;
        }
        sa.cur_in = Some(digest);
        sa.cur_in_at = (bytes.as_ptr().addr(), bytes.len());
        if sa.cky_r == [0; 8] && h.responder_cookie != [0; 8] {
            // Our first message was answered: learn the responder cookie.
            self.by_cookies.remove(&sa.cookies());
            sa.cky_r = h.responder_cookie;
            self.by_cookies.insert(sa.cookies(), sa.id);
        }
        // NAT-T: the peer moved to UDP 4500 (or its NAT mapping changed). Answer at the new
        // address, and go back if the message does not authenticate.
        let old_addrs = (sa.local, sa.remote);
        if sa.natt.is_some() && local.port() == 4500 && (sa.local, sa.remote) != (local, remote) {
            sa.local = local;
            sa.remote = remote;
        }
        let (r, unexpected) = self.dispatch(&mut sa, now, bytes, &msg, rng);
        sa.cur_in = None;
        self.after_message(&mut sa, r.is_ok(), old_addrs, now, rng);
        let outcome = self.message_outcome(&mut sa, r, unexpected, &h, now);
        self.put_back(sa, now);
        self.finish_rekeys(now, rng);
        outcome
    }

    /// What became of a message of `sa`: handled (the SA was active), or dropped for
    /// the refusal counted where it was decided, or for the error.
    fn message_outcome(
        &mut self,
        sa: &mut IkeSa,
        r: Result<(), SmError>,
        unexpected: bool,
        h: &isakmp_wire::Header,
        now: Instant,
    ) -> Outcome {
        match r {
            Err(e) => {
                self.debug(DebugEvent::Dropped(error_word(&e)));
                let refusal = match self.refused_now {
                    Some(r) => r,
                    None if unexpected => crate::counters::Refusal::UnexpectedExchange,
                    None => crate::outcome::refusal_of(&e),
                };
                self.drop_datagram(sa_drop(sa.id, h, refusal, Some(e)))
            }
            Ok(()) => {
                sa.last_activity = now;
                match self.refused_now {
                    Some(r) => self.drop_datagram(sa_drop(sa.id, h, r, None)),
                    None => Outcome::Handled,
                }
            }
        }
    }

    /// After a message of `sa` was handled (`ok`) or dropped: a NAT-T float is kept
    /// only when the message authenticated, and a DPD R-U-THERE it carried is answered.
    fn after_message<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        ok: bool,
        old_addrs: (SocketAddr, SocketAddr),
        now: Instant,
        rng: &mut R,
    ) {
        if !ok {
            (sa.local, sa.remote) = old_addrs;
        } else if (sa.local, sa.remote) != old_addrs && !sa.floated {
            sa.floated = true;
            self.debug(DebugEvent::Floated);
            self.schedule_keepalive(sa, now);
        }
        // Only an encrypted Informational, read with the SA's keys, leaves an ack pending.
        if let Some((_, seq)) = self.pending_dpd_ack.take() {
            if let Some(Err(e)) = sa.with_established(|sa, est| self.dpd_ack(sa, est, seq, rng)) {
                self.follow_up_failed(&e);
            }
        }
    }

    /// The SA a datagram's cookies name: by the pair; a first message being answered
    /// again by the responder's half-open table; our first message's answer by our
    /// initiator cookie with a zero responder cookie.
    fn sa_of(&self, h: &isakmp_wire::Header, remote: SocketAddr) -> Option<SaId> {
        let mut ck = [0u8; 16];
        ck[..8].copy_from_slice(&h.initiator_cookie);
        ck[8..].copy_from_slice(&h.responder_cookie);
        if let Some(id) = self.by_cookies.get(&ck) {
            Some(*id)
        } else if h.responder_cookie == [0; 8] {
            self.half_open.get(&(h.initiator_cookie, remote))
        } else {
            // A response to our first message: the pair is new, our initiator cookie is
            // known with a zero responder cookie.
            let mut zero = ck;
            zero[8..].fill(0);
            self.by_cookies.get(&zero).copied()
        }
    }

    /// A datagram for no SA: a first message (MM1/AM1) starts one, anything else is
    /// dropped.
    fn no_sa<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        msg: &Message<'_>,
        rng: &mut R,
    ) -> Outcome {
        let h = msg.header;
        if h.responder_cookie == [0; 8]
            && matches!(
                h.exchange_type,
                ExchangeType::Aggressive | ExchangeType::IdentityProtection
            )
            && h.message_id == 0
        {
            // Admission refusals (rate, SA limit, no proposal) are counted where they
            // are decided, by reason; any other error is an unusable first message.
            let r = self.responder_start(now, local, remote, bytes, msg, rng);
            if let Err(e) = &r {
                self.debug(DebugEvent::Dropped(error_word(e)));
            }
            return match (self.refused_now, r) {
                (None, Ok(())) => Outcome::Handled,
                (Some(refusal), r) => self.drop_datagram(DropReason::FirstMessage {
                    refusal,
                    error: r.err(),
                }),
                (None, Err(e)) => self.drop_datagram(DropReason::FirstMessage {
                    refusal: crate::counters::Refusal::BadFirstMessage,
                    error: Some(e),
                }),
            };
        }
        // Deliberately silent, as the PIX is: no INVALID-COOKIE notify (RFC 2408
        // section 5.2 makes it optional). An unauthenticated answer to any spoofed
        // datagram would be a reflector, would confirm an IKE responder to a
        // scanner, and a peer cannot act on it safely anyway. The drop is visible
        // as an outcome, a counter and a debug event (`tests/scenario.rs`:
        // `unknown_cookies_are_dropped_silently`).
        self.debug(DebugEvent::Dropped("unknown cookies"));
        self.drop_datagram(DropReason::UnknownCookies {
            exchange: h.exchange_type.into(),
            message_id: h.message_id,
        })
    }

    /// The exchange's handler for the phase the SA is in; `true` beside the error when
    /// the exchange is not one this phase takes.
    fn dispatch<R: CryptoRng + ?Sized>(
        &mut self,
        sa: &mut IkeSa,
        now: Instant,
        bytes: &[u8],
        msg: &Message<'_>,
        rng: &mut R,
    ) -> (Result<(), SmError>, bool) {
        let unexpected = SmError::Protocol {
            exchange: "ISAKMP",
            what: "unexpected exchange type in this state",
        };
        let kind = msg.header.exchange_type;
        let r = match kind {
            ExchangeType::IdentityProtection | ExchangeType::Aggressive if !sa.established() => {
                self.handle_phase1(sa, now, bytes, msg, rng)
            }
            // The exchanges of an established SA: its keys are lent to the handler, which
            // cannot ask for them.
            ExchangeType::Transaction | ExchangeType::QuickMode if !sa.dead => {
                let r = sa.with_established(|sa, est| {
                    if kind == ExchangeType::QuickMode {
                        self.handle_quick(sa, est, now, bytes, msg, rng)
                    } else {
                        self.handle_transaction(sa, est, now, bytes, msg, rng)
                    }
                });
                match r {
                    Some(r) => r,
                    None => return (Err(unexpected), true),
                }
            }
            ExchangeType::Informational => self.handle_informational(sa, now, bytes, msg),
            _ => return (Err(unexpected), true),
        };
        (r, false)
    }

    /// Files an SA back that a datagram did not change (a fragment stored, a stored
    /// reply resent).
    fn put_back_unchanged(&mut self, mut sa: Box<IkeSa>) {
        self.file_timer(&mut sa);
        self.sas.insert(sa.id, sa);
    }

    /// Re-files an SA after processing, or cleans it up when it died.
    pub(crate) fn put_back(&mut self, mut sa: Box<IkeSa>, now: Instant) {
        if sa.dead {
            self.cleanup(&mut sa);
            return;
        }
        if sa.established() {
            if sa.in_half_open {
                // Once, when phase 1 completes (not on every later datagram): the peer
                // proved its address and key, so its next negotiations are evicted last.
                self.half_open.remove(sa.id);
                let recent = self.config.limits.recent_peers;
                self.half_open.completed(sa.remote.ip(), recent);
                sa.in_half_open = false;
            }
            sa.timers.half_open = None;
            // What is kept for the peer's retransmissions goes one retransmission window
            // after the SA's last activity.
            sa.timers.settle = if sa.has_leftovers() {
                now.checked_add(self.settle_window())
            } else {
                None
            };
        }
        self.file_timer(&mut sa);
        self.sas.insert(sa.id, sa);
    }

    /// Releases everything an SA holds (lease, tables) and reports it.
    pub(crate) fn cleanup(&mut self, sa: &mut IkeSa) {
        self.by_cookies.remove(&sa.cookies());
        let mut zero = sa.cookies();
        zero[8..].fill(0);
        if self.by_cookies.get(&zero) == Some(&sa.id) {
            self.by_cookies.remove(&zero);
        }
        if sa.in_half_open {
            self.half_open.remove(sa.id);
            sa.in_half_open = false;
        }
        if let Some(t) = sa.filed_deadline.take() {
            self.timers.remove(&(t, sa.id));
        }
        if let Some(a) = sa.filed_peer.take() {
            self.peers.remove(&(a, sa.id));
        }
        self.rekeys.remove(&sa.id);
        // The peer rekeyed phase 1: the child SAs (and the address they use) live on
        // under its newest SA.
        self.adopt_children(sa);
        if let Some(l) = sa.lease.take() {
            let _ = self.pools.release(l);
        }
        for l in core::mem::take(&mut sa.extra_leases) {
            let _ = self.pools.release(l);
        }
        for (spi_in, _, _) in core::mem::take(&mut sa.children) {
            self.event(Event::ChildDeleted { sa: sa.id, spi_in });
        }
        self.event(Event::Deleted { sa: sa.id });
    }

    /// Fails an SA: reports why; the SA is removed when it is put back.
    pub(crate) fn fail(&mut self, sa: &mut IkeSa, reason: FailReason) {
        if !sa.dead {
            sa.dead = true;
            self.event(Event::Failed { sa: sa.id, reason });
        }
    }

    /// Drives timers: retransmissions, half-open expiry, Xauth/Mode Config timeouts, DPD,
    /// lifetimes.
    pub fn handle_timeout<R: CryptoRng + ?Sized>(&mut self, now: Instant, rng: &mut R) {
        // Only the SAs that are due: every timed action of `timeout_sa` is one of the
        // deadlines `IkeSa::next_deadline` files.
        let ids: Vec<SaId> = self
            .timers
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, id)| *id)
            .collect();
        for id in ids {
            let Some(mut sa) = self.sas.remove(&id) else {
                continue;
            };
            self.timeout_sa(&mut sa, now, rng);
            self.put_back(sa, now);
        }
        // A key pair reused under pressure is let go once its window passed, even when no
        // new negotiation comes (the SAs still using it keep it until they go).
        let window = self.config.limits.dh_reuse_window;
        self.half_open.expire_key_pairs(now, window);
        self.finish_rekeys(now, rng);
    }

    /// How long what is kept for the peer's retransmissions stays after an SA's last
    /// activity: our own full retransmission schedule
    /// ([`crate::Limits::retransmit_backoff`]: 2 + 4 + 8 + 16 + 32 = 62 s by default), the
    /// time a peer on the same schedule goes on retransmitting its last message.
    pub(crate) fn settle_window(&self) -> Duration {
        let total = self.config.limits.retransmit_backoff().total();
        total.max(Duration::from_secs(1))
    }

    /// Acts on the timers of `sa` that are due at `now` ([`IkeSa::due`]), in order; a
    /// timer that ends the SA ends the pass.
    fn timeout_sa<R: CryptoRng + ?Sized>(&mut self, sa: &mut IkeSa, now: Instant, rng: &mut R) {
        // Taken before acting: what one timer's action schedules waits for the next pass.
        for timer in sa.due(now) {
            match timer {
                Timer::Settle => {
                    sa.timers.settle = None;
                    if sa.quiet() {
                        sa.settle();
                    }
                }
                Timer::HalfOpen => {
                    if !sa.established() {
                        self.refuse(crate::counters::Refusal::HalfOpenExpired);
                        self.fail(sa, FailReason::Timeout);
                        return;
                    }
                }
                Timer::Expires => {
                    let _ = sa.with_established(|sa, est| self.send_delete(sa, est, rng));
                    sa.dead = true;
                    return;
                }
                Timer::Retransmit => {
                    if self.retransmit_timeout(sa, now).is_break() {
                        return;
                    }
                }
                Timer::ChildExpiry => self.child_expiry(sa, now, rng),
                Timer::Rekey => self.rekey_timeout(sa, now, rng),
                Timer::Keepalive => self.keepalive_timeout(sa, now),
                Timer::Dialogue => self.transaction_timeouts(sa, now, rng),
                Timer::Dpd => {
                    let _ = sa.with_established(|sa, est| self.dpd_timeout(sa, est, now, rng));
                }
            }
        }
    }

    /// The messages awaiting an answer: resent on their schedule, or given up. Phase 1
    /// unanswered: the SA fails (`Break`). A Quick Mode or Transaction exchange
    /// unanswered: only that exchange is abandoned (Xauth/Mode Config report their own
    /// timeouts).
    fn retransmit_timeout(&mut self, sa: &mut IkeSa, now: Instant) -> ControlFlow<()> {
        let mut resend = Vec::new();
        let mut give_up = Vec::new();
        for (mid, r) in &mut sa.timers.retx {
            match r.timer.on_timeout(now) {
                Action::NotYet => {}
                Action::Resend => resend.push(r.bytes.clone()),
                Action::GiveUp => give_up.push(*mid),
            }
        }
        for b in resend {
            self.send(sa, b);
        }
        for mid in give_up {
            sa.timers.retx.remove(&mid);
            if mid == 0 {
                self.fail(sa, FailReason::Timeout);
                return ControlFlow::Break(());
            }
            if sa.quick.remove(&mid).is_some() {
                self.refuse(crate::counters::Refusal::ExchangeAbandoned);
                self.debug(DebugEvent::Dropped("Quick Mode unanswered, abandoned"));
            }
        }
        ControlFlow::Continue(())
    }

    /// Starts phase 1 as a client towards `remote`.
    ///
    /// # Errors
    /// [`SmError::Config`] when the profile offers nothing, [`SmError::Limit`] at the SA
    /// bound.
    pub fn initiate<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        profile: ClientProfile,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        if self.sas.len() >= self.config.limits.max_sas {
            return Err(SmError::Limit {
                what: "IKE SAs",
                max: self.config.limits.max_sas,
            });
        }
        let id = self.next_sa_id();
        self.initiator_start(id, now, local, remote, profile, rng)?;
        Ok(id)
    }

    /// [`Endpoint::initiate`] in Aggressive Mode (the profile's mode is overridden).
    ///
    /// # Errors
    /// As [`Endpoint::initiate`].
    pub fn initiate_aggressive<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        mut profile: ClientProfile,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        profile.mode = crate::config::Phase1Mode::Aggressive;
        self.initiate(now, local, remote, profile, rng)
    }

    /// [`Endpoint::initiate`] in Main Mode (the profile's mode is overridden).
    ///
    /// # Errors
    /// As [`Endpoint::initiate`].
    pub fn initiate_main<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        mut profile: ClientProfile,
        rng: &mut R,
    ) -> Result<SaId, SmError> {
        profile.mode = crate::config::Phase1Mode::Main;
        self.initiate(now, local, remote, profile, rng)
    }

    /// Starts a Quick Mode on an established SA (client side). Returns its message ID.
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`], [`SmError::Limit`].
    pub fn initiate_quick_mode<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        request: QuickModeRequest,
        rng: &mut R,
    ) -> Result<u32, SmError> {
        // After a phase-1 rekey the new SA carries the Quick Modes of the old one.
        let sa = self.current_sa(sa);
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let r = match s.dead {
            false => s.with_established(|s, est| self.quick_initiate(s, est, now, request, rng)),
            true => None,
        };
        let r = r.unwrap_or(Err(SmError::NotEstablished(sa.0)));
        self.put_back(s, now);
        r
    }

    /// The AAA verdict for the credentials of [`Event::XauthCredentials`].
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], or [`SmError::Xauth`] when no verdict is awaited.
    pub fn xauth_verdict<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        accept: bool,
        rng: &mut R,
    ) -> Result<(), SmError> {
        self.xauth_verdict_with_address(now, sa, accept, None, rng)
    }

    /// The AAA verdict, with the address the AAA server assigned (RADIUS
    /// Framed-IP-Address / Framed-IP-Netmask): Mode Config then hands out that address
    /// instead of one from the group's pool (inside a local pool it is taken from the
    /// pool; outside any pool it is leased as an external address).
    ///
    /// # Errors
    /// As [`Endpoint::xauth_verdict`].
    pub fn xauth_verdict_with_address<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        accept: bool,
        address: Option<modecfg::AaaAddress>,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        if accept {
            s.aaa_address = address;
        }
        // Only an established SA runs an Xauth dialogue.
        let r = s
            .with_established(|s, est| self.verdict(s, est, now, accept, rng))
            .unwrap_or_else(|| Err(SmError::Xauth("no verdict is awaited".into())));
        self.put_back(s, now);
        self.finish_rekeys(now, rng);
        r
    }

    /// Deletes an IKE SA (and tells the peer with a Delete when phase 1 is up).
    ///
    /// # Errors
    /// [`SmError::UnknownSa`].
    pub fn delete<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        if !s.dead {
            let _ = s.with_established(|s, est| self.send_delete(s, est, rng));
        }
        s.dead = true;
        self.put_back(s, now);
        Ok(())
    }

    /// Closes an IKE SA: the same as [`Endpoint::delete`].
    ///
    /// # Errors
    /// [`SmError::UnknownSa`].
    pub fn close<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        self.delete(now, sa, rng)
    }

    /// Deletes one child SA pair (by our inbound SPI) and tells the peer (IPsec Delete).
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`], [`SmError::Config`] when the
    /// SA has no such child.
    pub fn delete_child<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        spi_in: u32,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let delete = |s: &mut IkeSa, est: &phase::Established| {
            let Some(pos) = s.children.iter().position(|(i, _, _)| *i == spi_in) else {
                return Err(SmError::Config("no child SA with that inbound SPI"));
            };
            s.children.remove(pos);
            self.event(Event::ChildDeleted { sa, spi_in });
            let d = isakmp_wire::payload::delete::OwnedDelete::ipsec(
                isakmp_wire::ProtocolId::Esp,
                &[spi_in],
            )?;
            let d = isakmp_wire::OwnedPayload::new(isakmp_wire::OwnedBody::Delete(d));
            self.send_info(s, est, vec![d], rng)
        };
        let r = match s.dead {
            false => s.with_established(delete),
            true => None,
        };
        let r = r.unwrap_or(Err(SmError::NotEstablished(sa.0)));
        self.put_back(s, now);
        r
    }

    /// Sends a DPD R-U-THERE now.
    ///
    /// # Errors
    /// [`SmError::UnknownSa`], [`SmError::NotEstablished`].
    pub fn send_dpd<R: CryptoRng + ?Sized>(
        &mut self,
        now: Instant,
        sa: SaId,
        rng: &mut R,
    ) -> Result<(), SmError> {
        let mut s = self.sas.remove(&sa).ok_or(SmError::UnknownSa(sa.0))?;
        let r = match s.dead {
            false => s.with_established(|s, est| self.dpd_send(s, est, now, rng)),
            true => None,
        };
        let r = r.unwrap_or(Err(SmError::NotEstablished(sa.0)));
        self.put_back(s, now);
        r
    }
}

/// A message of SA `sa` dropped for `refusal` (and `error`, when one was raised).
fn sa_drop(
    sa: SaId,
    h: &isakmp_wire::Header,
    refusal: crate::counters::Refusal,
    error: Option<SmError>,
) -> DropReason {
    DropReason::Sa {
        sa,
        exchange: h.exchange_type.into(),
        message_id: h.message_id,
        refusal,
        error,
    }
}

fn error_word(e: &SmError) -> &'static str {
    match e {
        SmError::Wire(_) => "malformed payload",
        SmError::Protocol { what, .. } => what,
        SmError::HashMismatch { what } => what,
        SmError::Limit { what, .. } => what,
        SmError::Config(w) => w,
        _ => "processing error",
    }
}

/// Draws before a fresh cookie or SPI is taken even if it collides: with a working
/// generator a second draw is already a 2^-24 event (SPI) or a 2^-64 one (cookie); the
/// bound only keeps a broken generator (a constant stream) from hanging the endpoint.
const MAX_FRESH_DRAWS: usize = 8;

impl Endpoint {
    /// A cookie of this endpoint's shard, never zero (a zero responder cookie means "no
    /// responder yet"), and, as responder cookie for `cky_i`, not the cookie pair of an
    /// SA that exists.
    pub(crate) fn fresh_cookie<R: CryptoRng + ?Sized>(
        &self,
        cky_i: Option<[u8; 8]>,
        rng: &mut R,
    ) -> [u8; 8] {
        let mut c = self.shard.random_cookie(rng);
        for _ in 0..MAX_FRESH_DRAWS {
            let taken = cky_i.is_some_and(|i| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&i);
                k[8..].copy_from_slice(&c);
                self.by_cookies.contains_key(&k)
            });
            if c != [0; 8] && !taken {
                break;
            }
            c = self.shard.random_cookie(rng);
        }
        if c == [0; 8] {
            // Only a broken generator gets here; the first byte (the shard's) stays.
            c[7] = 1;
        }
        c
    }

    /// An inbound SPI of this endpoint's shard: not reserved (RFC 4303 section 2.1: 1 to
    /// 255 are reserved, 0 is never sent), not the inbound SPI of a child SA of any IKE
    /// SA, nor of a Quick Mode in flight on `sa`. (A Quick Mode in flight on another IKE
    /// SA is not looked for: that would be a pass over every SA per Quick Mode, for a
    /// collision of two fresh draws within one exchange's time.)
    pub(crate) fn fresh_spi<R: CryptoRng + ?Sized>(&self, sa: &IkeSa, rng: &mut R) -> u32 {
        let mut spi = self.shard.random_spi(rng);
        for _ in 0..MAX_FRESH_DRAWS {
            let taken = self.spis_in.contains(&spi)
                || sa.children.iter().any(|c| c.0 == spi)
                || sa.quick.values().any(|q| q.spi_in() == spi);
            if spi >= 256 && !taken {
                break;
            }
            spi = self.shard.random_spi(rng);
        }
        if spi < 256 {
            // Only a broken generator gets here; the top byte (the shard's) stays.
            spi |= 0x100;
        }
        spi
    }
}

pub(crate) fn random_u32<R: CryptoRng + ?Sized>(rng: &mut R) -> u32 {
    let mut b = [0u8; 4];
    rng.fill_bytes(&mut b);
    u32::from_be_bytes(b)
}

pub(crate) fn random_bytes<R: CryptoRng + ?Sized, const N: usize>(rng: &mut R) -> [u8; N] {
    let mut b = [0u8; N];
    rng.fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::disallowed_methods)]
    use super::*;
    use crate::config::{Phase1Mode, Selector, TrafficSelector};
    use pix_primitives::Secret;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn child(spi_in: u32) -> Event {
        let sel = TrafficSelector::new(Selector::Addr(core::net::Ipv4Addr::LOCALHOST));
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        Event::ChildSa(Box::new(crate::ChildSa {
            ike_sa: SaId(2),
            message_id: 1,
            spi_in,
            spi_out: 0x1234_5678,
            protocol: 3,
            encryption: esp::EncryptionAlgorithm::TripleDes,
            integrity: esp::IntegrityAlgorithm::HmacSha1_96,
            encapsulation: 1,
            enc_key_in: Secret::from_slice(&[1; 24]),
            auth_key_in: Secret::from_slice(&[2; 20]),
            enc_key_out: Secret::from_slice(&[3; 24]),
            auth_key_out: Secret::from_slice(&[4; 20]),
            local_selector: sel,
            remote_selector: sel,
            life_secs: 28_800,
            life_kb: 0,
            local: a,
            remote: a,
            natt_ports: None,
            peer_original_addr: None,
            assigned_address: None,
        }))
    }

    /// Past the queue bound only debug events are shed (counted): every `ChildSa`,
    /// `ChildDeleted` and `Deleted` is delivered, in order, and datagrams are refused
    /// (typed, counted) until the driver drains.
    #[test]
    fn past_the_bound_only_debug_events_are_shed() {
        let mut ep = Endpoint::new(crate::presets::client(), modecfg::Pools::new());
        assert!(ep.debug_events());
        let extra = 1_000;
        for _ in 0..Endpoint::QUEUE_BOUND + extra {
            ep.debug(DebugEvent::Floated);
        }
        let n = u32::try_from(Endpoint::QUEUE_BOUND + extra).unwrap();
        for spi in 256..256 + n {
            ep.event(child(spi));
            ep.event(Event::ChildDeleted {
                sa: SaId(2),
                spi_in: spi,
            });
            ep.debug(DebugEvent::Floated);
        }
        ep.event(Event::Deleted { sa: SaId(2) });
        let shed = ep.counters().get(crate::counters::Refusal::DebugShed);
        assert_eq!(shed, u64::from(n) + u64::try_from(extra).unwrap());
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let o = ep.handle_datagram(Instant::now(), a, a, &[0; 28], &mut rng);
        assert_eq!(
            o,
            Outcome::Dropped(DropReason::Backpressure {
                transmits: 0,
                events: Endpoint::QUEUE_BOUND + 2 * usize::try_from(n).unwrap() + 1,
            })
        );
        assert_eq!(ep.counters().get(crate::counters::Refusal::Backpressure), 1);
        assert_eq!(ep.counters().get(crate::counters::Refusal::Malformed), 0);
        let (mut debug, mut spis, mut deleted) = (0, Vec::new(), Vec::new());
        while let Some(e) = ep.poll_event() {
            match e {
                Event::Debug(_) => debug += 1,
                Event::ChildSa(c) => spis.push(c.spi_in),
                Event::ChildDeleted { spi_in, .. } => deleted.push(spi_in),
                Event::Deleted { sa } => assert_eq!(sa, SaId(2)),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(debug, Endpoint::QUEUE_BOUND);
        assert_eq!(spis, (256..256 + n).collect::<Vec<_>>());
        assert_eq!(deleted, spis);
        // Drained: taken again (and found malformed).
        let o = ep.handle_datagram(Instant::now(), a, a, &[0; 10], &mut rng);
        assert!(
            matches!(o, Outcome::Dropped(DropReason::Malformed(_))),
            "{o:?}"
        );
    }

    /// A fresh inbound SPI is never the inbound SPI of a child SA of another IKE SA (the
    /// same generator state would give it), and is free again once that child is gone.
    #[test]
    fn a_fresh_spi_is_never_one_in_use() {
        let mut ep = Endpoint::new(crate::presets::client(), modecfg::Pools::new());
        let shard = crate::Shard::new(1, 3).unwrap();
        ep.set_shard(shard);
        let a: SocketAddr = "192.0.2.1:500".parse().unwrap();
        let sa = IkeSa::new(
            SaId(1),
            Role::Initiator,
            Phase1Mode::Main,
            (a, a),
            ([1; 8], [0; 8]),
            Instant::now(),
            phase::Phase::Ended,
        );
        let draw = |ep: &Endpoint| ep.fresh_spi(&sa, &mut StdRng::seed_from_u64(3));
        let first = draw(&ep);
        assert!(shard.owns_spi(first) && first >= 256);
        ep.event(child(first));
        let second = draw(&ep);
        assert_ne!(second, first);
        assert!(shard.owns_spi(second) && second >= 256);
        ep.event(Event::ChildDeleted {
            sa: SaId(2),
            spi_in: first,
        });
        assert_eq!(draw(&ep), first);
        assert!(ep.spis_in.is_empty());
    }
}
