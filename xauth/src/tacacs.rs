//! TACACS+ (RFC 8907), Sans-IO: packet codec, body obfuscation, and the client side
//! of authentication (ASCII and PAP login) and accounting (START/STOP/WATCHDOG).
//!
//! ```text
//! header (RFC 8907 4.1), 12 bytes, then `length` bytes of obfuscated body
//!  0        4        8        16       24       32
//! +--------+--------+--------+--------+--------+
//! | major  | minor  |  type  | seq_no | flags  |
//! +--------+--------+--------+--------+--------+
//! |                 session_id                 |
//! +--------------------------------------------+
//! |                   length                   |
//! +--------------------------------------------+
//! ```
//!
//! Each session (one login or one accounting record) uses a new TCP connection
//! (single-connection mode off, as the PIX does): the client sends odd sequence
//! numbers starting at 1, the server answers with the next even one. Bodies are
//! XORed with the MD5 pseudo-pad of RFC 8907 4.5 when a key is set.
//!
//! This codec is our own: `tacacs-plus-protocol` 0.3 was evaluated and not used
//! (MPL-2.0 licence, an older `md-5`/`digest` generation than the workspace's, and
//! text fields limited to printable ASCII, which refuses real server banners).

use md5::{Digest, Md5};

use crate::error::XauthError;
use crate::reader::{len_u16, len_u8, Reader};
use crate::secret::Secret;

/// Header length.
pub const HEADER_LEN: usize = 12;
/// Largest body accepted from a server (RFC 8907 allows 2^32-1; no reply needs more).
pub const MAX_BODY_LEN: usize = 65_536;
/// Version byte: major 0xc, minor 0 (ASCII login, accounting).
pub const VERSION_DEFAULT: u8 = 0xc0;
/// Version byte: major 0xc, minor 1 (PAP, CHAP, MS-CHAP).
pub const VERSION_ONE: u8 = 0xc1;
/// Header flag: body is not obfuscated.
pub const FLAG_UNENCRYPTED: u8 = 0x01;
/// Header flag: single-connection mode (we never set it).
pub const FLAG_SINGLE_CONNECT: u8 = 0x04;

/// The packet type (RFC 8907 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 1: authentication.
    Authentication,
    /// 2: authorization.
    Authorization,
    /// 3: accounting.
    Accounting,
    /// Anything else.
    Unknown(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            1 => PacketType::Authentication,
            2 => PacketType::Authorization,
            3 => PacketType::Accounting,
            n => PacketType::Unknown(n),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(t: PacketType) -> u8 {
        match t {
            PacketType::Authentication => 1,
            PacketType::Authorization => 2,
            PacketType::Accounting => 3,
            PacketType::Unknown(n) => n,
        }
    }
}

/// The packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Major/minor version byte (0xc0 or 0xc1).
    pub version: u8,
    /// Packet type.
    pub kind: PacketType,
    /// Sequence number (odd from the client, even from the server).
    pub seq_no: u8,
    /// Flags (`FLAG_*`).
    pub flags: u8,
    /// Session id, random per session.
    pub session_id: u32,
    /// Body length.
    pub length: u32,
}

impl Header {
    /// Parses the 12-byte header.
    pub fn parse(input: &[u8]) -> Result<Self, XauthError> {
        let mut r = Reader::new(input, 0);
        let version = r.u8("TACACS+ header")?;
        if version >> 4 != 0xc {
            // Check before reading the rest so garbage is refused early.
            return Err(XauthError::BadValue {
                what: "TACACS+ major version",
                value: u64::from(version >> 4),
            });
        }
        let kind = PacketType::from(r.u8("TACACS+ header")?);
        let seq_no = r.u8("TACACS+ header")?;
        let flags = r.u8("TACACS+ header")?;
        let session_id = r.u32("TACACS+ header")?;
        let length = r.u32("TACACS+ header")?;
        Ok(Header {
            version,
            kind,
            seq_no,
            flags,
            session_id,
            length,
        })
    }

    /// Writes the header.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.push(self.version);
        out.push(self.kind.into());
        out.push(self.seq_no);
        out.push(self.flags);
        out.extend_from_slice(&self.session_id.to_be_bytes());
        out.extend_from_slice(&self.length.to_be_bytes());
    }
}

/// XORs `body` with the RFC 8907 4.5 pseudo-pad (the same call obfuscates and
/// de-obfuscates).
pub fn obfuscate(key: &Secret, header: &Header, body: &mut [u8]) {
    let mut prev: Option<[u8; 16]> = None;
    for chunk in body.chunks_mut(16) {
        let mut h = Md5::new();
        h.update(header.session_id.to_be_bytes());
        h.update(key.expose());
        h.update([header.version, header.seq_no]);
        if let Some(p) = prev {
            h.update(p);
        }
        let pad: [u8; 16] = h.finalize().into();
        for (b, p) in chunk.iter_mut().zip(pad.iter()) {
            *b ^= *p;
        }
        prev = Some(pad);
    }
}

