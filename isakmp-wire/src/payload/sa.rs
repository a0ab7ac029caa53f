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
use crate::reader::Reader;

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
        Ok(sa)
    }

    /// DOI and situation only, for bytes a validating parse has already checked.
    #[inline]
    pub(crate) fn parse_trusted(
        body: &'a [u8],
        offset: usize,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset, Some(PAYLOAD_TYPE));
        let doi = Doi::from(r.u32("SA DOI")?);
        let situation = r.u32("SA situation")?;
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
            proposals: self
                .proposals()
                .map(|p| p.and_then(|p| p.to_owned_proposal()))
                .collect::<Result<_, _>>()?,
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
