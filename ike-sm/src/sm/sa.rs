//! The state of one IKE SA: phase 1, the Transaction dialogues, the Quick Modes under it,
//! its timers and its stored replies.

use super::dialogue::Dialogue;
use super::phase::{Established, Phase};
use super::quick::QuickMode;
use crate::config::{ClientProfile, Phase1Mode};
use crate::crypto::hash::Digest;
use crate::crypto::iv::IvChain;
use crate::event::SaId;
use core::net::SocketAddr;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

/// Which side of phase 1 we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the first message.
    Initiator,
    /// The peer did.
    Responder,
}

/// Where phase 1 stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum P1State {
    /// Initiator: MM1 sent.
    IWaitMm2,
    /// Initiator: MM3 sent.
    IWaitMm4,
    /// Initiator: MM5 sent.
    IWaitMm6,
    /// Initiator: AM1 sent.
    IWaitAm2,
    /// Responder: MM2 sent.
    RWaitMm3,
    /// Responder: MM4 sent.
    RWaitMm5,
    /// Responder: AM2 sent.
    RWaitAm3,
    /// Authenticated.
    Established,
    /// Failed or deleted; removed at the next opportunity.
    Dead,
}

/// What a peer announced in its phase-1 vendor IDs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PeerCaps {
    /// Dead Peer Detection (RFC 3706).
    pub dpd: bool,
    /// Cisco Unity (a VPN Client: Mode Config pull).
    pub unity: bool,
    /// Xauth.
    pub xauth: bool,
    /// Cisco IKE fragmentation.
    pub frag: bool,
    /// The best NAT-T version announced.
    pub natt: Option<isakmp_wire::vendor::Vendor>,
}

/// An outstanding message that expects an answer, and its retransmission timer
/// ([`crate::Limits::retransmit_backoff`]).
#[derive(Debug, Clone)]
pub(crate) struct Retx {
    pub bytes: Vec<u8>,
    pub timer: pix_primitives::retransmit::Retransmit,
}

/// The deadlines an IKE SA keeps itself (its children's expiries and its dialogue
/// machines' deadlines are theirs): [`IkeSa::deadlines`] puts them all together.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// The messages that await an answer, by message ID, each with its retransmission
    /// timer.
    pub retx: BTreeMap<u32, Retx>,
    /// The next DPD R-U-THERE (or the give-up on an unanswered one).
    pub dpd: Option<Instant>,
    /// The end of phase 1's lifetime.
    pub expires: Option<Instant>,
    /// Initiator: when the phase-1 rekey starts (see `Limits::phase1_rekey_margin`).
    pub rekey: Option<Instant>,
    /// A negotiation that has not completed by then fails.
    pub half_open: Option<Instant>,
    /// Next NAT keepalive.
    pub keepalive: Option<Instant>,
    /// When what is kept only for the peer's retransmissions (`replies`, `last_tx_sent`,
    /// the IV chains of `exchanges`) goes, if the SA is quiet then
    /// ([`IkeSa::settle`]): the retransmission window after the SA's last activity.
    pub settle: Option<Instant>,
}

/// Which of an SA's deadlines passed ([`IkeSa::due`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// What is kept for the peer's retransmissions may go ([`Timers::settle`]).
    Settle,
    /// Phase 1 did not complete in time.
    HalfOpen,
    /// Phase 1's lifetime ended.
    Expires,
    /// A message awaiting an answer is to be resent, or given up.
    Retransmit,
    /// A child SA's lifetime ended.
    ChildExpiry,
    /// The phase-1 rekey starts.
    Rekey,
    /// A NAT keepalive is due.
    Keepalive,
    /// An Xauth or Mode Config machine's timer.
    Dialogue,
    /// DPD.
    Dpd,
}