/// Builds a whole packet: sets `length` and obfuscates the body with `key`.
///
/// Never a clear body: an empty `key` or a header with [`FLAG_UNENCRYPTED`] is
/// refused ([`XauthError::TacacsUnencrypted`]), because the body holds the user
/// name and password (RFC 8907 10.5.2: unencrypted is for debugging only).
pub fn seal(header: Header, body: &[u8], key: &Secret) -> Result<Vec<u8>, XauthError> {
    if key.is_empty() {
        return Err(XauthError::TacacsUnencrypted {
            reason: "no shared key",
        });
    }
    if header.flags & FLAG_UNENCRYPTED != 0 {
        return Err(XauthError::TacacsUnencrypted {
            reason: "the header asks for TAC_PLUS_UNENCRYPTED_FLAG",
        });
    }
    let mut header = header;
    header.length = u32::try_from(body.len()).map_err(|_| XauthError::TooLong {
        what: "TACACS+ body",
        length: body.len(),
        max: MAX_BODY_LEN,
    })?;
    // Why in place: the clear body may hold a password; obfuscating a copy would
    // leave that copy unwiped. The exact capacity means no reallocation leaves the
    // clear bytes behind either.
    let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(body.len()));
    header.emit(&mut out);
    out.extend_from_slice(body);
    if let Some(b) = out.get_mut(HEADER_LEN..) {
        obfuscate(key, &header, b);
    }
    Ok(out)
}

/// Splits a whole packet into its header and clear body.
///
/// A body marked unencrypted is refused (RFC 8907 4.5: a client configured with
/// a key must not accept clear bodies, and we never run without one), and so is
/// an empty `key`.
pub fn open(packet: &[u8], key: &Secret) -> Result<(Header, Vec<u8>), XauthError> {
    if key.is_empty() {
        return Err(XauthError::TacacsUnencrypted {
            reason: "no shared key",
        });
    }
    let header = Header::parse(packet)?;
    let len = usize::try_from(header.length).unwrap_or(usize::MAX);
    if len > MAX_BODY_LEN {
        return Err(XauthError::BadLength {
            what: "TACACS+ body",
            offset: 8,
            length: len,
            reason: "exceeds the 65536-byte limit",
        });
    }
    let mut r = Reader::new(packet, HEADER_LEN);
    r.take(HEADER_LEN, "TACACS+ header")?;
    let body = r.take(len, "TACACS+ body")?;
    if !r.is_empty() {
        return Err(XauthError::BadLength {
            what: "TACACS+ packet",
            offset: HEADER_LEN,
            length: len,
            reason: "is shorter than the bytes given",
        });
    }
    if header.flags & FLAG_UNENCRYPTED != 0 {
        return Err(XauthError::BadValue {
            what: "TACACS+ flags (clear body while a key is set)",
            value: u64::from(header.flags),
        });
    }
    let mut body = body.to_vec();
    obfuscate(key, &header, &mut body);
    Ok((header, body))
}

/// Reassembles packets from a TCP byte stream (bounded by [`MAX_BODY_LEN`]).
#[derive(Debug, Default, Clone)]
pub struct StreamBuffer {
    buf: Vec<u8>,
}

impl StreamBuffer {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete packet (header and body), if one has arrived.
    ///
    /// An impossible header (wrong version, over-long body) is an error: the
    /// connection should be closed.
    pub fn next_packet(&mut self) -> Result<Option<Vec<u8>>, XauthError> {
        if self.buf.len() < HEADER_LEN {
            return Ok(None);
        }
        let header = Header::parse(&self.buf)?;
        let len = usize::try_from(header.length).unwrap_or(usize::MAX);
        if len > MAX_BODY_LEN {
            return Err(XauthError::BadLength {
                what: "TACACS+ body",
                offset: 8,
                length: len,
                reason: "exceeds the 65536-byte limit",
            });
        }
        let total = HEADER_LEN.saturating_add(len);
        if self.buf.len() < total {
            return Ok(None);
        }
        let rest = self.buf.split_off(total);
        Ok(Some(std::mem::replace(&mut self.buf, rest)))
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// authen_type values (RFC 8907 5.1).
pub mod authen_type {
    /// ASCII login (prompts).
    pub const ASCII: u8 = 1;
    /// PAP.
    pub const PAP: u8 = 2;
    /// CHAP.
    pub const CHAP: u8 = 3;
}

/// Authentication reply status values (RFC 8907 5.2).
pub mod authen_status {
    /// Authenticated.
    pub const PASS: u8 = 1;
    /// Refused.
    pub const FAIL: u8 = 2;
    /// Send data (a challenge answer).
    pub const GETDATA: u8 = 3;
    /// Send the user name.
    pub const GETUSER: u8 = 4;
    /// Send the password.
    pub const GETPASS: u8 = 5;
    /// Start again.
    pub const RESTART: u8 = 6;
    /// Server error.
    pub const ERROR: u8 = 7;
    /// Use another server (deprecated).
    pub const FOLLOW: u8 = 0x21;
}

/// Authentication START body (RFC 8907 5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenStart {
    /// 1 LOGIN, 2 CHPASS, 4 SENDAUTH.
    pub action: u8,
    /// Privilege level.
    pub priv_lvl: u8,
    /// [`authen_type`].
    pub authen_type: u8,
    /// 1 LOGIN, 3 PPP, ...
    pub authen_service: u8,
    /// User name.
    pub user: Vec<u8>,
    /// Port (the PIX sends e.g. "PIX").
    pub port: Vec<u8>,
    /// Remote (client) address.
    pub rem_addr: Vec<u8>,
    /// Data (the PAP password).
    pub data: Vec<u8>,
}

impl AuthenStart {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let mut r = Reader::new(body, 0);
        let [action, priv_lvl, authen_type, authen_service, ul, pl, rl, dl] =
            r.array::<8>("authentication START")?;
        let user = r.take(usize::from(ul), "START user")?.to_vec();
        let port = r.take(usize::from(pl), "START port")?.to_vec();
        let rem_addr = r.take(usize::from(rl), "START rem_addr")?.to_vec();
        let data = r.take(usize::from(dl), "START data")?.to_vec();
        trailing(&r, "authentication START")?;
        Ok(AuthenStart {
            action,
            priv_lvl,
            authen_type,
            authen_service,
            user,
            port,
            rem_addr,
            data,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        // Exact capacity: no reallocation leaves a copy of `data` (a PAP password).
        let len = [&self.user, &self.port, &self.rem_addr, &self.data]
            .iter()
            .fold(8usize, |n, f| n.saturating_add(f.len()));
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&[
            self.action,
            self.priv_lvl,
            self.authen_type,
            self.authen_service,
            len_u8("START user", self.user.len())?,
            len_u8("START port", self.port.len())?,
            len_u8("START rem_addr", self.rem_addr.len())?,
            len_u8("START data", self.data.len())?,
        ]);
        for f in [&self.user, &self.port, &self.rem_addr, &self.data] {
            out.extend_from_slice(f);
        }
        Ok(out)
    }
}

impl zeroize::Zeroize for AuthenStart {
    /// Wipes the variable fields (`data` holds a PAP password).
    fn zeroize(&mut self) {
        self.user.zeroize();
        self.port.zeroize();
        self.rem_addr.zeroize();
        self.data.zeroize();
    }
}

/// Authentication REPLY body (RFC 8907 5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenReply {
    /// [`authen_status`].
    pub status: u8,
    /// 1 = NOECHO (the client should not echo the user's input).
    pub flags: u8,
    /// Text for the user.
    pub server_msg: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
}

