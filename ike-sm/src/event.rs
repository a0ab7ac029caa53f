//! What the endpoint tells its driver: [`Event`]s, including a stream of PIX-style
//! decision events ([`DebugEvent`]) with a renderer that prints the words of a PIX 6.3
//! under `debug crypto isakmp`.

use crate::config::TrafficSelector;
use core::fmt::Write as _;
use core::net::{Ipv4Addr, SocketAddr};
use pix_primitives::Secret;

/// Names one IKE SA of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaId(pub u64);

/// Why an SA failed or went away.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// No local policy accepted any offered transform (NO-PROPOSAL-CHOSEN).
    NoProposalChosen,
    /// HASH_I/HASH_R did not verify (wrong key, or unknown group).
    AuthenticationFailed,
    /// The peer's identity selects no key.
    InvalidId,
    /// The peer stopped answering.
    Timeout,
    /// Xauth refused the user.
    XauthFailed,
    /// Mode Config could not lease an address.
    AddressUnavailable,
    /// The peer told us so (error notify type).
    PeerNotify(u16),
    /// DPD declared the peer dead.
    DeadPeer,
    /// A message broke the protocol (what).
    Protocol(&'static str),
}

/// Why an IKE SA ended ([`Event::Deleted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeleteReason {
    /// The peer sent an ISAKMP Delete.
    PeerDelete,
    /// Our driver deleted it ([`crate::Endpoint::delete`]).
    Local,
    /// Its lifetime ran out without a rekey.
    Expired,
    /// A phase-1 rekey replaced it (its children live on under the new SA).
    Replaced,
    /// It failed ([`Event::Failed`] came first, with the reason).
    Failed,
    /// A half-open negotiation evicted to make room.
    Evicted,
    /// The same peer and user came back with INITIAL-CONTACT: it forgot this SA.
    InitialContact,
}

/// One child (IPsec) SA pair from Quick Mode: everything `esp` needs.
#[derive(Debug)]
pub struct ChildSa {
    /// The IKE SA it was negotiated under.
    pub ike_sa: SaId,
    /// Quick Mode message ID.
    pub message_id: u32,
    /// SPI we chose: the peer sends to us with it.
    pub spi_in: u32,
    /// SPI the peer chose: we send with it.
    pub spi_out: u32,
    /// IPsec protocol (3: ESP).
    pub protocol: u8,
    /// The ESP cipher (its transform ID and key length are
    /// [`esp::EncryptionAlgorithm::transform_id`] and
    /// [`esp::EncryptionAlgorithm::key_length_attribute`]).
    pub encryption: esp::EncryptionAlgorithm,
    /// The ESP integrity algorithm (its Authentication Algorithm attribute is
    /// [`esp::IntegrityAlgorithm::attribute`]).
    pub integrity: esp::IntegrityAlgorithm,
    /// Encapsulation Mode attribute (1 tunnel, 2 transport, 3/4 UDP, 61443/61444 drafts).
    pub encapsulation: u16,
    /// Inbound cipher key.
    pub enc_key_in: Secret,
    /// Inbound integrity key.
    pub auth_key_in: Secret,
    /// Outbound cipher key.
    pub enc_key_out: Secret,
    /// Outbound integrity key.
    pub auth_key_out: Secret,
    /// Our selector.
    pub local_selector: TrafficSelector,
    /// The peer's selector.
    pub remote_selector: TrafficSelector,
    /// Lifetime in seconds.
    pub life_secs: u64,
    /// Lifetime in kilobytes (0: none).
    pub life_kb: u64,
    /// Our IKE address.
    pub local: SocketAddr,
    /// The peer's IKE address.
    pub remote: SocketAddr,
    /// UDP encapsulation ports (ours, theirs) when NAT-T floated.
    pub natt_ports: Option<(u16, u16)>,
    /// The peer's original address from its NAT-OA payloads (RFC 3947 section 5.2), sent
    /// with UDP-Encapsulated-Transport mode: what a transport-mode SA needs to fix up
    /// TCP/UDP checksums (RFC 3948 section 3.1.2). `None` when the peer sent none.
    pub peer_original_addr: Option<core::net::IpAddr>,
    /// The address our Mode Config assigned to the peer of its IKE SA (a gateway's
    /// lease), which the peer owns: a data plane routes traffic for it to this pair
    /// before any other SA whose selector covers it, and takes packets from it out of no
    /// other SA. `None` for a peer without one (`no-config-mode`) and on a client.
    pub assigned_address: Option<Ipv4Addr>,
}

