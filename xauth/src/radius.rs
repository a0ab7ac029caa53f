//! RADIUS client codec (RFC 2865 authentication, RFC 2866 accounting,
//! RFC 3579 3.2 Message-Authenticator), Sans-IO.
//!
//! ```text
//!  0                   1                   2                   3
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Code      |  Identifier   |            Length             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                     Authenticator (16 octets)                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type  |  Length  |  Value ...        (attributes, to Length)
//! ```
//!
//! What the PIX sends: an Access-Request with User-Name, the hidden User-Password
//! (RFC 2865 5.2), NAS-IP-Address, NAS-Port, NAS-Port-Type Virtual and
//! Calling-Station-Id, plus a Message-Authenticator (which FreeRADIUS 3.2 wants
//! to see); the reply's Response Authenticator (and Message-Authenticator, when
//! present) is verified with the shared secret in constant time before anything
//! in it is believed. Accounting-Request Start/Stop carry Acct-Session-Id, octets
//! (with Gigawords), packets and Acct-Session-Time.

use std::net::Ipv4Addr;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::error::len_u8;
use crate::error::XauthError;
use crate::Secret;
use pix_primitives::reader::Reader;

/// Smallest packet (the header).
pub const HEADER_LEN: usize = 20;
/// Largest packet (RFC 2865 3).
pub const MAX_PACKET_LEN: usize = 4096;

/// Packet codes.
pub mod code {
    /// Access-Request.
    pub const ACCESS_REQUEST: u8 = 1;
    /// Access-Accept.
    pub const ACCESS_ACCEPT: u8 = 2;
    /// Access-Reject.
    pub const ACCESS_REJECT: u8 = 3;
    /// Accounting-Request.
    pub const ACCOUNTING_REQUEST: u8 = 4;
    /// Accounting-Response.
    pub const ACCOUNTING_RESPONSE: u8 = 5;
    /// Access-Challenge.
    pub const ACCESS_CHALLENGE: u8 = 11;
}

/// The name of a packet code, for messages (`"code N"` names unknown ones).
pub fn code_name(c: u8) -> &'static str {
    match c {
        code::ACCESS_REQUEST => "Access-Request",
        code::ACCESS_ACCEPT => "Access-Accept",
        code::ACCESS_REJECT => "Access-Reject",
        code::ACCOUNTING_REQUEST => "Accounting-Request",
        code::ACCOUNTING_RESPONSE => "Accounting-Response",
        code::ACCESS_CHALLENGE => "Access-Challenge",
        _ => "a reply of another code",
    }
}

/// Attribute types used here.
pub mod attr {
    /// User-Name.
    pub const USER_NAME: u8 = 1;
    /// User-Password.
    pub const USER_PASSWORD: u8 = 2;
    /// NAS-IP-Address.
    pub const NAS_IP_ADDRESS: u8 = 4;
    /// NAS-Port.
    pub const NAS_PORT: u8 = 5;
    /// Service-Type.
    pub const SERVICE_TYPE: u8 = 6;
    /// Framed-IP-Address.
    pub const FRAMED_IP_ADDRESS: u8 = 8;
    /// Framed-IP-Netmask.
    pub const FRAMED_IP_NETMASK: u8 = 9;
    /// Reply-Message.
    pub const REPLY_MESSAGE: u8 = 18;
    /// State.
    pub const STATE: u8 = 24;
    /// Class.
    pub const CLASS: u8 = 25;
    /// Session-Timeout.
    pub const SESSION_TIMEOUT: u8 = 27;
    /// Idle-Timeout.
    pub const IDLE_TIMEOUT: u8 = 28;
    /// Calling-Station-Id.
    pub const CALLING_STATION_ID: u8 = 31;
    /// NAS-Identifier.
    pub const NAS_IDENTIFIER: u8 = 32;
    /// Acct-Status-Type.
    pub const ACCT_STATUS_TYPE: u8 = 40;
    /// Acct-Input-Octets.
    pub const ACCT_INPUT_OCTETS: u8 = 42;
    /// Acct-Output-Octets.
    pub const ACCT_OUTPUT_OCTETS: u8 = 43;
    /// Acct-Session-Id.
    pub const ACCT_SESSION_ID: u8 = 44;
    /// Acct-Authentic.
    pub const ACCT_AUTHENTIC: u8 = 45;
    /// Acct-Session-Time.
    pub const ACCT_SESSION_TIME: u8 = 46;
    /// Acct-Input-Packets.
    pub const ACCT_INPUT_PACKETS: u8 = 47;
    /// Acct-Output-Packets.
    pub const ACCT_OUTPUT_PACKETS: u8 = 48;
    /// Acct-Terminate-Cause.
    pub const ACCT_TERMINATE_CAUSE: u8 = 49;
    /// Acct-Input-Gigawords (RFC 2869).
    pub const ACCT_INPUT_GIGAWORDS: u8 = 52;
    /// Acct-Output-Gigawords (RFC 2869).
    pub const ACCT_OUTPUT_GIGAWORDS: u8 = 53;
    /// Acct-Interim-Interval (RFC 2869).
    pub const ACCT_INTERIM_INTERVAL: u8 = 85;
    /// NAS-Port-Type.
    pub const NAS_PORT_TYPE: u8 = 61;
    /// Message-Authenticator (RFC 3579).
    pub const MESSAGE_AUTHENTICATOR: u8 = 80;
}