impl AuthenReply {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let mut r = Reader::new(body, 0);
        let status = r.u8("authentication REPLY")?;
        let flags = r.u8("authentication REPLY")?;
        let ml = r.u16("authentication REPLY")?;
        let dl = r.u16("authentication REPLY")?;
        let server_msg = r.take(usize::from(ml), "REPLY server_msg")?.to_vec();
        let data = r.take(usize::from(dl), "REPLY data")?.to_vec();
        trailing(&r, "authentication REPLY")?;
        Ok(AuthenReply {
            status,
            flags,
            server_msg,
            data,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        let mut out = vec![self.status, self.flags];
        out.extend_from_slice(&len_u16("REPLY server_msg", self.server_msg.len())?.to_be_bytes());
        out.extend_from_slice(&len_u16("REPLY data", self.data.len())?.to_be_bytes());
        out.extend_from_slice(&self.server_msg);
        out.extend_from_slice(&self.data);
        Ok(out)
    }
}

/// Authentication CONTINUE body (RFC 8907 5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenContinue {
    /// What the user typed.
    pub user_msg: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
    /// 1 = ABORT.
    pub flags: u8,
}

impl AuthenContinue {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let (flags, user_msg, data) = parse_msg_data_body(
            body,
            [
                "authentication CONTINUE",
                "CONTINUE user_msg",
                "CONTINUE data",
            ],
        )?;
        Ok(AuthenContinue {
            user_msg,
            data,
            flags,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        emit_msg_data_body(
            self.flags,
            &self.user_msg,
            &self.data,
            ["CONTINUE user_msg", "CONTINUE data"],
        )
    }
}

impl zeroize::Zeroize for AuthenContinue {
    /// Wipes the fields (`user_msg` holds a password or a challenge answer).
    fn zeroize(&mut self) {
        self.user_msg.zeroize();
        self.data.zeroize();
        self.flags = 0;
    }
}

/// Accounting REQUEST flags (RFC 8907 7.1).
pub mod acct_flag {
    /// START record.
    pub const START: u8 = 0x02;
    /// STOP record.
    pub const STOP: u8 = 0x04;
    /// WATCHDOG (interim) record.
    pub const WATCHDOG: u8 = 0x08;
}

/// Accounting REQUEST body (RFC 8907 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctRequest {
    /// [`acct_flag`].
    pub flags: u8,
    /// How the user was authenticated (6 = TACACS+, 5 = LOCAL, 0x10 = RADIUS).
    pub authen_method: u8,
    /// Privilege level.
    pub priv_lvl: u8,
    /// [`authen_type`].
    pub authen_type: u8,
    /// Authentication service.
    pub authen_service: u8,
    /// User name.
    pub user: Vec<u8>,
    /// Port.
    pub port: Vec<u8>,
    /// Remote (client) address.
    pub rem_addr: Vec<u8>,
    /// Arguments, `name=value` (at most 255, each at most 255 bytes).
    pub args: Vec<Vec<u8>>,
}

