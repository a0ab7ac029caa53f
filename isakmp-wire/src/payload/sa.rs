//! The Security Association payload (RFC 2408 3.4, RFC 2407 4.6.1).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !              Domain of Interpretation  (DOI)                  !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                           Situation                           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                  Proposals (payload type 2)                   ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! The situation is the IPsec DOI's 32-bit bitmap (SIT_IDENTITY_ONLY = 1).

use bytes::BufMut;

use crate::doi::Doi;
use crate::error::WireError;
use crate::limits::Limits;
use crate::payload::nested::NestedIter;
use crate::payload::proposal::{OwnedProposal, Proposal};
use crate::reader::{InPayload, Reader};

/// Payload type number.
pub const PAYLOAD_TYPE: u8 = 1;

/// A borrowed SA payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaPayload<'a> {
    /// Domain of interpretation (1 = IPsec).
    pub doi: Doi,
    /// Situation bitmap.
    pub situation: u32,
    /// The packed proposals.
    pub raw_proposals: &'a [u8],
    proposals_offset: usize,
    limits: Limits,
}

impl<'a> SaPayload<'a> {
    /// Parses the body at `offset` of the message, validating every proposal,
    /// transform and attribute in it.
    #[inline]
    pub fn parse(body: &'a [u8], offset: usize, limits: &Limits) -> Result<Self, WireError> {
        let sa = Self::parse_trusted(body, offset, limits)?;
        if proposals_ok(sa.raw_proposals, limits) {
            return Ok(sa);
        }
        Self::validate_slow(&sa, limits)?;
        Ok(sa)
    }

    /// The reference walk: finds and describes the first error of a proposal list
    /// the fast check rejected.
    #[cold]
    #[inline(never)]
    fn validate_slow(sa: &Self, limits: &Limits) -> Result<(), WireError> {
        for item in NestedIter::new(
            sa.raw_proposals,
            sa.proposals_offset,
            2,
            "proposals",
            limits.max_proposals,
        ) {
            let item = item?;
            Proposal::parse_body(item.body, item.body_offset, item.reserved, limits)?;
        }
        Ok(())
    }

    /// DOI and situation only, for bytes a validating parse has already checked.
    #[inline]
    pub(crate) fn parse_trusted(
        body: &'a [u8],
        offset: usize,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let doi = Doi::from(r.u32("SA DOI").in_payload(PAYLOAD_TYPE)?);
        let situation = r.u32("SA situation").in_payload(PAYLOAD_TYPE)?;
        let proposals_offset = r.offset();
        let raw_proposals = r.take_rest();
        Ok(SaPayload {
            doi,
            situation,
            raw_proposals,
            proposals_offset,
            limits: *limits,
        })
    }

    /// The proposals in wire order (already validated by `parse`, so this walk
    /// only reads their fixed fields).
    #[inline]
    pub fn proposals(&self) -> impl Iterator<Item = Result<Proposal<'a>, WireError>> + Clone + 'a {
        let limits = self.limits;
        NestedIter::new(
            self.raw_proposals,
            self.proposals_offset,
            2,
            "proposals",
            limits.max_proposals,
        )
        .map(move |item| {
            let item = item?;
            Proposal::parse_trusted(item.body, item.body_offset, item.reserved, &limits)
        })
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        8usize.saturating_add(self.raw_proposals.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u32(self.doi.into());
        buf.put_u32(self.situation);
        buf.put_slice(self.raw_proposals);
    }

    /// An owned copy.
    pub fn to_owned_sa(&self) -> Result<OwnedSa, WireError> {
        Ok(OwnedSa {
            doi: self.doi,
            situation: self.situation,
            proposals: {
                let mut v = Vec::with_capacity(self.proposals().count());
                for p in self.proposals() {
                    v.push(p?.to_owned_proposal()?);
                }
                v
            },
        })
    }
}

/// An owned SA payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedSa {
    /// Domain of interpretation.
    pub doi: Doi,
    /// Situation bitmap.
    pub situation: u32,
    /// Proposals in order.
    pub proposals: Vec<OwnedProposal>,
}