/// NAS-Port-Type Virtual (5): what a VPN gateway reports.
pub const NAS_PORT_TYPE_VIRTUAL: u32 = 5;

/// One attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RadiusAttr {
    /// Type.
    pub kind: u8,
    /// Value (at most 253 bytes).
    pub value: Vec<u8>,
}

impl RadiusAttr {
    /// A 32-bit integer attribute.
    pub fn u32(kind: u8, v: u32) -> Self {
        RadiusAttr {
            kind,
            value: v.to_be_bytes().to_vec(),
        }
    }
}

/// A RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// [`code`].
    pub code: u8,
    /// Identifier, matching a response to its request.
    pub identifier: u8,
    /// Request or Response Authenticator.
    pub authenticator: [u8; 16],
    /// Attributes, in order.
    pub attributes: Vec<RadiusAttr>,
}

impl Packet {
    /// Parses a datagram. Octets beyond `Length` are padding and ignored (RFC 2865 3).
    pub fn parse(datagram: &[u8]) -> Result<Self, XauthError> {
        let mut header = Reader::new(datagram, 0);
        let code = header.u8("RADIUS header")?;
        let identifier = header.u8("RADIUS header")?;
        let length = usize::from(header.u16("RADIUS header")?);
        let authenticator = header.array::<16>("RADIUS header")?;
        if !(HEADER_LEN..=MAX_PACKET_LEN).contains(&length) {
            return Err(XauthError::BadLength {
                what: "RADIUS Length",
                offset: 2,
                length,
                reason: "must be 20 to 4096",
            });
        }
        if datagram.len() < length {
            return Err(XauthError::Truncated {
                what: "RADIUS packet",
                offset: 0,
                needed: length,
                available: datagram.len(),
            });
        }
        let mut attrs = Reader::new(datagram.get(HEADER_LEN..length).unwrap_or(&[]), HEADER_LEN);
        let mut attributes = Vec::new();
        while !attrs.is_empty() {
            let at = attrs.offset();
            let kind = attrs.u8("RADIUS attribute")?;
            let len = usize::from(attrs.u8("RADIUS attribute")?);
            let value_len = len.checked_sub(2).ok_or(XauthError::BadLength {
                what: "RADIUS attribute",
                offset: at,
                length: len,
                reason: "is below the 2-byte header",
            })?;
            let value = attrs.take(value_len, "RADIUS attribute value")?.to_vec();
            attributes.push(RadiusAttr { kind, value });
        }
        Ok(Packet {
            code,
            identifier,
            authenticator,
            attributes,
        })
    }

    /// Bytes on the wire.
    pub fn wire_len(&self) -> usize {
        self.attributes.iter().fold(HEADER_LEN, |n, a| {
            n.saturating_add(2).saturating_add(a.value.len())
        })
    }

    /// Encodes the packet as it stands (authenticator as set).
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        let len = self.wire_len();
        if len > MAX_PACKET_LEN {
            return Err(XauthError::TooLong {
                what: "RADIUS packet",
                length: len,
                max: MAX_PACKET_LEN,
            });
        }
        let mut out = Vec::with_capacity(len);
        out.push(self.code);
        out.push(self.identifier);
        out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        out.extend_from_slice(&self.authenticator);
        for a in &self.attributes {
            if a.value.len() > 253 {
                return Err(XauthError::TooLong {
                    what: "RADIUS attribute value",
                    length: a.value.len(),
                    max: 253,
                });
            }
            out.push(a.kind);
            out.push(len_u8("RADIUS attribute", a.value.len().saturating_add(2))?);
            out.extend_from_slice(&a.value);
        }
        Ok(out)
    }

    /// The first attribute of a type.
    pub fn attr(&self, kind: u8) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| a.value.as_slice())
    }

    /// A 4-byte attribute as an integer.
    pub fn attr_u32(&self, kind: u8) -> Option<u32> {
        let v: [u8; 4] = self.attr(kind)?.try_into().ok()?;
        Some(u32::from_be_bytes(v))
    }

    /// A 4-byte attribute as an IPv4 address.
    pub fn attr_ipv4(&self, kind: u8) -> Option<Ipv4Addr> {
        self.attr_u32(kind).map(Ipv4Addr::from)
    }
}

/// Hides a User-Password (RFC 2865 5.2): padded to 16-byte blocks (at most 128
/// bytes), each XORed with MD5(secret | previous block), the first with the
/// Request Authenticator.
pub fn hide_password(
    secret: &Secret,
    authenticator: &[u8; 16],
    password: &Secret,
) -> Result<Vec<u8>, XauthError> {
    if password.len() > 128 {
        return Err(XauthError::TooLong {
            what: "RADIUS User-Password",
            length: password.len(),
            max: 128,
        });
    }
    let blocks = password.len().div_ceil(16).max(1);
    let mut out = zeroize::Zeroizing::new(vec![0u8; blocks.saturating_mul(16)]);
    for (o, p) in out.iter_mut().zip(password.expose_secret()) {
        *o = *p;
    }
    let mut prev: [u8; 16] = *authenticator;
    for chunk in out.chunks_mut(16) {
        let b: [u8; 16] = Md5::new()
            .chain_update(secret.expose_secret())
            .chain_update(prev)
            .finalize()
            .into();
        for (c, k) in chunk.iter_mut().zip(b.iter()) {
            *c ^= *k;
        }
        prev.copy_from_slice(chunk);
    }
    Ok(out.to_vec())
}

