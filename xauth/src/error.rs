//! The crate's error type: what went wrong and where.

use isakmp_wire::{CfgType, WireError};
use pix_primitives::reader::ReadError;
use thiserror::Error;

/// Every failure of the Xauth machines and the AAA codecs.
///
/// Errors from peer input say what was wrong and where (attribute type, byte
/// offset, expected vs. received value). [`XauthError::is_silent_drop`] tells the
/// caller which ones mean "ignore this message" (the draft's and the PIX's
/// behaviour for stray or mismatched transaction messages) rather than "fail".
#[non_exhaustive]
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum XauthError {
    /// The attribute list did not parse.
    #[error("attribute list: {0}")]
    Wire(#[from] WireError),

    /// An Xauth attribute had a value of the wrong form or size.
    #[error("Xauth attribute {kind}: {reason}")]
    BadAttribute {
        /// The attribute type (e.g. 16527 for XAUTH_STATUS).
        kind: u16,
        /// What was wrong.
        reason: &'static str,
    },

    /// A message of a type the machine does not accept in its current state.
    #[error("unexpected {got:?} while {state}")]
    UnexpectedMessage {
        /// The machine's state, in words.
        state: &'static str,
        /// The message type received.
        got: CfgType,
    },

    /// A REPLY or ACK whose identifier is not the one of our REQUEST or SET.
    #[error("transaction identifier {got:#06x} does not match {expected:#06x}")]
    IdentifierMismatch {
        /// The identifier we sent.
        expected: u16,
        /// The identifier received.
        got: u16,
    },

    /// A message lacks an attribute it must carry.
    #[error("{message} lacks attribute {kind}")]
    MissingAttribute {
        /// The missing attribute type.
        kind: u16,
        /// The message, in words.
        message: &'static str,
    },

    /// The peer asked for an XAUTH_TYPE this side does not do.
    #[error("unsupported XAUTH_TYPE {0}")]
    UnsupportedXauthType(u16),

    /// A verdict or answer for a request the machine is not waiting for.
    #[error("no pending request with id {0}")]
    UnknownRequest(u64),

    /// A command in a state that does not take it.
    #[error("{command} not possible while {state}")]
    InvalidCommand {
        /// The command.
        command: &'static str,
        /// The machine's state, in words.
        state: &'static str,
    },

    /// Input ended before a field was complete.
    #[error("{what} truncated at byte {offset}: need {needed}, have {available}")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Where the field starts.
        offset: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },

    /// A length field or value is out of range.
    #[error("{what} at byte {offset}: length {length} {reason}")]
    BadLength {
        /// The field.
        what: &'static str,
        /// Where the field starts.
        offset: usize,
        /// The length found.
        length: usize,
        /// Why it is wrong.
        reason: &'static str,
    },

    /// A value (too long to encode) given by the caller.
    #[error("{what} is {length} bytes, at most {max} can be encoded")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        length: usize,
        /// The maximum.
        max: usize,
    },

    /// A protocol field has a value this side does not accept.
    #[error("{what} has unexpected value {value:#x}")]
    BadValue {
        /// The field.
        what: &'static str,
        /// The value.
        value: u64,
    },

    /// A TACACS+ or RADIUS reply from another session, out of sequence, or for
    /// another request.
    #[error("{what}: expected {expected:#x}, got {got:#x}")]
    Mismatch {
        /// `session_id`, `seq_no`, `type` or `RADIUS identifier`.
        what: &'static str,
        /// The value we expected.
        expected: u32,
        /// The value received.
        got: u32,
    },

    /// A RADIUS response whose authenticator (or Message-Authenticator) does
    /// not verify with our shared secret: a forged reply or a wrong key.
    #[error("RADIUS {what} does not verify (wrong shared secret or forged reply)")]
    BadAuthenticator {
        /// `Response Authenticator` or `Message-Authenticator`.
        what: &'static str,
    },

    /// A RADIUS Access-Accept, Access-Reject or Access-Challenge that verified
    /// with our shared secret but carries no Message-Authenticator, while the
    /// group requires one (the default): the Response Authenticator alone is
    /// MD5 and can be forged by a man in the middle (Blast-RADIUS,
    /// CVE-2024-3596, RFC 9765-era advice). Refused; the request moves on to the
    /// group's next server. The fix is on the server: make it send one
    /// (FreeRADIUS before 3.2.5: `update reply { &Message-Authenticator := 0x00 }`
    /// in `authorize`; 3.2.5 and later send it by default).
    #[error(
        "aaa-server {group} host {server} answered {reply} without Message-Authenticator: \
         refused (Blast-RADIUS, CVE-2024-3596); make the server send it"
    )]
    MissingMessageAuthenticator {
        /// The `aaa-server` tag (empty when the client was not given one).
        group: String,
        /// The server's address.
        server: std::net::IpAddr,
        /// `Access-Accept`, `Access-Reject` or `Access-Challenge`.
        reply: &'static str,
    },

    /// A TACACS+ packet would go out (or was accepted) with a clear body: no
    /// shared key, or the unencrypted flag. Never done: the body holds the user
    /// name and password.
    #[error(
        "TACACS+ refuses to send an unencrypted body ({reason}): give the aaa-server host a key"
    )]
    TacacsUnencrypted {
        /// `no shared key` or the flag.
        reason: &'static str,
    },

    /// A reply that matches no pending request (late, duplicate or forged).
    #[error("{protocol} reply with identifier {identifier} matches no pending request")]
    StrayReply {
        /// `RADIUS` or `TACACS+`.
        protocol: &'static str,
        /// Its identifier (RADIUS) or connection id (TACACS+).
        identifier: u64,
    },

    /// A bounded table is full.
    #[error("too many {what} (limit {limit})")]
    TooMany {
        /// What is full.
        what: &'static str,
        /// The limit.
        limit: usize,
    },

    /// A server group with no servers, or an unknown group.
    #[error("no AAA server configured for {0}")]
    NoServer(&'static str),
}

