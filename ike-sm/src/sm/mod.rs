//! The Sans-IO IKEv1 [`Endpoint`]: one per gateway (or client), many IKE SAs keyed by
//! cookies, fed datagrams and timeouts, drained of transmits, events and deadlines.

mod admission;
mod commands;
mod dialogue;
mod fragment;
mod info;
mod msg;
mod natt;
mod phase;
mod phase1;
pub(crate) mod policy;
mod queues;
mod quick;
mod reconfigure;
mod registry;
mod rekey;
mod route;
mod sa;
mod timers;
mod transaction;

pub use reconfigure::Stale;
pub(crate) use registry::{random_bytes, random_u32};
use route::error_word;
pub use sa::{P1State, Role};

use crate::config::Config;
use crate::event::{DebugEvent, Event, SaId};
use crate::SmError;
use core::net::{IpAddr, SocketAddr};
use sa::IkeSa;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

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
/// datagram before parsing it, with
/// [`DropReason::Backpressure`](crate::outcome::DropReason::Backpressure) (counted as
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
    /// SA's dialogue (replaced only by [`Endpoint::reconfigure`]; a dialogue in progress
    /// keeps the one it started with).
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

    fn reconfigure(&mut self, new: modecfg::Pools) -> Option<Vec<core::net::Ipv4Addr>> {
        self.get_mut().reconfigure(new)
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
}
