//! In-memory AAA servers for scenario tests: a RADIUS server ([`MemRadius`],
//! RFC 2865/2866 with the RFC 3579 Message-Authenticator) and a TACACS+ server
//! ([`MemTacacs`] for one connection, [`MemTacacsServer`] for many; RFC 8907),
//! and [`MemAaa`], which routes an [`xauth::aaa::AaaClient`]'s [`AaaTransmit`]s
//! to them by address and hands back the replies to feed to the client.
//!
//! Deterministic and Sans-IO: no sockets, no clocks, no randomness. A reply
//! depends only on the request bytes and the server's configuration, so the same
//! client seed gives the same bytes in both directions. Each server records what
//! it saw (logins tried, accounting records, what it dropped and why) for tests
//! to assert on; untrusted bytes never panic: a packet that does not parse or
//! verify is dropped (RADIUS) or ends the connection (TACACS+), with the reason
//! recorded.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use xauth::radius::{self, AccessRequest};
//! use xauth::Secret;
//! use testkit::aaa::MemRadius;
//!
//! let mut server = MemRadius::new("s3cret")
//!     .user_with_ip("alice", "pw", Ipv4Addr::new(10, 1, 1, 5));
//! let password = Secret::from("pw");
//! let request = AccessRequest {
//!     user_name: b"alice",
//!     password: &password,
//!     nas_ip: Ipv4Addr::LOCALHOST,
//!     nas_port: None,
//!     calling_station_id: None,
//!     nas_identifier: None,
//!     state: None,
//!     message_authenticator: true,
//! };
//! let auth = [7u8; 16];
//! let bytes = radius::build_access_request(&request, 1, auth, &Secret::from("s3cret")).unwrap();
//! let reply = server.answer(&bytes).unwrap();
//! let p = radius::verify_response(&reply, 1, &auth, &Secret::from("s3cret")).unwrap();
//! assert_eq!(p.code, radius::code::ACCESS_ACCEPT);
//! assert_eq!(p.attr_ipv4(radius::attr::FRAMED_IP_ADDRESS), Some(Ipv4Addr::new(10, 1, 1, 5)));
//! assert!(server.attempts()[0].accepted);
//! ```

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use xauth::aaa::{AaaTransmit, ConnId};
use xauth::radius::{self, attr, code, AcctStatus, Packet, RadiusAttr};
use xauth::tacacs::{
    self, authen_status, authen_type, AcctReply, AcctRequest, AuthenContinue, AuthenReply,
    AuthenStart, Header, PacketType, StreamBuffer,
};
use xauth::{Secret, XauthError};
use zeroize::Zeroizing;

/// Records kept per server; later ones are counted, not stored (a test that
/// sends more is a flood test and asserts on counters).
pub const MAX_RECORDS: usize = 4096;

/// Pushes `item` unless `list` holds [`MAX_RECORDS`] already.
fn record<T>(list: &mut Vec<T>, item: T) {
    if list.len() < MAX_RECORDS {
        list.push(item);
    }
}

/// A user of an in-memory server.
#[derive(Debug)]
struct User {
    name: Vec<u8>,
    password: Secret,
    framed_ip: Option<Ipv4Addr>,
}

impl User {
    fn duplicate(&self) -> User {
        User {
            name: self.name.clone(),
            password: self.password.duplicate(),
            framed_ip: self.framed_ip,
        }
    }
}

/// Whether `password` is the one of user `name` (constant time in the password).
fn check<'a>(users: &'a [User], name: &[u8], password: &[u8]) -> Option<&'a User> {
    users
        .iter()
        .find(|u| u.name == name)
        .filter(|u| u.password.ct_eq_bytes(password))
}

// ---------------------------------------------------------------------------
// RADIUS
// ---------------------------------------------------------------------------

/// Why [`MemRadius`] dropped a datagram without answering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RadiusDrop {
    /// The server is silent ([`MemRadius::set_silent`]) or was told to drop it
    /// ([`MemRadius::drop_next`]).
    Silent,
    /// The datagram is not a RADIUS packet.
    Malformed(XauthError),
    /// A code the server does not serve (it answers Access-Request and
    /// Accounting-Request only).
    UnexpectedCode {
        /// The packet's identifier.
        identifier: u8,
        /// Its code.
        code: u8,
    },
    /// An Access-Request whose Message-Authenticator does not verify with the
    /// shared secret (RFC 3579 3.2: silently discarded).
    BadMessageAuthenticator {
        /// The packet's identifier.
        identifier: u8,
    },
    /// An Access-Request without a Message-Authenticator while the server
    /// requires one ([`MemRadius::require_message_authenticator`]).
    MissingMessageAuthenticator {
        /// The packet's identifier.
        identifier: u8,
    },
    /// An Accounting-Request whose Request Authenticator does not verify with
    /// the shared secret (RFC 2866 3: silently discarded).
    BadRequestAuthenticator {
        /// The packet's identifier.
        identifier: u8,
    },
    /// A required attribute is missing or has the wrong size.
    MissingAttribute {
        /// The packet's identifier.
        identifier: u8,
        /// The attribute's name.
        attribute: &'static str,
    },
    /// The User-Password attribute could not be recovered (RFC 2865 5.2:
    /// 16 to 128 bytes in 16-byte blocks).
    BadPassword {
        /// The packet's identifier.
        identifier: u8,
        /// What was wrong.
        error: XauthError,
    },
}

