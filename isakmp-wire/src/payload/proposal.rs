//! The Proposal payload (RFC 2408 3.5), nested in an SA.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                        SPI (variable)                         !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                        Transforms                             ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Next Payload is 2 (another proposal follows) or 0 (last). Proposals with the
//! same number are AND-ed (e.g. ESP + IPCOMP), different numbers are alternatives.

use bytes::BufMut;

use crate::doi::ProtocolId;
use crate::error::WireError;
use crate::limits::Limits;
use crate::payload::nested::NestedIter;
use crate::payload::transform::{OwnedTransform, Transform};
use crate::payload::GENERIC_HEADER_LEN;
use crate::reader::{InPayload, Reader};

/// Fixed part of a proposal after the generic header.
pub const PROPOSAL_FIXED_LEN: usize = 4;

/// A borrowed proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proposal<'a> {
    /// The generic header's RESERVED byte.
    pub reserved: u8,
    /// Proposal number.
    pub number: u8,
    /// Protocol (ISAKMP, ESP, AH, IPCOMP).
    pub protocol: ProtocolId,
    /// The SPI (empty in phase 1, 4 bytes for ESP/AH, 2 for IPCOMP CPIs).
    pub spi: &'a [u8],
    /// "# of Transforms" as on the wire (checked against the transforms present).
    pub transform_count: u8,
    /// The packed transforms.
    pub raw_transforms: &'a [u8],
    /// Offset of the proposal (its generic header) in the message.
    pub offset: usize,
    transforms_offset: usize,
    limits: Limits,
}

impl<'a> Proposal<'a> {
    /// Parses a proposal body (after the generic header) at `offset` of the
    /// message, validating every transform and attribute in it.
    #[inline]
    pub fn parse_body(
        body: &'a [u8],
        offset: usize,
        reserved: u8,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let p = Self::parse_trusted(body, offset, reserved, limits)?;
        let mut n = 0usize;
        for item in NestedIter::new(
            p.raw_transforms,
            p.transforms_offset,
            3,
            "transforms",
            limits.max_transforms,
        ) {
            let item = item?;
            Transform::parse_body(item.body, item.body_offset, item.reserved, limits)?;
            n = n.saturating_add(1);
        }
        if n != usize::from(p.transform_count) {
            return Err(WireError::BadProposal {
                field: "number of transforms",
                at: crate::error::Location {
                    offset: offset.saturating_add(3),
                    payload: Some(2),
                },
                value: u64::from(p.transform_count),
                reason: "differs from the transforms present",
            });
        }
        Ok(p)
    }

    /// The fixed fields and SPI only, for bytes a validating parse has already
    /// checked.
    #[inline]
    pub(crate) fn parse_trusted(
        body: &'a [u8],
        offset: usize,
        reserved: u8,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let number = r.u8("proposal").in_payload(2)?;
        let protocol = ProtocolId::from(r.u8("proposal").in_payload(2)?);
        let spi_size = r.u8("proposal").in_payload(2)?;
        let transform_count = r.u8("proposal").in_payload(2)?;
        let spi = r
            .take(usize::from(spi_size), "proposal SPI")
            .in_payload(2)?;
        let transforms_offset = r.offset();
        let raw_transforms = r.take_rest();
        Ok(Proposal {
            reserved,
            number,
            protocol,
            spi,
            transform_count,
            raw_transforms,
            offset: offset.saturating_sub(GENERIC_HEADER_LEN),
            transforms_offset,
            limits: *limits,
        })
    }

    /// The transforms, in wire order (already validated by `parse_body`, so
    /// this walk only reads their fixed fields).
    #[inline]
    pub fn transforms(
        &self,
    ) -> impl Iterator<Item = Result<Transform<'a>, WireError>> + Clone + 'a {
        let limits = self.limits;
        NestedIter::new(
            self.raw_transforms,
            self.transforms_offset,
            3,
            "transforms",
            limits.max_transforms,
        )
        .map(move |item| {
            let item = item?;
            Transform::parse_trusted(item.body, item.body_offset, item.reserved, &limits)
        })
    }

    /// Wire length including the generic header.
    #[inline]
    pub fn wire_len(&self) -> usize {
        (GENERIC_HEADER_LEN + PROPOSAL_FIXED_LEN)
            .saturating_add(self.spi.len())
            .saturating_add(self.raw_transforms.len())
    }

    /// Writes the proposal; `last` selects Next Payload 0 instead of 2.
    pub fn emit<B: BufMut>(&self, buf: &mut B, last: bool) -> Result<(), WireError> {
        let len = crate::payload::length_u16(self.wire_len(), "proposal")?;
        let spi_size = crate::payload::length_u8(self.spi.len(), "proposal SPI")?;
        buf.put_u8(if last { 0 } else { 2 });
        buf.put_u8(self.reserved);
        buf.put_u16(len);
        buf.put_u8(self.number);
        buf.put_u8(self.protocol.into());
        buf.put_u8(spi_size);
        buf.put_u8(self.transform_count);
        buf.put_slice(self.spi);
        buf.put_slice(self.raw_transforms);
        Ok(())
    }

    /// An owned copy.
    pub fn to_owned_proposal(&self) -> Result<OwnedProposal, WireError> {
        Ok(OwnedProposal {
            reserved: self.reserved,
            number: self.number,
            protocol: self.protocol,
            spi: self.spi.to_vec(),
            transforms: {
                let mut v = Vec::with_capacity(self.transforms().count());
                for t in self.transforms() {
                    v.push(t?.to_owned_transform()?);
                }
                v
            },
        })
    }
}

/// An owned proposal, for building messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedProposal {
    /// Generic header RESERVED byte (0 when building).
    pub reserved: u8,
    /// Proposal number.
    pub number: u8,
    /// Protocol.
    pub protocol: ProtocolId,
    /// SPI bytes.
    pub spi: Vec<u8>,
    /// Transforms, in order; "# of Transforms" is derived.
    pub transforms: Vec<OwnedTransform>,
}

impl OwnedProposal {
    /// A proposal.
    pub fn new(
        number: u8,
        protocol: ProtocolId,
        spi: Vec<u8>,
        transforms: Vec<OwnedTransform>,
    ) -> Self {
        OwnedProposal {
            reserved: 0,
            number,
            protocol,
            spi,
            transforms,
        }
    }

    /// Wire length including the generic header.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.transforms.iter().fold(
            (GENERIC_HEADER_LEN + PROPOSAL_FIXED_LEN).saturating_add(self.spi.len()),
            |n, t| n.saturating_add(t.wire_len()),
        )
    }

    /// Writes the proposal; `last` selects Next Payload 0 instead of 2.
    pub fn emit<B: BufMut>(&self, buf: &mut B, last: bool) -> Result<(), WireError> {
        let len = crate::payload::length_u16(self.wire_len(), "proposal")?;
        let spi_size = crate::payload::length_u8(self.spi.len(), "proposal SPI")?;
        let count = crate::payload::length_u8(self.transforms.len(), "number of transforms")?;
        buf.put_u8(if last { 0 } else { 2 });
        buf.put_u8(self.reserved);
        buf.put_u16(len);
        buf.put_u8(self.number);
        buf.put_u8(self.protocol.into());
        buf.put_u8(spi_size);
        buf.put_u8(count);
        buf.put_slice(&self.spi);
        let n = self.transforms.len();
        for (i, t) in self.transforms.iter().enumerate() {
            t.emit(buf, i.saturating_add(1) == n)?;
        }
        Ok(())
    }
}
