//! The Identification payload (RFC 2408 3.8; IPsec DOI layout RFC 2407 4.6.2).
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !        Payload Length         !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !   ID Type     !  Protocol ID  !             Port              !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                     Identification Data                       ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use core::net::{Ipv4Addr, Ipv6Addr};

use bytes::BufMut;

use crate::doi::IdType;
use crate::error::{WireError, ID_DATA};
use crate::reader::{location, InPayload, Reader};

/// Payload type number.
pub const PAYLOAD_TYPE: u8 = 5;

/// A borrowed Identification payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdPayload<'a> {
    /// ID type.
    pub id_type: IdType,
    /// IP protocol (0 = any; 17 = UDP for phase-1 IDs on port 500).
    pub protocol: u8,
    /// Port (0 = any).
    pub port: u16,
    /// The identification data.
    pub data: &'a [u8],
}

/// An identification value, decoded by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdValue<'a> {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV4_ADDR_SUBNET: address and mask.
    Ipv4Subnet(Ipv4Addr, Ipv4Addr),
    /// ID_IPV4_ADDR_RANGE: first and last.
    Ipv4Range(Ipv4Addr, Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_IPV6_ADDR_SUBNET: address and mask.
    Ipv6Subnet(Ipv6Addr, Ipv6Addr),
    /// ID_IPV6_ADDR_RANGE: first and last.
    Ipv6Range(Ipv6Addr, Ipv6Addr),
    /// ID_FQDN (bytes as sent).
    Fqdn(&'a [u8]),
    /// ID_USER_FQDN.
    UserFqdn(&'a [u8]),
    /// ID_DER_ASN1_DN.
    DerAsn1Dn(&'a [u8]),
    /// ID_DER_ASN1_GN.
    DerAsn1Gn(&'a [u8]),
    /// ID_KEY_ID (Cisco clients: the group name).
    KeyId(&'a [u8]),
    /// Any other type.
    Other(&'a [u8]),
}

fn v4(b: &[u8], at: usize) -> Ipv4Addr {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at.saturating_add(4)) {
        a.copy_from_slice(s);
    }
    Ipv4Addr::from(a)
}

fn v6(b: &[u8], at: usize) -> Ipv6Addr {
    let mut a = [0u8; 16];
    if let Some(s) = b.get(at..at.saturating_add(16)) {
        a.copy_from_slice(s);
    }
    Ipv6Addr::from(a)
}

/// The exact data length an address-carrying ID type needs, if fixed.
fn fixed_len(t: IdType) -> Option<usize> {
    match t {
        IdType::Ipv4Addr => Some(4),
        IdType::Ipv4AddrSubnet | IdType::Ipv4AddrRange => Some(8),
        IdType::Ipv6Addr => Some(16),
        IdType::Ipv6AddrSubnet | IdType::Ipv6AddrRange => Some(32),
        _ => None,
    }
}

impl<'a> IdPayload<'a> {
    /// Parses the body at `offset` of the message. Address types must carry
    /// exactly their address bytes.
    pub fn parse(body: &'a [u8], offset: usize) -> Result<Self, WireError> {
        let mut r = Reader::new(body, offset);
        let id_type = IdType::from(r.u8("identification header").in_payload(PAYLOAD_TYPE)?);
        let protocol = r.u8("identification header").in_payload(PAYLOAD_TYPE)?;
        let port = r.u16("identification header").in_payload(PAYLOAD_TYPE)?;
        let at = location(&r, Some(PAYLOAD_TYPE));
        let data = r.take_rest();
        if let Some(n) = fixed_len(id_type) {
            if data.len() != n {
                return Err(WireError::BadLength {
                    what: ID_DATA,
                    at,
                    length: data.len(),
                    reason: "an address ID must carry exactly its address bytes",
                });
            }
        }
        Ok(IdPayload {
            id_type,
            protocol,
            port,
            data,
        })
    }

    /// The decoded value.
    pub fn value(&self) -> IdValue<'a> {
        let d = self.data;
        match self.id_type {
            IdType::Ipv4Addr if d.len() == 4 => IdValue::Ipv4(v4(d, 0)),
            IdType::Ipv4AddrSubnet if d.len() == 8 => IdValue::Ipv4Subnet(v4(d, 0), v4(d, 4)),
            IdType::Ipv4AddrRange if d.len() == 8 => IdValue::Ipv4Range(v4(d, 0), v4(d, 4)),
            IdType::Ipv6Addr if d.len() == 16 => IdValue::Ipv6(v6(d, 0)),
            IdType::Ipv6AddrSubnet if d.len() == 32 => IdValue::Ipv6Subnet(v6(d, 0), v6(d, 16)),
            IdType::Ipv6AddrRange if d.len() == 32 => IdValue::Ipv6Range(v6(d, 0), v6(d, 16)),
            IdType::Fqdn => IdValue::Fqdn(d),
            IdType::UserFqdn => IdValue::UserFqdn(d),
            IdType::DerAsn1Dn => IdValue::DerAsn1Dn(d),
            IdType::DerAsn1Gn => IdValue::DerAsn1Gn(d),
            IdType::KeyId => IdValue::KeyId(d),
            _ => IdValue::Other(d),
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        4usize.saturating_add(self.data.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(self.id_type.into());
        buf.put_u8(self.protocol);
        buf.put_u16(self.port);
        buf.put_slice(self.data);
    }

    /// An owned copy.
    pub fn to_owned_id(&self) -> OwnedId {
        OwnedId {
            id_type: self.id_type,
            protocol: self.protocol,
            port: self.port,
            data: self.data.to_vec(),
        }
    }
}

impl core::fmt::Display for IdValue<'_> {
    /// Addresses in the usual notation, subnets as `addr/mask`, ranges as
    /// `first-last`; names as text when printable, else hex.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            IdValue::Ipv4(a) => write!(f, "{a}"),
            IdValue::Ipv4Subnet(a, m) => write!(f, "{a}/{m}"),
            IdValue::Ipv4Range(a, b) => write!(f, "{a}-{b}"),
            IdValue::Ipv6(a) => write!(f, "{a}"),
            IdValue::Ipv6Subnet(a, m) => write!(f, "{a}/{m}"),
            IdValue::Ipv6Range(a, b) => write!(f, "{a}-{b}"),
            IdValue::Fqdn(d)
            | IdValue::UserFqdn(d)
            | IdValue::KeyId(d)
            | IdValue::DerAsn1Dn(d)
            | IdValue::DerAsn1Gn(d)
            | IdValue::Other(d) => {
                if !d.is_empty() && d.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
                    for b in d.iter() {
                        write!(f, "{}", char::from(*b))?;
                    }
                    Ok(())
                } else {
                    for b in d.iter() {
                        write!(f, "{b:02x}")?;
                    }
                    Ok(())
                }
            }
        }
    }
}

/// An owned Identification payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnedId {
    /// ID type.
    pub id_type: IdType,
    /// IP protocol.
    pub protocol: u8,
    /// Port.
    pub port: u16,
    /// Identification data.
    pub data: Vec<u8>,
}

impl OwnedId {
    /// ID_IPV4_ADDR with protocol and port.
    pub fn ipv4(addr: Ipv4Addr, protocol: u8, port: u16) -> Self {
        OwnedId {
            id_type: IdType::Ipv4Addr,
            protocol,
            port,
            data: addr.octets().to_vec(),
        }
    }

    /// ID_IPV4_ADDR_SUBNET (any protocol and port).
    pub fn ipv4_subnet(addr: Ipv4Addr, mask: Ipv4Addr) -> Self {
        let mut data = Vec::with_capacity(8);
        data.extend_from_slice(&addr.octets());
        data.extend_from_slice(&mask.octets());
        OwnedId {
            id_type: IdType::Ipv4AddrSubnet,
            protocol: 0,
            port: 0,
            data,
        }
    }

    /// ID_KEY_ID (e.g. the Cisco group name), protocol UDP, port 500 as Cisco
    /// clients send it.
    pub fn key_id(id: impl Into<Vec<u8>>) -> Self {
        OwnedId {
            id_type: IdType::KeyId,
            protocol: 17,
            port: 500,
            data: id.into(),
        }
    }

    /// A borrowed view.
    #[inline]
    pub fn as_id(&self) -> IdPayload<'_> {
        IdPayload {
            id_type: self.id_type,
            protocol: self.protocol,
            port: self.port,
            data: &self.data,
        }
    }

    /// Body length.
    #[inline]
    pub fn wire_len(&self) -> usize {
        self.as_id().wire_len()
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        self.as_id().emit(buf)
    }
}