/// One Access-Request that [`MemRadius`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusAttempt {
    /// The request's identifier.
    pub identifier: u8,
    /// User-Name.
    pub user: Vec<u8>,
    /// Whether the password was right (Access-Accept) or not (Access-Reject).
    pub accepted: bool,
    /// Whether the request carried a (valid) Message-Authenticator.
    pub message_authenticator: bool,
    /// NAS-IP-Address.
    pub nas_ip: Option<Ipv4Addr>,
    /// NAS-Port.
    pub nas_port: Option<u32>,
    /// Calling-Station-Id (the VPN client's address).
    pub calling_station_id: Option<Vec<u8>>,
    /// NAS-Identifier.
    pub nas_identifier: Option<Vec<u8>>,
    /// The Framed-IP-Address sent in the Access-Accept.
    pub framed_ip: Option<Ipv4Addr>,
}

/// One Accounting-Request that [`MemRadius`] acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadiusAcctRecord {
    /// The request's identifier.
    pub identifier: u8,
    /// Acct-Status-Type (1 Start, 2 Stop, 3 Interim-Update, ...).
    pub status_type: u32,
    /// Acct-Session-Id.
    pub session_id: Option<Vec<u8>>,
    /// User-Name.
    pub user: Option<Vec<u8>>,
    /// NAS-IP-Address.
    pub nas_ip: Option<Ipv4Addr>,
    /// Framed-IP-Address.
    pub framed_ip: Option<Ipv4Addr>,
    /// Calling-Station-Id.
    pub calling_station_id: Option<Vec<u8>>,
    /// NAS-Identifier.
    pub nas_identifier: Option<Vec<u8>>,
    /// Class.
    pub class: Option<Vec<u8>>,
    /// Acct-Session-Time, seconds.
    pub session_time: Option<u32>,
    /// Acct-Input-Octets with Acct-Input-Gigawords (RFC 2869) as the high word.
    pub input_octets: Option<u64>,
    /// Acct-Output-Octets with Acct-Output-Gigawords as the high word.
    pub output_octets: Option<u64>,
    /// Acct-Input-Packets.
    pub input_packets: Option<u32>,
    /// Acct-Output-Packets.
    pub output_packets: Option<u32>,
    /// Acct-Terminate-Cause.
    pub terminate_cause: Option<u32>,
}

impl RadiusAcctRecord {
    /// The Acct-Status-Type as xauth's enum (`None` for other values).
    pub fn status(&self) -> Option<AcctStatus> {
        match self.status_type {
            1 => Some(AcctStatus::Start),
            2 => Some(AcctStatus::Stop),
            3 => Some(AcctStatus::InterimUpdate),
            7 => Some(AcctStatus::AccountingOn),
            8 => Some(AcctStatus::AccountingOff),
            _ => None,
        }
    }
}

/// An in-memory RADIUS server (authentication and accounting on one object;
/// [`MemAaa`] maps both ports to it).
///
/// Access-Request: the Message-Authenticator, if present, is verified (a bad
/// one is dropped); the User-Password is recovered (RFC 2865 5.2) and compared;
/// the answer is an Access-Accept (with Framed-IP-Address when the user has
/// one) or an Access-Reject, with the Response Authenticator (RFC 2865 3) and,
/// unless turned off, a Message-Authenticator (RFC 3579 3.2).
/// Accounting-Request: the Request Authenticator is verified (RFC 2866 3) and
/// an Accounting-Response sent. A retransmitted request (the same bytes as the
/// last one with its identifier) gets the same reply again and is recorded once.
#[derive(Debug)]
pub struct MemRadius {
    secret: Secret,
    users: Vec<User>,
    message_authenticator: bool,
    require_message_authenticator: bool,
    silent: bool,
    drop_next: u32,
    received: u64,
    duplicates: u64,
    /// The last request and reply per identifier, to answer a retransmission
    /// (the same bytes) with the same reply instead of acting twice.
    cache: BTreeMap<u8, (Vec<u8>, Vec<u8>)>,
    attempts: Vec<RadiusAttempt>,
    accounting: Vec<RadiusAcctRecord>,
    drops: Vec<RadiusDrop>,
}

impl MemRadius {
    /// A server with shared secret `secret`, no users, sending
    /// Message-Authenticators, not requiring them, not silent.
    pub fn new(secret: &str) -> Self {
        MemRadius {
            secret: Secret::from(secret),
            users: Vec::new(),
            message_authenticator: true,
            require_message_authenticator: false,
            silent: false,
            drop_next: 0,
            received: 0,
            duplicates: 0,
            cache: BTreeMap::new(),
            attempts: Vec::new(),
            accounting: Vec::new(),
            drops: Vec::new(),
        }
    }

