//! The gateway side, in both PIX modes.
//!
//! * **Pull** (`crypto map MAP client configuration address respond`, VPN Client 3.x/4.x):
//!   the client sends CFG_REQUEST; [`PullServer`] answers CFG_REPLY with the same identifier,
//!   carrying each requested attribute the server supports and the policy can fill. A type
//!   the server does not support is left out and reported as
//!   [`ServerEvent::Unsupported`] (the PIX's "Unsupported Attr: N"); a supported type with
//!   nothing configured is left out silently ([`ServerEvent::NotConfigured`], which the PIX
//!   does not log). Nothing the client did not ask for is sent, Unity attributes included.
//! * **Push** (`... address initiate`, VPN Client 1.x): [`PushServer`] sends CFG_SET with the
//!   assigned address, resends it with backoff until the client's CFG_ACK arrives, and fails
//!   when retries run out.
//!
//! Both machines are fed ([`PullServer::handle_payload`], `handle_timeout`) and drained
//! (`poll_transmit`, `poll_event`, `poll_timeout`); the encrypted Transaction exchange that
//! carries the payloads is the caller's job. The machine that assigned an address holds its
//! [`Lease`]; the caller takes it ([`PullServer::take_lease`]) and releases it to the
//! [`Pools`](crate::Pools) when the SA goes away.

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use isakmp_wire::attr::{attributes_wire_len, AttributeIter, OwnedAttribute};
use isakmp_wire::cfg::{CfgType, ConfigPayload, OwnedConfigPayload};

use crate::attrs::{decode_payload, decode_type, tlv, AttrType};
use crate::error::{cfg_name, ModeCfgError};
use crate::lease_store::LeaseStore;
use crate::policy::GroupPolicy;
use crate::pool::{AaaAddress, Lease, LeaseSource};
use crate::transmit::Transmit;
use crate::unity::encode_split_list;
use crate::RetransmitConfig;
use pix_primitives::retransmit::{Action, Retransmit};

/// Cap on queued outgoing payloads and events: a peer that keeps retransmitting while the
/// caller does not drain cannot grow the queues without bound.
const MAX_QUEUED: usize = 64;

/// A set of attribute types (1-15 and the Unity 28672-28682), as a bitmask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttrSet(u32);

impl AttrSet {
    fn bit(t: AttrType) -> Option<u32> {
        let n = t.number();
        match n {
            1..=15 => Some(u32::from(n)),
            28672..=28682 => n
                .checked_sub(28672)
                .map(|k| u32::from(k).saturating_add(16)),
            _ => None,
        }
    }

    /// No types.
    pub const fn empty() -> Self {
        AttrSet(0)
    }

    /// Every type this crate knows.
    pub fn all() -> Self {
        Self::of(AttrType::KNOWN)
    }

    /// The given types (unknown ones cannot be members and are skipped).
    pub fn of(types: &[AttrType]) -> Self {
        types.iter().fold(Self::empty(), |s, t| s.with(*t))
    }

    /// This set plus `t`.
    pub fn with(self, t: AttrType) -> Self {
        match Self::bit(t) {
            Some(b) => AttrSet(self.0 | (1u32 << b)),
            None => self,
        }
    }

    /// This set minus `t`.
    pub fn without(self, t: AttrType) -> Self {
        match Self::bit(t) {
            Some(b) => AttrSet(self.0 & !(1u32 << b)),
            None => self,
        }
    }

    /// Whether `t` is a member.
    pub fn contains(self, t: AttrType) -> bool {
        Self::bit(t).is_some_and(|b| self.0 & (1u32 << b) != 0)
    }

    /// What a PIX 6.3 answers. Seen in the seed trace: 1, 2, 3, 4, 28674 (DEF_DOMAIN) and
    /// 28676 (SPLIT_INCLUDE) are accepted, while 5, 7, 28672, 28673, 28677, 28679 and 28680
    /// are logged "Unsupported Attr". Added from the `vpngroup` commands PIX 6.3 has
    /// (`split-dns`, `backup-server`), which the 4.x client did not ask for in the trace:
    /// 28675 and 28681.
    pub fn pix63() -> Self {
        Self::of(&[
            AttrType::Ip4Address,
            AttrType::Ip4Netmask,
            AttrType::Ip4Dns,
            AttrType::Ip4Nbns,
            AttrType::DefDomain,
            AttrType::SplitDns,
            AttrType::SplitInclude,
            AttrType::BackupServers,
        ])
    }
}

/// Server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Types the server answers (others are "Unsupported Attr").
    pub supported: AttrSet,
    /// Push: types sent in CFG_SET besides the address, when the policy fills them.
    pub push_extra: AttrSet,
    /// Push: resend schedule of CFG_SET.
    pub retransmit: RetransmitConfig,
    /// Pull: how long to wait for the client's CFG_REQUEST (`None`: forever).
    pub request_timeout: Option<Duration>,
    /// APPLICATION_VERSION answered to a client that asks (when supported).
    pub application_version: Option<String>,
    /// NATT_PORT answered to a client that asks (when supported).
    pub natt_port: Option<u16>,
}

impl ServerConfig {
    /// A PIX 6.3: the seed's supported set, address-only push.
    pub fn pix63() -> Self {
        ServerConfig {
            supported: AttrSet::pix63(),
            push_extra: AttrSet::empty(),
            retransmit: RetransmitConfig::default(),
            request_timeout: Some(Duration::from_secs(60)),
            application_version: None,
            natt_port: None,
        }
    }

