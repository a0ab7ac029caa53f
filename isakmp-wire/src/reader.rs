//! Field reads for the parsers: the workspace's one bounded reader,
//! [`pix_primitives::Reader`], whose short reads become located
//! [`WireError::Truncated`] values here.

pub(crate) use pix_primitives::Reader;

use crate::error::{Location, WireError};
use pix_primitives::ReadError;

impl From<ReadError> for WireError {
    /// A short read outside any payload (the ISAKMP header): [`WireError::Truncated`]
    /// at the same offset, with the same counts.
    #[cold]
    fn from(e: ReadError) -> Self {
        truncated(e, None)
    }
}

#[cold]
#[inline(never)]
fn truncated(e: ReadError, payload: Option<u8>) -> WireError {
    WireError::Truncated {
        what: e.what,
        at: Location {
            offset: e.offset,
            payload,
        },
        needed: e.needed,
        available: e.available,
    }
}

/// Locates a short read inside a payload of type `payload`.
pub(crate) trait InPayload<T> {
    /// The read's value, or its [`WireError::Truncated`] in payload type `payload`.
    fn in_payload(self, payload: u8) -> Result<T, WireError>;
}

impl<T> InPayload<T> for Result<T, ReadError> {
    #[inline(always)]
    fn in_payload(self, payload: u8) -> Result<T, WireError> {
        match self {
            Ok(v) => Ok(v),
            Err(e) => Err(truncated(e, Some(payload))),
        }
    }
}

/// Where `r`'s next byte is, in payload type `payload` (if any).
#[inline]
pub(crate) fn location(r: &Reader<'_>, payload: Option<u8>) -> Location {
    Location {
        offset: r.offset(),
        payload,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn short_reads_keep_what_where_and_counts() {
        let mut r = Reader::new(&[1, 2, 3], 40);
        r.u8("a").unwrap();
        let e = r.u32("notification header").in_payload(11).unwrap_err();
        assert_eq!(
            e,
            WireError::Truncated {
                what: "notification header",
                at: Location {
                    offset: 41,
                    payload: Some(11)
                },
                needed: 4,
                available: 2,
            }
        );
        let e: WireError = r.take(3, "ISAKMP header").unwrap_err().into();
        assert_eq!(e.location(), location(&r, None));
        assert_eq!(
            e.to_string(),
            "truncated ISAKMP header at offset 41: need 3 bytes, have 2"
        );
    }
}