    /// Adds (or replaces) a user.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.add_user(name, password, None);
        self
    }

    /// Adds (or replaces) a user whose Access-Accept carries Framed-IP-Address `ip`.
    pub fn user_with_ip(mut self, name: &str, password: &str, ip: Ipv4Addr) -> Self {
        self.add_user(name, password, Some(ip));
        self
    }

    /// Adds (or replaces) a user, with an optional Framed-IP-Address.
    pub fn add_user(&mut self, name: &str, password: &str, framed_ip: Option<Ipv4Addr>) {
        self.users.retain(|u| u.name != name.as_bytes());
        self.users.push(User {
            name: name.as_bytes().to_vec(),
            password: Secret::from(password),
            framed_ip,
        });
    }

    /// Whether Access-Accept and Access-Reject carry a Message-Authenticator
    /// (default yes; off plays a pre-RFC 3579 server, which xauth's client
    /// refuses by default: Blast-RADIUS).
    pub fn message_authenticator(mut self, on: bool) -> Self {
        self.message_authenticator = on;
        self
    }

    /// Whether an Access-Request without a Message-Authenticator is dropped
    /// (default no; FreeRADIUS's `require_message_authenticator`).
    pub fn require_message_authenticator(mut self, on: bool) -> Self {
        self.require_message_authenticator = on;
        self
    }

    /// A silent server drops everything (to test the client's timeouts).
    pub fn silent(mut self, on: bool) -> Self {
        self.silent = on;
        self
    }

    /// Turns silence on or off mid-test.
    pub fn set_silent(&mut self, on: bool) {
        self.silent = on;
    }

    /// Drops the next `n` datagrams (a lost request: the client retransmits).
    pub fn drop_next(&mut self, n: u32) {
        self.drop_next = n;
    }

    /// Answers one datagram: `None` when it is dropped (see [`MemRadius::drops`]).
    pub fn answer(&mut self, request: &[u8]) -> Option<Vec<u8>> {
        self.received = self.received.saturating_add(1);
        if self.silent || self.drop_next > 0 {
            self.drop_next = self.drop_next.saturating_sub(1);
            return self.drop(RadiusDrop::Silent);
        }
        let p = match Packet::parse(request) {
            Ok(p) => p,
            Err(e) => return self.drop(RadiusDrop::Malformed(e)),
        };
        // The exact packet: octets beyond Length are padding (RFC 2865 3).
        let exact = request.get(..p.wire_len()).unwrap_or(request);
        if let Some((req, reply)) = self.cache.get(&p.identifier) {
            if req == exact {
                self.duplicates = self.duplicates.saturating_add(1);
                return Some(reply.clone());
            }
        }
        let reply = match p.code {
            code::ACCESS_REQUEST => self.access(&p, exact),
            code::ACCOUNTING_REQUEST => self.accounting_request(&p, exact),
            other => Err(RadiusDrop::UnexpectedCode {
                identifier: p.identifier,
                code: other,
            }),
        };
        match reply {
            Ok(bytes) => {
                // One entry per identifier: at most 256.
                self.cache
                    .insert(p.identifier, (exact.to_vec(), bytes.clone()));
                Some(bytes)
            }
            Err(d) => self.drop(d),
        }
    }

    fn drop(&mut self, why: RadiusDrop) -> Option<Vec<u8>> {
        record(&mut self.drops, why);
        None
    }

    fn access(&mut self, p: &Packet, exact: &[u8]) -> Result<Vec<u8>, RadiusDrop> {
        let identifier = p.identifier;
        let has_ma = p.attr(attr::MESSAGE_AUTHENTICATOR).is_some();
        if has_ma {
            if !message_authenticator_ok(exact, &p.authenticator, &self.secret) {
                return Err(RadiusDrop::BadMessageAuthenticator { identifier });
            }
        } else if self.require_message_authenticator {
            return Err(RadiusDrop::MissingMessageAuthenticator { identifier });
        }
        let missing = |attribute| RadiusDrop::MissingAttribute {
            identifier,
            attribute,
        };
        let user = p.attr(attr::USER_NAME).ok_or(missing("User-Name"))?;
        let hidden = p
            .attr(attr::USER_PASSWORD)
            .ok_or(missing("User-Password"))?;
        let password = radius::unhide_password(&self.secret, &p.authenticator, hidden)
            .map_err(|error| RadiusDrop::BadPassword { identifier, error })?;
        let found = check(&self.users, user, password.expose_secret());
        let framed_ip = found.and_then(|u| u.framed_ip);
        let accepted = found.is_some();
        let mut attributes = Vec::new();
        if let Some(ip) = framed_ip {
            attributes.push(RadiusAttr {
                kind: attr::FRAMED_IP_ADDRESS,
                value: ip.octets().to_vec(),
            });
        }
        let code = if accepted {
            code::ACCESS_ACCEPT
        } else {
            code::ACCESS_REJECT
        };
        let bytes = radius::build_response(
            code,
            identifier,
            &p.authenticator,
            attributes,
            &self.secret,
            self.message_authenticator,
        )
        .map_err(RadiusDrop::Malformed)?;
        record(
            &mut self.attempts,
            RadiusAttempt {
                identifier,
                user: user.to_vec(),
                accepted,
                message_authenticator: has_ma,
                nas_ip: p.attr_ipv4(attr::NAS_IP_ADDRESS),
                nas_port: p.attr_u32(attr::NAS_PORT),
                calling_station_id: p.attr(attr::CALLING_STATION_ID).map(<[u8]>::to_vec),
                nas_identifier: p.attr(attr::NAS_IDENTIFIER).map(<[u8]>::to_vec),
                framed_ip,
            },
        );
        Ok(bytes)
    }

    fn accounting_request(&mut self, p: &Packet, exact: &[u8]) -> Result<Vec<u8>, RadiusDrop> {
        let identifier = p.identifier;
        if !accounting_authenticator_ok(exact, &p.authenticator, &self.secret) {
            return Err(RadiusDrop::BadRequestAuthenticator { identifier });
        }
        let status_type =
            p.attr_u32(attr::ACCT_STATUS_TYPE)
                .ok_or(RadiusDrop::MissingAttribute {
                    identifier,
                    attribute: "Acct-Status-Type",
                })?;
        let octets = |low: u8, high: u8| {
            p.attr_u32(low).map(|l| {
                let h = p.attr_u32(high).unwrap_or(0);
                (u64::from(h) << 32) | u64::from(l)
            })
        };
        let bytes = radius::build_response(
            code::ACCOUNTING_RESPONSE,
            identifier,
            &p.authenticator,
            Vec::new(),
            &self.secret,
            false,
        )
        .map_err(RadiusDrop::Malformed)?;
        record(
            &mut self.accounting,
            RadiusAcctRecord {
                identifier,
                status_type,
                session_id: p.attr(attr::ACCT_SESSION_ID).map(<[u8]>::to_vec),
                user: p.attr(attr::USER_NAME).map(<[u8]>::to_vec),
                nas_ip: p.attr_ipv4(attr::NAS_IP_ADDRESS),
                framed_ip: p.attr_ipv4(attr::FRAMED_IP_ADDRESS),
                calling_station_id: p.attr(attr::CALLING_STATION_ID).map(<[u8]>::to_vec),
                nas_identifier: p.attr(attr::NAS_IDENTIFIER).map(<[u8]>::to_vec),
                class: p.attr(attr::CLASS).map(<[u8]>::to_vec),
                session_time: p.attr_u32(attr::ACCT_SESSION_TIME),
                input_octets: octets(attr::ACCT_INPUT_OCTETS, attr::ACCT_INPUT_GIGAWORDS),
                output_octets: octets(attr::ACCT_OUTPUT_OCTETS, attr::ACCT_OUTPUT_GIGAWORDS),
                input_packets: p.attr_u32(attr::ACCT_INPUT_PACKETS),
                output_packets: p.attr_u32(attr::ACCT_OUTPUT_PACKETS),
                terminate_cause: p.attr_u32(attr::ACCT_TERMINATE_CAUSE),
            },
        );
        Ok(bytes)
    }

    /// The Access-Requests answered, in order.
    pub fn attempts(&self) -> &[RadiusAttempt] {
        &self.attempts
    }

    /// The Accounting-Requests acknowledged, in order.
    pub fn accounting(&self) -> &[RadiusAcctRecord] {
        &self.accounting
    }

    /// The datagrams dropped, in order, with the reason.
    pub fn drops(&self) -> &[RadiusDrop] {
        &self.drops
    }

    /// Datagrams given to [`MemRadius::answer`], dropped ones included.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Retransmissions answered from the duplicate cache (not recorded again).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

