//! The NAT Original Address payload (RFC 3947 5.2; payload 21, or 131 in the
//! NAT-T drafts, same layout).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !        Payload Length         !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !   ID Type     !   RESERVED    !            RESERVED           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !         IPv4 (4 octets) or IPv6 address (16 octets)           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::BufMut;

use crate::doi::IdType;
use crate::error::WireError;
use crate::reader::{InPayload, Reader};

/// A borrowed NAT-OA payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatOaPayload<'a> {
    /// ID_IPV4_ADDR or ID_IPV6_ADDR.
    pub id_type: IdType,
    /// The three RESERVED bytes as received.
    pub reserved: [u8; 3],
    /// The address bytes.
    pub address: &'a [u8],
}

impl<'a> NatOaPayload<'a> {
    /// Parses the body at `offset`; `payload` is 21 or 131, for errors.
    pub fn parse(body: &'a [u8], offset: usize, payload: u8) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let id_type = IdType::from(r.u8("NAT-OA header").in_payload(payload)?);
        let reserved = r.array::<3>("NAT-OA header").in_payload(payload)?;
        Ok(NatOaPayload {
            id_type,
            reserved,
            address: r.take_rest(),
        })
    }

    /// The address, when the type and length agree.
    pub fn addr(&self) -> Option<IpAddr> {
        match self.id_type {
            IdType::Ipv4Addr => <[u8; 4]>::try_from(self.address)
                .ok()
                .map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            IdType::Ipv6Addr => <[u8; 16]>::try_from(self.address)
                .ok()
                .map(|a| IpAddr::V6(Ipv6Addr::from(a))),
            _ => None,
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        4usize.saturating_add(self.address.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(self.id_type.into());
        buf.put_slice(&self.reserved);
        buf.put_slice(self.address);
    }

    /// An owned copy.
    pub fn to_owned_nat_oa(&self) -> OwnedNatOa {
        OwnedNatOa {
            id_type: self.id_type,
            reserved: self.reserved,
            address: self.address.to_vec(),
        }
    }
}

/// An owned NAT-OA payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedNatOa {
    /// ID type.
    pub id_type: IdType,
    /// RESERVED bytes (zero when building).
    pub reserved: [u8; 3],
    /// Address bytes.
    pub address: Vec<u8>,
}

impl OwnedNatOa {
    /// The original address of a peer.
    pub fn new(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => OwnedNatOa {
                id_type: IdType::Ipv4Addr,
                reserved: [0; 3],
                address: a.octets().to_vec(),
            },
            IpAddr::V6(a) => OwnedNatOa {
                id_type: IdType::Ipv6Addr,
                reserved: [0; 3],
                address: a.octets().to_vec(),
            },
        }
    }
    /// A borrowed view.
    pub fn as_nat_oa(&self) -> NatOaPayload<'_> {
        NatOaPayload {
            id_type: self.id_type,
            reserved: self.reserved,
            address: &self.address,
        }
    }
    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_nat_oa().wire_len()
    }
    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        self.as_nat_oa().emit(buf)
    }
}