    /// A gateway that answers every type it can fill.
    pub fn full() -> Self {
        ServerConfig {
            supported: AttrSet::all(),
            ..Self::pix63()
        }
    }
}

/// Who is being configured, and from what.
#[derive(Debug)]
pub struct Assign<'a> {
    /// Where addresses are leased from (shared by every SA): the [`Pools`](crate::Pools)
    /// themselves (`&mut pools` coerces), or a handle to pools that several endpoints
    /// share.
    pub pools: &'a mut dyn LeaseStore,
    /// The client's group policy.
    pub policy: &'a GroupPolicy,
    /// The authenticated (Xauth) user, for sticky addresses.
    pub user: &'a str,
    /// An address assigned by AAA (RADIUS Framed-IP-Address), which wins over the pools.
    pub aaa: Option<AaaAddress>,
}

/// Something the server did, for the caller's log and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// A CFG_REQUEST is being checked ("ISAKMP (0:0): checking request:").
    CheckingRequest {
        /// Its identifier.
        identifier: u16,
    },
    /// One requested attribute ("ISAKMP: attribute IP4_ADDRESS (1)").
    Attribute {
        /// Its type.
        attr: AttrType,
    },
    /// A requested type this server does not support: left out ("Unsupported Attr: 5").
    Unsupported {
        /// Its type.
        attr: AttrType,
    },
    /// A supported type the policy has no value for: left out.
    NotConfigured {
        /// Its type.
        attr: AttrType,
    },
    /// An address was leased for the client.
    AddressAssigned {
        /// The address.
        addr: Ipv4Addr,
        /// Where it came from.
        source: LeaseSource,
    },
    /// No address could be leased; the dialogue failed.
    AddressUnavailable {
        /// Why.
        error: ModeCfgError,
    },
    /// CFG_REPLY sent ("responding to peer config").
    Replied {
        /// Its identifier.
        identifier: u16,
    },
    /// CFG_SET sent ("initiating peer config").
    SetSent {
        /// Its identifier.
        identifier: u16,
    },
    /// A message was sent again (a retransmitted REQUEST got the same REPLY, or a SET timed out).
    Retransmitted {
        /// Its identifier.
        identifier: u16,
    },
    /// The client's ACK lists the address ("peer accepted the address!").
    PeerAcceptedAddress {
        /// The address.
        addr: Ipv4Addr,
    },
    /// The client's ACK leaves the address out.
    PeerRejectedAddress {
        /// The address.
        addr: Ipv4Addr,
    },
    /// The peer did not answer in time; the dialogue failed.
    TimedOut {
        /// What was awaited ("CFG_REQUEST", "CFG_ACK").
        waiting_for: &'static str,
    },
}

impl ServerEvent {
    /// The line a PIX 6.3 prints for this event under `debug crypto isakmp`, if any.
    pub fn pix_line(&self) -> Option<String> {
        match self {
            ServerEvent::CheckingRequest { .. } => Some("ISAKMP (0:0): checking request:".into()),
            ServerEvent::Attribute { attr } => Some(format!(
                "ISAKMP: attribute {} ({})",
                attr.pix_name(),
                attr.number()
            )),
            ServerEvent::Unsupported { attr } => {
                Some(format!("Unsupported Attr: {}", attr.number()))
            }
            ServerEvent::PeerAcceptedAddress { .. } => {
                Some("ISAKMP (0:0): peer accepted the address!".into())
            }
            _ => None,
        }
    }
}

impl fmt::Display for ServerEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.pix_line() {
            return f.write_str(&line);
        }
        match self {
            ServerEvent::NotConfigured { attr } => write!(f, "{attr}: nothing configured"),
            ServerEvent::AddressAssigned { addr, source } => {
                write!(f, "assigned {addr} ({source:?})")
            }
            ServerEvent::AddressUnavailable { error } => write!(f, "no address: {error}"),
            ServerEvent::Replied { identifier } => write!(f, "CFG_REPLY id {identifier:#06x}"),
            ServerEvent::SetSent { identifier } => write!(f, "CFG_SET id {identifier:#06x}"),
            ServerEvent::Retransmitted { identifier } => {
                write!(f, "retransmitted id {identifier:#06x}")
            }
            ServerEvent::PeerRejectedAddress { addr } => write!(f, "peer rejected {addr}"),
            ServerEvent::TimedOut { waiting_for } => {
                write!(f, "timed out waiting for {waiting_for}")
            }
            _ => Ok(()),
        }
    }
}