impl OwnedSa {
    /// An IPsec-DOI SA with situation SIT_IDENTITY_ONLY.
    pub fn ipsec(proposals: Vec<OwnedProposal>) -> Self {
        OwnedSa {
            doi: Doi::Ipsec,
            situation: crate::doi::SIT_IDENTITY_ONLY,
            proposals,
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.proposals
            .iter()
            .fold(8usize, |n, p| n.saturating_add(p.wire_len()))
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        buf.put_u32(self.doi.into());
        buf.put_u32(self.situation);
        let n = self.proposals.len();
        for (i, p) in self.proposals.iter().enumerate() {
            p.emit(buf, i.saturating_add(1) == n)?;
        }
        Ok(())
    }
}

/// Splits the next element of a nested chain of type `kind` off `rest`: its body and
/// what follows, or `None` if the element is malformed in any way the reference
/// walk ([`NestedIter`]) would report.
#[inline(always)]
fn nested_next(rest: &[u8], kind: u8) -> Option<(&[u8], &[u8])> {
    let (&[next, _, l0, l1], _) = rest.split_first_chunk::<4>()?;
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len < 4 || len > rest.len() {
        return None;
    }
    let (item, tail) = rest.split_at(len);
    let expected = if tail.is_empty() { 0 } else { kind };
    if next != expected {
        return None;
    }
    Some((item.get(4..)?, tail))
}

/// Whether a proposal list is well formed, checked without building any value.
/// `true` only when the reference walk would succeed; on `false` the caller
/// replays the reference walk, which locates and describes the error.
#[inline]
fn proposals_ok(mut rest: &[u8], limits: &Limits) -> bool {
    let mut proposals = 0usize;
    while !rest.is_empty() {
        if proposals >= limits.max_proposals {
            return false;
        }
        let Some((body, tail)) = nested_next(rest, 2) else {
            return false;
        };
        let Some((&[_, _, spi_size, transform_count], after)) = body.split_first_chunk::<4>()
        else {
            return false;
        };
        let Some(mut transforms) = after.get(usize::from(spi_size)..) else {
            return false;
        };
        let mut n = 0usize;
        while !transforms.is_empty() {
            if n >= limits.max_transforms {
                return false;
            }
            let Some((tbody, ttail)) = nested_next(transforms, 3) else {
                return false;
            };
            let Some((_, attrs)) = tbody.split_first_chunk::<4>() else {
                return false;
            };
            if !crate::attr::attributes_ok(attrs, limits.max_attributes) {
                return false;
            }
            transforms = ttail;
            n = n.saturating_add(1);
        }
        if n != usize::from(transform_count) {
            return false;
        }
        rest = tail;
        proposals = proposals.saturating_add(1);
    }
    true
}

#[cfg(test)]
mod fast_path_tests {
    use super::*;

    fn transform(next: u8, attrs: &[u8]) -> Vec<u8> {
        let len = u16::try_from(attrs.len().saturating_add(8)).unwrap();
        let mut t = vec![next, 0];
        t.extend_from_slice(&len.to_be_bytes());
        t.extend_from_slice(&[1, 1, 0, 0]);
        t.extend_from_slice(attrs);
        t
    }

    fn sa_body() -> Vec<u8> {
        let attrs = [
            0x80, 0x01, 0x00, 0x07, 0x80, 0x0e, 0x00, 0x80, 0x00, 0x0c, 0x00, 0x04, 0x00, 0x01,
            0x51, 0x80,
        ];
        let mut ts = transform(3, &attrs);
        ts.extend(transform(0, &attrs[..8]));
        let mut p = vec![0, 0, 0, 0, 1, 1, 1, 2, 0xaa];
        p.extend(ts);
        let len = u16::try_from(p.len()).unwrap().to_be_bytes();
        p[2] = len[0];
        p[3] = len[1];
        let mut body = vec![0, 0, 0, 1, 0, 0, 0, 1];
        let mut second = p.clone();
        p[0] = 2;
        body.extend(p);
        second[4] = 2;
        body.extend(second);
        body
    }

    /// The fast check accepts exactly what the reference walk accepts, and a
    /// validating parse reports the reference walk's error.
    #[test]
    fn fast_check_agrees_with_reference_walk() {
        let base = sa_body();
        let limit_sets = [
            Limits::DEFAULT,
            Limits {
                max_proposals: 1,
                max_transforms: 1,
                max_attributes: 2,
                ..Limits::DEFAULT
            },
            Limits {
                max_proposals: 2,
                max_transforms: 2,
                max_attributes: 3,
                ..Limits::DEFAULT
            },
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let picks = [0u8, 1, 2, 3, 4, 5, 8, 9, 0x80, 0xff];
        let mut accepted = 0usize;
        for i in 0..200_000usize {
            let mut m = base.clone();
            let edits = 1 + (rnd() % 3) as usize;
            for _ in 0..edits {
                let at = (rnd() as usize) % m.len();
                m[at] = if rnd() % 2 == 0 {
                    picks[(rnd() as usize) % picks.len()]
                } else {
                    rnd() as u8
                };
            }
            if rnd() % 4 == 0 {
                let n = (rnd() as usize) % (m.len() + 1);
                m.truncate(n);
            }
            let limits = &limit_sets[i % limit_sets.len()];
            let Ok(sa) = SaPayload::parse_trusted(&m, 100, limits) else {
                continue;
            };
            let reference = SaPayload::validate_slow(&sa, limits);
            assert_eq!(
                proposals_ok(sa.raw_proposals, limits),
                reference.is_ok(),
                "{m:02x?}"
            );
            assert_eq!(
                SaPayload::parse(&m, 100, limits).map(|_| ()),
                reference,
                "{m:02x?}"
            );
            accepted += usize::from(reference.is_ok());
        }
        assert!(accepted > 100, "{accepted}");
    }
}
