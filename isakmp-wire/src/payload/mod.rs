//! Every payload body, borrowed ([`Payload`]) and owned ([`OwnedBody`]).
//!
//! Each payload starts with the 4-byte generic payload header (RFC 2408 3.2):
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! The chain walker ([`crate::chain`]) splits the chain on these headers; the
//! types here parse and emit what follows one.

pub mod cert;
pub mod delete;
pub mod display;
pub mod fragment;
pub mod id;
pub mod nat_oa;
pub(crate) mod nested;
pub mod notify;
pub mod proposal;
pub mod sa;
pub mod transform;
pub mod vendor_id;

use bytes::BufMut;

use crate::cfg::{ConfigPayload, OwnedConfigPayload};
use crate::error::{Location, WireError};
use crate::limits::Limits;
use crate::payload_type::PayloadType;

use cert::{CertPayload, OwnedCert};
use delete::{DeletePayload, OwnedDelete};
use fragment::{FragmentPayload, OwnedFragment};
use id::{IdPayload, OwnedId};
use nat_oa::{NatOaPayload, OwnedNatOa};
use notify::{NotifyPayload, OwnedNotify};
use sa::{OwnedSa, SaPayload};
use vendor_id::VendorId;

/// Length of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;

/// A length that must fit the 16-bit Payload Length field.
pub(crate) fn length_u16(len: usize, what: &'static str) -> Result<u16, WireError> {
    u16::try_from(len).map_err(|_| WireError::BadLength {
        what,
        at: Location {
            offset: 0,
            payload: None,
        },
        length: len,
        reason: "does not fit the 16-bit length field",
    })
}

/// A length that must fit an 8-bit size field (SPI size, transform count).
pub(crate) fn length_u8(len: usize, what: &'static str) -> Result<u8, WireError> {
    u8::try_from(len).map_err(|_| WireError::BadLength {
        what,
        at: Location {
            offset: 0,
            payload: None,
        },
        length: len,
        reason: "does not fit the 8-bit size field",
    })
}

