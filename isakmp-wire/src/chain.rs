//! Walking a chain of generic payloads (RFC 2408 3.2), borrowed and bounded.
//!
//! The walker only splits on the generic headers; [`PayloadChain`] adds the typed
//! parse of each body. Every payload must lie inside the chain's bytes; the walk
//! stops at Next Payload 0 (NONE) and caps the count at
//! [`Limits::max_payloads`](crate::Limits).

use crate::error::{Location, WireError};
use crate::limits::Limits;
use crate::payload::{Payload, PayloadRef, GENERIC_HEADER_LEN};
use crate::payload_type::PayloadType;

/// One payload as the chain walker sees it: generic header and raw body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPayload<'a> {
    /// This payload's type (from the previous Next Payload field).
    pub kind: PayloadType,
    /// This payload's Next Payload field.
    pub next: PayloadType,
    /// RESERVED byte.
    pub reserved: u8,
    /// Payload Length (generic header included).
    pub length: u16,
    /// The body, `length - 4` bytes.
    pub body: &'a [u8],
    /// Offset of the generic header in the message.
    pub offset: usize,
}

impl<'a> RawPayload<'a> {
    /// Parses the body by type.
    #[inline]
    pub fn parse_body(&self, limits: &Limits) -> Result<PayloadRef<'a>, WireError> {
        let body = Payload::parse(
            self.kind,
            self.body,
            self.offset.saturating_add(GENERIC_HEADER_LEN),
            limits,
        )?;
        Ok(PayloadRef {
            kind: self.kind,
            reserved: self.reserved,
            length: self.length,
            offset: self.offset,
            body,
        })
    }
}

/// Iterator over the generic payloads of a chain.
///
/// After the last payload (Next Payload 0), [`PayloadIter::remainder`] holds the
/// bytes left over (padding of a decrypted message).
#[derive(Debug, Clone)]
pub struct PayloadIter<'a> {
    rest: &'a [u8],
    offset: usize,
    next: PayloadType,
    count: usize,
    limit: usize,
    done: bool,
}

impl<'a> PayloadIter<'a> {
    /// Walks `input` (at `offset` in the message) whose first payload is `first`.
    pub fn new(first: PayloadType, input: &'a [u8], offset: usize, limits: &Limits) -> Self {
        PayloadIter {
            rest: input,
            offset,
            next: first,
            count: 0,
            limit: limits.max_payloads,
            done: false,
        }
    }

    /// The bytes after the last payload (meaningful once the walk has ended).
    pub fn remainder(&self) -> &'a [u8] {
        self.rest
    }

    /// Offset of [`PayloadIter::remainder`] in the message.
    pub fn remainder_offset(&self) -> usize {
        self.offset
    }

    fn fail(&mut self, e: WireError) -> Option<Result<RawPayload<'a>, WireError>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for PayloadIter<'a> {
    type Item = Result<RawPayload<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next == PayloadType::None {
            return None;
        }
        let kind = self.next;
        let at = Location {
            offset: self.offset,
            payload: Some(kind.into()),
        };
        if self.count >= self.limit {
            return self.fail(WireError::TooMany {
                what: "payloads",
                at,
                limit: self.limit,
            });
        }
        let Some((head, _)) = self.rest.split_first_chunk::<GENERIC_HEADER_LEN>() else {
            return self.fail(WireError::Truncated {
                what: "generic payload header",
                at,
                needed: GENERIC_HEADER_LEN,
                available: self.rest.len(),
            });
        };
        let [next, reserved, l0, l1] = *head;
        let length = u16::from_be_bytes([l0, l1]);
        let len = usize::from(length);
        if len < GENERIC_HEADER_LEN {
            return self.fail(WireError::BadLength {
                what: "payload",
                at,
                length: len,
                reason: "shorter than the 4-byte generic header",
            });
        }
        if len > self.rest.len() {
            return self.fail(WireError::BadLength {
                what: "payload",
                at,
                length: len,
                reason: "runs past the end of the message",
            });
        }
        let (item, rest) = self.rest.split_at(len);
        let body = item.get(GENERIC_HEADER_LEN..).unwrap_or(&[]);
        let raw = RawPayload {
            kind,
            next: PayloadType::from(next),
            reserved,
            length,
            body,
            offset: self.offset,
        };
        self.rest = rest;
        self.offset = self.offset.saturating_add(len);
        self.next = raw.next;
        self.count = self.count.saturating_add(1);
        Some(Ok(raw))
    }
}

