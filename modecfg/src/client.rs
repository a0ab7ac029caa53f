//! The client side: what vpnc and the Cisco VPN Client send and accept.
//!
//! * [`PullClient`] (VPN Client 3.x/4.x, vpnc): sends CFG_REQUEST listing what it wants,
//!   resends it until the CFG_REPLY with the same identifier arrives, and turns the reply
//!   into a [`ClientConfig`].
//! * [`PushClient`] (VPN Client 1.x): waits for the gateway's CFG_SET, applies it and
//!   answers CFG_ACK listing every attribute it accepted (zero-length, same identifier).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use isakmp_wire::attr::OwnedAttribute;
use isakmp_wire::cfg::{CfgType, ConfigPayload, OwnedConfigPayload};

use crate::attrs::{
    decode_payload, encode_list, AttrType, Ip4Subnet, Ip6Prefix, ModeCfgAttr, Text,
};
use crate::error::{cfg_name, ModeCfgError};
use crate::server::AttrSet;
use crate::transmit::Transmit;
use crate::unity::SplitEntry;
use crate::RetransmitConfig;
use pix_primitives::retransmit::{Action, Retransmit};

/// Cap on queued outgoing payloads and events.
const MAX_QUEUED: usize = 64;

/// The attributes Cisco VPN Client 4.0.5 asks for, in its order (the seed trace's
/// "checking request" list).
pub const VPN_CLIENT_4X_REQUEST: [AttrType; 13] = [
    AttrType::Ip4Address,
    AttrType::Ip4Netmask,
    AttrType::Ip4Dns,
    AttrType::Ip4Nbns,
    AttrType::AddressExpiry,
    AttrType::ApplicationVersion,
    AttrType::Banner,
    AttrType::SavePasswd,
    AttrType::DefDomain,
    AttrType::SplitInclude,
    AttrType::Pfs,
    AttrType::FwType,
    AttrType::NattPort,
];

/// The configuration a client ends up with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientConfig {
    /// INTERNAL_IP4_ADDRESS.
    pub address: Option<Ipv4Addr>,
    /// INTERNAL_IP4_NETMASK.
    pub netmask: Option<Ipv4Addr>,
    /// INTERNAL_IP4_DNS, in order.
    pub dns: Vec<Ipv4Addr>,
    /// INTERNAL_IP4_NBNS (WINS), in order.
    pub nbns: Vec<Ipv4Addr>,
    /// INTERNAL_ADDRESS_EXPIRY, seconds.
    pub address_expiry: Option<u32>,
    /// INTERNAL_IP4_DHCP.
    pub dhcp: Vec<Ipv4Addr>,
    /// APPLICATION_VERSION of the gateway.
    pub application_version: Option<Text>,
    /// INTERNAL_IP6_ADDRESS.
    pub ip6_address: Option<Ip6Prefix>,
    /// INTERNAL_IP6_NETMASK.
    pub ip6_netmask: Option<Ipv6Addr>,
    /// INTERNAL_IP6_DNS.
    pub ip6_dns: Vec<Ipv6Addr>,
    /// INTERNAL_IP6_NBNS.
    pub ip6_nbns: Vec<Ipv6Addr>,
    /// INTERNAL_IP6_DHCP.
    pub ip6_dhcp: Vec<Ipv6Addr>,
    /// INTERNAL_IP4_SUBNET: networks behind the gateway.
    pub ip4_subnets: Vec<Ip4Subnet>,
    /// INTERNAL_IP6_SUBNET.
    pub ip6_subnets: Vec<(Ipv6Addr, u8)>,
    /// SUPPORTED_ATTRIBUTES of the gateway.
    pub supported: Vec<u16>,
    /// Unity BANNER.
    pub banner: Option<Text>,
    /// Unity SAVE_PASSWD.
    pub save_password: Option<bool>,
    /// Unity DEF_DOMAIN.
    pub default_domain: Option<Text>,
    /// Unity SPLIT_DNS, split into domains.
    pub split_dns: Vec<String>,
    /// Unity SPLIT_INCLUDE: tunnel only these (empty: tunnel everything).
    pub split_include: Vec<SplitEntry>,
    /// Unity LOCAL_LAN: never tunnel these.
    pub local_lan: Vec<SplitEntry>,
    /// Unity PFS.
    pub pfs: Option<bool>,
    /// Unity NATT_PORT.
    pub natt_port: Option<u16>,
    /// Unity FW_TYPE.
    pub fw_type: Option<Vec<u8>>,
    /// Unity BACKUP_SERVERS, split.
    pub backup_servers: Vec<String>,
    /// Unity DDNS_HOSTNAME.
    pub ddns_hostname: Option<Text>,
    /// Types this crate does not know, as received.
    pub unknown: Vec<OwnedAttribute>,
}