/// Appends what the server puts in a reply for one type, encoded for the wire; `asked` is
/// the value the client sent with it (empty for a plain request). Returns whether anything
/// was configured (nothing: the type is left out).
///
/// Built straight into the reply's attribute list, one allocation per TLV value and none
/// for the intermediate typed attributes; the bytes are those of [`ModeCfgAttr::encode`].
fn fill(
    t: AttrType,
    asked: &[u8],
    cfg: &ServerConfig,
    policy: &GroupPolicy,
    lease: Option<&Lease>,
    out: &mut Vec<OwnedAttribute>,
) -> Result<bool, ModeCfgError> {
    let text = |s: &str| tlv(t, s.as_bytes().to_vec());
    let one = |a: Result<OwnedAttribute, ModeCfgError>, out: &mut Vec<OwnedAttribute>| {
        out.push(a?);
        Ok(true)
    };
    let ip4 = |a: Ipv4Addr| tlv(t, a.octets().to_vec());
    match t {
        AttrType::Ip4Address => match lease {
            Some(l) => one(ip4(l.addr()), out),
            None => Ok(false),
        },
        AttrType::Ip4Netmask => match lease {
            Some(l) => one(ip4(l.netmask()), out),
            None => Ok(false),
        },
        AttrType::Ip4Dns | AttrType::Ip4Nbns => {
            let servers = if t == AttrType::Ip4Dns {
                &policy.dns_servers
            } else {
                &policy.wins_servers
            };
            out.reserve(servers.len());
            for a in servers {
                out.push(ip4(*a)?);
            }
            Ok(!servers.is_empty())
        }
        AttrType::ApplicationVersion => match cfg.application_version.as_deref() {
            Some(v) => one(text(v), out),
            None => Ok(false),
        },
        AttrType::SupportedAttributes => {
            let mut b = Vec::with_capacity(AttrType::KNOWN.len().saturating_mul(2));
            for k in AttrType::KNOWN
                .iter()
                .filter(|k| cfg.supported.contains(**k))
            {
                b.extend_from_slice(&k.number().to_be_bytes());
            }
            one(tlv(t, b), out)
        }
        AttrType::Banner => match policy.banner.as_deref() {
            Some(b) => one(text(b), out),
            None => Ok(false),
        },
        AttrType::SavePasswd => one(
            Ok(OwnedAttribute::basic(
                t.number(),
                u16::from(policy.password_storage),
            )),
            out,
        ),
        AttrType::DefDomain => match policy.default_domain.as_deref() {
            Some(d) => one(text(d), out),
            None => Ok(false),
        },
        AttrType::SplitDns if !policy.split_dns.is_empty() => {
            one(tlv(t, policy.split_dns.join(",").into_bytes()), out)
        }
        AttrType::SplitInclude if !policy.split_tunnel.is_empty() => {
            one(tlv(t, encode_split_list(&policy.split_tunnel)), out)
        }
        AttrType::LocalLan if !policy.split_exclude.is_empty() => {
            one(tlv(t, encode_split_list(&policy.split_exclude)), out)
        }
        AttrType::NattPort => match cfg.natt_port {
            Some(p) => one(Ok(OwnedAttribute::basic(t.number(), p)), out),
            None => Ok(false),
        },
        AttrType::Pfs => one(
            Ok(OwnedAttribute::basic(t.number(), u16::from(policy.pfs))),
            out,
        ),
        AttrType::BackupServers if !policy.backup_servers.is_empty() => {
            one(tlv(t, policy.backup_servers.join(",").into_bytes()), out)
        }
        // The gateway echoes the host name the client announced (ipsec-tools does the same).
        AttrType::DdnsHostname if !asked.is_empty() => one(tlv(t, asked.to_vec()), out),
        _ => Ok(false),
    }
}

/// A sent REPLY, kept for a retransmitted REQUEST as its packed attribute bytes (one
/// allocation, instead of a copy of every attribute's).
#[derive(Debug)]
struct SentReply {
    identifier: u16,
    /// The attributes as emitted on the wire.
    packed: Vec<u8>,
    /// How many attributes `packed` holds.
    count: usize,
}

impl SentReply {
    fn new(reply: &OwnedConfigPayload) -> Result<Self, ModeCfgError> {
        let mut packed = Vec::with_capacity(attributes_wire_len(&reply.attributes));
        for a in &reply.attributes {
            a.emit(&mut packed)?;
        }
        Ok(SentReply {
            identifier: reply.identifier,
            packed,
            count: reply.attributes.len(),
        })
    }

    /// The REPLY again, equal to the one first sent (attributes round-trip exactly).
    fn payload(&self) -> OwnedConfigPayload {
        let mut attributes = Vec::with_capacity(self.count);
        attributes.extend(
            AttributeIter::with_limit(&self.packed, 0, self.count)
                .map_while(Result::ok)
                .map(|a| a.to_owned_attr()),
        );
        OwnedConfigPayload {
            cfg_type: CfgType::Reply,
            identifier: self.identifier,
            attributes,
        }
    }
}

/// A queued [`ServerEvent`] of the pull server in a few bytes: the per-attribute events a
/// request produces (two dozen for a VPN Client 4.x) take no more room than their type.
/// The events that carry owned data wait whole in [`EventQueue`]'s side storage.
#[derive(Debug, Clone, Copy)]
enum Queued {
    CheckingRequest(u16),
    Attribute(AttrType),
    Unsupported(AttrType),
    NotConfigured(AttrType),
    Replied(u16),
    Retransmitted(u16),
    TimedOut(&'static str),
    /// The next of the events kept whole.
    Whole,
}

/// The pull server's event queue: compact entries in order, plus the events kept whole
/// (an address assigned or unavailable, at most one per dialogue) in a slot that needs no
/// allocation, spilling to a queue only if more are ever pending.
#[derive(Debug, Default)]
struct EventQueue {
    order: VecDeque<Queued>,
    whole: Option<ServerEvent>,
    spill: VecDeque<ServerEvent>,
}

impl EventQueue {
    fn len(&self) -> usize {
        self.order.len()
    }

    fn reserve(&mut self, additional: usize) {
        self.order.reserve(additional);
    }

    #[inline]
    fn push(&mut self, q: Queued) {
        self.order.push_back(q);
    }

    fn push_whole(&mut self, e: ServerEvent) {
        // First in, first out: the slot holds the oldest whole event.
        if self.whole.is_none() && self.spill.is_empty() {
            self.whole = Some(e);
        } else {
            self.spill.push_back(e);
        }
        self.order.push_back(Queued::Whole);
    }