/// One IKE SA.
pub(crate) struct IkeSa {
    pub id: SaId,
    pub role: Role,
    /// Main or Aggressive (kept for `show crypto isakmp sa`).
    #[allow(dead_code)]
    pub mode: Phase1Mode,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub cky_i: [u8; 8],
    pub cky_r: [u8; 8],
    /// Phase 1 under way or done, with what each step has.
    pub phase: Phase,
    /// Failed or deleted: removed (and reported) when filed back.
    pub dead: bool,
    /// Why it is dead (`None`: [`crate::DeleteReason::Local`]).
    pub end: Option<crate::event::DeleteReason>,
    /// When phase 1 started.
    #[allow(dead_code)]
    pub created: Instant,
    pub identity: String,
    pub group_idx: Option<usize>,
    pub no_xauth: bool,
    pub no_config_mode: bool,
    /// What the peer announced in its phase-1 vendor IDs.
    pub peer: PeerCaps,
    /// The NAT-T version both sides use.
    pub natt: Option<isakmp_wire::vendor::Vendor>,
    /// NAT-D: we are behind a NAT.
    pub nat_local: bool,
    /// NAT-D: the peer is behind a NAT.
    pub nat_remote: bool,
    /// Moved to UDP 4500.
    pub floated: bool,
    /// The addresses phase 1 started with (what NAT-D hashes describe).
    pub pre_float: (SocketAddr, SocketAddr),
    /// Fragments of the message being reassembled: (id, number, last, data).
    pub fragments: Vec<(u16, u8, bool, Vec<u8>)>,
    pub replies: VecDeque<(Digest, Vec<u8>)>,
    /// Every deadline of the SA but those of its children and dialogue machines.
    pub timers: Timers,
    /// Boxed values: a map's node holds 11 of them, allocated with the first entry.
    pub exchanges: BTreeMap<u32, Box<IvChain>>,
    /// Per Transaction exchange a Mode Config machine started: the datagram sent, sent
    /// again when the machine retransmits (no plaintext is kept).
    pub last_tx_sent: BTreeMap<u32, Vec<u8>>,
    /// The message ID of the last Transaction exchange a Mode Config machine started.
    pub cfg_started: Option<u32>,
    pub last_in_tx_msgid: u32,
    /// The Xauth and Mode Config machines, by role.
    pub dialogue: Dialogue,
    pub pending_verdict: Option<xauth::VerdictId>,
    pub user: Option<String>,
    pub lease: Option<modecfg::Lease>,
    /// The address the AAA server assigned with the Xauth verdict (Framed-IP-Address).
    pub aaa_address: Option<modecfg::AaaAddress>,
    pub assigned: Option<core::net::Ipv4Addr>,
    pub xauth_done: bool,
    pub cfg_done: bool,
    pub held: Vec<Vec<u8>>,
    /// Boxed values (336 bytes each; a map's node holds 11, allocated with the first).
    pub quick: BTreeMap<u32, Box<QuickMode>>,
    /// Child SA pairs: (inbound SPI, outbound SPI, expiry).
    pub children: Vec<(u32, u32, Option<Instant>)>,
    /// Initiator only (boxed: 240 bytes).
    pub profile: Option<Box<ClientProfile>>,
    pub last_activity: Instant,
    pub dpd_seq: u32,
    pub dpd_outstanding: u32,
    /// Filed in the endpoint's `half_open` table (a responder before phase 1 completes).
    pub in_half_open: bool,
    /// The deadline this SA is filed under in the endpoint's timer index.
    pub filed_deadline: Option<Instant>,
    /// The peer address this SA is filed under in the endpoint's peer index.
    pub filed_peer: Option<core::net::IpAddr>,
    /// Phase-1 HASH failures so far (the second one fails the SA).
    pub auth_failures: u8,
    /// The peer sent INITIAL-CONTACT in phase 1: honoured (its other SAs of the same user
    /// and peer go) only once this SA passes Xauth, or right after phase 1 without Xauth.
    pub initial_contact: bool,
    /// Digest of the datagram being processed (replies are stored under it).
    pub cur_in: Option<Digest>,
    /// Address and length of the datagram `cur_in` is the digest of (identity only, never
    /// dereferenced).
    pub cur_in_at: (usize, usize),
    /// Initiator: the SA that is replacing this one (rekey in progress or done).
    pub rekeyed_by: Option<SaId>,
    /// Address leases taken over from the SAs this one replaced (their child SAs still
    /// use them); released with this SA.
    pub extra_leases: Vec<modecfg::Lease>,
    /// Responder: the Mode Config address this SA gave its client without a lease of its
    /// own, because an older SA of the same client (role, peer address and port, phase-1
    /// identity, Xauth user: the client re-ran phase 1) holds it. That SA keeps the lease
    /// until it goes; then the lease moves here (`Endpoint::adopt_children` picks this SA
    /// as the heir).
    pub borrowed: Option<core::net::Ipv4Addr>,
}