/// RFC 3579 3.2: HMAC-MD5 keyed with the secret over the packet with the
/// Message-Authenticator's value zeroed (the Request Authenticator in place).
fn message_authenticator_ok(packet: &[u8], auth: &[u8; 16], secret: &Secret) -> bool {
    let Ok(p) = Packet::parse(packet) else {
        return false;
    };
    let mut zeroed = p.clone();
    zeroed.authenticator = *auth;
    let mut given = None;
    for a in &mut zeroed.attributes {
        if a.kind == attr::MESSAGE_AUTHENTICATOR {
            if given.is_some() {
                // RFC 3579 3.2: at most one.
                return false;
            }
            given = Some(std::mem::replace(&mut a.value, vec![0; 16]));
        }
    }
    let (Some(given), Ok(bytes)) = (given, zeroed.emit()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Md5> as KeyInit>::new_from_slice(secret.expose_secret()) else {
        return false;
    };
    mac.update(&bytes);
    given.len() == 16 && mac.verify_slice(&given).is_ok()
}

/// RFC 2866 3: the Request Authenticator of an Accounting-Request is
/// MD5(Code | Identifier | Length | 16 zero octets | attributes | secret).
fn accounting_authenticator_ok(packet: &[u8], auth: &[u8; 16], secret: &Secret) -> bool {
    let want: [u8; 16] = Md5::new()
        .chain_update(packet.get(..4).unwrap_or(&[]))
        .chain_update([0u8; 16])
        .chain_update(packet.get(radius::HEADER_LEN..).unwrap_or(&[]))
        .chain_update(secret.expose_secret())
        .finalize()
        .into();
    bool::from(want.ct_eq(auth))
}

// ---------------------------------------------------------------------------
// TACACS+
// ---------------------------------------------------------------------------

/// How a TACACS+ login seen by [`MemTacacs`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TacacsLoginOutcome {
    /// PASS: the user and password are known.
    Pass,
    /// FAIL: unknown user or wrong password.
    Fail,
    /// The client aborted (CONTINUE with the ABORT flag).
    Aborted,
    /// ERROR: an action or authen_type the server does not serve.
    Error,
}

