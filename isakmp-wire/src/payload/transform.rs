//! The Transform payload (RFC 2408 3.6), nested in a Proposal.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Transform #  !  Transform-Id !           RESERVED2           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                        SA Attributes                          ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Next Payload is 3 (another transform follows) or 0 (last).

use bytes::BufMut;

use crate::attr::{attributes_wire_len, validate_attributes, AttributeIter, OwnedAttribute};
use crate::error::{Location, WireError};
use crate::limits::Limits;
use crate::payload::GENERIC_HEADER_LEN;

/// Fixed part of a transform after the generic header.
pub const TRANSFORM_FIXED_LEN: usize = 4;

/// A borrowed transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transform<'a> {
    /// The generic header's RESERVED byte.
    pub reserved: u8,
    /// Transform number.
    pub number: u8,
    /// Transform ID; its registry depends on the proposal's protocol
    /// (see [`crate::doi::transform_name`]).
    pub transform_id: u8,
    /// RESERVED2 as received.
    pub reserved2: u16,
    /// The packed SA attributes.
    pub raw_attributes: &'a [u8],
    /// Offset of the transform (its generic header) in the message.
    pub offset: usize,
    max_attributes: usize,
}

impl<'a> Transform<'a> {
    /// Parses a transform body (after the generic header), starting at `offset`
    /// of the message; validates every attribute.
    #[inline]
    pub fn parse_body(
        body: &'a [u8],
        offset: usize,
        reserved: u8,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let t = Self::parse_trusted(body, offset, reserved, limits)?;
        validate_attributes(
            t.raw_attributes,
            offset.saturating_add(TRANSFORM_FIXED_LEN),
            limits.max_attributes,
        )
        .map_err(|e| e.with_payload(3))?;
        Ok(t)
    }

    /// The fixed fields only, for bytes a validating parse has already checked.
    #[inline]
    pub(crate) fn parse_trusted(
        body: &'a [u8],
        offset: usize,
        reserved: u8,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let header_at = offset.saturating_sub(GENERIC_HEADER_LEN);
        // The hot path of every SA walk: one bounds check for the fixed part.
        let Some((&[number, transform_id, r0, r1], raw_attributes)) = body.split_first_chunk::<4>()
        else {
            return Err(WireError::Truncated {
                what: "transform",
                at: Location {
                    offset,
                    payload: Some(3),
                },
                needed: TRANSFORM_FIXED_LEN,
                available: body.len(),
            });
        };
        let reserved2 = u16::from_be_bytes([r0, r1]);
        Ok(Transform {
            reserved,
            number,
            transform_id,
            reserved2,
            raw_attributes,
            offset: header_at,
            max_attributes: limits.max_attributes,
        })
    }

    /// The SA attributes in wire order (already validated by `parse_body`).
    #[inline]
    pub fn attributes(&self) -> AttributeIter<'a> {
        AttributeIter::with_limit(
            self.raw_attributes,
            self.offset
                .saturating_add(GENERIC_HEADER_LEN + TRANSFORM_FIXED_LEN),
            self.max_attributes,
        )
    }

    /// Wire length including the generic header.
    #[inline]
    pub fn wire_len(&self) -> usize {
        (GENERIC_HEADER_LEN + TRANSFORM_FIXED_LEN).saturating_add(self.raw_attributes.len())
    }

    /// Writes the transform; `last` selects Next Payload 0 instead of 3.
    pub fn emit<B: BufMut>(&self, buf: &mut B, last: bool) -> Result<(), WireError> {
        let len = crate::payload::length_u16(self.wire_len(), "transform")?;
        buf.put_u8(if last { 0 } else { 3 });
        buf.put_u8(self.reserved);
        buf.put_u16(len);
        buf.put_u8(self.number);
        buf.put_u8(self.transform_id);
        buf.put_u16(self.reserved2);
        buf.put_slice(self.raw_attributes);
        Ok(())
    }

    /// An owned copy.
    pub fn to_owned_transform(&self) -> Result<OwnedTransform, WireError> {
        Ok(OwnedTransform {
            reserved: self.reserved,
            number: self.number,
            transform_id: self.transform_id,
            reserved2: self.reserved2,
            attributes: crate::attr::collect_owned(
                self.attributes(),
                crate::attr::count_attributes(self.raw_attributes, self.max_attributes),
            )?,
        })
    }
}

/// An owned transform, for building messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct OwnedTransform {
    /// Generic header RESERVED byte (0 when building).
    pub reserved: u8,
    /// Transform number.
    pub number: u8,
    /// Transform ID.
    pub transform_id: u8,
    /// RESERVED2 (0 when building).
    pub reserved2: u16,
    /// SA attributes, in order.
    pub attributes: Vec<OwnedAttribute>,
}

impl OwnedTransform {
    /// A transform with the given number, ID and attributes.
    pub fn new(number: u8, transform_id: u8, attributes: Vec<OwnedAttribute>) -> Self {
        OwnedTransform {
            reserved: 0,
            number,
            transform_id,
            reserved2: 0,
            attributes,
        }
    }

    /// Wire length including the generic header.
    #[inline]
    pub fn wire_len(&self) -> usize {
        (GENERIC_HEADER_LEN + TRANSFORM_FIXED_LEN)
            .saturating_add(attributes_wire_len(&self.attributes))
    }

    /// Writes the transform; `last` selects Next Payload 0 instead of 3.
    pub fn emit<B: BufMut>(&self, buf: &mut B, last: bool) -> Result<(), WireError> {
        let len = crate::payload::length_u16(self.wire_len(), "transform")?;
        buf.put_u8(if last { 0 } else { 3 });
        buf.put_u8(self.reserved);
        buf.put_u16(len);
        buf.put_u8(self.number);
        buf.put_u8(self.transform_id);
        buf.put_u16(self.reserved2);
        for a in &self.attributes {
            a.emit(buf)?;
        }
        Ok(())
    }
}
