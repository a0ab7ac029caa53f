//! What goes into the gateway core and what comes out of it: the Sans-IO contract of
//! [`Gateway`](super::Gateway), the same as the crates' (`handle` what arrives,
//! `poll_output` what to do, `poll_timeout`/`handle_timeout` for time).
//!
//! Packets of the data plane are handled in place: [`Input::Udp`] (ESP in UDP),
//! [`Input::RawEsp`], [`Input::Inside`] and [`Input::InsideInPlace`] lend the core a
//! mutable buffer, and the [`Handled`] answer says where the result is (a range of that
//! buffer; for [`Input::Inside`] the core's own encapsulation buffer), so that a packet
//! costs no allocation and no copy beyond the ones the kernel interface forces. A
//! batched driver receives many packets into buffers of its own, hands each to
//! [`Gateway::handle`](super::Gateway::handle) and sends the results in one system call. Everything else
//! (IKE datagrams, AAA requests, log records, key log rows, debug lines) is queued and
//! drained with [`Gateway::poll_output`](super::Gateway::poll_output) after each call.

use std::net::{IpAddr, SocketAddr};
use std::ops::Range;

use ike_sm::SaId;
use xauth::aaa::ConnId;
use zeroize::Zeroizing;

use super::dataplane::EspDest;
use super::DebugKind;

/// Something that arrived for the gateway.
#[derive(Debug)]
pub enum Input<'a> {
    /// A UDP datagram to one of our IKE ports, as received. On port 4500 it is
    /// classified here (RFC 3948: non-ESP marker and IKE, ESP in UDP, NAT keepalive);
    /// on any other port it is IKE.
    Udp {
        /// Our address and port it came to.
        local: SocketAddr,
        /// The sender.
        remote: SocketAddr,
        /// The UDP payload (ESP is decrypted in place).
        payload: &'a mut [u8],
    },
    /// An IPv4 packet of protocol 50 from a raw socket, its IP header included (ESP as
    /// a PIX 6.3 sees it without NAT-T). Decrypted in place.
    RawEsp {
        /// The whole IP packet.
        packet: &'a mut [u8],
    },
    /// An IPv4 packet from the inside network for a VPN client (checked by the PIX
    /// policy, then encapsulated into the core's buffer).
    Inside {
        /// The IP packet (the policy may rewrite addresses and checksums in place).
        packet: &'a mut [u8],
    },
    /// An IPv4 packet from the inside network for a VPN client, with room around it
    /// so that it is encapsulated where it lies (the batched data path: no copy).
    /// The packet is `buf[INSIDE_HEADROOM..][..len]`; `buf` must extend at least
    /// [`INSIDE_TAILROOM`] bytes past it. Answered with [`Handled::ToOutsideIn`].
    InsideInPlace {
        /// The buffer: headroom, the IP packet, tailroom.
        buf: &'a mut [u8],
        /// The IP packet's length.
        len: usize,
    },
    /// A datagram on the AAA client's UDP socket (a RADIUS reply).
    AaaDatagram {
        /// Its sender.
        from: SocketAddr,
        /// The datagram.
        payload: &'a [u8],
    },
    /// Bytes read from a TACACS+ connection the core asked for
    /// ([`Output::AaaStream`]).
    AaaStream {
        /// The `aaa-server` tag of the connection.
        group: &'a str,
        /// The connection.
        conn: ConnId,
        /// The bytes, as read.
        bytes: &'a [u8],
    },
    /// A TACACS+ connection closed by the server, reset, or never connected.
    AaaStreamClosed {
        /// The `aaa-server` tag of the connection.
        group: &'a str,
        /// The connection.
        conn: ConnId,
    },
    /// Sending an encapsulated packet of this IKE SA failed (counted as a send error of
    /// its IPsec SA, `show crypto ipsec sa`).
    SendFailed {
        /// The IKE SA [`Handled::ToOutside`] named.
        sa: SaId,
    },
    /// An operator's command line: `show ...` or `clear ...` (see
    /// [`Command`](super::view::Command)). Answered with [`Handled::Answer`].
    Command {
        /// The whole line.
        line: &'a str,
    },
    /// The gateway stops (SIGTERM, SIGINT): every IKE SA is deleted (the peers are told),
    /// every address goes back to its pool.
    Shutdown,
}