/// One authentication session that [`MemTacacs`] answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TacacsLoginSeen {
    /// The session id.
    pub session_id: u32,
    /// [`authen_type`]: ASCII (START, GETPASS, CONTINUE) or PAP (password in START).
    pub authen_type: u8,
    /// The user name (from START, or from the CONTINUE after GETUSER).
    pub user: Vec<u8>,
    /// The START's `port` field.
    pub port: Vec<u8>,
    /// The START's `rem_addr` field (the VPN client's address).
    pub rem_addr: Vec<u8>,
    /// How it ended.
    pub outcome: TacacsLoginOutcome,
}

/// One accounting REQUEST that [`MemTacacs`] acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TacacsAcctSeen {
    /// The session id.
    pub session_id: u32,
    /// The request body; [`AcctRequest::arg`] reads `task_id`, `elapsed_time`,
    /// `bytes_in`, ...
    pub request: AcctRequest,
}

impl TacacsAcctSeen {
    /// An argument parsed as a decimal (or `0x` hexadecimal) number.
    pub fn arg_u64(&self, name: &str) -> Option<u64> {
        let v = std::str::from_utf8(self.request.arg(name)?).ok()?;
        match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        }
    }
}

/// Where an authentication session is.
#[derive(Debug)]
enum Session {
    /// Nothing received yet.
    Idle,
    /// An ASCII login waiting for the CONTINUE that answers GETUSER or GETPASS.
    Ascii {
        header: Header,
        start: Zeroizing<AuthenStart>,
        wants: u8,
    },
    /// The session is over; the server closed the connection.
    Closed,
}

/// An in-memory TACACS+ server for one TCP connection (single-connection mode
/// off, as the PIX uses it: one session per connection, closed after the last
/// reply).
///
/// Authentication: PAP (password in the START, version 0xc1) answered PASS or
/// FAIL; ASCII login (version 0xc0) answered GETUSER if the START has no user,
/// GETPASS, then PASS or FAIL after the CONTINUEs. Accounting: a REQUEST is
/// answered SUCCESS. Bodies are (de)obfuscated with the MD5 pad (RFC 8907 4.5);
/// session id, type, sequence number and version are checked on every packet.
/// Bytes may arrive in any pieces. A packet that does not parse or fit the
/// session ends the connection ([`MemTacacs::closed`], [`MemTacacs::error`]).
#[derive(Debug)]
pub struct MemTacacs {
    key: Secret,
    users: Vec<User>,
    silent: bool,
    buf: StreamBuffer,
    session: Session,
    received: u64,
    logins: Vec<TacacsLoginSeen>,
    accounting: Vec<TacacsAcctSeen>,
    error: Option<XauthError>,
}

impl MemTacacs {
    /// A server connection with key `key`, no users, not silent.
    pub fn new(key: &str) -> Self {
        MemTacacs {
            key: Secret::from(key),
            users: Vec::new(),
            silent: false,
            buf: StreamBuffer::new(),
            session: Session::Idle,
            received: 0,
            logins: Vec::new(),
            accounting: Vec::new(),
            error: None,
        }
    }

