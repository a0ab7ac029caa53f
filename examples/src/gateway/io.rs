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

    /// The level of a severity number (0, emergencies, is taken as alerts: the gateway
    /// has no message of level 0); `None` above 7.
    #[must_use]
    pub fn from_number(n: u8) -> Option<Level> {
        Some(match n {
            0 | 1 => Level::Alert,
            2 => Level::Critical,
            3 => Level::Error,
            4 => Level::Warning,
            5 => Level::Notice,
            6 => Level::Info,
            7 => Level::Debug,
            _ => return None,
        })
    }
}

/// A PIX severity keyword (`logging trap informational`) or number 0-7, as the PIX
/// reads it: `None` for anything else.
#[must_use]
pub fn severity_of(word: &str) -> Option<u8> {
    let w = word.to_ascii_lowercase();
    SEVERITY_NAMES
        .iter()
        .position(|n| *n == w)
        .and_then(|i| u8::try_from(i).ok())
        .or_else(|| w.parse::<u8>().ok().filter(|n| *n <= 7))
}

/// The PIX's names of the severities 0-7 (`show logging` prints them).
pub const SEVERITY_NAMES: [&str; 8] = [
    "emergencies",
    "alerts",
    "critical",
    "errors",
    "warnings",
    "notifications",
    "informational",
    "debugging",
];