/// Recovers a hidden User-Password (what a server does; used to test
/// [`hide_password`]). Trailing NUL padding is removed.
pub fn unhide_password(
    secret: &Secret,
    authenticator: &[u8; 16],
    hidden: &[u8],
) -> Result<Secret, XauthError> {
    if hidden.is_empty() || hidden.len() % 16 != 0 || hidden.len() > 128 {
        return Err(XauthError::BadLength {
            what: "RADIUS User-Password",
            offset: 0,
            length: hidden.len(),
            reason: "must be 16 to 128 bytes in 16-byte blocks",
        });
    }
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(hidden.len()));
    let mut prev: &[u8] = authenticator;
    for chunk in hidden.chunks(16) {
        let b: [u8; 16] = Md5::new()
            .chain_update(secret.expose_secret())
            .chain_update(prev)
            .finalize()
            .into();
        out.extend(chunk.iter().zip(b.iter()).map(|(c, k)| c ^ k));
        prev = chunk;
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    // Moved, not copied: the Zeroizing wrapper then wipes an empty vector.
    Ok(Secret::new(std::mem::take(&mut *out)))
}

fn response_authenticator(packet: &[u8], request_auth: &[u8; 16], secret: &Secret) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(packet.get(..4).unwrap_or(&[]));
    h.update(request_auth);
    h.update(packet.get(HEADER_LEN..).unwrap_or(&[]));
    h.update(secret.expose_secret());
    h.finalize().into()
}

/// HMAC-MD5 over `packet` with the Message-Authenticator value zeroed and
/// `auth` in the authenticator field (RFC 3579 3.2).
fn message_authenticator(packet: &[u8], auth: &[u8; 16], secret: &Secret) -> Option<[u8; 16]> {
    let mut copy = packet.to_vec();
    copy.get_mut(4..HEADER_LEN)?.copy_from_slice(auth);
    // Zero every Message-Authenticator value.
    let mut i = HEADER_LEN;
    while i < copy.len() {
        let kind = *copy.get(i)?;
        let len = usize::from(*copy.get(i.checked_add(1)?)?);
        if len < 2 {
            return None;
        }
        if kind == attr::MESSAGE_AUTHENTICATOR {
            copy.get_mut(i.checked_add(2)?..i.checked_add(len)?)?
                .fill(0);
        }
        i = i.checked_add(len)?;
    }
    let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(secret.expose_secret()).ok()?;
    mac.update(&copy);
    Some(mac.finalize().into_bytes().into())
}

/// What an Access-Request carries.
#[derive(Debug)]
pub struct AccessRequest<'a> {
    /// User-Name.
    pub user_name: &'a [u8],
    /// The clear password (hidden on the wire).
    pub password: &'a Secret,
    /// NAS-IP-Address (the gateway's address).
    pub nas_ip: Ipv4Addr,
    /// NAS-Port.
    pub nas_port: Option<u32>,
    /// Calling-Station-Id (the VPN client's address).
    pub calling_station_id: Option<&'a [u8]>,
    /// NAS-Identifier (the gateway's name: several gateways may share one
    /// NAS-IP-Address, as a failover pair does).
    pub nas_identifier: Option<&'a [u8]>,
    /// State from an Access-Challenge being answered.
    pub state: Option<&'a [u8]>,
    /// Whether to add a Message-Authenticator (RFC 3579; FreeRADIUS 3.2 and
    /// later servers require it, the PIX 6.3 did not send it).
    pub message_authenticator: bool,
}

/// Builds an Access-Request (with a Message-Authenticator if asked).
///
/// `authenticator` must be 16 unpredictable bytes from the caller's CSPRNG.
pub fn build_access_request(
    req: &AccessRequest<'_>,
    identifier: u8,
    authenticator: [u8; 16],
    secret: &Secret,
) -> Result<Vec<u8>, XauthError> {
    let mut attributes = vec![
        RadiusAttr {
            kind: attr::USER_NAME,
            value: req.user_name.to_vec(),
        },
        RadiusAttr {
            kind: attr::USER_PASSWORD,
            value: hide_password(secret, &authenticator, req.password)?,
        },
        RadiusAttr {
            kind: attr::NAS_IP_ADDRESS,
            value: req.nas_ip.octets().to_vec(),
        },
    ];
    if let Some(p) = req.nas_port {
        attributes.push(RadiusAttr::u32(attr::NAS_PORT, p));
    }
    if let Some(n) = req.nas_identifier {
        attributes.push(RadiusAttr {
            kind: attr::NAS_IDENTIFIER,
            value: n.to_vec(),
        });
    }
    attributes.push(RadiusAttr::u32(attr::NAS_PORT_TYPE, NAS_PORT_TYPE_VIRTUAL));
    if let Some(c) = req.calling_station_id {
        attributes.push(RadiusAttr {
            kind: attr::CALLING_STATION_ID,
            value: c.to_vec(),
        });
    }
    if let Some(s) = req.state {
        attributes.push(RadiusAttr {
            kind: attr::STATE,
            value: s.to_vec(),
        });
    }
    if !req.message_authenticator {
        let p = Packet {
            code: code::ACCESS_REQUEST,
            identifier,
            authenticator,
            attributes,
        };
        return p.emit();
    }
    attributes.push(RadiusAttr {
        kind: attr::MESSAGE_AUTHENTICATOR,
        value: vec![0; 16],
    });
    let p = Packet {
        code: code::ACCESS_REQUEST,
        identifier,
        authenticator,
        attributes,
    };
    let mut bytes = p.emit()?;
    let ma = message_authenticator(&bytes, &authenticator, secret).ok_or(XauthError::BadValue {
        what: "RADIUS shared secret",
        value: 0,
    })?;
    let start = bytes.len().saturating_sub(16);
    if let Some(slot) = bytes.get_mut(start..) {
        slot.copy_from_slice(&ma);
    }
    Ok(bytes)
}