impl ClientConfig {
    /// Applies one attribute; `false` when it carries nothing to apply (a zero-length one).
    pub fn apply(&mut self, a: &ModeCfgAttr) -> bool {
        use ModeCfgAttr as M;
        match a {
            M::Request(_) => return false,
            M::Ip4Address(x) => self.address = Some(*x),
            M::Ip4Netmask(x) => self.netmask = Some(*x),
            M::Ip4Dns(x) => self.dns.push(*x),
            M::Ip4Nbns(x) => self.nbns.push(*x),
            M::AddressExpiry(x) => self.address_expiry = Some(*x),
            M::Ip4Dhcp(x) => self.dhcp.push(*x),
            M::ApplicationVersion(x) => self.application_version = Some(x.clone()),
            M::Ip6Address(x) => self.ip6_address = Some(*x),
            M::Ip6Netmask(x) => self.ip6_netmask = Some(*x),
            M::Ip6Dns(x) => self.ip6_dns.push(*x),
            M::Ip6Nbns(x) => self.ip6_nbns.push(*x),
            M::Ip6Dhcp(x) => self.ip6_dhcp.push(*x),
            M::Ip4Subnet(x) => self.ip4_subnets.push(*x),
            M::SupportedAttributes(x) => self.supported.clone_from(x),
            M::Ip6Subnet { addr, prefix } => self.ip6_subnets.push((*addr, *prefix)),
            M::Banner(x) => self.banner = Some(x.clone()),
            M::SavePasswd(x) => self.save_password = Some(*x != 0),
            M::DefDomain(x) => self.default_domain = Some(x.clone()),
            M::SplitDns(x) => self.split_dns = x.list(),
            M::SplitInclude(x) => self.split_include.extend_from_slice(x),
            M::LocalLan(x) => self.local_lan.extend_from_slice(x),
            M::Pfs(x) => self.pfs = Some(*x != 0),
            M::NattPort(x) => self.natt_port = Some(*x),
            M::FwType(x) => self.fw_type = Some(x.clone()),
            M::BackupServers(x) => self.backup_servers = x.list(),
            M::DdnsHostname(x) => self.ddns_hostname = Some(x.clone()),
            M::Unknown(x) => self.unknown.push(x.clone()),
        }
        true
    }
}

/// Something the client did or learned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The gateway's configuration arrived and was applied.
    Configured(Box<ClientConfig>),
    /// The REPLY carried a type the client did not ask for; it was not applied.
    Unrequested {
        /// Its type.
        attr: AttrType,
    },
    /// A message was sent again.
    Retransmitted {
        /// Its identifier.
        identifier: u16,
    },
    /// The gateway did not answer in time; the dialogue failed.
    TimedOut {
        /// What was awaited.
        waiting_for: &'static str,
    },
}

#[derive(Debug)]
enum PullClientState {
    WaitReply { timer: Retransmit },
    Done,
    Failed,
}

/// A client in pull mode.
#[derive(Debug)]
pub struct PullClient {
    request: OwnedConfigPayload,
    requested: AttrSet,
    wants_address: bool,
    state: PullClientState,
    config: Option<ClientConfig>,
    events: VecDeque<ClientEvent>,
    transmit: VecDeque<Transmit>,
}

impl PullClient {
    /// Sends CFG_REQUEST `identifier` with `request` (use [`ModeCfgAttr::Request`] for the
    /// plain "give me" form; some types, like APPLICATION_VERSION, carry the client's value).
    pub fn new(
        now: Instant,
        identifier: u16,
        request: &[ModeCfgAttr],
        retransmit: RetransmitConfig,
    ) -> Result<Self, ModeCfgError> {
        let attributes = encode_list(request)?;
        let requested = AttrSet::of(
            &request
                .iter()
                .map(ModeCfgAttr::attr_type)
                .collect::<Vec<_>>(),
        );
        let request = OwnedConfigPayload {
            cfg_type: CfgType::Request,
            identifier,
            attributes,
        };
        Ok(PullClient {
            request: request.clone(),
            requested,
            wants_address: requested.contains(AttrType::Ip4Address),
            state: PullClientState::WaitReply {
                timer: Retransmit::started(retransmit, now),
            },
            config: None,
            events: VecDeque::new(),
            transmit: VecDeque::from([Transmit::first(request)]),
        })
    }

