//! Walking the Proposal and Transform chains nested inside an SA payload.
//!
//! Unlike the top-level chain, a nested chain is bounded by its enclosing payload:
//! each element's Next Payload must be the chain's own type (2 or 3) while more
//! bytes follow and 0 on the last one, so emit (which derives these fields) gives
//! back the same bytes.

use crate::error::{Location, WireError};
use crate::payload::GENERIC_HEADER_LEN;

/// One element of a nested chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NestedItem<'a> {
    pub reserved: u8,
    pub body: &'a [u8],
    /// Offset of the body in the message.
    pub body_offset: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct NestedIter<'a> {
    rest: &'a [u8],
    offset: usize,
    kind: u8,
    what: &'static str,
    count: usize,
    limit: usize,
    done: bool,
}

impl<'a> NestedIter<'a> {
    #[inline]
    pub(crate) fn new(
        input: &'a [u8],
        offset: usize,
        kind: u8,
        what: &'static str,
        limit: usize,
    ) -> Self {
        NestedIter {
            rest: input,
            offset,
            kind,
            what,
            count: 0,
            limit,
            done: false,
        }
    }

    fn fail(&mut self, e: WireError) -> Option<Result<NestedItem<'a>, WireError>> {
        self.done = true;
        Some(Err(e))
    }
}

impl<'a> Iterator for NestedIter<'a> {
    type Item = Result<NestedItem<'a>, WireError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let at = Location {
            offset: self.offset,
            payload: Some(self.kind),
        };
        if self.count >= self.limit {
            return self.fail(WireError::TooMany {
                what: self.what,
                at,
                limit: self.limit,
            });
        }
        let Some((head, _)) = self.rest.split_first_chunk::<GENERIC_HEADER_LEN>() else {
            return self.fail(WireError::Truncated {
                what: self.what,
                at,
                needed: GENERIC_HEADER_LEN,
                available: self.rest.len(),
            });
        };
        let [next, reserved, l0, l1] = *head;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if len < GENERIC_HEADER_LEN {
            return self.fail(WireError::BadLength {
                what: self.what,
                at,
                length: len,
                reason: "shorter than the 4-byte generic header",
            });
        }
        if len > self.rest.len() {
            return self.fail(WireError::BadLength {
                what: self.what,
                at,
                length: len,
                reason: "runs past the end of the enclosing payload",
            });
        }
        let (item, rest) = self.rest.split_at(len);
        let body = item.get(GENERIC_HEADER_LEN..).unwrap_or(&[]);
        let last = rest.is_empty();
        if last && next != 0 {
            return self.fail(WireError::BadProposal {
                field: "next payload",
                at,
                value: u64::from(next),
                reason: "the last proposal/transform must have next payload 0",
            });
        }
        if !last && next != self.kind {
            return self.fail(WireError::BadProposal {
                field: "next payload",
                at,
                value: u64::from(next),
                reason: if next == 0 {
                    "bytes follow a proposal/transform marked last"
                } else {
                    "a proposal may only be followed by a proposal, a transform by a transform"
                },
            });
        }
        let body_offset = self.offset.saturating_add(GENERIC_HEADER_LEN);
        self.offset = self.offset.saturating_add(len);
        self.rest = rest;
        self.count = self.count.saturating_add(1);
        Some(Ok(NestedItem {
            reserved,
            body,
            body_offset,
        }))
    }
}