/// What a log record is about, with its PIX 6.3 system log message id and default
/// level where the PIX has a message for that event, or an id of this gateway's own in
/// the 8xxxxx range, which the PIX leaves unused, where it has none (those take the
/// level their caller gives).
///
/// Sources. The ids below are all in the table of contents of Cisco's *PIX Firewall
/// System Log Messages, Version 6.3*; the message bodies of that guide could not be
/// read, so the wording and levels come from secondary sources, as marked:
///
/// | id | level | source of wording and level |
/// |---|---|---|
/// | 602301, 602302 | 6 | a log-parser catalogue mirroring the 6.3 guide (ids, levels), real 6.x lines quoted in a PIX log parser (`sa created, (sa) sa_dest= ..., sa_spi= 0x..(..), sa_trans= ... , sa_conn_id= ...`) |
/// | 602201 | 6 | catalogue and a real 6.x line (`ISAKMP Phase 1 SA created (local IP/500 (responder), remote IP/PORT, ...)`); the gateway prints the identity where the PIX prints the algorithms |
/// | 702201, 702203 | 7 | catalogue (the 7022xx block is debugging) |
/// | 109005, 109006 | 6 | ASA guide wording; the 6.3 level is unconfirmed; quotes around the user as in a real 6.x 109011 line |
/// | 109003 | 6 | catalogue |
/// | 109012 | 5 | ASA guide (wording and level) |
/// | 404101 | 4 | catalogue (`ISAKMP: Failed to allocate address for client from pool ...`) |
/// | 106023 | 4 | Hucaby, *Cisco ASA and PIX Firewall Handbook* app. B (PIX 6.3 tables), real PIX lines (`... by access-group "NAME"`) |
/// | 106015 | 6 | catalogue, real PIX lines |
/// | 402101 | 4 | the 6.3 guide's text as quoted on Cisco's community forum |
/// | 302013-302016 | 6 | catalogue, real 6.x lines (`Teardown TCP connection N for outside:A/P to inside:B/Q duration 0:00:01 bytes 398 TCP FINs`) |
///
/// The 6.3 guide has no message for an ESP packet failing its ICV or anti-replay
/// check (402114 and later are ASA 7.x) and no per-event IKE failure message at
/// headend level (713xxx is ASA): those are 800010, 800011 and 800001 here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MsgId {
    /// 602301 (6): `sa created, (sa) sa_dest= ...`: an IPsec SA (one direction) was
    /// created.
    IpsecSaCreated,
    /// 602302 (6): `deleting SA, (sa) sa_dest= ...`: an IPsec SA was deleted.
    IpsecSaDeleted,
    /// 109005 (6): `Authentication succeeded for user ...`: Xauth accepted.
    AuthSucceeded,
    /// 109006 (6): `Authentication failed for user ...`: Xauth refused.
    AuthFailed,
    /// 109003 (6): `Auth from ... failed (all servers failed) on interface ...`: no AAA
    /// server answered.
    AuthServersFailed,
    /// 109012 (5): `Authen Session End: user '...', sid N, elapsed N seconds`: an
    /// authenticated user's tunnel ended.
    AuthSessionEnd,
    /// 602201 (6): `ISAKMP Phase 1 SA created (local ..., remote ..., ...)`.
    Phase1Completed,
    /// 702201 (7, debugging): `ISAKMP Phase 1 delete ...`: an IKE SA went (deleted,
    /// expired, cleared).
    Phase1Deleted,
    /// 702203 (7, debugging): `ISAKMP DPD timed out (...)`.
    DpdTimeout,
    /// 404101 (4): `ISAKMP: Failed to allocate address for client from pool ...`.
    PoolExhausted,
    /// 106023 (4): `Deny PROTO src IF:ADDR/PORT dst IF:ADDR/PORT by access-group
    /// "ACL"`: an access-list denied a packet.
    AclDeny,
    /// 106015 (6): `Deny TCP (no connection) from ... flags ... on interface ...`.
    TcpNoConnection,
    /// 402101 (4): `decaps: rec'd IPSEC packet has invalid spi for destaddr=...`.
    BadSpi,
    /// 302013 (6): `Built {inbound|outbound} TCP connection ...`.
    TcpBuilt,
    /// 302014 (6): `Teardown TCP connection ...`.
    TcpTeardown,
    /// 302015 (6): `Built {inbound|outbound} UDP connection ...`.
    UdpBuilt,
    /// 302016 (6): `Teardown UDP connection ...`.
    UdpTeardown,
    /// 800001: a negotiation failed (why is in the text) where the PIX has no message
    /// (its 702xxx IKE messages cover retransmissions and DPD only).
    NegotiationFailed,
    /// 800002: Mode Config assigned an address (no PIX 6.3 message).
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
    /// 800009: a tunnelled packet the policy dropped for no access-list (not from a
    /// VPN client's address, no tunnel to the destination, same interface, ...).
    PolicyDrop,
    /// 800010: an ESP packet failed its integrity check (ICV): the PIX 6.3 guide has
    /// no message for it.
    EspBadIcv,
    /// 800011: an ESP packet was a replay or left of the anti-replay window (the PIX
    /// 6.3 guide has only 702302, replay rollover).
    EspReplay,
    /// 800012: any other ESP packet dropped (bad padding, truncated, selectors, ...).
    EspDropped,
    /// 800013: the syslog sender dropped messages (rate limit, full queue): a count.
    LogDropped,
}

impl MsgId {
    /// Every message id, for tables and tests.
    pub const ALL: [MsgId; 30] = [
        MsgId::IpsecSaCreated,
        MsgId::IpsecSaDeleted,
        MsgId::AuthSucceeded,
        MsgId::AuthFailed,
        MsgId::AuthServersFailed,
        MsgId::AuthSessionEnd,
        MsgId::Phase1Completed,
        MsgId::Phase1Deleted,
        MsgId::DpdTimeout,
        MsgId::PoolExhausted,
        MsgId::AclDeny,
        MsgId::TcpNoConnection,
        MsgId::BadSpi,
        MsgId::TcpBuilt,
        MsgId::TcpTeardown,
        MsgId::UdpBuilt,
        MsgId::UdpTeardown,
        MsgId::NegotiationFailed,
        MsgId::AddressAssigned,
        MsgId::Accounting,
        MsgId::AaaProblem,
        MsgId::Summary,
        MsgId::SessionLimit,
        MsgId::Lifecycle,
        MsgId::Internal,
        MsgId::PolicyDrop,
        MsgId::EspBadIcv,
        MsgId::EspReplay,
        MsgId::EspDropped,
        MsgId::LogDropped,
    ];

