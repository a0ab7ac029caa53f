//! Wire errors: what was wrong and where.

use thiserror::Error;

/// The notify message type (RFC 2408 3.14.1) a peer should get for a wire error.
///
/// Kept as a plain number so this module does not depend on the notify registry.
pub type NotifyCode = u16;

/// The `what` of a [`WireError::BadLength`] on identification data; maps to
/// INVALID-ID-INFORMATION (18).
pub const ID_DATA: &str = "identification data";

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
    /// The header's version is not ISAKMP 1.x (e.g. IKEv2's 2.0).
    #[error(
        "unsupported ISAKMP version {major}.{minor} at {at} (this codec speaks IKEv1, version 1.0)"
    )]
    UnsupportedVersion {
        /// Major version as found.
        major: u8,
        /// Minor version as found.
        minor: u8,
        /// Where (the version byte).
        at: Location,
    },
    /// Bytes left over where the structure should have ended.
    #[error("{length} trailing bytes after {what} at {at}")]
    TrailingBytes {
        /// What ended early.
        what: &'static str,
        /// Where the leftover bytes start.
        at: Location,
        /// How many bytes are left over.
        length: usize,
    },
    /// A proposal or transform is inconsistent (count, chaining, numbering).
    #[error("bad proposal syntax at {at}: {field} is {value}, {reason}")]
    BadProposal {
        /// The field.
        field: &'static str,
        /// Where.
        at: Location,
        /// The value found.
        value: u64,
        /// Why it is wrong.
        reason: &'static str,
    },
}

impl WireError {
    /// The notify message type a peer should receive for this error (RFC 2408 3.14.1).
    ///
    /// Everything structural maps to PAYLOAD-MALFORMED (16); callers with more context
    /// (an unsupported exchange type, a bad version) send the more specific notify.
    pub fn notify(&self) -> NotifyCode {
        match self {
            WireError::UnsupportedVersion { major, .. } if *major != 1 => 5,
            WireError::UnsupportedVersion { .. } => 6,
            WireError::BadProposal { .. } => 15,
            WireError::BadLength { what, .. } if *what == ID_DATA => 18,
            _ => 16,
        }
    }

    /// The same error with its location's payload type set (if it had none).
    pub fn with_payload(self, payload: u8) -> WireError {
        let mut e = self;
        if let Some(at) = e.location_mut() {
            if at.payload.is_none() {
                at.payload = Some(payload);
            }
        }
        e
    }

    fn location_mut(&mut self) -> Option<&mut Location> {
        match self {
            WireError::Truncated { at, .. }
            | WireError::BadLength { at, .. }
            | WireError::InvalidValue { at, .. }
            | WireError::TooMany { at, .. }
            | WireError::UnsupportedVersion { at, .. }
            | WireError::TrailingBytes { at, .. }
            | WireError::BadProposal { at, .. } => Some(at),
        }
    }

    /// Where the error was found.
    pub fn location(&self) -> Location {
        match self {
            WireError::Truncated { at, .. }
            | WireError::BadLength { at, .. }
            | WireError::InvalidValue { at, .. }
            | WireError::TooMany { at, .. }
            | WireError::UnsupportedVersion { at, .. }
            | WireError::TrailingBytes { at, .. }
            | WireError::BadProposal { at, .. } => *at,
        }
    }
}