    #[inline]
    fn pop_front(&mut self) -> Option<ServerEvent> {
        let Some(next) = self.order.pop_front() else {
            // Drained: give the queues' allocations back (a finished dialogue stays with
            // its SA for the SA's life).
            if self.order.capacity() > 0 || self.spill.capacity() > 0 {
                self.order = VecDeque::new();
                self.spill = VecDeque::new();
            }
            return None;
        };
        Some(match next {
            Queued::CheckingRequest(identifier) => ServerEvent::CheckingRequest { identifier },
            Queued::Attribute(attr) => ServerEvent::Attribute { attr },
            Queued::Unsupported(attr) => ServerEvent::Unsupported { attr },
            Queued::NotConfigured(attr) => ServerEvent::NotConfigured { attr },
            Queued::Replied(identifier) => ServerEvent::Replied { identifier },
            Queued::Retransmitted(identifier) => ServerEvent::Retransmitted { identifier },
            Queued::TimedOut(waiting_for) => ServerEvent::TimedOut { waiting_for },
            Queued::Whole => return self.whole.take().or_else(|| self.spill.pop_front()),
        })
    }
}

#[derive(Debug)]
enum PullState {
    WaitRequest { timer: Retransmit },
    Replied(SentReply),
    Failed,
}

/// The gateway in `client configuration address respond` mode.
#[derive(Debug)]
pub struct PullServer {
    /// Shared: a gateway starts one server per IKE SA from the same configuration.
    config: std::sync::Arc<ServerConfig>,
    state: PullState,
    lease: Option<Lease>,
    events: EventQueue,
    /// The REPLY built by `handle_payload`, until polled (moved out, not copied).
    fresh: Option<OwnedConfigPayload>,
    /// Copies of the sent REPLY still to hand out for retransmitted REQUESTs (they are all
    /// the same payload, so a count is the queue).
    resend: usize,
}

impl PullServer {
    /// Waits for the client's CFG_REQUEST, from `now`. The configuration may be shared
    /// (`Arc<ServerConfig>`), so a gateway does not copy it per IKE SA.
    pub fn new(config: impl Into<std::sync::Arc<ServerConfig>>, now: Instant) -> Self {
        let config = config.into();
        let timer = Retransmit::timeout(config.request_timeout, now);
        PullServer {
            config,
            state: PullState::WaitRequest { timer },
            lease: None,
            events: EventQueue::default(),
            fresh: None,
            resend: 0,
        }
    }

    fn queued_transmits(&self) -> usize {
        self.resend
            .saturating_add(usize::from(self.fresh.is_some()))
    }

    /// Feeds a decrypted attribute payload from the client.
    ///
    /// A malformed or unexpected payload is an error and leaves the machine as it was (the
    /// caller drops the message); a retransmitted REQUEST gets the same REPLY again, with no
    /// second address.
    pub fn handle_payload(
        &mut self,
        _now: Instant,
        payload: &ConfigPayload<'_>,
        cx: &mut Assign<'_>,
    ) -> Result<(), ModeCfgError> {
        match &self.state {
            PullState::Failed => {
                return Err(ModeCfgError::Finished {
                    state: "failed",
                    what: cfg_name(payload.cfg_type),
                })
            }
            PullState::Replied(sent) => {
                let identifier = sent.identifier;
                if payload.cfg_type == CfgType::Request && payload.identifier == identifier {
                    if self.queued_transmits() < MAX_QUEUED {
                        self.resend = self.resend.saturating_add(1);
                    }
                    if self.events.len() < MAX_QUEUED {
                        self.events.push(Queued::Retransmitted(identifier));
                    }
                    return Ok(());
                }
                return Err(ModeCfgError::Finished {
                    state: "done",
                    what: cfg_name(payload.cfg_type),
                });
            }
            PullState::WaitRequest { .. } => {}
        }
        if payload.cfg_type != CfgType::Request {
            return Err(ModeCfgError::UnexpectedType {
                state: "waiting for the client's request",
                expected: "CFG_REQUEST",
                got: cfg_name(payload.cfg_type),
            });
        }
        cx.policy.validate()?;
        let identifier = payload.identifier;
        let supported = self.config.supported;
        let attrs = || AttributeIter::new(payload.raw_attributes, payload.attributes_offset);
        // Check every attribute before anything changes (a malformed request leaves the
        // machine as it was), noting only what the rest needs: how many, and whether the
        // address is asked for. Nothing is decoded into owned values; the second walk
        // below sees the same bytes.
        let mut asked = 0usize;
        let mut wants_address = false;
        let mut at = payload.attributes_offset;
        for a in attrs() {
            let a = a?;
            let t = decode_type(&a, at)?;
            at = at.saturating_add(a.wire_len());
            asked = asked.saturating_add(1);
            wants_address |= t == AttrType::Ip4Address && supported.contains(AttrType::Ip4Address);
        }
        // Lease first, whatever the attribute order, so NETMASK can follow ADDRESS.
        if wants_address && self.lease.is_none() {
            match cx.pools.acquire(cx.user, cx.aaa, &cx.policy.address_pools) {
                Ok(lease) => {
                    self.events.push_whole(ServerEvent::AddressAssigned {
                        addr: lease.addr(),
                        source: lease.source().clone(),
                    });
                    self.lease = Some(lease);
                }
                Err(error) => {
                    self.state = PullState::Failed;
                    self.events.push_whole(ServerEvent::AddressUnavailable {
                        error: error.clone(),
                    });
                    return Err(error);
                }
            }
        }
        // Up to two events per attribute (checked, unsupported or not configured) and
        // three around them: one reservation instead of a regrowth per few attributes.
        self.events
            .reserve(asked.saturating_mul(2).saturating_add(3));
        self.events.push(Queued::CheckingRequest(identifier));
        let mut answered = AttrSet::empty();
        let mut reply = Vec::new();
        // An attribute that cannot be encoded (a value over 65535 bytes) fails the reply
        // once every attribute has been checked, as encoding the finished list would.
        let mut failed = None;
        for a in attrs().map_while(Result::ok) {
            let t = AttrType::from_u16(a.kind);
            self.events.push(Queued::Attribute(t));
            if !supported.contains(t) {
                self.events.push(Queued::Unsupported(t));
                continue;
            }
            if answered.contains(t) {
                continue; // asked twice: answered once
            }
            answered = answered.with(t);
            let value = a.bytes().unwrap_or_default();
            let configured = if failed.is_some() {
                // Filling goes on only for the events; the reply is not sent.
                fill(
                    t,
                    value,
                    &self.config,
                    cx.policy,
                    self.lease.as_ref(),
                    &mut Vec::new(),
                )
            } else {
                fill(
                    t,
                    value,
                    &self.config,
                    cx.policy,
                    self.lease.as_ref(),
                    &mut reply,
                )
            };
            match configured {
                Ok(true) => {}
                Ok(false) => self.events.push(Queued::NotConfigured(t)),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        let reply = OwnedConfigPayload {
            cfg_type: CfgType::Reply,
            identifier,
            attributes: reply,
        };
        let sent = SentReply::new(&reply)?;
        self.fresh = Some(reply);
        self.events.push(Queued::Replied(identifier));
        self.state = PullState::Replied(sent);
        Ok(())
    }

    /// Fails the dialogue if the client's request is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let PullState::WaitRequest { timer } = &mut self.state {
            if timer.on_timeout(now) == Action::GiveUp {
                self.state = PullState::Failed;
                self.events.push(Queued::TimedOut("CFG_REQUEST"));
            }
        }
    }