/// A payload body, typed and borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// 1: Security Association.
    Sa(SaPayload<'a>),
    /// 4: Key Exchange data (the DH public value).
    KeyExchange(&'a [u8]),
    /// 5: Identification.
    Identification(IdPayload<'a>),
    /// 6: Certificate.
    Certificate(CertPayload<'a>),
    /// 7: Certificate Request.
    CertificateRequest(CertPayload<'a>),
    /// 8: Hash data.
    Hash(&'a [u8]),
    /// 9: Signature data.
    Signature(&'a [u8]),
    /// 10: Nonce data.
    Nonce(&'a [u8]),
    /// 11: Notification.
    Notification(NotifyPayload<'a>),
    /// 12: Delete.
    Delete(DeletePayload<'a>),
    /// 13: Vendor ID.
    VendorId(VendorId<'a>),
    /// 14: Mode Config / Xauth attributes.
    Attributes(ConfigPayload<'a>),
    /// 20 or 130: NAT-D hash.
    NatD(&'a [u8]),
    /// 21 or 131: NAT original address.
    NatOa(NatOaPayload<'a>),
    /// 132: Cisco fragment.
    Fragment(FragmentPayload<'a>),
    /// Any other type (including 2/3 outside an SA, and GDOI's 15-19): the body as is.
    Unknown(&'a [u8]),
}

impl<'a> Payload<'a> {
    /// Parses the body of a payload of type `kind` found at `offset` (of the body).
    pub fn parse(
        kind: PayloadType,
        body: &'a [u8],
        offset: usize,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        let n: u8 = kind.into();
        let p = match kind {
            PayloadType::SecurityAssociation => {
                Payload::Sa(SaPayload::parse(body, offset, limits)?)
            }
            PayloadType::KeyExchange => Payload::KeyExchange(body),
            PayloadType::Identification => Payload::Identification(IdPayload::parse(body, offset)?),
            PayloadType::Certificate => Payload::Certificate(CertPayload::parse(body, offset, n)?),
            PayloadType::CertificateRequest => {
                Payload::CertificateRequest(CertPayload::parse(body, offset, n)?)
            }
            PayloadType::Hash => Payload::Hash(body),
            PayloadType::Signature => Payload::Signature(body),
            PayloadType::Nonce => Payload::Nonce(body),
            PayloadType::Notification => Payload::Notification(NotifyPayload::parse(body, offset)?),
            PayloadType::Delete => Payload::Delete(DeletePayload::parse(body, offset, limits)?),
            PayloadType::VendorId => Payload::VendorId(VendorId(body)),
            PayloadType::Attributes => Payload::Attributes(
                ConfigPayload::parse(body, offset).map_err(|e| e.with_payload(n))?,
            ),
            PayloadType::NatD | PayloadType::NatDDraft => Payload::NatD(body),
            PayloadType::NatOa | PayloadType::NatOaDraft => {
                Payload::NatOa(NatOaPayload::parse(body, offset, n)?)
            }
            PayloadType::CiscoFragmentation => {
                Payload::Fragment(FragmentPayload::parse(body, offset)?)
            }
            _ => Payload::Unknown(body),
        };
        Ok(p)
    }

    /// Like [`Payload::parse`] for a body a validating parse has already
    /// checked: nested proposals, transforms and attributes are not walked again
    /// (their iterators still check every bound).
    #[inline]
    pub(crate) fn parse_trusted(
        kind: PayloadType,
        body: &'a [u8],
        offset: usize,
        limits: &Limits,
    ) -> Result<Self, WireError> {
        match kind {
            PayloadType::SecurityAssociation => {
                Ok(Payload::Sa(SaPayload::parse_trusted(body, offset, limits)?))
            }
            PayloadType::Attributes => match body.split_first_chunk::<4>() {
                Some((&[t, reserved, i0, i1], raw_attributes)) => {
                    Ok(Payload::Attributes(ConfigPayload {
                        cfg_type: t.into(),
                        reserved,
                        identifier: u16::from_be_bytes([i0, i1]),
                        raw_attributes,
                        attributes_offset: offset.saturating_add(4),
                    }))
                }
                None => Self::parse(kind, body, offset, limits),
            },
            _ => Self::parse(kind, body, offset, limits),
        }
    }

    /// Body length (without the generic header).
    #[inline]
    pub fn wire_len(&self) -> usize {
        match self {
            Payload::Sa(p) => p.wire_len(),
            Payload::Identification(p) => p.wire_len(),
            Payload::Certificate(p) | Payload::CertificateRequest(p) => p.wire_len(),
            Payload::Notification(p) => p.wire_len(),
            Payload::Delete(p) => p.wire_len(),
            Payload::VendorId(v) => v.0.len(),
            Payload::Attributes(p) => p.wire_len(),
            Payload::NatOa(p) => p.wire_len(),
            Payload::Fragment(p) => p.wire_len(),
            Payload::KeyExchange(b)
            | Payload::Hash(b)
            | Payload::Signature(b)
            | Payload::Nonce(b)
            | Payload::NatD(b)
            | Payload::Unknown(b) => b.len(),
        }
    }

    /// Writes the body (without the generic header).
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        match self {
            Payload::Sa(p) => p.emit(buf),
            Payload::Identification(p) => p.emit(buf),
            Payload::Certificate(p) | Payload::CertificateRequest(p) => p.emit(buf),
            Payload::Notification(p) => p.emit(buf)?,
            Payload::Delete(p) => p.emit(buf),
            Payload::VendorId(v) => buf.put_slice(v.0),
            Payload::Attributes(p) => p.emit(buf),
            Payload::NatOa(p) => p.emit(buf),
            Payload::Fragment(p) => p.emit(buf),
            Payload::KeyExchange(b)
            | Payload::Hash(b)
            | Payload::Signature(b)
            | Payload::Nonce(b)
            | Payload::NatD(b)
            | Payload::Unknown(b) => buf.put_slice(b),
        }
        Ok(())
    }

    /// An owned copy.
    pub fn to_owned_body(&self) -> Result<OwnedBody, WireError> {
        Ok(match self {
            Payload::Sa(p) => OwnedBody::Sa(p.to_owned_sa()?),
            Payload::KeyExchange(b) => OwnedBody::KeyExchange(b.to_vec()),
            Payload::Identification(p) => OwnedBody::Identification(p.to_owned_id()),
            Payload::Certificate(p) => OwnedBody::Certificate(p.to_owned_cert()),
            Payload::CertificateRequest(p) => OwnedBody::CertificateRequest(p.to_owned_cert()),
            Payload::Hash(b) => OwnedBody::Hash(b.to_vec()),
            Payload::Signature(b) => OwnedBody::Signature(b.to_vec()),
            Payload::Nonce(b) => OwnedBody::Nonce(b.to_vec()),
            Payload::Notification(p) => OwnedBody::Notification(p.to_owned_notify()),
            Payload::Delete(p) => OwnedBody::Delete(p.to_owned_delete()),
            Payload::VendorId(v) => OwnedBody::VendorId(v.0.to_vec()),
            Payload::Attributes(p) => OwnedBody::Attributes {
                reserved: p.reserved,
                payload: p.to_owned_payload()?,
            },
            Payload::NatD(b) => OwnedBody::NatD(b.to_vec()),
            Payload::NatOa(p) => OwnedBody::NatOa(p.to_owned_nat_oa()),
            Payload::Fragment(p) => OwnedBody::Fragment(p.to_owned_fragment()),
            Payload::Unknown(b) => OwnedBody::Unknown(b.to_vec()),
        })
    }
}

/// One payload of a chain: its generic header fields and its typed body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadRef<'a> {
    /// Payload type.
    pub kind: PayloadType,
    /// The generic header's RESERVED byte.
    pub reserved: u8,
    /// Payload Length as on the wire (generic header included).
    pub length: u16,
    /// Offset of the generic header in the message.
    pub offset: usize,
    /// The typed body.
    pub body: Payload<'a>,
}

/// An owned payload body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedBody {
    /// Security Association.
    Sa(OwnedSa),
    /// Key Exchange data.
    KeyExchange(Vec<u8>),
    /// Identification.
    Identification(OwnedId),
    /// Certificate.
    Certificate(OwnedCert),
    /// Certificate Request.
    CertificateRequest(OwnedCert),
    /// Hash data.
    Hash(Vec<u8>),
    /// Signature data.
    Signature(Vec<u8>),
    /// Nonce data.
    Nonce(Vec<u8>),
    /// Notification.
    Notification(OwnedNotify),
    /// Delete.
    Delete(OwnedDelete),
    /// Vendor ID bytes.
    VendorId(Vec<u8>),
    /// Mode Config / Xauth attributes, with the body's RESERVED byte.
    Attributes {
        /// RESERVED byte after the CFG type (0 when building).
        reserved: u8,
        /// The payload.
        payload: OwnedConfigPayload,
    },
    /// NAT-D hash.
    NatD(Vec<u8>),
    /// NAT original address.
    NatOa(OwnedNatOa),
    /// Cisco fragment.
    Fragment(OwnedFragment),
    /// Any other payload type's body.
    Unknown(Vec<u8>),
}

impl OwnedBody {
    /// The payload type this body is sent as by default (RFC 3947 numbers for
    /// NAT-T; `Unknown` bodies have no default and give [`PayloadType::Unknown`]`(255)`).
    #[inline]
    pub fn default_kind(&self) -> PayloadType {
        match self {
            OwnedBody::Sa(_) => PayloadType::SecurityAssociation,
            OwnedBody::KeyExchange(_) => PayloadType::KeyExchange,
            OwnedBody::Identification(_) => PayloadType::Identification,
            OwnedBody::Certificate(_) => PayloadType::Certificate,
            OwnedBody::CertificateRequest(_) => PayloadType::CertificateRequest,
            OwnedBody::Hash(_) => PayloadType::Hash,
            OwnedBody::Signature(_) => PayloadType::Signature,
            OwnedBody::Nonce(_) => PayloadType::Nonce,
            OwnedBody::Notification(_) => PayloadType::Notification,
            OwnedBody::Delete(_) => PayloadType::Delete,
            OwnedBody::VendorId(_) => PayloadType::VendorId,
            OwnedBody::Attributes { .. } => PayloadType::Attributes,
            OwnedBody::NatD(_) => PayloadType::NatD,
            OwnedBody::NatOa(_) => PayloadType::NatOa,
            OwnedBody::Fragment(_) => PayloadType::CiscoFragmentation,
            OwnedBody::Unknown(_) => PayloadType::Unknown(255),
        }
    }

    /// Body length (without the generic header).
    #[inline]
    pub fn wire_len(&self) -> usize {
        match self {
            OwnedBody::Sa(p) => p.wire_len(),
            OwnedBody::Identification(p) => p.wire_len(),
            OwnedBody::Certificate(p) | OwnedBody::CertificateRequest(p) => p.wire_len(),
            OwnedBody::Notification(p) => p.wire_len(),
            OwnedBody::Delete(p) => p.wire_len(),
            OwnedBody::Attributes { payload, .. } => payload.wire_len(),
            OwnedBody::NatOa(p) => p.wire_len(),
            OwnedBody::Fragment(p) => p.wire_len(),
            OwnedBody::KeyExchange(b)
            | OwnedBody::Hash(b)
            | OwnedBody::Signature(b)
            | OwnedBody::Nonce(b)
            | OwnedBody::VendorId(b)
            | OwnedBody::NatD(b)
            | OwnedBody::Unknown(b) => b.len(),
        }
    }

    /// Writes the body (without the generic header).
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        match self {
            OwnedBody::Sa(p) => p.emit(buf)?,
            OwnedBody::Identification(p) => p.emit(buf),
            OwnedBody::Certificate(p) | OwnedBody::CertificateRequest(p) => p.emit(buf),
            OwnedBody::Notification(p) => p.emit(buf)?,
            OwnedBody::Delete(p) => p.emit(buf),
            OwnedBody::Attributes { reserved, payload } => {
                buf.put_u8(payload.cfg_type.into());
                buf.put_u8(*reserved);
                buf.put_u16(payload.identifier);
                for a in &payload.attributes {
                    a.emit(buf)?;
                }
            }
            OwnedBody::NatOa(p) => p.emit(buf),
            OwnedBody::Fragment(p) => p.emit(buf),
            OwnedBody::KeyExchange(b)
            | OwnedBody::Hash(b)
            | OwnedBody::Signature(b)
            | OwnedBody::Nonce(b)
            | OwnedBody::VendorId(b)
            | OwnedBody::NatD(b)
            | OwnedBody::Unknown(b) => buf.put_slice(b),
        }
        Ok(())
    }
}

/// An owned payload: type, generic RESERVED byte and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedPayload {
    /// Payload type written in the previous header's Next Payload field.
    pub kind: PayloadType,
    /// Generic header RESERVED byte (0 when building).
    pub reserved: u8,
    /// The body.
    pub body: OwnedBody,
}

impl OwnedPayload {
    /// A payload sent as its body's default type.
    pub fn new(body: OwnedBody) -> Self {
        OwnedPayload {
            kind: body.default_kind(),
            reserved: 0,
            body,
        }
    }

    /// A payload sent as `kind` (e.g. draft NAT-D 130, or an unknown type).
    #[inline]
    pub fn with_kind(kind: PayloadType, body: OwnedBody) -> Self {
        OwnedPayload {
            kind,
            reserved: 0,
            body,
        }
    }

    /// Wire length including the generic header.
    #[inline]
    pub fn wire_len(&self) -> usize {
        GENERIC_HEADER_LEN.saturating_add(self.body.wire_len())
    }

    /// Writes the generic header (with the given Next Payload) and the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B, next: PayloadType) -> Result<(), WireError> {
        let len = length_u16(self.wire_len(), "payload")?;
        buf.put_u8(next.into());
        buf.put_u8(self.reserved);
        buf.put_u16(len);
        self.body.emit(buf)
    }

    /// Parses and copies a borrowed payload.
    pub fn from_ref(p: &PayloadRef<'_>) -> Result<Self, WireError> {
        Ok(OwnedPayload {
            kind: p.kind,
            reserved: p.reserved,
            body: p.body.to_owned_body()?,
        })
    }
}

/// Writes a chain of payloads, deriving every Next Payload and Payload Length.
pub fn emit_chain<B: BufMut>(payloads: &[OwnedPayload], buf: &mut B) -> Result<(), WireError> {
    let mut it = payloads.iter().peekable();
    while let Some(p) = it.next() {
        let next = it.peek().map_or(PayloadType::None, |n| n.kind);
        p.emit(buf, next)?;
    }
    Ok(())
}

/// Wire length of a chain of payloads.
#[inline]
pub fn chain_wire_len(payloads: &[OwnedPayload]) -> usize {
    payloads
        .iter()
        .fold(0usize, |n, p| n.saturating_add(p.wire_len()))
}