    /// Adds (or replaces) a user.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.retain(|u| u.name != name.as_bytes());
        self.users.push(User {
            name: name.as_bytes().to_vec(),
            password: Secret::from(password),
            framed_ip: None,
        });
        self
    }

    /// A silent server reads everything and answers nothing (to test the
    /// client's timeout).
    pub fn silent(mut self, on: bool) -> Self {
        self.silent = on;
        self
    }

    /// A fresh connection to the same server: same key, users and silence, no
    /// state and no records.
    pub fn fresh(&self) -> MemTacacs {
        MemTacacs {
            key: self.key.duplicate(),
            users: self.users.iter().map(User::duplicate).collect(),
            silent: self.silent,
            ..MemTacacs::new("")
        }
    }

    /// Consumes bytes the client wrote and returns the bytes the server writes
    /// back (empty while a packet is incomplete, when silent, or once closed).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.received = self.received.saturating_add(bytes.len() as u64);
        let mut out = Vec::new();
        if self.silent || self.closed() {
            return out;
        }
        self.buf.feed(bytes);
        // Bounded: each pass consumes one buffered packet or closes.
        while !self.closed() {
            match self.buf.next_packet() {
                Ok(Some(packet)) => match self.on_packet(&packet) {
                    Ok(reply) => out.extend_from_slice(&reply),
                    Err(e) => self.fail(e),
                },
                Ok(None) => break,
                Err(e) => self.fail(e),
            }
        }
        out
    }

    fn fail(&mut self, e: XauthError) {
        self.error = Some(e);
        self.session = Session::Closed;
        self.buf = StreamBuffer::new();
    }

    fn on_packet(&mut self, packet: &[u8]) -> Result<Vec<u8>, XauthError> {
        let (header, body) = tacacs::open(packet, &self.key)?;
        // Zeroizing: a clear body may hold a password (PAP START, CONTINUE).
        let body = Zeroizing::new(body);
        let session = std::mem::replace(&mut self.session, Session::Closed);
        match session {
            Session::Idle => {
                if header.seq_no != 1 {
                    return Err(XauthError::Mismatch {
                        what: "TACACS+ seq_no of the first packet",
                        expected: 1,
                        got: u32::from(header.seq_no),
                    });
                }
                match header.kind {
                    PacketType::Authentication => self.on_start(header, &body),
                    PacketType::Accounting => self.on_accounting(header, &body),
                    other => Err(XauthError::BadValue {
                        what: "TACACS+ packet type (authorization is not served)",
                        value: u64::from(u8::from(other)),
                    }),
                }
            }
            Session::Ascii {
                header: last,
                start,
                wants,
            } => self.on_continue(last, start, wants, header, &body),
            Session::Closed => Err(XauthError::InvalidCommand {
                command: "TACACS+ packet",
                state: "the session is over",
            }),
        }
    }

    fn on_start(&mut self, header: Header, body: &[u8]) -> Result<Vec<u8>, XauthError> {
        let start = Zeroizing::new(AuthenStart::parse(body)?);
        let supported = start.action == 1
            && matches!(
                (start.authen_type, header.version),
                (authen_type::PAP, tacacs::VERSION_ONE)
                    | (authen_type::ASCII, tacacs::VERSION_DEFAULT)
            );
        if !supported {
            self.log_login(&header, &start, &start.user, TacacsLoginOutcome::Error);
            return self.authen_reply(
                header,
                authen_status::ERROR,
                b"action, authen_type or version not served",
                true,
            );
        }
        if start.authen_type == authen_type::PAP {
            let pass = check(&self.users, &start.user, &start.data).is_some();
            return self.finish_login(header, &start, &start.user, pass);
        }
        let (wants, prompt): (u8, &[u8]) = if start.user.is_empty() {
            (authen_status::GETUSER, b"Username: ")
        } else {
            (authen_status::GETPASS, b"Password: ")
        };
        let reply = self.authen_reply(header, wants, prompt, false)?;
        self.session = Session::Ascii {
            header: reply_header(header)?,
            start,
            wants,
        };
        Ok(reply)
    }

    fn on_continue(
        &mut self,
        last: Header,
        mut start: Zeroizing<AuthenStart>,
        wants: u8,
        header: Header,
        body: &[u8],
    ) -> Result<Vec<u8>, XauthError> {
        expect_next(&last, &header)?;
        let cont = Zeroizing::new(AuthenContinue::parse(body)?);
        if cont.flags & 1 != 0 {
            self.log_login(&header, &start, &start.user, TacacsLoginOutcome::Aborted);
            self.session = Session::Closed;
            return Ok(Vec::new());
        }
        if wants == authen_status::GETUSER {
            start.user = cont.user_msg.clone();
            let reply = self.authen_reply(header, authen_status::GETPASS, b"Password: ", false)?;
            self.session = Session::Ascii {
                header: reply_header(header)?,
                start,
                wants: authen_status::GETPASS,
            };
            return Ok(reply);
        }
        let pass = check(&self.users, &start.user, &cont.user_msg).is_some();
        let user = start.user.clone();
        self.finish_login(header, &start, &user, pass)
    }

    fn finish_login(
        &mut self,
        header: Header,
        start: &AuthenStart,
        user: &[u8],
        pass: bool,
    ) -> Result<Vec<u8>, XauthError> {
        let (status, outcome) = if pass {
            (authen_status::PASS, TacacsLoginOutcome::Pass)
        } else {
            (authen_status::FAIL, TacacsLoginOutcome::Fail)
        };
        self.log_login(&header, start, user, outcome);
        self.authen_reply(header, status, b"", true)
    }

    fn log_login(
        &mut self,
        header: &Header,
        start: &AuthenStart,
        user: &[u8],
        outcome: TacacsLoginOutcome,
    ) {
        record(
            &mut self.logins,
            TacacsLoginSeen {
                session_id: header.session_id,
                authen_type: start.authen_type,
                user: user.to_vec(),
                port: start.port.clone(),
                rem_addr: start.rem_addr.clone(),
                outcome,
            },
        );
    }

    /// An authentication REPLY to `to`; `last` closes the session after it.
    fn authen_reply(
        &mut self,
        to: Header,
        status: u8,
        msg: &[u8],
        last: bool,
    ) -> Result<Vec<u8>, XauthError> {
        let body = AuthenReply {
            status,
            // NOECHO for the password prompt.
            flags: u8::from(status == authen_status::GETPASS),
            server_msg: msg.to_vec(),
            data: Vec::new(),
        }
        .emit()?;
        let bytes = tacacs::seal(reply_header(to)?, &body, &self.key)?;
        if last {
            self.session = Session::Closed;
        }
        Ok(bytes)
    }

    fn on_accounting(&mut self, header: Header, body: &[u8]) -> Result<Vec<u8>, XauthError> {
        let request = AcctRequest::parse(body)?;
        record(
            &mut self.accounting,
            TacacsAcctSeen {
                session_id: header.session_id,
                request,
            },
        );
        let body = AcctReply {
            status: 1,
            server_msg: Vec::new(),
            data: Vec::new(),
        }
        .emit()?;
        tacacs::seal(reply_header(header)?, &body, &self.key)
    }

    /// Whether the server has closed the connection (the session ended, or a
    /// packet did not parse or fit it).
    pub fn closed(&self) -> bool {
        matches!(self.session, Session::Closed)
    }

    /// Why the server closed the connection early, if it did.
    pub fn error(&self) -> Option<&XauthError> {
        self.error.as_ref()
    }

    /// Bytes received, silent or not.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Authentication sessions, in order.
    pub fn logins(&self) -> &[TacacsLoginSeen] {
        &self.logins
    }

    /// Accounting records, in order.
    pub fn accounting(&self) -> &[TacacsAcctSeen] {
        &self.accounting
    }
}