impl AcctRequest {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let mut r = Reader::new(body, 0);
        let [flags, authen_method, priv_lvl, authen_type, authen_service, ul, pl, rl, argc] =
            r.array::<9>("accounting REQUEST")?;
        let lens = r.take(usize::from(argc), "REQUEST arg lengths")?;
        let user = r.take(usize::from(ul), "REQUEST user")?.to_vec();
        let port = r.take(usize::from(pl), "REQUEST port")?.to_vec();
        let rem_addr = r.take(usize::from(rl), "REQUEST rem_addr")?.to_vec();
        let mut args = Vec::with_capacity(lens.len());
        for l in lens {
            args.push(r.take(usize::from(*l), "REQUEST argument")?.to_vec());
        }
        trailing(&r, "accounting REQUEST")?;
        Ok(AcctRequest {
            flags,
            authen_method,
            priv_lvl,
            authen_type,
            authen_service,
            user,
            port,
            rem_addr,
            args,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        let mut out = vec![
            self.flags,
            self.authen_method,
            self.priv_lvl,
            self.authen_type,
            self.authen_service,
            len_u8("REQUEST user", self.user.len())?,
            len_u8("REQUEST port", self.port.len())?,
            len_u8("REQUEST rem_addr", self.rem_addr.len())?,
            len_u8("REQUEST arg_cnt", self.args.len())?,
        ];
        for a in &self.args {
            out.push(len_u8("REQUEST argument", a.len())?);
        }
        for f in [&self.user, &self.port, &self.rem_addr] {
            out.extend_from_slice(f);
        }
        for a in &self.args {
            out.extend_from_slice(a);
        }
        Ok(out)
    }

    /// The value of argument `name` (`name=value` or `name*value`).
    pub fn arg(&self, name: &str) -> Option<&[u8]> {
        self.args.iter().find_map(|a| {
            let rest = a.strip_prefix(name.as_bytes())?;
            match rest.split_first() {
                Some((b'=' | b'*', v)) => Some(v),
                _ => None,
            }
        })
    }
}

/// Accounting REPLY body (RFC 8907 7.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctReply {
    /// 1 SUCCESS, 2 ERROR, 0x21 FOLLOW.
    pub status: u8,
    /// Text.
    pub server_msg: Vec<u8>,
    /// Data.
    pub data: Vec<u8>,
}

impl AcctReply {
    /// Parses a clear body.
    pub fn parse(body: &[u8]) -> Result<Self, XauthError> {
        let (status, server_msg, data) =
            parse_msg_data_body(body, ["accounting REPLY", "REPLY server_msg", "REPLY data"])?;
        Ok(AcctReply {
            status,
            server_msg,
            data,
        })
    }

    /// The clear body.
    pub fn emit(&self) -> Result<Vec<u8>, XauthError> {
        emit_msg_data_body(
            self.status,
            &self.server_msg,
            &self.data,
            ["REPLY server_msg", "REPLY data"],
        )
    }
}

/// Authentication CONTINUE and accounting REPLY share one body layout (RFC 8907
/// 5.3 and 7.2): message length, data length, one flags/status byte, message, data.
/// `what` names the body, its message field and its data field for errors.
fn parse_msg_data_body(
    body: &[u8],
    what: [&'static str; 3],
) -> Result<(u8, Vec<u8>, Vec<u8>), XauthError> {
    let [body_name, msg_name, data_name] = what;
    let mut r = Reader::new(body, 0);
    let ml = r.u16(body_name)?;
    let dl = r.u16(body_name)?;
    let byte = r.u8(body_name)?;
    let msg = r.take(usize::from(ml), msg_name)?.to_vec();
    let data = r.take(usize::from(dl), data_name)?.to_vec();
    trailing(&r, body_name)?;
    Ok((byte, msg, data))
}

/// Writes the layout [`parse_msg_data_body`] reads; `what` names the two fields.
fn emit_msg_data_body(
    byte: u8,
    msg: &[u8],
    data: &[u8],
    what: [&'static str; 2],
) -> Result<Vec<u8>, XauthError> {
    let [msg_name, data_name] = what;
    let mut out = Vec::with_capacity(5usize.saturating_add(msg.len()).saturating_add(data.len()));
    out.extend_from_slice(&len_u16(msg_name, msg.len())?.to_be_bytes());
    out.extend_from_slice(&len_u16(data_name, data.len())?.to_be_bytes());
    out.push(byte);
    out.extend_from_slice(msg);
    out.extend_from_slice(data);
    Ok(out)
}

fn trailing(r: &Reader<'_>, what: &'static str) -> Result<(), XauthError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(XauthError::BadLength {
            what,
            offset: r.offset(),
            length: r.rest().len(),
            reason: "bytes left after the last field",
        })
    }
}

/// The login method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoginKind {
    /// ASCII: START with the user, the server prompts (GETPASS), CONTINUE with the password.
    Ascii,
    /// PAP: the password is in the START's data.
    Pap,
}

/// A finished login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginResult {
    /// PASS.
    Pass {
        /// The server's message.
        server_msg: Vec<u8>,
    },
    /// FAIL.
    Fail {
        /// The server's message.
        server_msg: Vec<u8>,
    },
    /// ERROR, RESTART or FOLLOW (not supported): try the next server.
    Error {
        /// The status.
        status: u8,
        /// The server's message.
        server_msg: Vec<u8>,
    },
}

/// What to do after a server packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginStep {
    /// Send these bytes (a CONTINUE) on the same connection.
    Send(Vec<u8>),
    /// The server asks for data the machine does not have (GETDATA: a token
    /// challenge): show `server_msg` and call [`TacacsLogin::continue_with`].
    NeedData {
        /// The prompt.
        server_msg: Vec<u8>,
        /// Whether the answer should not be echoed.
        no_echo: bool,
    },
    /// The login is over; close the connection.
    Done(LoginResult),
}

