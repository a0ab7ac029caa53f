//! The Delete payload (RFC 2408 3.15).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !              Domain of Interpretation  (DOI)                  !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Protocol-Id  !   SPI Size    !           # of SPIs           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~               Security Parameter Index(es) (SPI)              ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! ISAKMP SAs are named by 16 bytes (CKY-I | CKY-R), IPsec SAs by 4-byte SPIs.

use bytes::BufMut;

use crate::doi::{Doi, ProtocolId};
use crate::error::{Location, WireError};
use crate::limits::Limits;
use crate::reader::{location, InPayload, Reader};

/// Payload type number.
pub const PAYLOAD_TYPE: u8 = 12;

/// A borrowed Delete payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeletePayload<'a> {
    /// Domain of interpretation.
    pub doi: Doi,
    /// Protocol of the SAs deleted.
    pub protocol: ProtocolId,
    /// Size of each SPI.
    pub spi_size: u8,
    /// Number of SPIs.
    pub spi_count: u16,
    /// The SPIs, packed (`spi_size * spi_count` bytes).
    pub raw_spis: &'a [u8],
}

impl<'a> DeletePayload<'a> {
    /// Parses the body at `offset`; the SPIs must fill the body exactly.
    pub fn parse(body: &'a [u8], offset: usize, limits: &Limits) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let doi = Doi::from(r.u32("delete header").in_payload(PAYLOAD_TYPE)?);
        let protocol = ProtocolId::from(r.u8("delete header").in_payload(PAYLOAD_TYPE)?);
        let spi_size = r.u8("delete header").in_payload(PAYLOAD_TYPE)?;
        let count_at = location(&r, Some(PAYLOAD_TYPE));
        let spi_count = r.u16("delete header").in_payload(PAYLOAD_TYPE)?;
        if usize::from(spi_count) > limits.max_spis {
            return Err(WireError::TooMany {
                what: "SPIs in a delete payload",
                at: count_at,
                limit: limits.max_spis,
            });
        }
        let at = location(&r, Some(PAYLOAD_TYPE));
        let raw_spis = r.take_rest();
        let need = usize::from(spi_size).saturating_mul(usize::from(spi_count));
        if raw_spis.len() != need {
            return Err(WireError::BadLength {
                what: "delete SPIs",
                at,
                length: raw_spis.len(),
                reason: "SPI size times number of SPIs must fill the payload",
            });
        }
        Ok(DeletePayload {
            doi,
            protocol,
            spi_size,
            spi_count,
            raw_spis,
        })
    }

    /// The SPIs (each `spi_size` bytes; none when the size is 0).
    pub fn spis(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let size = usize::from(self.spi_size).max(1);
        let spis: &'a [u8] = if self.spi_size == 0 {
            &[]
        } else {
            self.raw_spis
        };
        spis.chunks_exact(size)
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        8usize.saturating_add(self.raw_spis.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u32(self.doi.into());
        buf.put_u8(self.protocol.into());
        buf.put_u8(self.spi_size);
        buf.put_u16(self.spi_count);
        buf.put_slice(self.raw_spis);
    }

    /// An owned copy.
    pub fn to_owned_delete(&self) -> OwnedDelete {
        OwnedDelete {
            doi: self.doi,
            protocol: self.protocol,
            spi_size: self.spi_size,
            spi_count: self.spi_count,
            spis: self.raw_spis.to_vec(),
        }
    }
}

/// An owned Delete payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedDelete {
    /// Domain of interpretation.
    pub doi: Doi,
    /// Protocol.
    pub protocol: ProtocolId,
    /// SPI size.
    pub spi_size: u8,
    /// Number of SPIs (kept: with SPI size 0 it is not derivable).
    pub spi_count: u16,
    /// Packed SPIs.
    pub spis: Vec<u8>,
}

impl OwnedDelete {
    /// Deletes IPsec SAs by their 4-byte SPIs.
    pub fn ipsec(protocol: ProtocolId, spis: &[u32]) -> Result<Self, WireError> {
        let spi_count = u16::try_from(spis.len()).map_err(|_| WireError::TooMany {
            what: "SPIs in a delete payload",
            at: Location {
                offset: 0,
                payload: Some(PAYLOAD_TYPE),
            },
            limit: usize::from(u16::MAX),
        })?;
        Ok(OwnedDelete {
            doi: Doi::Ipsec,
            protocol,
            spi_size: 4,
            spi_count,
            spis: {
                // One allocation of the exact size (a flat_map's size hint is 0).
                let mut v = Vec::with_capacity(spis.len().saturating_mul(4));
                for s in spis {
                    v.extend_from_slice(&s.to_be_bytes());
                }
                v
            },
        })
    }

    /// Deletes an ISAKMP SA by its cookie pair.
    pub fn isakmp(initiator_cookie: [u8; 8], responder_cookie: [u8; 8]) -> Self {
        let mut spis = Vec::with_capacity(16);
        spis.extend_from_slice(&initiator_cookie);
        spis.extend_from_slice(&responder_cookie);
        OwnedDelete {
            doi: Doi::Ipsec,
            protocol: ProtocolId::Isakmp,
            spi_size: 16,
            spi_count: 1,
            spis,
        }
    }

    /// A borrowed view.
    pub fn as_delete(&self) -> DeletePayload<'_> {
        DeletePayload {
            doi: self.doi,
            protocol: self.protocol,
            spi_size: self.spi_size,
            spi_count: self.spi_count,
            raw_spis: &self.spis,
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_delete().wire_len()
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        self.as_delete().emit(buf)
    }
}