/// Builds a response to a request (what a server does; used by tests and test
/// servers): with `message_authenticator`, a Message-Authenticator is appended
/// and computed (RFC 3579 3.2, over the packet with the Request Authenticator in
/// place), then the Response Authenticator (RFC 2865 3) over the result.
pub fn build_response(
    code: u8,
    identifier: u8,
    request_auth: &[u8; 16],
    mut attributes: Vec<RadiusAttr>,
    secret: &Secret,
    message_authenticator: bool,
) -> Result<Vec<u8>, XauthError> {
    if message_authenticator {
        attributes.push(RadiusAttr {
            kind: attr::MESSAGE_AUTHENTICATOR,
            value: vec![0; 16],
        });
    }
    let p = Packet {
        code,
        identifier,
        authenticator: *request_auth,
        attributes,
    };
    let mut bytes = p.emit()?;
    if message_authenticator {
        let ma = message_authenticator_of(&bytes, request_auth, secret)?;
        let start = bytes.len().saturating_sub(16);
        if let Some(slot) = bytes.get_mut(start..) {
            slot.copy_from_slice(&ma);
        }
    }
    let auth = response_authenticator(&bytes, request_auth, secret);
    if let Some(slot) = bytes.get_mut(4..HEADER_LEN) {
        slot.copy_from_slice(&auth);
    }
    Ok(bytes)
}

fn message_authenticator_of(
    packet: &[u8],
    auth: &[u8; 16],
    secret: &Secret,
) -> Result<[u8; 16], XauthError> {
    message_authenticator(packet, auth, secret).ok_or(XauthError::BadValue {
        what: "RADIUS shared secret",
        value: 0,
    })
}

/// Checks a response belongs to our request and was made with our secret:
/// identifier, Response Authenticator and (if present) Message-Authenticator.
///
/// Whether a Message-Authenticator must be present is the caller's policy
/// ([`crate::aaa::AaaConfig::radius_require_message_authenticator`], on by
/// default): without it only the MD5 Response Authenticator protects the reply,
/// which Blast-RADIUS (CVE-2024-3596) forges.
pub fn verify_response(
    datagram: &[u8],
    request_id: u8,
    request_auth: &[u8; 16],
    secret: &Secret,
) -> Result<Packet, XauthError> {
    let p = Packet::parse(datagram)?;
    if p.identifier != request_id {
        return Err(XauthError::Mismatch {
            what: "RADIUS identifier",
            expected: u32::from(request_id),
            got: u32::from(p.identifier),
        });
    }
    let len = p.wire_len().min(datagram.len());
    let exact = datagram.get(..len).unwrap_or(datagram);
    let want = response_authenticator(exact, request_auth, secret);
    if !bool::from(want.ct_eq(&p.authenticator)) {
        return Err(XauthError::BadAuthenticator {
            what: "Response Authenticator",
        });
    }
    if let Some(got) = p.attr(attr::MESSAGE_AUTHENTICATOR) {
        let ok = message_authenticator(exact, request_auth, secret)
            .is_some_and(|m| bool::from(m.as_slice().ct_eq(got)));
        if !ok {
            return Err(XauthError::BadAuthenticator {
                what: "Message-Authenticator",
            });
        }
    }
    Ok(p)
}

/// What an Access-Accept grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcceptInfo {
    /// Framed-IP-Address (wins over the pool).
    pub framed_ip: Option<Ipv4Addr>,
    /// Framed-IP-Netmask.
    pub framed_netmask: Option<Ipv4Addr>,
    /// Class (to echo in accounting).
    pub class: Option<Vec<u8>>,
    /// Session-Timeout, seconds.
    pub session_timeout: Option<u32>,
    /// Idle-Timeout, seconds.
    pub idle_timeout: Option<u32>,
    /// Reply-Message.
    pub reply_message: Option<Vec<u8>>,
    /// Acct-Interim-Interval, seconds (RFC 2869 5.16): how often the server wants
    /// an Interim-Update for this session.
    pub interim_interval: Option<u32>,
}

/// The answer to an Access-Request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessResult {
    /// Access-Accept.
    Accept(AcceptInfo),
    /// Access-Reject.
    Reject {
        /// Reply-Message, if any.
        reply_message: Option<Vec<u8>>,
    },
    /// Access-Challenge: answer with another Access-Request carrying `state`.
    Challenge {
        /// State to echo.
        state: Option<Vec<u8>>,
        /// Reply-Message (the prompt).
        reply_message: Option<Vec<u8>>,
    },
}