/// Something that happened.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Phase 1 is authenticated.
    Phase1Established {
        /// The SA.
        sa: SaId,
        /// Peer address.
        remote: SocketAddr,
        /// The group (Aggressive Mode ID_KEY_ID) or peer identity.
        identity: String,
    },
    /// The gateway asks its AAA backend; answer with `Endpoint::xauth_verdict`.
    XauthCredentials {
        /// The SA.
        sa: SaId,
        /// The user name.
        user: String,
        /// The password.
        password: Secret,
    },
    /// Xauth finished.
    XauthDone {
        /// The SA.
        sa: SaId,
        /// The user, if accepted.
        user: Option<String>,
    },
    /// Mode Config leased (gateway) or received (client) an address.
    AddressAssigned {
        /// The SA.
        sa: SaId,
        /// The address.
        addr: Ipv4Addr,
    },
    /// A child SA pair is ready.
    ChildSa(Box<ChildSa>),
    /// An IKE SA is gone (its address lease is returned to the pool).
    Deleted {
        /// The SA.
        sa: SaId,
        /// Why it ended.
        reason: DeleteReason,
    },
    /// An IKE SA failed.
    Failed {
        /// The SA.
        sa: SaId,
        /// Why.
        reason: FailReason,
    },
    /// A child SA pair was deleted (by the peer or by us).
    ChildDeleted {
        /// The IKE SA.
        sa: SaId,
        /// Inbound SPI of the pair.
        spi_in: u32,
    },
    /// A phase-1 rekey finished: `new` (same peer, same profile) is up and has taken over
    /// the child SAs of `old`, which is deleted (a DELETE went to the peer; its
    /// [`Event::Deleted`] follows). Quick Modes asked for on `old` now run on `new`.
    Phase1Rekeyed {
        /// The IKE SA that was replaced.
        old: SaId,
        /// The IKE SA that replaced it.
        new: SaId,
    },
    /// A decision, in the order the PIX logs them.
    Debug(DebugEvent),
}

/// How a phase-1 authentication method prints.
fn auth_words(method: u16) -> &'static str {
    match method {
        1 => "auth pre-share",
        65001 | 65002 => "extended auth pre-share",
        3 => "auth RSA sig",
        _ => "auth unknown",
    }
}