/// The message ID of an ISAKMP message (header bytes 20..24).
fn message_id(b: &[u8]) -> Option<u32> {
    b.get(20..24)
        .and_then(|m| <[u8; 4]>::try_from(m).ok())
        .map(u32::from_be_bytes)
}

impl IkeSa {
    pub fn new(
        id: SaId,
        role: Role,
        mode: Phase1Mode,
        (local, remote): (SocketAddr, SocketAddr),
        (cky_i, cky_r): ([u8; 8], [u8; 8]),
        now: Instant,
        phase: Phase,
    ) -> Self {
        Self {
            id,
            role,
            mode,
            local,
            remote,
            cky_i,
            cky_r,
            phase,
            dead: false,
            end: None,
            created: now,
            identity: String::new(),
            group_idx: None,
            no_xauth: false,
            no_config_mode: false,
            peer: PeerCaps::default(),
            natt: None,
            nat_local: false,
            nat_remote: false,
            floated: false,
            pre_float: (local, remote),
            fragments: Vec::new(),
            timers: Timers::default(),
            replies: VecDeque::new(),
            exchanges: BTreeMap::new(),
            last_tx_sent: BTreeMap::new(),
            cfg_started: None,
            last_in_tx_msgid: 0,
            dialogue: Dialogue::new(role),
            pending_verdict: None,
            user: None,
            lease: None,
            aaa_address: None,
            assigned: None,
            xauth_done: false,
            cfg_done: false,
            held: Vec::new(),
            quick: BTreeMap::new(),
            children: Vec::new(),
            profile: None,
            last_activity: now,
            dpd_seq: 0,
            dpd_outstanding: 0,
            in_half_open: false,
            filed_deadline: None,
            filed_peer: None,
            cur_in: None,
            cur_in_at: (0, 0),
            auth_failures: 0,
            initial_contact: false,
            rekeyed_by: None,
            extra_leases: Vec::new(),
            borrowed: None,
        }
    }

    /// Phase 1 is up: the negotiation's box (nonces, public values, identity payloads,
    /// key pair, pre-shared key, phase 1's IV chain) goes with the step that held it, and
    /// the fragments of phase-1 messages with it. A peer that retransmits its last phase-1
    /// message is answered from `replies`, which holds the bytes sent, not the material
    /// they were made of.
    ///
    /// `then` runs first, with the keys lent as in [`IkeSa::with_established`] (what
    /// follows phase 1: Xauth, Mode Config); `est` is the SA's phase when it returns.
    pub fn establish<T>(
        &mut self,
        est: Established,
        then: impl FnOnce(&mut IkeSa, &Established) -> T,
    ) -> T {
        self.fragments = Vec::new();
        let t = then(self, &est);
        self.phase = Phase::Established(est);
        t
    }

    /// Runs `f` with the keys of phase 1, for the exchanges that follow it; `None`
    /// (and `f` not run) while phase 1 is under way or after it failed. This is the one
    /// place that asks: the handlers `f` calls take `&Established`, so none of them can
    /// meet missing keys.
    ///
    /// The established value is moved out of the SA for `f`'s duration (the phase reads
    /// [`Phase::Ended`] meanwhile: `f` must not ask [`IkeSa::established`] of this SA)
    /// and put back when `f` returns, whatever it returns: `f` has no path around it.
    pub fn with_established<T>(
        &mut self,
        f: impl FnOnce(&mut IkeSa, &Established) -> T,
    ) -> Option<T> {
        match core::mem::replace(&mut self.phase, Phase::Ended) {
            Phase::Established(est) => {
                let t = f(self, &est);
                self.phase = Phase::Established(est);
                Some(t)
            }
            other => {
                self.phase = other;
                None
            }
        }
    }

    /// The peer answered our message of exchange `msgid`, so it has what we sent in
    /// that exchange before: no more retransmission, and the replies and datagrams kept
    /// for its retransmissions of the exchange's earlier messages go.
    pub fn answered(&mut self, msgid: u32) {
        self.timers.retx.remove(&msgid);
        self.replies.retain(|(_, b)| message_id(b) != Some(msgid));
        self.last_tx_sent.remove(&msgid);
    }

    /// Something is kept only for the peer's retransmissions ([`IkeSa::settle`] would
    /// drop it).
    pub fn has_leftovers(&self) -> bool {
        !self.replies.is_empty() || !self.last_tx_sent.is_empty() || !self.exchanges.is_empty()
    }