/// What became of an [`Input`] at once.
#[derive(Debug)]
pub enum Handled<'g> {
    /// Consumed (IKE, AAA, or a drop, which is counted and summarised in the log).
    Done,
    /// A decrypted packet that passed the policy: write this range of the input buffer
    /// to the inside network.
    ToInside(Range<usize>),
    /// An encapsulated packet to send: ESP in UDP from our port 4500, or raw ESP.
    ToOutside {
        /// Where to.
        dest: EspDest,
        /// The packet (the core's buffer, valid until the next call).
        datagram: &'g [u8],
        /// The IKE SA it belongs to (for [`Input::SendFailed`]).
        sa: SaId,
    },
    /// An [`Input::InsideInPlace`] packet encapsulated in its own buffer: send this
    /// range of it (ESP header to ICV; the kernel adds the UDP or IP header).
    ToOutsideIn {
        /// Where to.
        dest: EspDest,
        /// The ESP packet's place in the input buffer.
        range: Range<usize>,
        /// The IKE SA it belongs to (for [`Input::SendFailed`]).
        sa: SaId,
    },
    /// The answer to an [`Input::Command`], as the PIX prints it.
    Answer(String),
}

/// Bytes an [`Input::InsideInPlace`] buffer keeps before the packet: the ESP header
/// (SPI, sequence number) and the longest IV (16 bytes, AES).
pub const INSIDE_HEADROOM: usize = 8 + 16;

/// Bytes an [`Input::InsideInPlace`] buffer keeps after the packet: the longest
/// padding (15), pad length and next header, the ICV (12), rounded up.
pub const INSIDE_TAILROOM: usize = 32;

/// How much a log record matters: the syslog severities a PIX uses (`logging trap
/// LEVEL`), most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// 1: alerts.
    Alert = 1,
    /// 2: critical conditions.
    Critical = 2,
    /// 3: errors.
    Error = 3,
    /// 4: warnings.
    Warning = 4,
    /// 5: notifications.
    Notice = 5,
    /// 6: informational.
    Info = 6,
    /// 7: debugging.
    Debug = 7,
}

impl Level {
    /// The syslog severity number.
    #[must_use]
    pub fn number(self) -> u8 {
        self as u8
    }
}

/// What a log record is about, with its PIX 6.3 system log message id where the PIX
/// has a message for that event (Cisco's *PIX Firewall System Log Messages, Version
/// 6.3*), or an id of this gateway's own in the 8xxxxx range, which the PIX leaves
/// unused, where it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MsgId {
    /// 602301: an IPsec SA was created.
    IpsecSaCreated,
    /// 602302: an IPsec SA was deleted.
    IpsecSaDeleted,
    /// 109005: Xauth (or cut-through) authentication succeeded.
    AuthSucceeded,
    /// 109006: authentication failed.
    AuthFailed,
    /// 702210 (`ISAKMP Phase 1 exchange completed`): phase 1 is up.
    Phase1Completed,
    /// 702201 (`ISAKMP Phase 1 delete`): an IKE SA went (deleted, expired, cleared).
    Phase1Deleted,
    /// 800001: a negotiation failed (why is in the text).
    NegotiationFailed,
    /// 800002: Mode Config assigned an address.
    AddressAssigned,
    /// 800003: per-connection accounting record sent (start or stop).
    Accounting,
    /// 800004: an AAA server problem (unreachable, refused, misconfigured).
    AaaProblem,
    /// 800005: the periodic summary of drops and refusals.
    Summary,
    /// 800006: a session ended by `vpngroup idle-time` or `max-time`.
    SessionLimit,
    /// 800007: the gateway starts, stops or changes state.
    Lifecycle,
    /// 800008: an internal problem (an SA that could not be installed, ...).
    Internal,
}