/// Interprets a verified response to an Access-Request.
pub fn access_result(p: &Packet) -> Result<AccessResult, XauthError> {
    let msg = p.attr(attr::REPLY_MESSAGE).map(<[u8]>::to_vec);
    match p.code {
        code::ACCESS_ACCEPT => Ok(AccessResult::Accept(AcceptInfo {
            framed_ip: p.attr_ipv4(attr::FRAMED_IP_ADDRESS),
            framed_netmask: p.attr_ipv4(attr::FRAMED_IP_NETMASK),
            class: p.attr(attr::CLASS).map(<[u8]>::to_vec),
            session_timeout: p.attr_u32(attr::SESSION_TIMEOUT),
            idle_timeout: p.attr_u32(attr::IDLE_TIMEOUT),
            reply_message: msg,
            interim_interval: p.attr_u32(attr::ACCT_INTERIM_INTERVAL),
        })),
        code::ACCESS_REJECT => Ok(AccessResult::Reject { reply_message: msg }),
        code::ACCESS_CHALLENGE => Ok(AccessResult::Challenge {
            state: p.attr(attr::STATE).map(<[u8]>::to_vec),
            reply_message: msg,
        }),
        other => Err(XauthError::BadValue {
            what: "RADIUS response code to an Access-Request",
            value: u64::from(other),
        }),
    }
}

/// Acct-Status-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcctStatus {
    /// 1: Start.
    Start,
    /// 2: Stop.
    Stop,
    /// 3: Interim-Update.
    InterimUpdate,
    /// 7: Accounting-On (the NAS starts: every session the server still holds
    /// open for it is over, and its address leases are free).
    AccountingOn,
    /// 8: Accounting-Off (the NAS stops cleanly).
    AccountingOff,
}

impl AcctStatus {
    /// The Acct-Status-Type value.
    #[must_use]
    pub fn value(self) -> u32 {
        match self {
            AcctStatus::Start => 1,
            AcctStatus::Stop => 2,
            AcctStatus::InterimUpdate => 3,
            AcctStatus::AccountingOn => 7,
            AcctStatus::AccountingOff => 8,
        }
    }

    /// The RADIUS dictionary's name (`Start`, `Interim-Update`, `Accounting-On` ...).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            AcctStatus::Start => "Start",
            AcctStatus::Stop => "Stop",
            AcctStatus::InterimUpdate => "Interim-Update",
            AcctStatus::AccountingOn => "Accounting-On",
            AcctStatus::AccountingOff => "Accounting-Off",
        }
    }

    /// Whether the record is about the NAS, not about one session (Accounting-On/Off).
    #[must_use]
    pub fn is_nas_wide(self) -> bool {
        matches!(self, AcctStatus::AccountingOn | AcctStatus::AccountingOff)
    }
}

/// Acct-Terminate-Cause (RFC 2866 5.10): why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminateCause {
    /// 1: the user asked (the client deleted its SA).
    UserRequest,
    /// 2: the peer went away (DPD found it dead, retransmissions unanswered).
    LostCarrier,
    /// 3: the service ended (the peer's error notify).
    LostService,
    /// 4: `idle-time` passed without traffic.
    IdleTimeout,
    /// 5: `max-time` or the SA's lifetime ran out.
    SessionTimeout,
    /// 6: an administrator cleared it (`clear uauth`, `clear crypto isakmp sa`).
    AdminReset,
    /// 7: the gateway was shut down by its administrator.
    AdminReboot,
    /// 10: the gateway ended it (e.g. the group or key went away).
    NasRequest,
    /// 11: the gateway restarted without closing it (what Accounting-On implies).
    NasReboot,
}

impl TerminateCause {
    /// The attribute's value.
    #[must_use]
    pub fn value(self) -> u32 {
        match self {
            TerminateCause::UserRequest => 1,
            TerminateCause::LostCarrier => 2,
            TerminateCause::LostService => 3,
            TerminateCause::IdleTimeout => 4,
            TerminateCause::SessionTimeout => 5,
            TerminateCause::AdminReset => 6,
            TerminateCause::AdminReboot => 7,
            TerminateCause::NasRequest => 10,
            TerminateCause::NasReboot => 11,
        }
    }

    /// The RADIUS dictionary's name (what FreeRADIUS stores in radacct).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TerminateCause::UserRequest => "User-Request",
            TerminateCause::LostCarrier => "Lost-Carrier",
            TerminateCause::LostService => "Lost-Service",
            TerminateCause::IdleTimeout => "Idle-Timeout",
            TerminateCause::SessionTimeout => "Session-Timeout",
            TerminateCause::AdminReset => "Admin-Reset",
            TerminateCause::AdminReboot => "Admin-Reboot",
            TerminateCause::NasRequest => "NAS-Request",
            TerminateCause::NasReboot => "NAS-Reboot",
        }
    }
}

/// What an Accounting-Request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRequest {
    /// Start, Stop, Interim-Update, Accounting-On or -Off.
    pub status: AcctStatus,
    /// Acct-Session-Id (the same in Start and Stop).
    pub session_id: Vec<u8>,
    /// User-Name (left out when empty: Accounting-On/Off name no user).
    pub user_name: Vec<u8>,
    /// NAS-IP-Address.
    pub nas_ip: Ipv4Addr,
    /// NAS-Identifier.
    pub nas_identifier: Option<Vec<u8>>,
    /// Framed-IP-Address given to the client.
    pub framed_ip: Option<Ipv4Addr>,
    /// Calling-Station-Id (the client's public address).
    pub calling_station_id: Option<Vec<u8>>,
    /// Class from the Access-Accept.
    pub class: Option<Vec<u8>>,
    /// Octets from the client (Stop/Interim).
    pub input_octets: Option<u64>,
    /// Octets to the client.
    pub output_octets: Option<u64>,
    /// Packets from the client.
    pub input_packets: Option<u32>,
    /// Packets to the client.
    pub output_packets: Option<u32>,
    /// Acct-Session-Time, seconds.
    pub session_time: Option<u32>,
    /// Acct-Terminate-Cause (e.g. 1 User-Request, 4 Idle-Timeout).
    pub terminate_cause: Option<u32>,
}