/// A validated chain of payloads, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadChain<'a> {
    /// Type of the first payload.
    pub first: PayloadType,
    /// The payload bytes (without trailing padding).
    pub bytes: &'a [u8],
    /// Offset of `bytes` in the message.
    pub offset: usize,
    /// Bytes after the last payload (decrypted chains: the cipher padding; plaintext
    /// messages: at most 3 zero bytes of 4-octet alignment, see [`Trailing::Alignment`]).
    pub padding: &'a [u8],
    /// Number of top-level payloads.
    pub count: usize,
    limits: Limits,
}

/// Whether bytes may follow the last payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trailing {
    /// The chain must fill the input exactly.
    Reject,
    /// A decrypted body: what follows is cipher padding.
    Padding,
    /// A plaintext message: up to 3 zero bytes may follow the last payload. libreswan
    /// pads its IKEv1 messages to a multiple of 4 octets and counts the padding in the
    /// header's Length (seen in the interop tests); strongSwan and Cisco accept that, so
    /// do we. Anything longer, or not zero, is still an error.
    Alignment,
}

impl<'a> PayloadChain<'a> {
    /// Walks and validates the whole chain (every payload parsed by type, nested
    /// SA contents included) without allocating.
    pub fn parse(
        first: PayloadType,
        input: &'a [u8],
        offset: usize,
        trailing: Trailing,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let mut it = PayloadIter::new(first, input, offset, limits);
        let mut count = 0usize;
        for raw in it.by_ref() {
            let raw = raw?;
            // Only the verdict is needed: checking the error without moving the
            // parsed body out keeps the (large) result from being copied.
            Payload::parse(
                raw.kind,
                raw.body,
                raw.offset.saturating_add(GENERIC_HEADER_LEN),
                limits,
            )?;
            count = count.saturating_add(1);
        }
        let padding = it.remainder();
        let tolerated = match trailing {
            Trailing::Reject => padding.is_empty(),
            Trailing::Padding => true,
            Trailing::Alignment => padding.len() < 4 && padding.iter().all(|b| *b == 0),
        };
        if !tolerated {
            return Err(WireError::TrailingBytes {
                what: "the last payload (next payload NONE)",
                at: Location {
                    offset: it.remainder_offset(),
                    payload: None,
                },
                length: padding.len(),
            });
        }
        let used = input.len().saturating_sub(padding.len());
        Ok(PayloadChain {
            first,
            bytes: input.get(..used).unwrap_or(&[]),
            offset,
            padding,
            count,
            limits: *limits,
        })
    }

    /// The generic payloads.
    pub fn raw(&self) -> PayloadIter<'a> {
        PayloadIter::new(self.first, self.bytes, self.offset, &self.limits)
    }

    /// The typed payloads (already validated by `parse`, so nested contents are
    /// not walked again; their iterators still check every bound).
    pub fn iter(&self) -> impl Iterator<Item = Result<PayloadRef<'a>, WireError>> + Clone + 'a {
        let limits = self.limits;
        self.raw().map(move |r| {
            let r = r?;
            let body = Payload::parse_trusted(
                r.kind,
                r.body,
                r.offset.saturating_add(GENERIC_HEADER_LEN),
                &limits,
            )?;
            Ok(PayloadRef {
                kind: r.kind,
                reserved: r.reserved,
                length: r.length,
                offset: r.offset,
                body,
            })
        })
    }

    /// An owned copy of every payload.
    pub fn to_owned_payloads(&self) -> Result<Vec<crate::payload::OwnedPayload>, WireError> {
        // `count` is a public field: the capacity is also bounded by the bytes.
        let mut out = Vec::with_capacity(self.count.min(self.bytes.len() / GENERIC_HEADER_LEN));
        for p in self.iter() {
            out.push(crate::payload::OwnedPayload::from_ref(&p?)?);
        }
        Ok(out)
    }
}

/// Parses a decrypted payload chain (the plaintext of an E-flagged message, given
/// the header's Next Payload as `first`), reporting the trailing padding.
///
/// `offset` is where the plaintext starts in the message (28 for a whole
/// message's body), for error locations.
pub fn parse_decrypted<'a>(
    first: PayloadType,
    plaintext: &'a [u8],
    offset: usize,
    limits: &Limits,
) -> Result<PayloadChain<'a>, WireError> {
    PayloadChain::parse(first, plaintext, offset, Trailing::Padding, limits)
}