/// What a login needs to know.
#[derive(Debug)]
pub struct LoginRequest<'a> {
    /// ASCII or PAP.
    pub kind: LoginKind,
    /// User name.
    pub user: &'a [u8],
    /// Password.
    pub password: &'a Secret,
    /// The `port` field.
    pub port: &'a [u8],
    /// The `rem_addr` field (the VPN client's address).
    pub rem_addr: &'a [u8],
    /// Privilege level asked for (PIX: 1).
    pub priv_lvl: u8,
}

/// The client side of one authentication session (one TCP connection).
#[derive(Debug)]
pub struct TacacsLogin {
    key: Secret,
    header: Header,
    kind: LoginKind,
    user: Vec<u8>,
    password: Secret,
    done: bool,
}

impl TacacsLogin {
    /// Builds the START packet; `session_id` must be random (from the caller's RNG).
    pub fn start(
        key: &Secret,
        session_id: u32,
        req: &LoginRequest<'_>,
    ) -> Result<(Self, Vec<u8>), XauthError> {
        let (version, authen_type, data) = match req.kind {
            LoginKind::Ascii => (VERSION_DEFAULT, authen_type::ASCII, Vec::new()),
            LoginKind::Pap => (
                VERSION_ONE,
                authen_type::PAP,
                req.password.expose().to_vec(),
            ),
        };
        // Zeroizing: `data` is a copy of a PAP password.
        let start = zeroize::Zeroizing::new(AuthenStart {
            action: 1,
            priv_lvl: req.priv_lvl,
            authen_type,
            authen_service: 1,
            user: req.user.to_vec(),
            port: req.port.to_vec(),
            rem_addr: req.rem_addr.to_vec(),
            data,
        });
        let header = Header {
            version,
            kind: PacketType::Authentication,
            seq_no: 1,
            flags: 0,
            session_id,
            length: 0,
        };
        let body = zeroizing(start.emit()?);
        let bytes = seal(header, &body, key)?;
        Ok((
            TacacsLogin {
                key: key.duplicate(),
                header,
                kind: req.kind,
                user: req.user.to_vec(),
                password: req.password.duplicate(),
                done: false,
            },
            bytes,
        ))
    }

    /// The session id.
    pub fn session_id(&self) -> u32 {
        self.header.session_id
    }

    /// Feeds one complete server packet (see [`StreamBuffer`]).
    pub fn handle(&mut self, packet: &[u8]) -> Result<LoginStep, XauthError> {
        let body = expect_reply(&self.key, &self.header, packet)?;
        let reply = AuthenReply::parse(&body)?;
        self.header.seq_no = self.header.seq_no.saturating_add(1);
        use authen_status::*;
        let step = match (reply.status, self.kind) {
            (PASS, _) => LoginStep::Done(LoginResult::Pass {
                server_msg: reply.server_msg,
            }),
            (FAIL, _) => LoginStep::Done(LoginResult::Fail {
                server_msg: reply.server_msg,
            }),
            (GETUSER, LoginKind::Ascii) => {
                let user = self.user.clone();
                LoginStep::Send(self.send_continue(&user)?)
            }
            (GETPASS, LoginKind::Ascii) => {
                let pw = self.password.duplicate();
                LoginStep::Send(self.send_continue(pw.expose())?)
            }
            (GETDATA, LoginKind::Ascii) => LoginStep::NeedData {
                server_msg: reply.server_msg,
                no_echo: reply.flags & 1 != 0,
            },
            (status @ (ERROR | RESTART | FOLLOW), _) => LoginStep::Done(LoginResult::Error {
                status,
                server_msg: reply.server_msg,
            }),
            (status, _) => {
                return Err(XauthError::BadValue {
                    what: "TACACS+ authentication status",
                    value: u64::from(status),
                })
            }
        };
        if matches!(step, LoginStep::Done(_)) {
            self.done = true;
        }
        Ok(step)
    }

    /// Answers a [`LoginStep::NeedData`] prompt.
    pub fn continue_with(&mut self, answer: &Secret) -> Result<Vec<u8>, XauthError> {
        self.send_continue(answer.expose())
    }

    fn send_continue(&mut self, user_msg: &[u8]) -> Result<Vec<u8>, XauthError> {
        if self.done {
            return Err(XauthError::InvalidCommand {
                command: "CONTINUE",
                state: "the login is finished",
            });
        }
        // Why: seq_no must not wrap (RFC 8907 4.1); a server that keeps asking
        // would otherwise loop forever.
        if self.header.seq_no >= 253 {
            return Err(XauthError::TooMany {
                what: "TACACS+ packets in one session",
                limit: 253,
            });
        }
        self.header.seq_no = self.header.seq_no.saturating_add(1);
        // Zeroizing: `user_msg` is a copy of a password or a challenge answer.
        let cont = zeroize::Zeroizing::new(AuthenContinue {
            user_msg: user_msg.to_vec(),
            data: Vec::new(),
            flags: 0,
        });
        let body = zeroizing(cont.emit()?);
        seal(self.header, &body, &self.key)
    }
}

/// A finished accounting exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcctResult {
    /// Whether the server said SUCCESS.
    pub success: bool,
    /// The status byte.
    pub status: u8,
    /// The server's message.
    pub server_msg: Vec<u8>,
}

