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
//!
//! Layout: [`packet`] (header, pseudo-pad, [`seal`]/[`open`]), [`body`] (the
//! authentication and accounting bodies), [`stream`] ([`StreamBuffer`]), [`login`]
//! ([`TacacsLogin`]) and [`accounting`] ([`TacacsAccounting`]); everything is
//! re-exported here.

pub mod accounting;
pub mod body;
pub mod login;
pub mod packet;
pub mod stream;

pub use accounting::{AccountingRecord, AcctResult, TacacsAccounting};
pub use body::{
    acct_flag, authen_status, authen_type, AcctReply, AcctRequest, AuthenContinue, AuthenReply,
    AuthenStart,
};
pub use login::{LoginKind, LoginRequest, LoginResult, LoginStep, TacacsLogin};
pub use packet::{
    obfuscate, open, seal, Header, PacketType, FLAG_SINGLE_CONNECT, FLAG_UNENCRYPTED, HEADER_LEN,
    MAX_BODY_LEN, VERSION_DEFAULT, VERSION_ONE,
};
pub use stream::StreamBuffer;
