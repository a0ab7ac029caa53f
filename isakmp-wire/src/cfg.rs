//! The Mode Config attribute payload (payload type 14, draft-dukes-ike-mode-cfg 3.2).
//!
//! This module handles the payload *body*, after the 4-byte generic payload header:
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |   RESERVED    |           Identifier          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ~                           Attributes                          ~
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Xauth (draft-beaulieu-ike-xauth) and Mode Config share this payload inside
//! Transaction exchanges (exchange type 6).

use bytes::BufMut;

use crate::attr::{AttributeIter, OwnedAttribute};
use crate::error::{Location, WireError};

/// Payload type number of the attribute payload.
pub const PAYLOAD_TYPE: u8 = 14;

/// The attribute payload's message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CfgType {
    /// ISAKMP_CFG_REQUEST (1).
    Request,
    /// ISAKMP_CFG_REPLY (2).
    Reply,
    /// ISAKMP_CFG_SET (3).
    Set,
    /// ISAKMP_CFG_ACK (4).
    Ack,
    /// Any other value, kept so it round-trips.
    Unknown(u8),
}

impl From<u8> for CfgType {
    fn from(v: u8) -> Self {
        match v {
            1 => CfgType::Request,
            2 => CfgType::Reply,
            3 => CfgType::Set,
            4 => CfgType::Ack,
            n => CfgType::Unknown(n),
        }
    }
}

impl From<CfgType> for u8 {
    fn from(t: CfgType) -> u8 {
        match t {
            CfgType::Request => 1,
            CfgType::Reply => 2,
            CfgType::Set => 3,
            CfgType::Ack => 4,
            CfgType::Unknown(n) => n,
        }
    }
}

impl CfgType {
    /// The name Wireshark and the drafts use.
    pub fn name(self) -> &'static str {
        match self {
            CfgType::Request => "CFG_REQUEST",
            CfgType::Reply => "CFG_REPLY",
            CfgType::Set => "CFG_SET",
            CfgType::Ack => "CFG_ACK",
            CfgType::Unknown(_) => "CFG_UNKNOWN",
        }
    }
}

impl core::fmt::Display for CfgType {
    /// `CFG_REQUEST (1)`, like the other registries.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name(), u8::from(*self))
    }
}

/// A borrowed attribute payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigPayload<'a> {
    /// REQUEST, REPLY, SET or ACK.
    pub cfg_type: CfgType,
    /// The RESERVED byte as received (kept for round trips; zero on emit of new payloads).
    pub reserved: u8,
    /// Identifier matching a REPLY/ACK to its REQUEST/SET.
    pub identifier: u16,
    /// The packed attributes (walk them with [`ConfigPayload::attributes`]).
    pub raw_attributes: &'a [u8],
    /// Offset of `raw_attributes` in the message, for error locations.
    pub attributes_offset: usize,
}

impl<'a> ConfigPayload<'a> {
    /// Parses a payload body; `offset` is where `body` starts in the message.
    ///
    /// The attributes are validated (every one complete, at most the default cap).
    pub fn parse(body: &'a [u8], offset: usize) -> Result<Self, WireError> {
        let at = Location {
            offset,
            payload: Some(PAYLOAD_TYPE),
        };
        let (head, raw_attributes) = body.split_first_chunk::<4>().ok_or(WireError::Truncated {
            what: "attribute payload header",
            at,
            needed: 4,
            available: body.len(),
        })?;
        let [t, reserved, i0, i1] = *head;
        let attributes_offset = offset.saturating_add(4);
        crate::attr::validate_attributes(
            raw_attributes,
            attributes_offset,
            crate::attr::MAX_ATTRIBUTES,
        )
        .map_err(|e| with_payload(e, PAYLOAD_TYPE))?;
        Ok(ConfigPayload {
            cfg_type: CfgType::from(t),
            reserved,
            identifier: u16::from_be_bytes([i0, i1]),
            raw_attributes,
            attributes_offset,
        })
    }