    /// The six-digit message id.
    #[must_use]
    pub fn number(self) -> u32 {
        match self {
            MsgId::IpsecSaCreated => 602_301,
            MsgId::IpsecSaDeleted => 602_302,
            MsgId::AuthSucceeded => 109_005,
            MsgId::AuthFailed => 109_006,
            MsgId::AuthServersFailed => 109_003,
            MsgId::AuthSessionEnd => 109_012,
            MsgId::Phase1Completed => 602_201,
            MsgId::Phase1Deleted => 702_201,
            MsgId::DpdTimeout => 702_203,
            MsgId::PoolExhausted => 404_101,
            MsgId::AclDeny => 106_023,
            MsgId::TcpNoConnection => 106_015,
            MsgId::BadSpi => 402_101,
            MsgId::TcpBuilt => 302_013,
            MsgId::TcpTeardown => 302_014,
            MsgId::UdpBuilt => 302_015,
            MsgId::UdpTeardown => 302_016,
            MsgId::NegotiationFailed => 800_001,
            MsgId::AddressAssigned => 800_002,
            MsgId::Accounting => 800_003,
            MsgId::AaaProblem => 800_004,
            MsgId::Summary => 800_005,
            MsgId::SessionLimit => 800_006,
            MsgId::Lifecycle => 800_007,
            MsgId::Internal => 800_008,
            MsgId::PolicyDrop => 800_009,
            MsgId::EspBadIcv => 800_010,
            MsgId::EspReplay => 800_011,
            MsgId::EspDropped => 800_012,
            MsgId::LogDropped => 800_013,
        }
    }

    /// The PIX 6.3 default level of a PIX message; `None` for this gateway's own
    /// 8xxxxx ids (their callers choose).
    #[must_use]
    pub fn pix_level(self) -> Option<Level> {
        Some(match self {
            MsgId::IpsecSaCreated
            | MsgId::IpsecSaDeleted
            | MsgId::AuthSucceeded
            | MsgId::AuthFailed
            | MsgId::AuthServersFailed
            | MsgId::Phase1Completed
            | MsgId::TcpNoConnection
            | MsgId::TcpBuilt
            | MsgId::TcpTeardown
            | MsgId::UdpBuilt
            | MsgId::UdpTeardown => Level::Info,
            MsgId::AuthSessionEnd => Level::Notice,
            MsgId::Phase1Deleted | MsgId::DpdTimeout => Level::Debug,
            MsgId::PoolExhausted | MsgId::AclDeny | MsgId::BadSpi => Level::Warning,
            _ => return None,
        })
    }

    /// Whether the PIX 6.3 has this message (else it is this gateway's own id).
    #[must_use]
    pub fn is_pix(self) -> bool {
        self.pix_level().is_some()
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
    /// A record without fields. A PIX message takes the PIX's default level whatever
    /// `level` says; `level` is for the gateway's own ids.
    #[must_use]
    pub fn new(level: Level, id: MsgId, text: impl Into<String>) -> Self {
        LogRecord {
            level: id.pix_level().unwrap_or(level),
            id,
            text: text.into(),
            fields: Vec::new(),
        }
    }

    /// A PIX message at its default level (informational for the gateway's own ids).
    #[must_use]
    pub fn pix(id: MsgId, text: impl Into<String>) -> Self {
        Self::new(Level::Info, id, text)
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
        self.pix_line_at(self.level)
    }

    /// [`LogRecord::pix_line`] at another level (`logging message ID level L`).
    #[must_use]
    pub fn pix_line_at(&self, level: Level) -> String {
        format!(
            "%PIX-{}-{}: {}",
            level.number(),
            self.id.number(),
            self.text
        )
    }
}

/// An SPI as the PIX prints it in 602301/602302: `0x1a2b3c4d(439041101)`.
#[must_use]
pub fn pix_spi(spi: u32) -> String {
    format!("{spi:#x}({spi})")
}

/// How long something lasted, as the PIX prints it in 302014 (`duration 0:00:01`).
#[must_use]
pub fn pix_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
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
    /// An IP packet the core made for the inside network (a datagram reassembled from
    /// a client's fragments, an ICMP fragmentation-needed): write it to the TUN device.
    ToInside(Vec<u8>),
    /// An encapsulated packet made outside any input buffer (a datagram reassembled
    /// from inside fragments): send it as [`Handled::ToOutside`] says.
    Esp {
        /// Where to.
        dest: EspDest,
        /// The ESP packet.
        datagram: Vec<u8>,
        /// The IKE SA it belongs to.
        sa: SaId,
    },
}