    /// The next payload to send (the CFG_REPLY; again, marked as a retransmission, for
    /// each retransmitted REQUEST).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(reply) = self.fresh.take() {
            return Some(Transmit::first(reply));
        }
        match &self.state {
            PullState::Replied(sent) if self.resend > 0 => {
                self.resend = self.resend.saturating_sub(1);
                Some(Transmit::again(sent.payload()))
            }
            _ => None,
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`PullServer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            PullState::WaitRequest { timer } => timer.deadline(),
            _ => None,
        }
    }

    /// Whether the REPLY has been sent.
    pub fn is_done(&self) -> bool {
        matches!(self.state, PullState::Replied { .. })
    }

    /// Whether the dialogue failed (no address, or no request in time).
    pub fn is_failed(&self) -> bool {
        matches!(self.state, PullState::Failed)
    }

    /// The lease held for this client, if an address was assigned.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// Takes the lease out (to keep with the SA, and release on teardown).
    pub fn take_lease(&mut self) -> Option<Lease> {
        self.lease.take()
    }
}

#[derive(Debug)]
enum PushState {
    WaitAck { timer: Retransmit },
    Done,
    Failed,
}

/// The gateway in `client configuration address initiate` mode.
#[derive(Debug)]
pub struct PushServer {
    identifier: u16,
    set: OwnedConfigPayload,
    addr: Ipv4Addr,
    state: PushState,
    lease: Option<Lease>,
    events: VecDeque<ServerEvent>,
    transmit: VecDeque<Transmit>,
}

impl PushServer {
    /// Leases an address and sends CFG_SET with it (and `config.push_extra` types the policy
    /// fills). `identifier` is the caller's choice (random in practice).
    ///
    /// Fails, holding nothing, when no address can be leased.
    pub fn start(
        config: &ServerConfig,
        now: Instant,
        identifier: u16,
        cx: &mut Assign<'_>,
    ) -> Result<Self, ModeCfgError> {
        cx.policy.validate()?;
        let lease = cx
            .pools
            .acquire(cx.user, cx.aaa, &cx.policy.address_pools)?;
        let addr = lease.addr();
        let mut attributes = Vec::new();
        let mut filled = fill(
            AttrType::Ip4Address,
            &[],
            config,
            cx.policy,
            Some(&lease),
            &mut attributes,
        );
        for t in AttrType::KNOWN {
            if filled.is_err() {
                break;
            }
            if *t != AttrType::Ip4Address && config.push_extra.contains(*t) {
                filled = fill(*t, &[], config, cx.policy, Some(&lease), &mut attributes);
            }
        }
        if let Err(e) = filled {
            // Give the address back: nothing leaks on failure.
            cx.pools.release(lease)?;
            return Err(e);
        }
        let set = OwnedConfigPayload {
            cfg_type: CfgType::Set,
            identifier,
            attributes,
        };
        let mut events = VecDeque::new();
        events.push_back(ServerEvent::AddressAssigned {
            addr,
            source: lease.source().clone(),
        });
        events.push_back(ServerEvent::SetSent { identifier });
        Ok(PushServer {
            identifier,
            set: set.clone(),
            addr,
            state: PushState::WaitAck {
                timer: Retransmit::started(config.retransmit, now),
            },
            lease: Some(lease),
            events,
            transmit: VecDeque::from([Transmit::first(set)]),
        })
    }

    /// Feeds a decrypted attribute payload from the client (its CFG_ACK).
    pub fn handle_payload(
        &mut self,
        _now: Instant,
        payload: &ConfigPayload<'_>,
    ) -> Result<(), ModeCfgError> {
        match self.state {
            PushState::WaitAck { .. } => {}
            PushState::Done
                if payload.cfg_type == CfgType::Ack && payload.identifier == self.identifier =>
            {
                return Ok(()); // a duplicate ACK: nothing to do
            }
            PushState::Done => {
                return Err(ModeCfgError::Finished {
                    state: "done",
                    what: cfg_name(payload.cfg_type),
                })
            }
            PushState::Failed => {
                return Err(ModeCfgError::Finished {
                    state: "failed",
                    what: cfg_name(payload.cfg_type),
                })
            }
        }
        if payload.cfg_type != CfgType::Ack {
            return Err(ModeCfgError::UnexpectedType {
                state: "waiting for the client's ACK",
                expected: "CFG_ACK",
                got: cfg_name(payload.cfg_type),
            });
        }
        // 0 is taken as "the outstanding SET": strongSwan 5.9 acknowledges with
        // identifier 0 (the Transaction's message ID and HASH bind the ACK already).
        if payload.identifier != self.identifier && payload.identifier != 0 {
            return Err(ModeCfgError::IdentifierMismatch {
                expected: self.identifier,
                got: payload.identifier,
            });
        }
        let acked = decode_payload(payload)?;
        if acked.iter().any(|a| a.attr_type() == AttrType::Ip4Address) {
            self.state = PushState::Done;
            self.events
                .push_back(ServerEvent::PeerAcceptedAddress { addr: self.addr });
        } else {
            self.state = PushState::Failed;
            self.events
                .push_back(ServerEvent::PeerRejectedAddress { addr: self.addr });
        }
        Ok(())
    }

    /// Resends the SET when due; fails the dialogue when retries are used up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let PushState::WaitAck { timer } = &mut self.state {
            match timer.on_timeout(now) {
                Action::NotYet => {}
                Action::Resend => {
                    self.transmit.push_back(Transmit::again(self.set.clone()));
                    self.events.push_back(ServerEvent::Retransmitted {
                        identifier: self.identifier,
                    });
                }
                Action::GiveUp => {
                    self.state = PushState::Failed;
                    self.events.push_back(ServerEvent::TimedOut {
                        waiting_for: "CFG_ACK",
                    });
                }
            }
        }
    }

    /// The next payload to send (the CFG_SET; again, marked as a retransmission, on each
    /// resend).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let next = self.transmit.pop_front();
        if next.is_none() && self.transmit.capacity() > 0 {
            // Drained: give the queue's allocation back (a finished dialogue stays with
            // its SA for the SA's life).
            self.transmit = VecDeque::new();
        }
        next
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        let next = self.events.pop_front();
        if next.is_none() && self.events.capacity() > 0 {
            // Drained: give the queue's allocation back (a finished dialogue stays with
            // its SA for the SA's life).
            self.events = VecDeque::new();
        }
        next
    }

    /// When [`PushServer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            PushState::WaitAck { timer } => timer.deadline(),
            _ => None,
        }
    }

    /// The SET's identifier.
    pub fn identifier(&self) -> u16 {
        self.identifier
    }

    /// Whether the client accepted the address.
    pub fn is_done(&self) -> bool {
        matches!(self.state, PushState::Done)
    }

    /// Whether the dialogue failed (timeout or address rejected).
    pub fn is_failed(&self) -> bool {
        matches!(self.state, PushState::Failed)
    }

    /// The lease held for this client.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// Takes the lease out (to keep with the SA, or release at once after a failure).
    pub fn take_lease(&mut self) -> Option<Lease> {
        self.lease.take()
    }
}