/// The header of the server's reply to `h`: the next (even) sequence number,
/// no flags (never single-connection, never clear).
fn reply_header(h: Header) -> Result<Header, XauthError> {
    let seq_no = h.seq_no.checked_add(1).ok_or(XauthError::TooMany {
        what: "TACACS+ packets in one session",
        limit: 255,
    })?;
    Ok(Header {
        seq_no,
        flags: 0,
        length: 0,
        ..h
    })
}

/// Checks a client packet continues the session whose last server packet is `last`.
fn expect_next(last: &Header, got: &Header) -> Result<(), XauthError> {
    let want_seq = last.seq_no.checked_add(1).ok_or(XauthError::TooMany {
        what: "TACACS+ packets in one session",
        limit: 255,
    })?;
    for (what, expected, got) in [
        ("TACACS+ session_id", last.session_id, got.session_id),
        (
            "TACACS+ type",
            u32::from(u8::from(last.kind)),
            u32::from(u8::from(got.kind)),
        ),
        (
            "TACACS+ version",
            u32::from(last.version),
            u32::from(got.version),
        ),
        ("TACACS+ seq_no", u32::from(want_seq), u32::from(got.seq_no)),
    ] {
        if expected != got {
            return Err(XauthError::Mismatch {
                what,
                expected,
                got,
            });
        }
    }
    Ok(())
}

/// A TACACS+ server for many connections: one [`MemTacacs`] per [`ConnId`],
/// records gathered across them.
#[derive(Debug)]
pub struct MemTacacsServer {
    template: MemTacacs,
    conns: BTreeMap<ConnId, MemTacacs>,
    opened: u64,
    logins: Vec<TacacsLoginSeen>,
    accounting: Vec<TacacsAcctSeen>,
    errors: Vec<(ConnId, XauthError)>,
}