impl MsgId {
    /// The six-digit message id.
    #[must_use]
    pub fn number(self) -> u32 {
        match self {
            MsgId::IpsecSaCreated => 602_301,
            MsgId::IpsecSaDeleted => 602_302,
            MsgId::AuthSucceeded => 109_005,
            MsgId::AuthFailed => 109_006,
            MsgId::Phase1Completed => 702_210,
            MsgId::Phase1Deleted => 702_201,
            MsgId::NegotiationFailed => 800_001,
            MsgId::AddressAssigned => 800_002,
            MsgId::Accounting => 800_003,
            MsgId::AaaProblem => 800_004,
            MsgId::Summary => 800_005,
            MsgId::SessionLimit => 800_006,
            MsgId::Lifecycle => 800_007,
            MsgId::Internal => 800_008,
        }
    }
}

/// One event for the operator's log: never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Its severity.
    pub level: Level,
    /// What it is about.
    pub id: MsgId,
    /// The text, one line.
    pub text: String,
    /// Named values of the event (peer, user, spi, ...), for structured sinks.
    pub fields: Vec<(&'static str, String)>,
}

impl LogRecord {
    /// A record without fields.
    #[must_use]
    pub fn new(level: Level, id: MsgId, text: impl Into<String>) -> Self {
        LogRecord {
            level,
            id,
            text: text.into(),
            fields: Vec::new(),
        }
    }

    /// Adds a named value.
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Self {
        self.fields.push((name, value.to_string()));
        self
    }

    /// `%PIX-<level>-<id>: <text>`, the PIX's own rendering.
    #[must_use]
    pub fn pix_line(&self) -> String {
        format!(
            "%PIX-{}-{}: {}",
            self.level.number(),
            self.id.number(),
            self.text
        )
    }
}

/// Something the gateway wants done, drained with
/// [`Gateway::poll_output`](super::Gateway::poll_output).
#[derive(Debug)]
pub enum Output {
    /// A UDP datagram from one of our IKE ports, framed for its port (on 4500 the
    /// non-ESP marker is already in front of IKE).
    Udp {
        /// Our address and port to send from.
        local: SocketAddr,
        /// Where to.
        remote: SocketAddr,
        /// The UDP payload.
        payload: Vec<u8>,
    },
    /// A RADIUS request to send from the AAA client's UDP socket.
    AaaDatagram {
        /// The server.
        to: SocketAddr,
        /// The request.
        payload: Vec<u8>,
    },
    /// Bytes to write on a TACACS+ connection (open it first if it is new; when it
    /// cannot be opened, say so with [`Input::AaaStreamClosed`]).
    AaaStream {
        /// The `aaa-server` tag.
        group: String,
        /// The connection.
        conn: ConnId,
        /// The server.
        to: SocketAddr,
        /// The bytes.
        payload: Vec<u8>,
    },
    /// Close a TACACS+ connection.
    AaaClose {
        /// The `aaa-server` tag.
        group: String,
        /// The connection.
        conn: ConnId,
    },
    /// An event for the operator.
    Log(LogRecord),
    /// A key log row (Wireshark's `esp_sa` / `ikev1_decryption_table`): only while the
    /// key log is on ([`Gateway::set_keylog`](super::Gateway::set_keylog)); it holds
    /// keys and is wiped when dropped.
    Keylog(Zeroizing<String>),
    /// A `debug crypto isakmp` / `debug crypto ipsec` line: only for the kinds asked
    /// for ([`Gateway::set_debug`](super::Gateway::set_debug)).
    Debug(DebugKind, String),
    /// A client's inside address is in use (`up`) or no longer: a driver that routes
    /// each client on its own (a host route to the TUN device and proxy ARP on the
    /// inside interface, as the PIX answers ARP for its pool) adds or removes it.
    ClientRoute {
        /// The client's address (Mode Config's, from a pool or RADIUS).
        addr: std::net::Ipv4Addr,
        /// In use from now on, or not any more.
        up: bool,
    },
}

/// The address a packet to a raw ESP destination goes to, for a shell that sends with
/// `sendto` (port 0 on a raw socket).
#[must_use]
pub fn raw_destination(ip: std::net::Ipv4Addr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), 0)
}