/// The address a packet to a raw ESP destination goes to, for a shell that sends with
/// `sendto` (port 0 on a raw socket).
#[must_use]
pub fn raw_destination(ip: std::net::Ipv4Addr) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), 0)
}

/// The data plane's per-packet messages, each rate-limited on its own by
/// [`HotLimiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hot {
    /// 106023: an access-list denied a tunnelled packet.
    AclDeny,
    /// 106015: a TCP packet without a connection.
    NoConnection,
    /// 800009: another policy drop.
    PolicyDrop,
    /// 402101: an ESP packet with an unknown SPI.
    BadSpi,
    /// 800010: an ESP packet with a bad ICV.
    BadIcv,
    /// 800011: a replayed ESP packet.
    Replay,
    /// 800012: another ESP drop.
    EspOther,
}

const HOT_KINDS: usize = 7;

/// Rate limit of the data plane's per-packet messages: the first of each kind per
/// interval is logged, the others are only counted (no allocation, no formatting) and
/// the next logged one says how many there were.
#[derive(Debug, Clone)]
pub struct HotLimiter {
    interval: std::time::Duration,
    last: [Option<std::time::Instant>; HOT_KINDS],
    suppressed: [u64; HOT_KINDS],
}

impl HotLimiter {
    /// At most one message of each kind per `interval`.
    #[must_use]
    pub fn new(interval: std::time::Duration) -> Self {
        HotLimiter {
            interval,
            last: [None; HOT_KINDS],
            suppressed: [0; HOT_KINDS],
        }
    }

    /// Whether a message of `kind` may be logged at `now`: `Some(n)` with the number
    /// suppressed since the last one, or `None` (counted).
    pub fn allow(&mut self, now: std::time::Instant, kind: Hot) -> Option<u64> {
        let i = kind as usize;
        let (Some(last), Some(n)) = (self.last.get_mut(i), self.suppressed.get_mut(i)) else {
            return None;
        };
        let due = last.is_none_or(|t| now.saturating_duration_since(t) >= self.interval);
        if due {
            *last = Some(now);
            Some(std::mem::take(n))
        } else {
            *n = n.saturating_add(1);
            None
        }
    }

    /// Messages of `kind` suppressed since the last one logged.
    #[must_use]
    pub fn suppressed(&self, kind: Hot) -> u64 {
        self.suppressed.get(kind as usize).copied().unwrap_or(0)
    }
}

impl Default for HotLimiter {
    fn default() -> Self {
        Self::new(std::time::Duration::from_secs(1))
    }
}

/// ` (N more since the last message)` when `n` were suppressed, else nothing.
#[must_use]
pub fn suppressed_note(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" ({n} more since the last message)")
    }
}

/// An IP protocol as the PIX names it in its messages (`tcp`, `udp`, `icmp`, or the
/// number).
#[must_use]
pub fn proto_name(p: u8) -> String {
    match p {
        1 => "icmp".into(),
        6 => "tcp".into(),
        17 => "udp".into(),
        47 => "gre".into(),
        50 => "esp".into(),
        n => n.to_string(),
    }
}