impl MemTacacsServer {
    /// A server whose connections are [`MemTacacs::fresh`] copies of `template`.
    pub fn new(template: MemTacacs) -> Self {
        MemTacacsServer {
            template,
            conns: BTreeMap::new(),
            opened: 0,
            logins: Vec::new(),
            accounting: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Bytes on connection `conn` (opened by its first bytes); returns the
    /// reply bytes and whether the server closed the connection after them.
    pub fn feed(&mut self, conn: ConnId, bytes: &[u8]) -> (Vec<u8>, bool) {
        if !self.conns.contains_key(&conn) {
            self.opened = self.opened.saturating_add(1);
        }
        let c = self
            .conns
            .entry(conn)
            .or_insert_with(|| self.template.fresh());
        let was_closed = c.closed();
        let reply = c.feed(bytes);
        for l in std::mem::take(&mut c.logins) {
            record(&mut self.logins, l);
        }
        for a in std::mem::take(&mut c.accounting) {
            record(&mut self.accounting, a);
        }
        let closed = c.closed();
        if closed && !was_closed {
            if let Some(e) = c.error.clone() {
                record(&mut self.errors, (conn, e));
            }
        }
        (reply, closed && !was_closed)
    }

    /// Turns silence on or off for connections opened from now on.
    pub fn set_silent(&mut self, on: bool) {
        self.template.silent = on;
    }

    /// The client closed connection `conn`: its state is forgotten.
    pub fn close(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    /// Connections opened so far.
    pub fn opened(&self) -> u64 {
        self.opened
    }

    /// Connections the client has not closed.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Authentication sessions of all connections, in order.
    pub fn logins(&self) -> &[TacacsLoginSeen] {
        &self.logins
    }

    /// Accounting records of all connections, in order.
    pub fn accounting(&self) -> &[TacacsAcctSeen] {
        &self.accounting
    }

    /// Connections the server closed early, and why.
    pub fn errors(&self) -> &[(ConnId, XauthError)] {
        &self.errors
    }
}

// ---------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------

/// What an in-memory server sends back, to feed to the AAA client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AaaReply {
    /// A UDP datagram from `from` (for `AaaClient::handle_datagram`).
    Datagram {
        /// The server address the request went to.
        from: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Bytes on a TCP connection (for `AaaClient::handle_stream`).
    Stream {
        /// The connection.
        conn: ConnId,
        /// The bytes.
        payload: Vec<u8>,
    },
    /// The server closed a TCP connection (for `AaaClient::handle_stream_closed`).
    Closed {
        /// The connection.
        conn: ConnId,
    },
}

/// In-memory AAA servers by address: the network between an AAA client and them.
///
/// A transmit to an address no server listens on is counted
/// ([`MemAaa::unrouted`]) and gets no reply (a datagram lost; for TCP, a
/// connection refused: [`AaaReply::Closed`]).
#[derive(Debug, Default)]
pub struct MemAaa {
    radius: Vec<(SocketAddr, SocketAddr, MemRadius)>,
    tacacs: Vec<(SocketAddr, MemTacacsServer)>,
    unrouted: u64,
}

impl MemAaa {
    /// No servers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A RADIUS server answering authentication on `auth` and accounting on `acct`.
    pub fn with_radius(mut self, auth: SocketAddr, acct: SocketAddr, server: MemRadius) -> Self {
        self.radius.push((auth, acct, server));
        self
    }

    /// A TACACS+ server on `addr`; each connection starts as `server.fresh()`.
    pub fn with_tacacs(mut self, addr: SocketAddr, server: MemTacacs) -> Self {
        self.tacacs.push((addr, MemTacacsServer::new(server)));
        self
    }

    /// The RADIUS server listening on `addr` (authentication or accounting).
    pub fn radius(&self, addr: SocketAddr) -> Option<&MemRadius> {
        self.radius
            .iter()
            .find(|(a, b, _)| *a == addr || *b == addr)
            .map(|(_, _, s)| s)
    }

    /// The RADIUS server listening on `addr`, to reconfigure it mid-test.
    pub fn radius_mut(&mut self, addr: SocketAddr) -> Option<&mut MemRadius> {
        self.radius
            .iter_mut()
            .find(|(a, b, _)| *a == addr || *b == addr)
            .map(|(_, _, s)| s)
    }

    /// The TACACS+ server listening on `addr`.
    pub fn tacacs(&self, addr: SocketAddr) -> Option<&MemTacacsServer> {
        self.tacacs.iter().find(|(a, _)| *a == addr).map(|(_, s)| s)
    }

    /// The TACACS+ server listening on `addr`, to reconfigure it mid-test.
    pub fn tacacs_mut(&mut self, addr: SocketAddr) -> Option<&mut MemTacacsServer> {
        self.tacacs
            .iter_mut()
            .find(|(a, _)| *a == addr)
            .map(|(_, s)| s)
    }

    /// Transmits that reached no server.
    pub fn unrouted(&self) -> u64 {
        self.unrouted
    }

    /// Delivers one transmit of the client; returns the servers' replies, in order.
    pub fn handle(&mut self, t: &AaaTransmit) -> Vec<AaaReply> {
        match t {
            AaaTransmit::Datagram { to, payload, .. } => {
                let server = self
                    .radius
                    .iter_mut()
                    .find(|(a, b, _)| a == to || b == to)
                    .map(|(_, _, s)| s);
                let Some(server) = server else {
                    self.unrouted = self.unrouted.saturating_add(1);
                    return Vec::new();
                };
                server
                    .answer(payload)
                    .map(|payload| AaaReply::Datagram { from: *to, payload })
                    .into_iter()
                    .collect()
            }
            AaaTransmit::Stream { conn, to, payload } => {
                let Some((_, server)) = self.tacacs.iter_mut().find(|(a, _)| a == to) else {
                    self.unrouted = self.unrouted.saturating_add(1);
                    return vec![AaaReply::Closed { conn: *conn }];
                };
                let (reply, closed) = server.feed(*conn, payload);
                let mut out = Vec::new();
                if !reply.is_empty() {
                    out.push(AaaReply::Stream {
                        conn: *conn,
                        payload: reply,
                    });
                }
                if closed {
                    out.push(AaaReply::Closed { conn: *conn });
                }
                out
            }
            AaaTransmit::Close { conn } => {
                for (_, s) in &mut self.tacacs {
                    s.close(*conn);
                }
                Vec::new()
            }
        }
    }
}
