//! Wire errors: what was wrong and where.

use thiserror::Error;

/// The notify message type (RFC 2408 3.14.1) a peer should get for a wire error.
///
/// Kept as a plain number so this module does not depend on the notify registry.
pub type NotifyCode = u16;

/// Where in a message an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// Byte offset from the start of the buffer handed to the parser.
    pub offset: usize,
    /// Payload type (RFC 2408 3.1 "Next Payload") being parsed, if any.
    pub payload: Option<u8>,
}

impl core::fmt::Display for Location {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.payload {
            Some(p) => write!(f, "offset {} in payload type {}", self.offset, p),
            None => write!(f, "offset {}", self.offset),
        }
    }
}

/// An error parsing or emitting ISAKMP bytes.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input ended before a field or structure was complete.
    #[error("truncated {what} at {at}: need {needed} bytes, have {available}")]
    Truncated {
        /// The structure or field being read.
        what: &'static str,
        /// Where.
        at: Location,
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes left in the input.
        available: usize,
    },
    /// A length field is smaller than the fixed header it must contain, or larger than what encloses it.
    #[error("bad length {length} for {what} at {at}: {reason}")]
    BadLength {
        /// The structure whose length is wrong.
        what: &'static str,
        /// Where.
        at: Location,
        /// The length as found on the wire.
        length: usize,
        /// Why it is wrong.
        reason: &'static str,
    },
    /// A field holds a value the protocol forbids.
    #[error("invalid {field} value {value} at {at}")]
    InvalidValue {
        /// The field.
        field: &'static str,
        /// Where.
        at: Location,
        /// The offending value.
        value: u64,
    },
    /// More items than the configured cap (payloads, proposals, transforms, attributes, nesting).
    #[error("too many {what} at {at}: more than {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// Where the cap was hit.
        at: Location,
        /// The cap.
        limit: usize,
    },
}

impl WireError {
    /// The notify message type a peer should receive for this error (RFC 2408 3.14.1).
    ///
    /// Everything structural maps to PAYLOAD-MALFORMED (16); callers with more context
    /// (an unsupported exchange type, a bad version) send the more specific notify.
    pub fn notify(&self) -> NotifyCode {
        16
    }

    /// Where the error was found.
    pub fn location(&self) -> Location {
        match self {
            WireError::Truncated { at, .. }
            | WireError::BadLength { at, .. }
            | WireError::InvalidValue { at, .. }
            | WireError::TooMany { at, .. } => *at,
        }
    }
}