/// One PIX-style decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DebugEvent {
    /// A datagram arrived.
    ProcessBlock {
        /// Source.
        src: SocketAddr,
        /// Destination.
        dst: SocketAddr,
        /// Exchange type.
        exchange: u8,
    },
    /// "processing SA payload. message ID = N".
    ProcessingSa {
        /// Message ID.
        message_id: u32,
    },
    /// "Checking ISAKMP transform N against priority P policy" with its attributes.
    CheckingTransform {
        /// Transform number.
        transform: u8,
        /// Policy priority.
        priority: u32,
        /// Encryption algorithm value and key length.
        encryption: Option<(u16, Option<u64>)>,
        /// Hash value.
        hash: Option<u16>,
        /// Group value.
        group: Option<u16>,
        /// Auth method value.
        auth: Option<u16>,
        /// Life in seconds.
        life_secs: Option<u64>,
    },
    /// "atts are \[not\] acceptable. Next payload is N".
    TransformVerdict {
        /// Accepted?
        acceptable: bool,
        /// 3 when another transform follows, else 0.
        next_payload: u8,
    },
    /// "SA is doing pre-shared key authentication" (Main Mode after the choice).
    DoingPsk,
    /// "processing KE payload" and friends.
    Processing {
        /// Payload name as the PIX says it ("KE", "NONCE", "ID", "HASH").
        what: &'static str,
        /// Message ID.
        message_id: u32,
    },
    /// "processing vendor id payload".
    VendorId,
    /// "remote peer supports dead peer detection".
    PeerSupportsDpd,
    /// "speaking to a Unity client".
    UnityClient,
    /// "peer is XAUTH capable".
    PeerXauth,
    /// "peer supports NAT-T".
    PeerNatT,
    /// "processing NOTIFY payload T protocol P spi S, message ID = M".
    ProcessingNotify {
        /// Notify type.
        notify: u16,
        /// Protocol.
        protocol: u8,
        /// Message ID.
        message_id: u32,
    },
    /// "processing notify INITIAL_CONTACT" and the SAs it removes.
    InitialContact {
        /// How many older IKE SAs of this peer were dropped (0 while the notify waits
        /// for Xauth: see [`DebugEvent::InitialContactHonoured`]).
        dropped: usize,
    },
    /// An INITIAL-CONTACT remembered from phase 1 acted on: after Xauth accepted the user
    /// (or right after phase 1 without Xauth), the older IKE SAs of the same user and
    /// peer went.
    InitialContactHonoured {
        /// How many older IKE SAs were deleted.
        dropped: usize,
    },
    /// A Quick Mode initiator ID refused because the SA does not own what it names.
    SelectorNotOwned {
        /// The peer's proposed selector.
        selector: TrafficSelector,
        /// An address it covers that is a pool's or another SA's (`None`: it covers
        /// every address).
        covers: Option<Ipv4Addr>,
    },
    /// "SA has been authenticated".
    Authenticated,
    /// Phase-1 authentication failed: "HASH verification failed".
    HashFailed,
    /// No key for the peer's identity (logged like a wrong key on the wire).
    NoKeyForPeer,
    /// "Need XAUTH": a Quick Mode held until Xauth/Mode Config finish.
    NeedXauth,
    /// "ISAKMP/xauth: request attribute ...".
    XauthRequest,
    /// "initiating peer config to A. ID = N".
    InitiatingPeerConfig {
        /// Peer.
        peer: SocketAddr,
        /// Message ID.
        message_id: u32,
    },
    /// "processing transaction payload from A. message ID = N" and the config type.
    ProcessingTransaction {
        /// Peer.
        peer: SocketAddr,
        /// Message ID.
        message_id: u32,
        /// CFG type name.
        cfg_type: &'static str,
    },
    /// A line from the Mode Config server (checking request, attributes, Unsupported Attr).
    ModeCfg(String),
    /// "responding to peer config from A. ID = N".
    RespondingPeerConfig {
        /// Peer.
        peer: SocketAddr,
        /// Message ID.
        message_id: u32,
    },
    /// "Checking IPsec proposal N".
    CheckingIpsecProposal {
        /// Proposal number.
        number: u8,
    },
    /// "transform N, ESP_X" with its attributes.
    IpsecTransform {
        /// Transform number.
        number: u8,
        /// Transform ID.
        transform_id: u8,
        /// Authentication algorithm.
        auth: Option<u64>,
        /// Encapsulation mode.
        encaps: Option<u64>,
        /// Life seconds.
        life_secs: Option<u64>,
    },
    /// "IPSEC(validate_proposal): transform proposal (prot P, trans T, hmac_alg H) not supported".
    IpsecNotSupported {
        /// Protocol.
        protocol: u8,
        /// Transform ID.
        transform_id: u8,
        /// HMAC algorithm.
        hmac_alg: u64,
    },
    /// "atts not acceptable. Next payload is 0" / "atts are acceptable.".
    IpsecVerdict {
        /// Accepted?
        acceptable: bool,
    },
    /// "skipping next ANDED proposal (N)".
    SkippingAnded {
        /// Proposal number.
        number: u8,
    },
    /// "bad SPI size of N octets!".
    BadSpiSize {
        /// The size.
        size: usize,
    },
    /// "ID_IPV4_ADDR src 10.89.129.200 prot 0 port 0".
    QmId {
        /// "src" or "dst".
        side: &'static str,
        /// The selector.
        selector: TrafficSelector,
    },
    /// "getting spi 0x.. for SA from A to B for prot 3".
    GettingSpi {
        /// The SPI.
        spi: u32,
    },
    /// "Creating IPsec SAs".
    CreatingIpsecSas {
        /// Inbound SPI.
        spi_in: u32,
        /// Outbound SPI.
        spi_out: u32,
    },
    /// "sending NOTIFY T protocol P".
    SendingNotify {
        /// Notify type.
        notify: u16,
    },
    /// "processing DELETE payload".
    ProcessingDelete {
        /// Protocol.
        protocol: u8,
    },
    /// A retransmitted message was answered from the stored reply.
    Retransmission {
        /// Message ID.
        message_id: u32,
    },
    /// A message was dropped silently (why).
    Dropped(&'static str),
    /// NAT-D result: "NAT-D: local behind NAT: yes/no, remote behind NAT: yes/no".
    NatDetected {
        /// We are behind a NAT.
        local: bool,
        /// The peer is.
        remote: bool,
    },
    /// Moved to UDP 4500.
    Floated,
    /// A Cisco fragment was stored ("fragment N of id I").
    Fragment {
        /// Fragment id.
        id: u16,
        /// Number.
        number: u8,
        /// Last one?
        last: bool,
    },
    /// Phase-1 rekey (initiator): a new phase 1 started for an SA near its lifetime.
    Phase1RekeyStarted {
        /// The SA being replaced.
        old: u64,
        /// The new SA.
        new: u64,
        /// Seconds left of the old SA's lifetime.
        secs_left: u64,
    },
    /// Phase-1 rekey: the old IKE SA goes, its child SAs live on under the new one.
    Phase1Replaced {
        /// The SA that goes.
        old: u64,
        /// The SA that takes over.
        new: u64,
        /// Child SA pairs moved.
        children: usize,
    },
    /// DPD R-U-THERE / ACK.
    Dpd {
        /// True for R-U-THERE, false for ACK.
        request: bool,
        /// Sequence number.
        sequence: u32,
    },
}