/// Builds an Accounting-Request (its authenticator is MD5 over the packet with a
/// zero authenticator and the secret, RFC 2866 3).
pub fn build_accounting_request(
    req: &AccountingRequest,
    identifier: u8,
    secret: &Secret,
) -> Result<Vec<u8>, XauthError> {
    let mut a = vec![
        RadiusAttr::u32(attr::ACCT_STATUS_TYPE, req.status.value()),
        RadiusAttr {
            kind: attr::ACCT_SESSION_ID,
            value: req.session_id.clone(),
        },
    ];
    if !req.user_name.is_empty() {
        a.push(RadiusAttr {
            kind: attr::USER_NAME,
            value: req.user_name.clone(),
        });
    }
    a.push(RadiusAttr {
        kind: attr::NAS_IP_ADDRESS,
        value: req.nas_ip.octets().to_vec(),
    });
    if let Some(n) = &req.nas_identifier {
        a.push(RadiusAttr {
            kind: attr::NAS_IDENTIFIER,
            value: n.clone(),
        });
    }
    if !req.status.is_nas_wide() {
        a.push(RadiusAttr::u32(attr::NAS_PORT_TYPE, NAS_PORT_TYPE_VIRTUAL));
        a.push(RadiusAttr::u32(attr::ACCT_AUTHENTIC, 1));
    }
    if let Some(ip) = req.framed_ip {
        a.push(RadiusAttr {
            kind: attr::FRAMED_IP_ADDRESS,
            value: ip.octets().to_vec(),
        });
    }
    if let Some(c) = &req.calling_station_id {
        a.push(RadiusAttr {
            kind: attr::CALLING_STATION_ID,
            value: c.clone(),
        });
    }
    if let Some(c) = &req.class {
        a.push(RadiusAttr {
            kind: attr::CLASS,
            value: c.clone(),
        });
    }
    for (kind, giga, v) in [
        (
            attr::ACCT_INPUT_OCTETS,
            attr::ACCT_INPUT_GIGAWORDS,
            req.input_octets,
        ),
        (
            attr::ACCT_OUTPUT_OCTETS,
            attr::ACCT_OUTPUT_GIGAWORDS,
            req.output_octets,
        ),
    ] {
        if let Some(v) = v {
            a.push(RadiusAttr::u32(kind, (v & 0xffff_ffff) as u32));
            let high = u32::try_from(v >> 32).unwrap_or(u32::MAX);
            if high != 0 {
                a.push(RadiusAttr::u32(giga, high));
            }
        }
    }
    for (kind, v) in [
        (attr::ACCT_INPUT_PACKETS, req.input_packets),
        (attr::ACCT_OUTPUT_PACKETS, req.output_packets),
        (attr::ACCT_SESSION_TIME, req.session_time),
        (attr::ACCT_TERMINATE_CAUSE, req.terminate_cause),
    ] {
        if let Some(v) = v {
            a.push(RadiusAttr::u32(kind, v));
        }
    }
    let p = Packet {
        code: code::ACCOUNTING_REQUEST,
        identifier,
        authenticator: [0; 16],
        attributes: a,
    };
    let mut bytes = p.emit()?;
    let auth = response_authenticator(&bytes, &[0; 16], secret);
    if let Some(slot) = bytes.get_mut(4..HEADER_LEN) {
        slot.copy_from_slice(&auth);
    }
    Ok(bytes)
}