    /// The request Cisco VPN Client 4.x sends ([`VPN_CLIENT_4X_REQUEST`]), announcing
    /// `version` in APPLICATION_VERSION.
    pub fn vpn_client_4x(
        now: Instant,
        identifier: u16,
        version: &str,
        retransmit: RetransmitConfig,
    ) -> Result<Self, ModeCfgError> {
        let attrs: Vec<ModeCfgAttr> = VPN_CLIENT_4X_REQUEST
            .iter()
            .map(|t| match t {
                AttrType::ApplicationVersion => {
                    ModeCfgAttr::ApplicationVersion(Text::from(version))
                }
                t => ModeCfgAttr::Request(*t),
            })
            .collect();
        Self::new(now, identifier, &attrs, retransmit)
    }

    /// Feeds a decrypted attribute payload from the gateway (its CFG_REPLY).
    pub fn handle_payload(
        &mut self,
        _now: Instant,
        payload: &ConfigPayload<'_>,
    ) -> Result<(), ModeCfgError> {
        match self.state {
            PullClientState::WaitReply { .. } => {}
            PullClientState::Done => {
                return Err(ModeCfgError::Finished {
                    state: "done",
                    what: cfg_name(payload.cfg_type),
                })
            }
            PullClientState::Failed => {
                return Err(ModeCfgError::Finished {
                    state: "failed",
                    what: cfg_name(payload.cfg_type),
                })
            }
        }
        if payload.cfg_type != CfgType::Reply {
            return Err(ModeCfgError::UnexpectedType {
                state: "waiting for the gateway's reply",
                expected: "CFG_REPLY",
                got: cfg_name(payload.cfg_type),
            });
        }
        if payload.identifier != self.request.identifier {
            return Err(ModeCfgError::IdentifierMismatch {
                expected: self.request.identifier,
                got: payload.identifier,
            });
        }
        let attrs = decode_payload(payload)?;
        let mut config = ClientConfig::default();
        for a in &attrs {
            let t = a.attr_type();
            if !self.requested.contains(t) {
                // Never act on what was not asked for (a gateway must not push policy here).
                self.events.push_back(ClientEvent::Unrequested { attr: t });
                continue;
            }
            config.apply(a);
        }
        if self.wants_address && config.address.is_none() {
            self.state = PullClientState::Failed;
            return Err(ModeCfgError::MissingAttribute {
                cfg_type: "CFG_REPLY",
                attr: AttrType::Ip4Address,
            });
        }
        self.state = PullClientState::Done;
        self.events
            .push_back(ClientEvent::Configured(Box::new(config.clone())));
        self.config = Some(config);
        Ok(())
    }

    /// Resends the REQUEST when due; fails when retries are used up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let PullClientState::WaitReply { timer } = &mut self.state {
            match timer.on_timeout(now) {
                Action::NotYet => {}
                Action::Resend => {
                    self.transmit
                        .push_back(Transmit::again(self.request.clone()));
                    self.events.push_back(ClientEvent::Retransmitted {
                        identifier: self.request.identifier,
                    });
                }
                Action::GiveUp => {
                    self.state = PullClientState::Failed;
                    self.events.push_back(ClientEvent::TimedOut {
                        waiting_for: "CFG_REPLY",
                    });
                }
            }
        }
    }

    /// The next payload to send (the CFG_REQUEST; again, marked as a retransmission, on
    /// each resend).
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
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        let next = self.events.pop_front();
        if next.is_none() && self.events.capacity() > 0 {
            // Drained: give the queue's allocation back (a finished dialogue stays with
            // its SA for the SA's life).
            self.events = VecDeque::new();
        }
        next
    }

    /// When [`PullClient::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            PullClientState::WaitReply { timer } => timer.deadline(),
            _ => None,
        }
    }

    /// The configuration, once the reply arrived.
    pub fn config(&self) -> Option<&ClientConfig> {
        self.config.as_ref()
    }

    /// Whether the dialogue failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, PullClientState::Failed)
    }
}