/// The fields of the PIX's accounting record (the seed's sample:
/// `cisco_customer Default Group 10.89.129.200 stop 15 .. 99 1879 .. .. 0x5 .. PIX
/// 10.89.129.194 telnet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingRecord {
    /// [`acct_flag`] START, STOP or WATCHDOG.
    pub flag: u8,
    /// User.
    pub user: Vec<u8>,
    /// User group, if known (sent as `group=`).
    pub group: Option<Vec<u8>>,
    /// The client's address (rem_addr and `addr=`).
    pub client_addr: Vec<u8>,
    /// Service (`service=`, e.g. `telnet`).
    pub service: Vec<u8>,
    /// Task id (`task_id=0x5`), the same in START and STOP.
    pub task_id: u32,
    /// Start time, seconds since the epoch (`start_time=`).
    pub start_time: u64,
    /// Elapsed seconds (`elapsed_time=`, STOP and WATCHDOG only).
    pub elapsed_time: Option<u64>,
    /// Bytes from the client (`bytes_in=`, STOP and WATCHDOG only).
    pub bytes_in: Option<u64>,
    /// Bytes to the client (`bytes_out=`).
    pub bytes_out: Option<u64>,
    /// The NAS (gateway) address (`nas_addr=`).
    pub nas_addr: Option<Vec<u8>>,
    /// The port field (the PIX sends `PIX`).
    pub port: Vec<u8>,
}

impl AccountingRecord {
    /// The accounting REQUEST body for this record.
    pub fn to_request(&self) -> AcctRequest {
        let mut args: Vec<Vec<u8>> = Vec::new();
        let mut push = |name: &str, v: &[u8]| {
            let mut a = name.as_bytes().to_vec();
            a.push(b'=');
            a.extend_from_slice(v);
            args.push(a);
        };
        push("task_id", format!("{:#x}", self.task_id).as_bytes());
        push("start_time", self.start_time.to_string().as_bytes());
        if let Some(e) = self.elapsed_time {
            push("elapsed_time", e.to_string().as_bytes());
        }
        if let Some(b) = self.bytes_in {
            push("bytes_in", b.to_string().as_bytes());
        }
        if let Some(b) = self.bytes_out {
            push("bytes_out", b.to_string().as_bytes());
        }
        push("service", &self.service);
        push("addr", &self.client_addr);
        if let Some(g) = &self.group {
            push("group", g);
        }
        if let Some(n) = &self.nas_addr {
            push("nas_addr", n);
        }
        AcctRequest {
            flags: self.flag,
            authen_method: 6,
            priv_lvl: 1,
            authen_type: authen_type::ASCII,
            authen_service: 1,
            user: self.user.clone(),
            port: self.port.clone(),
            rem_addr: self.client_addr.clone(),
            args,
        }
    }
}

/// The client side of one accounting session (one TCP connection).
#[derive(Debug)]
pub struct TacacsAccounting {
    key: Secret,
    header: Header,
}

impl TacacsAccounting {
    /// Builds the REQUEST packet.
    pub fn start(
        key: &Secret,
        session_id: u32,
        req: &AcctRequest,
    ) -> Result<(Self, Vec<u8>), XauthError> {
        let header = Header {
            version: VERSION_DEFAULT,
            kind: PacketType::Accounting,
            seq_no: 1,
            flags: 0,
            session_id,
            length: 0,
        };
        let bytes = seal(header, &req.emit()?, key)?;
        Ok((
            TacacsAccounting {
                key: key.duplicate(),
                header,
            },
            bytes,
        ))
    }

    /// Feeds the server's REPLY packet.
    pub fn handle(&mut self, packet: &[u8]) -> Result<AcctResult, XauthError> {
        let body = expect_reply(&self.key, &self.header, packet)?;
        let r = AcctReply::parse(&body)?;
        Ok(AcctResult {
            success: r.status == 1,
            status: r.status,
            server_msg: r.server_msg,
        })
    }
}

/// Checks a server packet belongs to our session and is the next in sequence,
/// and returns its clear body.
fn expect_reply(key: &Secret, sent: &Header, packet: &[u8]) -> Result<Vec<u8>, XauthError> {
    let header = Header::parse(packet)?;
    if header.session_id != sent.session_id {
        return Err(XauthError::Mismatch {
            what: "TACACS+ session_id",
            expected: sent.session_id,
            got: header.session_id,
        });
    }
    if header.kind != sent.kind {
        return Err(XauthError::Mismatch {
            what: "TACACS+ type",
            expected: u32::from(u8::from(sent.kind)),
            got: u32::from(u8::from(header.kind)),
        });
    }
    let want = sent.seq_no.wrapping_add(1);
    if header.seq_no != want {
        return Err(XauthError::Mismatch {
            what: "TACACS+ seq_no",
            expected: u32::from(want),
            got: u32::from(header.seq_no),
        });
    }
    let (_, body) = open(packet, key)?;
    Ok(body)
}

