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
//! [`Pools`] when the SA goes away.

use std::collections::VecDeque;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use isakmp_wire::cfg::{CfgType, ConfigPayload, OwnedConfigPayload};

use crate::attrs::{decode_payload, encode_list, AttrType, ModeCfgAttr, Text};
use crate::error::{cfg_name, ModeCfgError};
use crate::policy::GroupPolicy;
use crate::pool::{AaaAddress, Lease, LeaseSource, Pools};
use crate::retransmit::{RetransmitConfig, Retransmitter, Tick};

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
    /// The address pools (shared by every SA).
    pub pools: &'a mut Pools,
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

/// What the server puts in a reply for one type: the attributes, or nothing configured.
fn fill(
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
        AttrType::SupportedAttributes => {
            vec![M::SupportedAttributes(
                AttrType::KNOWN
                    .iter()
                    .filter(|k| cfg.supported.contains(**k))
                    .map(|k| k.number())
                    .collect(),
            )]
        }
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
        // The gateway echoes the host name the client announced (ipsec-tools does the same).
        AttrType::DdnsHostname => match asked {
            M::DdnsHostname(h) => vec![M::DdnsHostname(h.clone())],
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

#[derive(Debug)]
enum PullState {
    WaitRequest {
        deadline: Option<Instant>,
    },
    Replied {
        identifier: u16,
        reply: OwnedConfigPayload,
    },
    Failed,
}

/// The gateway in `client configuration address respond` mode.
#[derive(Debug)]
pub struct PullServer {
    /// Shared: a gateway starts one server per IKE SA from the same configuration.
    config: std::sync::Arc<ServerConfig>,
    state: PullState,
    lease: Option<Lease>,
    events: VecDeque<ServerEvent>,
    transmit: VecDeque<OwnedConfigPayload>,
}

impl PullServer {
    /// Waits for the client's CFG_REQUEST, from `now`. The configuration may be shared
    /// (`Arc<ServerConfig>`), so a gateway does not copy it per IKE SA.
    pub fn new(config: impl Into<std::sync::Arc<ServerConfig>>, now: Instant) -> Self {
        let config = config.into();
        let deadline = config.request_timeout.and_then(|d| now.checked_add(d));
        PullServer {
            config,
            state: PullState::WaitRequest { deadline },
            lease: None,
            events: VecDeque::new(),
            transmit: VecDeque::new(),
        }
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
            PullState::Replied { identifier, reply } => {
                if payload.cfg_type == CfgType::Request && payload.identifier == *identifier {
                    if self.transmit.len() < MAX_QUEUED {
                        self.transmit.push_back(reply.clone());
                    }
                    if self.events.len() < MAX_QUEUED {
                        self.events.push_back(ServerEvent::Retransmitted {
                            identifier: *identifier,
                        });
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
        let asked = decode_payload(payload)?;
        let identifier = payload.identifier;
        let supported = self.config.supported;
        // Lease first, whatever the attribute order, so NETMASK can follow ADDRESS.
        let wants_address = asked.iter().any(|a| {
            a.attr_type() == AttrType::Ip4Address && supported.contains(AttrType::Ip4Address)
        });
        if wants_address && self.lease.is_none() {
            match cx.pools.acquire(cx.user, cx.aaa, &cx.policy.address_pools) {
                Ok(lease) => {
                    self.events.push_back(ServerEvent::AddressAssigned {
                        addr: lease.addr(),
                        source: lease.source().clone(),
                    });
                    self.lease = Some(lease);
                }
                Err(error) => {
                    self.state = PullState::Failed;
                    self.events.push_back(ServerEvent::AddressUnavailable {
                        error: error.clone(),
                    });
                    return Err(error);
                }
            }
        }
        // Up to two events per attribute (checked, unsupported or not configured) and
        // three around them: one reservation instead of a regrowth per few attributes.
        self.events
            .reserve(asked.len().saturating_mul(2).saturating_add(3));
        self.events
            .push_back(ServerEvent::CheckingRequest { identifier });
        let mut answered = AttrSet::empty();
        let mut reply = Vec::with_capacity(asked.len());
        for a in &asked {
            let t = a.attr_type();
            self.events.push_back(ServerEvent::Attribute { attr: t });
            if !supported.contains(t) {
                self.events.push_back(ServerEvent::Unsupported { attr: t });
                continue;
            }
            if answered.contains(t) {
                continue; // asked twice: answered once
            }
            answered = answered.with(t);
            let values = fill(t, a, &self.config, cx.policy, self.lease.as_ref());
            if values.is_empty() {
                self.events
                    .push_back(ServerEvent::NotConfigured { attr: t });
            }
            reply.extend(values);
        }
        let reply = OwnedConfigPayload {
            cfg_type: CfgType::Reply,
            identifier,
            attributes: encode_list(&reply)?,
        };
        self.transmit.push_back(reply.clone());
        self.events.push_back(ServerEvent::Replied { identifier });
        self.state = PullState::Replied { identifier, reply };
        Ok(())
    }

    /// Fails the dialogue if the client's request is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let PullState::WaitRequest { deadline: Some(d) } = self.state {
            if now >= d {
                self.state = PullState::Failed;
                self.events.push_back(ServerEvent::TimedOut {
                    waiting_for: "CFG_REQUEST",
                });
            }
        }
    }

    /// The next payload to send (a CFG_REPLY).
    pub fn poll_transmit(&mut self) -> Option<OwnedConfigPayload> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`PullServer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            PullState::WaitRequest { deadline } => deadline,
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
    WaitAck { timer: Retransmitter },
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
    transmit: VecDeque<OwnedConfigPayload>,
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
        let mut attrs = vec![ModeCfgAttr::Ip4Address(addr)];
        for t in AttrType::KNOWN {
            if *t != AttrType::Ip4Address && config.push_extra.contains(*t) {
                attrs.extend(fill(
                    *t,
                    &ModeCfgAttr::Request(*t),
                    config,
                    cx.policy,
                    Some(&lease),
                ));
            }
        }
        let attributes = match encode_list(&attrs) {
            Ok(a) => a,
            Err(e) => {
                // Give the address back: nothing leaks on failure.
                cx.pools.release(lease)?;
                return Err(e);
            }
        };
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
                timer: Retransmitter::start(now, config.retransmit),
            },
            lease: Some(lease),
            events,
            transmit: VecDeque::from([set]),
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
                Tick::Wait => {}
                Tick::Resend => {
                    self.transmit.push_back(self.set.clone());
                    self.events.push_back(ServerEvent::Retransmitted {
                        identifier: self.identifier,
                    });
                }
                Tick::GiveUp => {
                    self.state = PushState::Failed;
                    self.events.push_back(ServerEvent::TimedOut {
                        waiting_for: "CFG_ACK",
                    });
                }
            }
        }
    }

    /// The next payload to send (the CFG_SET, again on each resend).
    pub fn poll_transmit(&mut self) -> Option<OwnedConfigPayload> {
        self.transmit.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`PushServer::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            PushState::WaitAck { timer } => Some(timer.deadline()),
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