    /// No exchange is in progress: nothing awaits an answer, no Quick Mode is held or
    /// in flight (a finished one is not kept), no Xauth verdict is pending.
    pub fn quiet(&self) -> bool {
        self.timers.retx.is_empty()
            && self.held.is_empty()
            && self.pending_verdict.is_none()
            && self.quick.is_empty()
    }

    /// The retransmission window passed since the SA's last activity and it is quiet:
    /// what was kept to answer a retransmitted message goes (the stored replies and the
    /// datagrams sent, the IV chains of the finished exchanges). A message of an old exchange that comes later is dropped as one that
    /// does not decrypt or verify.
    pub fn settle(&mut self) {
        self.replies = VecDeque::new();
        self.last_tx_sent = BTreeMap::new();
        self.exchanges = BTreeMap::new();
        self.release_empty();
    }

    /// Gives back the allocations of the maps and queues that are empty: a `BTreeMap`
    /// keeps its node after its last entry is removed, a `Vec` or `VecDeque` its
    /// capacity. Called whenever the SA is filed back (a few emptiness checks).
    pub fn release_empty(&mut self) {
        if self.timers.retx.is_empty() {
            self.timers.retx = BTreeMap::new();
        }
        if self.exchanges.is_empty() {
            self.exchanges = BTreeMap::new();
        }
        if self.quick.is_empty() {
            self.quick = BTreeMap::new();
        }
        if self.last_tx_sent.is_empty() {
            self.last_tx_sent = BTreeMap::new();
        }
        if self.replies.is_empty() && self.replies.capacity() > 0 {
            self.replies = VecDeque::new();
        }
        if self.held.is_empty() && self.held.capacity() > 0 {
            self.held = Vec::new();
        }
        if self.fragments.is_empty() && self.fragments.capacity() > 0 {
            self.fragments = Vec::new();
        }
    }

    /// Takes over a lease of an SA that goes: as this SA's own lease when it is the
    /// address this SA gave its client without holding it (`borrowed`), else as one more
    /// of its `extra_leases`.
    pub fn take_lease(&mut self, l: modecfg::Lease) {
        if self.lease.is_none() && self.borrowed == Some(l.addr()) {
            self.borrowed = None;
            self.lease = Some(l);
        } else {
            self.extra_leases.push(l);
        }
    }

    /// Phase 1 done (and the SA not failed or deleted since).
    pub fn established(&self) -> bool {
        !self.dead && matches!(self.phase, Phase::Established(_))
    }

    /// Where phase 1 stands, as [`crate::Endpoint::sa_state`] shows it.
    pub fn state(&self) -> P1State {
        match &self.phase {
            _ if self.dead => P1State::Dead,
            Phase::Negotiating(n) => n.step.view(),
            Phase::Established(_) => P1State::Established,
            Phase::Ended => P1State::Dead,
        }
    }

    /// The cookie pair.
    pub fn cookies(&self) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[..8].copy_from_slice(&self.cky_i);
        c[8..].copy_from_slice(&self.cky_r);
        c
    }

    /// Every deadline of this SA, one per [`Timer`], in the order
    /// [`crate::Endpoint::handle_timeout`] acts on them (no allocation).
    pub fn deadlines(&self) -> [(Timer, Option<Instant>); 9] {
        let t = &self.timers;
        [
            (Timer::Settle, t.settle),
            (Timer::HalfOpen, t.half_open),
            (Timer::Expires, t.expires),
            (
                Timer::Retransmit,
                t.retx.values().filter_map(|r| r.timer.deadline()).min(),
            ),
            (
                Timer::ChildExpiry,
                self.children.iter().filter_map(|c| c.2).min(),
            ),
            (Timer::Rekey, t.rekey.filter(|_| self.rekeyed_by.is_none())),
            (Timer::Keepalive, t.keepalive),
            (Timer::Dialogue, self.dialogue.poll_timeout()),
            (Timer::Dpd, t.dpd),
        ]
    }

    /// The earliest deadline of this SA.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines().into_iter().filter_map(|(_, d)| d).min()
    }

    /// The timers due at `now`, in the order they are acted on: a snapshot (it does not
    /// borrow the SA), so what acting on one schedules waits for the next pass.
    pub fn due(&self, now: Instant) -> impl Iterator<Item = Timer> {
        self.deadlines()
            .into_iter()
            .filter(move |(_, d)| d.is_some_and(|d| d <= now))
            .map(|(t, _)| t)
    }
}