/// The Request Authenticator of a packet we built.
pub fn request_authenticator(packet: &[u8]) -> Option<[u8; 16]> {
    packet.get(4..HEADER_LEN)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::from("secretkey")
    }

    #[test]
    fn rfc2865_example_password_hiding() {
        // RFC 2865 7.1: user "nemo", password "arctangent", secret "xyzzy5461".
        let ra: [u8; 16] = hex::decode("0f403f9473978057bd83d5cb98f4227a")
            .unwrap()
            .try_into()
            .unwrap();
        let hidden =
            hide_password(&Secret::from("xyzzy5461"), &ra, &Secret::from("arctangent")).unwrap();
        assert_eq!(hex::encode(&hidden), "0dbe708d93d413ce3196e43f782a0aee");
        let back = unhide_password(&Secret::from("xyzzy5461"), &ra, &hidden).unwrap();
        assert!(back.ct_eq_bytes(b"arctangent"));
        // 17..32 bytes take two blocks.
        let long = Secret::from("0123456789abcdefX");
        let h = hide_password(&secret(), &ra, &long).unwrap();
        assert_eq!(h.len(), 32);
        assert_eq!(unhide_password(&secret(), &ra, &h).unwrap(), long);
        assert!(hide_password(&secret(), &ra, &Secret::new(vec![b'a'; 129])).is_err());
    }

    #[test]
    fn rfc2865_example_response_authenticator() {
        // RFC 2865 7.1: the Access-Accept to the request above (Service-Type Login,
        // Login-Service Telnet, Login-IP-Host 192.168.1.3).
        let ra: [u8; 16] = hex::decode("0f403f9473978057bd83d5cb98f4227a")
            .unwrap()
            .try_into()
            .unwrap();
        let accept = hex::decode(
            "0200002686fe220e7624ba2a1005f6bf9b55e0b20606000000010f06000000000e06c0a80103",
        )
        .unwrap();
        let p = verify_response(&accept, 0, &ra, &Secret::from("xyzzy5461")).unwrap();
        assert_eq!(p.code, code::ACCESS_ACCEPT);
        assert_eq!(p.attr_u32(attr::SERVICE_TYPE), Some(1));
        assert!(matches!(
            verify_response(&accept, 0, &ra, &Secret::from("wrong")),
            Err(XauthError::BadAuthenticator { .. })
        ));
        assert!(matches!(
            verify_response(&accept, 1, &ra, &Secret::from("xyzzy5461")),
            Err(XauthError::Mismatch { .. })
        ));
    }

    #[test]
    fn access_request_layout_and_message_authenticator() {
        let pw = Secret::from("cisco123");
        let ra = [7u8; 16];
        let req = AccessRequest {
            user_name: b"cisco_customer",
            password: &pw,
            nas_ip: Ipv4Addr::new(127, 0, 0, 1),
            nas_port: Some(1),
            calling_station_id: Some(b"192.168.1.2"),
            nas_identifier: Some(b"pix-a"),
            state: None,
            message_authenticator: true,
        };
        let bytes = build_access_request(&req, 42, ra, &secret()).unwrap();
        let p = Packet::parse(&bytes).unwrap();
        assert_eq!(p.emit().unwrap(), bytes);
        assert_eq!((p.code, p.identifier), (code::ACCESS_REQUEST, 42));
        assert_eq!(p.attr(attr::USER_NAME), Some(&b"cisco_customer"[..]));
        assert_eq!(p.attr(attr::NAS_IDENTIFIER), Some(&b"pix-a"[..]));
        assert_eq!(p.attr(attr::CALLING_STATION_ID), Some(&b"192.168.1.2"[..]));
        assert_eq!(p.attr_u32(attr::NAS_PORT_TYPE), Some(5));
        assert_eq!(
            p.attr_ipv4(attr::NAS_IP_ADDRESS),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        let hidden = p.attr(attr::USER_PASSWORD).unwrap();
        assert_eq!(unhide_password(&secret(), &ra, hidden).unwrap(), pw);
        let ma = p.attr(attr::MESSAGE_AUTHENTICATOR).unwrap();
        assert_eq!(ma, message_authenticator(&bytes, &ra, &secret()).unwrap());
        assert_ne!(ma, [0u8; 16]);
        let plain = build_access_request(
            &AccessRequest {
                message_authenticator: false,
                ..req
            },
            42,
            ra,
            &secret(),
        )
        .unwrap();
        let p = Packet::parse(&plain).unwrap();
        assert_eq!(p.attr(attr::MESSAGE_AUTHENTICATOR), None);
        assert_eq!(plain.len(), bytes.len() - 18);
    }

    fn signed_response(code: u8, id: u8, ra: &[u8; 16], attrs: Vec<RadiusAttr>) -> Vec<u8> {
        let p = Packet {
            code,
            identifier: id,
            authenticator: *ra,
            attributes: attrs,
        };
        let mut b = p.emit().unwrap();
        let auth = response_authenticator(&b, ra, &secret());
        b[4..20].copy_from_slice(&auth);
        b
    }

    #[test]
    fn accept_reject_challenge_are_interpreted() {
        let ra = [1u8; 16];
        let acc = signed_response(
            2,
            9,
            &ra,
            vec![
                RadiusAttr {
                    kind: attr::FRAMED_IP_ADDRESS,
                    value: vec![10, 1, 1, 5],
                },
                RadiusAttr {
                    kind: attr::FRAMED_IP_NETMASK,
                    value: vec![255, 255, 255, 0],
                },
                RadiusAttr {
                    kind: attr::CLASS,
                    value: b"c".to_vec(),
                },
            ],
        );
        let p = verify_response(&acc, 9, &ra, &secret()).unwrap();
        let AccessResult::Accept(info) = access_result(&p).unwrap() else {
            panic!()
        };
        assert_eq!(info.framed_ip, Some(Ipv4Addr::new(10, 1, 1, 5)));
        assert_eq!(info.framed_netmask, Some(Ipv4Addr::new(255, 255, 255, 0)));
        assert_eq!(info.class, Some(b"c".to_vec()));
        let rej = signed_response(3, 9, &ra, vec![]);
        let p = verify_response(&rej, 9, &ra, &secret()).unwrap();
        assert_eq!(
            access_result(&p).unwrap(),
            AccessResult::Reject {
                reply_message: None
            }
        );
        let ch = signed_response(
            11,
            9,
            &ra,
            vec![RadiusAttr {
                kind: attr::STATE,
                value: b"s1".to_vec(),
            }],
        );
        let p = verify_response(&ch, 9, &ra, &secret()).unwrap();
        assert_eq!(
            access_result(&p).unwrap(),
            AccessResult::Challenge {
                state: Some(b"s1".to_vec()),
                reply_message: None
            }
        );
        // A tampered byte breaks the authenticator.
        let mut bad = acc.clone();
        bad[22] ^= 1;
        assert!(verify_response(&bad, 9, &ra, &secret()).is_err());
    }

    #[test]
    fn built_responses_verify_with_and_without_message_authenticator() {
        let ra = [9u8; 16];
        let attrs = vec![RadiusAttr::u32(attr::SESSION_TIMEOUT, 60)];
        let with = build_response(2, 5, &ra, attrs.clone(), &secret(), true).unwrap();
        let p = verify_response(&with, 5, &ra, &secret()).unwrap();
        let ma = p.attr(attr::MESSAGE_AUTHENTICATOR).unwrap();
        assert_ne!(ma, [0u8; 16]);
        assert_eq!(p.attr_u32(attr::SESSION_TIMEOUT), Some(60));
        let without = build_response(2, 5, &ra, attrs, &secret(), false).unwrap();
        let p = verify_response(&without, 5, &ra, &secret()).unwrap();
        assert_eq!(p.attr(attr::MESSAGE_AUTHENTICATOR), None);
        assert_eq!(with.len(), without.len() + 18);
        // The wrong key fails either way; a forged Message-Authenticator with a
        // matching Response Authenticator is caught by the HMAC.
        assert!(verify_response(&with, 5, &ra, &Secret::from("other")).is_err());
        let forged = build_response(
            2,
            5,
            &ra,
            vec![RadiusAttr {
                kind: attr::MESSAGE_AUTHENTICATOR,
                value: vec![0xaa; 16],
            }],
            &secret(),
            false,
        )
        .unwrap();
        assert_eq!(
            verify_response(&forged, 5, &ra, &secret()),
            Err(XauthError::BadAuthenticator {
                what: "Message-Authenticator"
            })
        );
        assert_eq!(code_name(code::ACCESS_CHALLENGE), "Access-Challenge");
    }

    #[test]
    fn accounting_on_names_the_nas_and_no_user() {
        let req = AccountingRequest {
            status: AcctStatus::AccountingOn,
            session_id: b"5F00000000".to_vec(),
            user_name: Vec::new(),
            nas_ip: Ipv4Addr::new(192, 168, 1, 1),
            nas_identifier: Some(b"pix-b".to_vec()),
            framed_ip: None,
            calling_station_id: None,
            class: None,
            input_octets: None,
            output_octets: None,
            input_packets: None,
            output_packets: None,
            session_time: None,
            terminate_cause: None,
        };
        let b = build_accounting_request(&req, 9, &secret()).unwrap();
        let p = Packet::parse(&b).unwrap();
        assert_eq!(p.attr_u32(attr::ACCT_STATUS_TYPE), Some(7));
        assert_eq!(p.attr(attr::USER_NAME), None);
        assert_eq!(p.attr(attr::NAS_PORT_TYPE), None);
        assert_eq!(p.attr(attr::NAS_IDENTIFIER), Some(&b"pix-b"[..]));
        assert_eq!(
            p.attr_ipv4(attr::NAS_IP_ADDRESS),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        assert_eq!(AcctStatus::AccountingOff.value(), 8);
        assert_eq!(AcctStatus::AccountingOff.name(), "Accounting-Off");
        assert_eq!(TerminateCause::LostCarrier.value(), 2);
        assert_eq!(TerminateCause::AdminReboot.name(), "Admin-Reboot");
    }

    #[test]
    fn accounting_request_authenticator() {
        let req = AccountingRequest {
            status: AcctStatus::Stop,
            session_id: b"0000000A".to_vec(),
            user_name: b"cisco_customer".to_vec(),
            nas_ip: Ipv4Addr::new(127, 0, 0, 1),
            nas_identifier: None,
            framed_ip: Some(Ipv4Addr::new(10, 1, 1, 1)),
            calling_station_id: None,
            class: None,
            input_octets: Some((5u64 << 32) | 99),
            output_octets: Some(1879),
            input_packets: Some(3),
            output_packets: Some(4),
            session_time: Some(15),
            terminate_cause: Some(1),
        };
        let b = build_accounting_request(&req, 3, &secret()).unwrap();
        let p = Packet::parse(&b).unwrap();
        assert_eq!(
            p.authenticator,
            response_authenticator(&b, &[0; 16], &secret())
        );
        assert_eq!(p.attr_u32(attr::ACCT_STATUS_TYPE), Some(2));
        assert_eq!(p.attr_u32(attr::ACCT_INPUT_OCTETS), Some(99));
        assert_eq!(p.attr_u32(attr::ACCT_INPUT_GIGAWORDS), Some(5));
        assert_eq!(p.attr(attr::ACCT_OUTPUT_GIGAWORDS), None);
        assert_eq!(p.attr_u32(attr::ACCT_SESSION_TIME), Some(15));
    }

    #[test]
    fn malformed_packets_are_errors() {
        let ok = signed_response(2, 1, &[0; 16], vec![RadiusAttr::u32(6, 1)]);
        for n in 0..ok.len() {
            assert!(Packet::parse(&ok[..n]).is_err(), "prefix {n}");
        }
        let mut zero_len_attr = ok.clone();
        zero_len_attr[21] = 0;
        assert!(matches!(
            Packet::parse(&zero_len_attr),
            Err(XauthError::BadLength { offset: 20, .. })
        ));
        let mut short = ok.clone();
        short[3] = 19;
        assert!(Packet::parse(&short).is_err());
        // Padding after Length is ignored.
        let mut padded = ok.clone();
        padded.extend_from_slice(&[0, 0, 0]);
        assert_eq!(Packet::parse(&padded).unwrap(), Packet::parse(&ok).unwrap());
    }
}