impl From<ReadError> for XauthError {
    /// A field cut short in peer input: what, where, needed and available.
    fn from(e: ReadError) -> Self {
        XauthError::Truncated {
            what: e.what,
            offset: e.offset,
            needed: e.needed,
            available: e.available,
        }
    }
}

/// Converts a caller-given length to a one-byte wire field, or says it is too long.
pub(crate) fn len_u8(what: &'static str, len: usize) -> Result<u8, XauthError> {
    u8::try_from(len).map_err(|_| XauthError::TooLong {
        what,
        length: len,
        max: 255,
    })
}

/// Converts a caller-given length to a 16-bit wire field, or says it is too long.
pub(crate) fn len_u16(what: &'static str, len: usize) -> Result<u16, XauthError> {
    u16::try_from(len).map_err(|_| XauthError::TooLong {
        what,
        length: len,
        max: 65535,
    })
}

impl XauthError {
    /// Whether the message that caused this error should be dropped silently
    /// (a stray, replayed or mismatched message) and the dialogue left as it was.
    pub fn is_silent_drop(&self) -> bool {
        matches!(
            self,
            XauthError::UnexpectedMessage { .. }
                | XauthError::IdentifierMismatch { .. }
                | XauthError::Mismatch { .. }
                | XauthError::BadAuthenticator { .. }
                | XauthError::StrayReply { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_and_where() {
        let e = XauthError::IdentifierMismatch {
            expected: 0x1234,
            got: 0x1235,
        };
        assert_eq!(
            e.to_string(),
            "transaction identifier 0x1235 does not match 0x1234"
        );
        assert!(e.is_silent_drop());
        let e = XauthError::Truncated {
            what: "TACACS+ header",
            offset: 0,
            needed: 12,
            available: 3,
        };
        assert_eq!(
            e.to_string(),
            "TACACS+ header truncated at byte 0: need 12, have 3"
        );
        assert!(!e.is_silent_drop());
    }
}