    /// The attributes, in wire order.
    pub fn attributes(&self) -> AttributeIter<'a> {
        AttributeIter::new(self.raw_attributes, self.attributes_offset)
    }

    /// Body length on the wire.
    pub fn wire_len(&self) -> usize {
        4usize.saturating_add(self.raw_attributes.len())
    }

    /// Writes the body.
    pub fn emit<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(self.cfg_type.into());
        buf.put_u8(self.reserved);
        buf.put_u16(self.identifier);
        buf.put_slice(self.raw_attributes);
    }

    /// An owned copy.
    pub fn to_owned_payload(&self) -> Result<OwnedConfigPayload, WireError> {
        Ok(OwnedConfigPayload {
            cfg_type: self.cfg_type,
            identifier: self.identifier,
            attributes: crate::attr::collect_owned(
                self.attributes(),
                crate::attr::count_attributes(self.raw_attributes, crate::attr::MAX_ATTRIBUTES),
            )?,
        })
    }
}

/// An owned attribute payload body, for building messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedConfigPayload {
    /// REQUEST, REPLY, SET or ACK.
    pub cfg_type: CfgType,
    /// Identifier matching a REPLY/ACK to its REQUEST/SET.
    pub identifier: u16,
    /// The attributes, in order.
    pub attributes: Vec<OwnedAttribute>,
}

impl OwnedConfigPayload {
    /// Body length on the wire.
    pub fn wire_len(&self) -> usize {
        4usize.saturating_add(crate::attr::attributes_wire_len(&self.attributes))
    }

    /// Writes the body (RESERVED is zero).
    pub fn emit<B: BufMut>(&self, buf: &mut B) -> Result<(), WireError> {
        buf.put_u8(self.cfg_type.into());
        buf.put_u8(0);
        buf.put_u16(self.identifier);
        for a in &self.attributes {
            a.emit(buf)?;
        }
        Ok(())
    }
}

fn with_payload(e: WireError, payload: u8) -> WireError {
    match e {
        WireError::Truncated {
            what,
            at,
            needed,
            available,
        } => WireError::Truncated {
            what,
            at: Location {
                payload: Some(payload),
                ..at
            },
            needed,
            available,
        },
        WireError::TooMany { what, at, limit } => WireError::TooMany {
            what,
            at: Location {
                payload: Some(payload),
                ..at
            },
            limit,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::Attribute;

    #[test]
    fn xauth_request_round_trip() {
        // CFG_REQUEST id 0x1234: XAUTH_TYPE=0 (TV), XAUTH_USER_NAME (empty TLV), XAUTH_USER_PASSWORD (empty TLV)
        let body = [
            1, 0, 0x12, 0x34, 0xc0, 0x88, 0, 0, 0x40, 0x89, 0, 0, 0x40, 0x8a, 0, 0,
        ];
        let p = ConfigPayload::parse(&body, 32).unwrap();
        assert_eq!(p.cfg_type, CfgType::Request);
        assert_eq!(p.identifier, 0x1234);
        let attrs: Vec<_> = p.attributes().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            attrs,
            vec![
                Attribute::basic(16520, 0),
                Attribute::variable(16521, &[]),
                Attribute::variable(16522, &[])
            ]
        );
        let owned = p.to_owned_payload().unwrap();
        let mut out = Vec::new();
        owned.emit(&mut out).unwrap();
        assert_eq!(out, body);
        assert_eq!(owned.wire_len(), body.len());
    }

    #[test]
    fn truncated_attribute_is_located() {
        let body = [2, 0, 0, 1, 0x00, 0x01, 0x00, 0x04, 10];
        let e = ConfigPayload::parse(&body, 100).unwrap_err();
        assert_eq!(
            e.location(),
            Location {
                offset: 108,
                payload: Some(14)
            }
        );
    }
}