#[cfg(test)]
mod tests {
    //! The pull server against the straightforward model it replaced: decode every
    //! attribute, fill typed values, encode the list. Same result, events, REPLY bytes and
    //! lease for any request.
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use crate::attrs::{decode_payload, encode_list, ModeCfgAttr, Text};
    use crate::pool::Pools;
    use crate::unity::SplitEntry;
    use proptest::prelude::*;

    fn model_fill(
        t: AttrType,
        asked: &ModeCfgAttr,
        cfg: &ServerConfig,
        policy: &GroupPolicy,
        lease: Option<&Lease>,
    ) -> Vec<ModeCfgAttr> {
        use ModeCfgAttr as M;
        let text = |s: &str| Text::from(s);
        match t {
            AttrType::Ip4Address => lease.map(|l| M::Ip4Address(l.addr())).into_iter().collect(),
            AttrType::Ip4Netmask => lease
                .map(|l| M::Ip4Netmask(l.netmask()))
                .into_iter()
                .collect(),
            AttrType::Ip4Dns => policy.dns_servers.iter().map(|a| M::Ip4Dns(*a)).collect(),
            AttrType::Ip4Nbns => policy.wins_servers.iter().map(|a| M::Ip4Nbns(*a)).collect(),
            AttrType::ApplicationVersion => cfg
                .application_version
                .as_deref()
                .map(|v| M::ApplicationVersion(text(v)))
                .into_iter()
                .collect(),
            AttrType::SupportedAttributes => vec![M::SupportedAttributes(
                AttrType::KNOWN
                    .iter()
                    .filter(|k| cfg.supported.contains(**k))
                    .map(|k| k.number())
                    .collect(),
            )],
            AttrType::Banner => policy
                .banner
                .as_deref()
                .map(|b| M::Banner(text(b)))
                .into_iter()
                .collect(),
            AttrType::SavePasswd => vec![M::SavePasswd(u16::from(policy.password_storage))],
            AttrType::DefDomain => policy
                .default_domain
                .as_deref()
                .map(|d| M::DefDomain(text(d)))
                .into_iter()
                .collect(),
            AttrType::SplitDns if !policy.split_dns.is_empty() => {
                vec![M::SplitDns(text(&policy.split_dns.join(",")))]
            }
            AttrType::SplitInclude if !policy.split_tunnel.is_empty() => {
                vec![M::SplitInclude(policy.split_tunnel.clone())]
            }
            AttrType::LocalLan if !policy.split_exclude.is_empty() => {
                vec![M::LocalLan(policy.split_exclude.clone())]
            }
            AttrType::NattPort => cfg.natt_port.map(M::NattPort).into_iter().collect(),
            AttrType::Pfs => vec![M::Pfs(u16::from(policy.pfs))],
            AttrType::BackupServers if !policy.backup_servers.is_empty() => {
                vec![M::BackupServers(text(&policy.backup_servers.join(",")))]
            }
            AttrType::DdnsHostname => match asked {
                M::DdnsHostname(h) => vec![M::DdnsHostname(h.clone())],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    type Outcome = (
        Result<(), ModeCfgError>,
        Vec<ServerEvent>,
        Option<OwnedConfigPayload>,
        Option<Ipv4Addr>,
    );

    /// The first request's handling, as the server did it before it stopped decoding into
    /// owned values.
    fn model(
        cfg: &ServerConfig,
        payload: &ConfigPayload<'_>,
        pools: &mut Pools,
        policy: &GroupPolicy,
    ) -> Outcome {
        let mut events = Vec::new();
        let mut lease = None;
        let mut run = || -> Result<OwnedConfigPayload, ModeCfgError> {
            policy.validate()?;
            let asked = decode_payload(payload)?;
            let supported = cfg.supported;
            if asked.iter().any(|a| {
                a.attr_type() == AttrType::Ip4Address && supported.contains(AttrType::Ip4Address)
            }) {
                let l = pools
                    .acquire("user", None, &policy.address_pools)
                    .inspect_err(|error| {
                        events.push(ServerEvent::AddressUnavailable {
                            error: error.clone(),
                        });
                    })?;
                events.push(ServerEvent::AddressAssigned {
                    addr: l.addr(),
                    source: l.source().clone(),
                });
                lease = Some(l);
            }
            events.push(ServerEvent::CheckingRequest {
                identifier: payload.identifier,
            });
            let mut answered = AttrSet::empty();
            let mut reply = Vec::new();
            for a in &asked {
                let t = a.attr_type();
                events.push(ServerEvent::Attribute { attr: t });
                if !supported.contains(t) {
                    events.push(ServerEvent::Unsupported { attr: t });
                    continue;
                }
                if answered.contains(t) {
                    continue;
                }
                answered = answered.with(t);
                let values = model_fill(t, a, cfg, policy, lease.as_ref());
                if values.is_empty() {
                    events.push(ServerEvent::NotConfigured { attr: t });
                }
                reply.extend(values);
            }
            let reply = OwnedConfigPayload {
                cfg_type: CfgType::Reply,
                identifier: payload.identifier,
                attributes: encode_list(&reply)?,
            };
            events.push(ServerEvent::Replied {
                identifier: payload.identifier,
            });
            Ok(reply)
        };
        let result = run();
        match result {
            Ok(reply) => (Ok(()), events, Some(reply), lease.map(|l| l.addr())),
            Err(e) => (Err(e), events, None, lease.map(|l| l.addr())),
        }
    }

    fn pools() -> Pools {
        let mut p = Pools::new();
        p.add("P", Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 3))
            .unwrap();
        p
    }

    fn full_policy() -> GroupPolicy {
        GroupPolicy {
            address_pools: vec!["P".into()],
            dns_servers: vec![Ipv4Addr::new(10, 1, 1, 1), Ipv4Addr::new(10, 1, 1, 2)],
            wins_servers: vec![Ipv4Addr::new(10, 1, 1, 3)],
            default_domain: Some("example.com".into()),
            split_dns: vec!["a.example".into(), "b.example".into()],
            split_tunnel: vec![SplitEntry::network(
                Ipv4Addr::new(10, 0, 0, 0),
                Ipv4Addr::new(255, 0, 0, 0),
            )],
            split_exclude: vec![SplitEntry::network(
                Ipv4Addr::new(192, 168, 0, 0),
                Ipv4Addr::new(255, 255, 0, 0),
            )],
            pfs: true,
            backup_servers: vec!["b1".into(), "b2".into()],
            banner: Some("hello".into()),
            password_storage: true,
            ..GroupPolicy::named("full")
        }
    }

    fn configs() -> Vec<ServerConfig> {
        let mut full = ServerConfig::full();
        full.application_version = Some("PIX 6.3".into());
        full.natt_port = Some(10000);
        let mut too_long = ServerConfig::full();
        too_long.application_version = Some("x".repeat(70_000));
        vec![ServerConfig::pix63(), full, too_long]
    }

    fn policies() -> Vec<GroupPolicy> {
        let mut none = GroupPolicy::named("none");
        none.address_pools = vec!["P".into()];
        let mut nopool = full_policy();
        nopool.address_pools = vec!["missing".into()];
        vec![none, full_policy(), nopool]
    }

    fn check(raw: &[u8]) {
        let payload = ConfigPayload {
            cfg_type: CfgType::Request,
            reserved: 0,
            identifier: 0x1234,
            raw_attributes: raw,
            attributes_offset: 32,
        };
        #[allow(clippy::disallowed_methods)] // a test's clock; the machine never reads it
        let now = Instant::now();
        for cfg in configs() {
            for policy in policies() {
                let mut mp = pools();
                let want = model(&cfg, &payload, &mut mp, &policy);
                let mut p = pools();
                let mut srv = PullServer::new(cfg.clone(), now);
                let mut cx = Assign {
                    pools: &mut p,
                    policy: &policy,
                    user: "user",
                    aaa: None,
                };
                let result = srv.handle_payload(now, &payload, &mut cx);
                let events: Vec<_> = std::iter::from_fn(|| srv.poll_event()).collect();
                let reply = srv.poll_transmit();
                assert!(reply.as_ref().is_none_or(|t| !t.retransmission));
                let reply = reply.map(Transmit::into_payload);
                assert!(srv.poll_transmit().is_none());
                let got = (result, events, reply, srv.lease().map(Lease::addr));
                assert_eq!(got, want);
                assert_eq!(cx.pools.total_in_use(), mp.total_in_use());
                if let Some(first) = got.2 {
                    // A retransmitted request gets the same REPLY, twice if asked twice.
                    srv.handle_payload(now, &payload, &mut cx).unwrap();
                    srv.handle_payload(now, &payload, &mut cx).unwrap();
                    let again = Some(Transmit::again(first));
                    assert_eq!(srv.poll_transmit(), again);
                    assert_eq!(srv.poll_transmit(), again);
                    assert!(srv.poll_transmit().is_none());
                }
            }
        }
    }

    fn attr_strategy() -> impl Strategy<Value = Vec<u8>> {
        let kinds = prop_oneof![
            prop::sample::select(
                AttrType::KNOWN
                    .iter()
                    .map(|t| t.number())
                    .collect::<Vec<_>>()
            ),
            any::<u16>(),
        ];
        (
            kinds,
            any::<bool>(),
            prop::collection::vec(any::<u8>(), 0..20),
            any::<u16>(),
        )
            .prop_map(|(kind, tv, value, basic)| {
                let mut b = Vec::new();
                if tv {
                    b.extend_from_slice(&(kind | 0x8000).to_be_bytes());
                    b.extend_from_slice(&basic.to_be_bytes());
                } else {
                    // Mostly the sizes each type expects, some not.
                    let len = match value.first().map(|x| x % 4) {
                        Some(0) => 0,
                        Some(1) => 4,
                        Some(2) => 14,
                        _ => value.len(),
                    }
                    .min(value.len());
                    b.extend_from_slice(&(kind & 0x7fff).to_be_bytes());
                    b.extend_from_slice(&u16::try_from(len).unwrap().to_be_bytes());
                    b.extend_from_slice(&value[..len]);
                }
                b
            })
    }

    #[test]
    fn event_queue_is_first_in_first_out() {
        let whole = |n: u8| ServerEvent::AddressAssigned {
            addr: Ipv4Addr::new(10, 0, 0, n),
            source: LeaseSource::Pool(format!("p{n}")),
        };
        let small = |n: u16| ServerEvent::Retransmitted { identifier: n };
        let mut q = EventQueue::default();
        let mut model = VecDeque::new();
        // Pushes and pops interleaved so whole events land in the slot and the spill.
        let script: [(Option<ServerEvent>, usize); 7] = [
            (Some(whole(1)), 0),
            (Some(small(1)), 0),
            (Some(whole(2)), 1),
            (Some(whole(3)), 0),
            (Some(small(2)), 1),
            (Some(whole(4)), 2),
            (None, 9),
        ];
        for (push, pops) in script {
            if let Some(e) = push {
                match e {
                    ServerEvent::Retransmitted { identifier } => {
                        q.push(Queued::Retransmitted(identifier));
                    }
                    ref e => q.push_whole(e.clone()),
                }
                model.push_back(e);
            }
            for _ in 0..pops {
                assert_eq!(q.pop_front(), model.pop_front());
            }
            assert_eq!(q.len(), model.len());
        }
        assert!(q.pop_front().is_none());
    }

    #[test]
    fn seed_request_matches_the_model() {
        let attrs: Vec<ModeCfgAttr> = crate::client::VPN_CLIENT_4X_REQUEST
            .iter()
            .map(|t| match t {
                AttrType::ApplicationVersion => {
                    ModeCfgAttr::ApplicationVersion(Text::from("Cisco Systems VPN Client"))
                }
                t => ModeCfgAttr::Request(*t),
            })
            .chain([
                ModeCfgAttr::Request(AttrType::SupportedAttributes),
                ModeCfgAttr::Request(AttrType::SplitDns),
                ModeCfgAttr::Request(AttrType::LocalLan),
                ModeCfgAttr::Request(AttrType::BackupServers),
                ModeCfgAttr::DdnsHostname(Text::from("host")),
                ModeCfgAttr::Request(AttrType::Ip4Address),
            ])
            .collect();
        let mut raw = Vec::new();
        for a in encode_list(&attrs).unwrap() {
            a.emit(&mut raw).unwrap();
        }
        check(&raw);
        check(&[]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_request_matches_the_model(
            attrs in prop::collection::vec(attr_strategy(), 0..12),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut raw = attrs.concat();
            if truncate && !raw.is_empty() {
                raw.truncate(cut.index(raw.len()));
            }
            check(&raw);
        }
    }
}