fn zeroizing(v: Vec<u8>) -> zeroize::Zeroizing<Vec<u8>> {
    zeroize::Zeroizing::new(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Secret {
        Secret::from("secretkey")
    }

    #[test]
    fn obfuscation_is_an_involution_and_uses_the_md5_pad() {
        let h = Header {
            version: 0xc0,
            kind: PacketType::Authentication,
            seq_no: 1,
            flags: 0,
            session_id: 0x01020304,
            length: 0,
        };
        let clear: Vec<u8> = (0..40u8).collect();
        let mut b = clear.clone();
        obfuscate(&key(), &h, &mut b);
        assert_ne!(b, clear);
        // First 16 bytes: XOR with MD5(session_id | key | version | seq_no).
        let mut m = Md5::new();
        m.update([1, 2, 3, 4]);
        m.update(b"secretkey");
        m.update([0xc0, 1]);
        let pad: [u8; 16] = m.finalize().into();
        for i in 0..16 {
            assert_eq!(b[i] ^ pad[i], clear[i]);
        }
        obfuscate(&key(), &h, &mut b);
        assert_eq!(b, clear);
    }

    #[test]
    fn seal_open_round_trip_and_unencrypted_flag() {
        let h = Header {
            version: 0xc1,
            kind: PacketType::Accounting,
            seq_no: 3,
            flags: 0,
            session_id: 7,
            length: 0,
        };
        let p = seal(h, b"hello", &key()).unwrap();
        assert_eq!(p.len(), 17);
        let (h2, body) = open(&p, &key()).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(h2.length, 5);
        // Never a clear body: no key, or the unencrypted flag, is refused on the
        // way out; a clear body is refused on the way in.
        let no_key = XauthError::TacacsUnencrypted {
            reason: "no shared key",
        };
        assert_eq!(
            seal(h, b"hello", &Secret::new(Vec::new())),
            Err(no_key.clone())
        );
        assert_eq!(open(&p, &Secret::new(Vec::new())), Err(no_key.clone()));
        assert!(no_key.to_string().contains("unencrypted"), "{no_key}");
        let flagged = Header {
            flags: FLAG_UNENCRYPTED,
            ..h
        };
        assert!(matches!(
            seal(flagged, b"hello", &key()),
            Err(XauthError::TacacsUnencrypted { .. })
        ));
        let mut clear = Vec::new();
        Header {
            length: 5,
            ..flagged
        }
        .emit(&mut clear);
        clear.extend_from_slice(b"hello");
        assert!(matches!(
            open(&clear, &key()),
            Err(XauthError::BadValue { .. })
        ));
        for n in 0..p.len() {
            assert!(open(&p[..n], &key()).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn seal_obfuscates_in_place_and_clear_bodies_zeroize() {
        // The sealed body is the clear body XORed with the pad, in an exact-size
        // packet: no second copy of a clear body is made.
        let h = Header {
            version: 0xc1,
            kind: PacketType::Authentication,
            seq_no: 1,
            flags: 0,
            session_id: 0x0a0b0c0d,
            length: 0,
        };
        let clear = b"\x01\x01\x01\x01\x04\x03\x00\x08userPIXpassword".to_vec();
        let p = seal(h, &clear, &key()).unwrap();
        assert_eq!(p.len(), HEADER_LEN + clear.len());
        assert_eq!(p.capacity(), p.len());
        let mut b = clear.clone();
        let sealed_header = Header::parse(&p).unwrap();
        obfuscate(&key(), &sealed_header, &mut b);
        assert_eq!(&p[HEADER_LEN..], b.as_slice());

        // START (PAP password in `data`) and CONTINUE (password or answer in
        // `user_msg`) wipe their fields; emit sizes its buffer exactly.
        let mut start = AuthenStart {
            action: 1,
            priv_lvl: 1,
            authen_type: authen_type::PAP,
            authen_service: 1,
            user: b"user".to_vec(),
            port: b"PIX".to_vec(),
            rem_addr: b"10.0.0.1".to_vec(),
            data: b"password".to_vec(),
        };
        let body = start.emit().unwrap();
        assert_eq!(body.capacity(), body.len());
        zeroize::Zeroize::zeroize(&mut start);
        assert!(start.data.is_empty() && start.user.is_empty());
        let mut cont = AuthenContinue {
            user_msg: b"password".to_vec(),
            data: b"x".to_vec(),
            flags: 1,
        };
        let body = cont.emit().unwrap();
        assert_eq!(body.capacity(), body.len());
        zeroize::Zeroize::zeroize(&mut cont);
        assert_eq!(
            cont,
            AuthenContinue {
                user_msg: Vec::new(),
                data: Vec::new(),
                flags: 0
            }
        );
    }

    #[test]
    fn stream_buffer_reassembles_split_packets() {
        let h = Header {
            version: 0xc0,
            kind: PacketType::Authentication,
            seq_no: 2,
            flags: 0,
            session_id: 9,
            length: 0,
        };
        let a = seal(h, b"one", &key()).unwrap();
        let b = seal(h, b"second", &key()).unwrap();
        let all = [a.clone(), b.clone()].concat();
        let mut s = StreamBuffer::new();
        for chunk in all.chunks(5) {
            s.feed(chunk);
        }
        assert_eq!(s.next_packet().unwrap(), Some(a));
        assert_eq!(s.next_packet().unwrap(), Some(b));
        assert_eq!(s.next_packet().unwrap(), None);
        assert!(s.is_empty());
        let mut bad = StreamBuffer::new();
        bad.feed(&[0xc0, 1, 2, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(
            bad.next_packet(),
            Err(XauthError::BadLength { .. })
        ));
        let mut bad = StreamBuffer::new();
        bad.feed(b"GET / HTTP/1.0\r\n");
        assert!(matches!(
            bad.next_packet(),
            Err(XauthError::BadValue { .. })
        ));
    }

    fn server_reply(login: &TacacsLogin, seq: u8, status: u8, msg: &[u8]) -> Vec<u8> {
        let h = Header {
            seq_no: seq,
            ..login.header
        };
        let body = AuthenReply {
            status,
            flags: 1,
            server_msg: msg.to_vec(),
            data: vec![],
        }
        .emit()
        .unwrap();
        seal(h, &body, &key()).unwrap()
    }

    #[test]
    fn ascii_login_flow() {
        let pw = Secret::from("cisco123");
        let req = LoginRequest {
            kind: LoginKind::Ascii,
            user: b"cisco_customer",
            password: &pw,
            port: b"PIX",
            rem_addr: b"10.89.129.200",
            priv_lvl: 1,
        };
        let (mut l, start) = TacacsLogin::start(&key(), 0xabcdef01, &req).unwrap();
        let (h, body) = open(&start, &key()).unwrap();
        assert_eq!((h.version, h.seq_no, h.flags), (0xc0, 1, 0));
        let s = AuthenStart::parse(&body).unwrap();
        assert_eq!(s.user, b"cisco_customer");
        assert_eq!(s.authen_type, authen_type::ASCII);
        assert!(s.data.is_empty());
        // GETPASS -> CONTINUE(password) with seq 3.
        let r = server_reply(&l, 2, authen_status::GETPASS, b"Password: ");
        let LoginStep::Send(cont) = l.handle(&r).unwrap() else {
            panic!("expected CONTINUE")
        };
        let (h, body) = open(&cont, &key()).unwrap();
        assert_eq!(h.seq_no, 3);
        assert_eq!(AuthenContinue::parse(&body).unwrap().user_msg, b"cisco123");
        // A replayed seq 2 is refused, seq 4 PASS finishes.
        assert!(matches!(
            l.handle(&r),
            Err(XauthError::Mismatch {
                what: "TACACS+ seq_no",
                ..
            })
        ));
        let ok = server_reply(&l, 4, authen_status::PASS, b"");
        assert_eq!(
            l.handle(&ok).unwrap(),
            LoginStep::Done(LoginResult::Pass { server_msg: vec![] })
        );
    }

    #[test]
    fn pap_login_and_mismatches() {
        let pw = Secret::from("wrong");
        let req = LoginRequest {
            kind: LoginKind::Pap,
            user: b"u",
            password: &pw,
            port: b"",
            rem_addr: b"",
            priv_lvl: 1,
        };
        let (mut l, start) = TacacsLogin::start(&key(), 5, &req).unwrap();
        let (h, body) = open(&start, &key()).unwrap();
        assert_eq!(h.version, 0xc1);
        assert_eq!(AuthenStart::parse(&body).unwrap().data, b"wrong");
        let mut other = server_reply(&l, 2, authen_status::FAIL, b"no");
        other[4..8].copy_from_slice(&6u32.to_be_bytes());
        assert!(matches!(
            l.handle(&other),
            Err(XauthError::Mismatch {
                what: "TACACS+ session_id",
                ..
            })
        ));
        // PAP does not take GETPASS.
        let getpass = server_reply(&l, 2, authen_status::GETPASS, b"");
        assert!(matches!(
            l.handle(&getpass),
            Err(XauthError::BadValue { .. })
        ));
        let (mut l, _) = TacacsLogin::start(&key(), 5, &req).unwrap();
        let fail = server_reply(&l, 2, authen_status::FAIL, b"no");
        assert_eq!(
            l.handle(&fail).unwrap(),
            LoginStep::Done(LoginResult::Fail {
                server_msg: b"no".to_vec()
            })
        );
    }

    #[test]
    fn accounting_record_carries_the_seed_fields() {
        let rec = AccountingRecord {
            flag: acct_flag::STOP,
            user: b"cisco_customer".to_vec(),
            group: Some(b"Default Group".to_vec()),
            client_addr: b"10.89.129.200".to_vec(),
            service: b"telnet".to_vec(),
            task_id: 5,
            start_time: 1_090_941_459,
            elapsed_time: Some(15),
            bytes_in: Some(99),
            bytes_out: Some(1879),
            nas_addr: Some(b"10.89.129.194".to_vec()),
            port: b"PIX".to_vec(),
        };
        let req = rec.to_request();
        assert_eq!(req.arg("task_id"), Some(&b"0x5"[..]));
        assert_eq!(req.arg("elapsed_time"), Some(&b"15"[..]));
        assert_eq!(req.arg("bytes_in"), Some(&b"99"[..]));
        assert_eq!(req.arg("bytes_out"), Some(&b"1879"[..]));
        assert_eq!(req.arg("service"), Some(&b"telnet"[..]));
        assert_eq!(req.arg("group"), Some(&b"Default Group"[..]));
        assert_eq!(req.arg("nas_addr"), Some(&b"10.89.129.194"[..]));
        assert_eq!(req.arg("addr"), Some(&b"10.89.129.200"[..]));
        assert_eq!(req.arg("nope"), None);
        let body = req.emit().unwrap();
        assert_eq!(AcctRequest::parse(&body).unwrap(), req);
        let (mut a, pkt) = TacacsAccounting::start(&key(), 77, &req).unwrap();
        let (h, _) = open(&pkt, &key()).unwrap();
        assert_eq!((h.kind, h.seq_no), (PacketType::Accounting, 1));
        let reply = AcctReply {
            status: 1,
            server_msg: vec![],
            data: vec![],
        }
        .emit()
        .unwrap();
        let rp = seal(Header { seq_no: 2, ..h }, &reply, &key()).unwrap();
        assert!(a.handle(&rp).unwrap().success);
    }
}