fn selector_line(side: &str, s: &TrafficSelector) -> String {
    use crate::config::Selector;
    match s.addr {
        Selector::Addr(a) => format!(
            "ISAKMP (0): ID_IPV4_ADDR {side} {a} prot {} port {}",
            s.protocol, s.port
        ),
        Selector::Subnet(a, m) => format!(
            "ISAKMP (0): ID_IPV4_ADDR_SUBNET {side} {a}/{m} prot {} port {}",
            s.protocol, s.port
        ),
        Selector::Range(a, b) => format!(
            "ISAKMP (0): ID_IPV4_ADDR_RANGE {side} {a}-{b} prot {} port {}",
            s.protocol, s.port
        ),
    }
}

/// "10.1.2.0/255.255.255.0/0/0", the way `show crypto ipsec sa` prints an identity.
fn selector_text(s: &TrafficSelector) -> String {
    use crate::config::Selector;
    match s.addr {
        Selector::Addr(a) => format!("{a}/255.255.255.255/{}/{}", s.protocol, s.port),
        Selector::Subnet(a, m) => format!("{a}/{m}/{}/{}", s.protocol, s.port),
        Selector::Range(a, b) => format!("{a}-{b}/{}/{}", s.protocol, s.port),
    }
}

fn vpi(v: u64) -> String {
    // The PIX prints the 4-byte value byte by byte: "0x0 0x20 0xc4 0x9b".
    let b = u32::try_from(v).unwrap_or(u32::MAX).to_be_bytes();
    b.iter()
        .map(|x| format!("{x:#x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl DebugEvent {
    /// The lines a PIX 6.3 prints for this decision.
    #[must_use]
    pub fn pix_lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        match self {
            Self::ProcessBlock { src, dst, exchange } => {
                v.push(format!(
                    "crypto_isakmp_process_block: src {}, dest {}",
                    src.ip(),
                    dst.ip()
                ));
                let name = match exchange {
                    2 => Some("OAK_MM exchange"),
                    4 => Some("OAK_AG exchange"),
                    5 => Some("ISAKMP_INFORMATIONAL exchange"),
                    6 => Some("ISAKMP_TRANSACTION exchange"),
                    32 => Some("OAK_QM exchange"),
                    _ => None,
                };
                if let Some(n) = name {
                    v.push(n.into());
                }
            }
            Self::ProcessingSa { message_id } => {
                v.push(format!(
                    "ISAKMP (0): processing SA payload. message ID = {message_id}"
                ));
            }
            Self::CheckingTransform {
                transform,
                priority,
                encryption,
                hash,
                group,
                auth,
                life_secs,
            } => {
                v.push(format!(
                    "ISAKMP (0): Checking ISAKMP transform {transform} against priority {priority} policy"
                ));
                if let Some((e, k)) = encryption {
                    let name = match (e, k) {
                        (1, _) => "DES-CBC".to_string(),
                        (5, _) => "3DES-CBC".to_string(),
                        (7, Some(k)) => format!("AES-CBC (key length {k})"),
                        (7, None) => "AES-CBC".to_string(),
                        (n, _) => format!("unknown {n}"),
                    };
                    v.push(format!("ISAKMP:      encryption {name}"));
                }
                if let Some(h) = hash {
                    let name = match h {
                        1 => "MD5".to_string(),
                        2 => "SHA".to_string(),
                        n => format!("unknown {n}"),
                    };
                    v.push(format!("ISAKMP:      hash {name}"));
                }
                if let Some(g) = group {
                    v.push(format!("ISAKMP:      default group {g}"));
                }
                if let Some(a) = auth {
                    v.push(format!("ISAKMP:      {}", auth_words(*a)));
                }
                if let Some(l) = life_secs {
                    v.push("ISAKMP:      life type in seconds".into());
                    v.push(format!("ISAKMP:      life duration (VPI) of  {}", vpi(*l)));
                }
            }
            Self::TransformVerdict {
                acceptable,
                next_payload,
            } => v.push(format!(
                "ISAKMP (0): atts are {}acceptable. Next payload is {next_payload}",
                if *acceptable { "" } else { "not " }
            )),
            Self::DoingPsk => {
                v.push("ISAKMP (0): SA is doing pre-shared key authentication".into());
            }
            Self::Processing { what, message_id } => v.push(format!(
                "ISAKMP (0): processing {what} payload. message ID = {message_id}"
            )),
            Self::VendorId => v.push("ISAKMP (0): processing vendor id payload".into()),
            Self::PeerSupportsDpd => {
                v.push("ISAKMP (0): remote peer supports dead peer detection".into());
            }
            Self::UnityClient => v.push("ISAKMP (0): speaking to a Unity client".into()),
            Self::PeerXauth => v.push("ISAKMP (0): peer is XAUTH capable".into()),
            Self::PeerNatT => v.push("ISAKMP (0): remote peer supports NAT-T".into()),
            Self::ProcessingNotify {
                notify,
                protocol,
                message_id,
            } => v.push(format!(
                "ISAKMP (0): processing NOTIFY payload {notify} protocol {protocol} spi 0, message ID = {message_id}"
            )),
            Self::InitialContact { dropped } => {
                v.push("ISAKMP (0): processing notify INITIAL_CONTACT".into());
                if *dropped > 0 {
                    v.push("IPSEC(key_engine_delete_sas): rec'd delete notify from ISAKMP".into());
                }
            }
            Self::InitialContactHonoured { dropped } => {
                v.push(format!(
                    "ISAKMP (0): INITIAL_CONTACT honoured: {dropped} older IKE SA(s) of this user and peer deleted"
                ));
                if *dropped > 0 {
                    v.push("IPSEC(key_engine_delete_sas): rec'd delete notify from ISAKMP".into());
                }
            }
            Self::SelectorNotOwned { selector, covers } => {
                let what = covers.map_or_else(
                    || "every address".to_string(),
                    |a| format!("{a}, a pool address or another peer's"),
                );
                v.push(format!(
                    "IPSEC(validate_proposal): proxy identity {} is not this peer's: it covers {what}",
                    selector_text(selector)
                ));
            }
            Self::Authenticated => v.push("ISAKMP (0): SA has been authenticated".into()),
            Self::HashFailed => v.push("ISAKMP (0): HASH verification failed".into()),
            Self::NoKeyForPeer => {
                v.push("ISAKMP (0): No pre-shared key for the peer's identity".into());
            }
            Self::NeedXauth => v.push("ISAKMP (0:0): Need XAUTH".into()),
            Self::XauthRequest => {
                use isakmp_wire::attr::config::ConfigAttrType as A;
                for a in [A::XauthType, A::XauthUserName, A::XauthUserPassword] {
                    v.push(format!("ISAKMP/xauth: request attribute {}", a.name()));
                }
            }
            Self::InitiatingPeerConfig { peer, message_id } => v.push(format!(
                "ISAKMP (0:0): initiating peer config to {}. ID = {message_id} ({message_id:#x})",
                peer.ip()
            )),
            Self::ProcessingTransaction {
                peer,
                message_id,
                cfg_type,
            } => {
                v.push(format!(
                    "ISAKMP (0:0): processing transaction payload from {}. message ID = {message_id}",
                    peer.ip()
                ));
                v.push(format!("ISAKMP: Config payload {cfg_type}"));
            }
            Self::ModeCfg(l) => v.push(l.clone()),
            Self::RespondingPeerConfig { peer, message_id } => v.push(format!(
                "ISAKMP (0:0): responding to peer config from {}. ID = {message_id}",
                peer.ip()
            )),
            Self::CheckingIpsecProposal { number } => {
                v.push(format!("ISAKMP : Checking IPsec proposal {number}"));
            }
            Self::IpsecTransform {
                number,
                transform_id,
                auth,
                encaps,
                life_secs,
            } => {
                match esp::EncryptionAlgorithm::doi_name(*transform_id) {
                    Some(name) => v.push(format!("ISAKMP: transform {number}, {name}")),
                    None => v.push(format!("ISAKMP: transform {number}, ESP_{transform_id}")),
                }
                v.push("ISAKMP:   attributes in transform:".into());
                match auth {
                    Some(1) => v.push("ISAKMP:      authenticator is HMAC-MD5".into()),
                    Some(2) => v.push("ISAKMP:      authenticator is HMAC-SHA".into()),
                    Some(n) => v.push(format!("ISAKMP:      authenticator is {n}")),
                    None => {}
                }
                if let Some(e) = encaps {
                    v.push(format!("ISAKMP:      encaps is {e}"));
                }
                if let Some(l) = life_secs {
                    v.push("ISAKMP:      SA life type in seconds".into());
                    v.push(format!("ISAKMP:      SA life duration (VPI) of  {}", vpi(*l)));
                }
            }
            Self::IpsecNotSupported {
                protocol,
                transform_id,
                hmac_alg,
            } => v.push(format!(
                "IPSEC(validate_proposal): transform proposal (prot {protocol}, trans {transform_id}, hmac_alg {hmac_alg}) not supported"
            )),
            Self::IpsecVerdict { acceptable } => v.push(if *acceptable {
                "ISAKMP (0): atts are acceptable.".into()
            } else {
                "ISAKMP (0): atts not acceptable. Next payload is 0".into()
            }),
            Self::SkippingAnded { number } => {
                v.push(format!("ISAKMP (0): skipping next ANDED proposal ({number})"));
            }
            Self::BadSpiSize { size } => {
                v.push(format!("ISAKMP (0): bad SPI size of {size} octets!"));
            }
            Self::QmId { side, selector } => v.push(selector_line(side, selector)),
            Self::GettingSpi { spi } => {
                let mut s = String::new();
                let _ = write!(s, "IPSEC(spi_response): getting spi {spi:#x}({spi}) for SA");
                v.push(s);
            }
            Self::CreatingIpsecSas { spi_in, spi_out } => {
                v.push("ISAKMP (0): Creating IPsec SAs".into());
                v.push(format!("        inbound SA has spi {spi_in:#x}"));
                v.push(format!("        outbound SA has spi {spi_out:#x}"));
            }
            Self::SendingNotify { notify } => {
                v.push(format!("ISAKMP (0): sending NOTIFY {notify} protocol 1"));
            }
            Self::ProcessingDelete { protocol } => v.push(format!(
                "ISAKMP (0): processing DELETE payload. protocol {protocol}"
            )),
            Self::Retransmission { message_id } => v.push(format!(
                "ISAKMP (0): retransmission of message ID {message_id}: sending the stored reply"
            )),
            Self::Dropped(why) => v.push(format!("ISAKMP: dropping message: {why}")),
            Self::NatDetected { local, remote } => v.push(format!(
                "ISAKMP (0): NAT-D: local behind NAT: {}, remote behind NAT: {}",
                if *local { "yes" } else { "no" },
                if *remote { "yes" } else { "no" }
            )),
            Self::Floated => v.push("ISAKMP (0): floating to UDP port 4500".into()),
            Self::Fragment { id, number, last } => v.push(format!(
                "ISAKMP (0): received fragment {number} of id {id}{}",
                if *last { " (last)" } else { "" }
            )),
            Self::Phase1RekeyStarted {
                old,
                new,
                secs_left,
            } => v.push(format!(
                "ISAKMP (0): IKE SA {old} expires in {secs_left} seconds: beginning phase 1 rekey, new IKE SA {new}"
            )),
            Self::Phase1Replaced { old, new, children } => v.push(format!(
                "ISAKMP (0): IKE SA {old} replaced by IKE SA {new}: deleting IKE SA {old}, {children} IPsec SA pair(s) moved to IKE SA {new}"
            )),
            Self::Dpd { request, sequence } => v.push(format!(
                "ISAKMP (0): processing DPD {} seq {sequence}",
                if *request { "R-U-THERE" } else { "R-U-THERE-ACK" }
            )),
        }
        v
    }
}