#[derive(Debug)]
enum PushClientState {
    WaitSet {
        timer: Retransmit,
    },
    Acked {
        identifier: u16,
        ack: OwnedConfigPayload,
    },
    Failed,
}

/// A client in push mode.
#[derive(Debug)]
pub struct PushClient {
    state: PushClientState,
    config: Option<ClientConfig>,
    events: VecDeque<ClientEvent>,
    transmit: VecDeque<Transmit>,
}

impl PushClient {
    /// Waits for the gateway's CFG_SET from `now`, at most `wait` (`None`: forever).
    pub fn new(now: Instant, wait: Option<Duration>) -> Self {
        PushClient {
            state: PushClientState::WaitSet {
                timer: Retransmit::timeout(wait, now),
            },
            config: None,
            events: VecDeque::new(),
            transmit: VecDeque::new(),
        }
    }

    /// Feeds a decrypted attribute payload from the gateway (its CFG_SET).
    ///
    /// The ACK lists each applied type once, zero-length; unknown types are not acknowledged.
    /// A retransmitted SET (same identifier) gets the same ACK again.
    pub fn handle_payload(
        &mut self,
        _now: Instant,
        payload: &ConfigPayload<'_>,
    ) -> Result<(), ModeCfgError> {
        match &self.state {
            PushClientState::WaitSet { .. } => {}
            PushClientState::Acked { identifier, ack } => {
                if payload.cfg_type == CfgType::Set && payload.identifier == *identifier {
                    // Bounded: a peer resending while nobody drains cannot grow the queues.
                    if self.transmit.len() < MAX_QUEUED {
                        self.transmit.push_back(Transmit::again(ack.clone()));
                    }
                    if self.events.len() < MAX_QUEUED {
                        self.events.push_back(ClientEvent::Retransmitted {
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
            PushClientState::Failed => {
                return Err(ModeCfgError::Finished {
                    state: "failed",
                    what: cfg_name(payload.cfg_type),
                })
            }
        }
        if payload.cfg_type != CfgType::Set {
            return Err(ModeCfgError::UnexpectedType {
                state: "waiting for the gateway's set",
                expected: "CFG_SET",
                got: cfg_name(payload.cfg_type),
            });
        }
        let attrs = decode_payload(payload)?;
        let mut config = ClientConfig::default();
        let mut acked = AttrSet::empty();
        let mut ack = Vec::new();
        for a in &attrs {
            let t = a.attr_type();
            if config.apply(a) && !matches!(t, AttrType::Unknown(_)) && !acked.contains(t) {
                acked = acked.with(t);
                ack.push(ModeCfgAttr::Request(t));
            }
        }
        let ack = OwnedConfigPayload {
            cfg_type: CfgType::Ack,
            identifier: payload.identifier,
            attributes: encode_list(&ack)?,
        };
        self.transmit.push_back(Transmit::first(ack.clone()));
        self.state = PushClientState::Acked {
            identifier: payload.identifier,
            ack,
        };
        self.events
            .push_back(ClientEvent::Configured(Box::new(config.clone())));
        self.config = Some(config);
        Ok(())
    }

    /// Fails the dialogue if the SET is overdue.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let PushClientState::WaitSet { timer } = &mut self.state {
            if timer.on_timeout(now) == Action::GiveUp {
                self.state = PushClientState::Failed;
                self.events.push_back(ClientEvent::TimedOut {
                    waiting_for: "CFG_SET",
                });
            }
        }
    }

    /// The next payload to send (the CFG_ACK; again, marked as a retransmission, for
    /// each retransmitted SET).
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
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        let next = self.events.pop_front();
        if next.is_none() && self.events.capacity() > 0 {
            // Drained: give the queue's allocation back (a finished dialogue stays with
            // its SA for the SA's life).
            self.events = VecDeque::new();
        }
        next
    }

    /// When [`PushClient::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            PushClientState::WaitSet { timer } => timer.deadline(),
            _ => None,
        }
    }

    /// The configuration, once the SET arrived.
    pub fn config(&self) -> Option<&ClientConfig> {
        self.config.as_ref()
    }

    /// Whether the dialogue failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, PushClientState::Failed)
    }
}
