//! Typed Xauth attributes (draft-beaulieu-ike-xauth-02 section 2.3, types 16520-16529)
//! and the Cisco extension peers send beside them.
//!
//! Xauth attributes ride in the Mode Config attribute payload
//! ([`isakmp_wire::cfg`]) as ordinary data attributes:
//!
//! ```text
//! type   name                 form   value
//! 16520  XAUTH_TYPE           TV     0 generic, 1 RADIUS-CHAP, 2 OTP, 3 S/KEY
//! 16521  XAUTH_USER_NAME      TLV    text
//! 16522  XAUTH_USER_PASSWORD  TLV    secret text
//! 16523  XAUTH_PASSCODE       TLV    secret text (token code)
//! 16524  XAUTH_MESSAGE        TLV    text shown to the user
//! 16525  XAUTH_CHALLENGE      TLV    challenge string
//! 16526  XAUTH_DOMAIN         TLV    text
//! 16527  XAUTH_STATUS         TV     0 FAIL, 1 OK
//! 16528  XAUTH_NEXT_PIN       TLV    secret text
//! 16529  XAUTH_ANSWER         TLV    secret text (challenge answer)
//! 32136  (Cisco extension)    any    opaque; vpnc accepts and ignores it
//! ```
//!
//! In a REQUEST an attribute with an empty value means "send me this". Peers
//! differ in form: some send TYPE and STATUS as a TLV of 2 or 4 bytes instead of TV,
//! and some send a short MESSAGE in TV form (two characters). Parsing accepts all
//! of these; integer attributes remember their form so bytes -> model -> bytes is the
//! identity, text in TV form becomes its two bytes (and is emitted as TLV).

use isakmp_wire::attr::config::ConfigAttrType;
use isakmp_wire::{AttrValue, Attribute, AttributeIter, OwnedAttrValue, OwnedAttribute};

use crate::error::XauthError;
use crate::Secret;

/// XAUTH_TYPE (16520).
pub const XAUTH_TYPE: u16 = 16520;
/// XAUTH_USER_NAME (16521).
pub const XAUTH_USER_NAME: u16 = 16521;
/// XAUTH_USER_PASSWORD (16522).
pub const XAUTH_USER_PASSWORD: u16 = 16522;
/// XAUTH_PASSCODE (16523).
pub const XAUTH_PASSCODE: u16 = 16523;
/// XAUTH_MESSAGE (16524).
pub const XAUTH_MESSAGE: u16 = 16524;
/// XAUTH_CHALLENGE (16525).
pub const XAUTH_CHALLENGE: u16 = 16525;
/// XAUTH_DOMAIN (16526).
pub const XAUTH_DOMAIN: u16 = 16526;
/// XAUTH_STATUS (16527).
pub const XAUTH_STATUS: u16 = 16527;
/// XAUTH_NEXT_PIN (16528).
pub const XAUTH_NEXT_PIN: u16 = 16528;
/// XAUTH_ANSWER (16529).
pub const XAUTH_ANSWER: u16 = 16529;
/// The Cisco extension attribute (0x7d88) Cisco concentrators add to Xauth
/// requests; clients accept and ignore it.
pub const CISCO_EXT_VENDOR: u16 = 0x7d88;

/// The XAUTH_TYPE value (draft-beaulieu-ike-xauth-02 2.3.1): 0 generic (what the
/// PIX and VPN Client use), 1 RADIUS-CHAP, 2 OTP, 3 S/KEY, `Unknown(n)` kept for
/// round trips. The registry's enum, with its names.
pub use isakmp_wire::attr::config::XauthType;

/// The on-the-wire form of an integer attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IntForm {
    /// TV (AF=1), 16 bits: the draft's form and ours.
    #[default]
    Basic,
    /// TLV with a value of this many bytes (1 to 4), big-endian.
    Variable(u8),
}

/// XAUTH_STATUS value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XauthStatus {
    /// 0: authentication failed (or, from a client, the user cancelled).
    Fail,
    /// 1: authentication succeeded.
    Ok,
}

/// One typed Xauth attribute.
#[derive(Debug, PartialEq, Eq)]
pub enum XauthAttribute {
    /// XAUTH_TYPE.
    Type {
        /// The type.
        value: XauthType,
        /// TV or TLV of N bytes.
        form: IntForm,
    },
    /// XAUTH_USER_NAME (empty in a REQUEST).
    UserName(Vec<u8>),
    /// XAUTH_USER_PASSWORD (empty in a REQUEST).
    UserPassword(Secret),
    /// XAUTH_PASSCODE.
    Passcode(Secret),
    /// XAUTH_MESSAGE: text for the user.
    Message(Vec<u8>),
    /// XAUTH_CHALLENGE.
    Challenge(Vec<u8>),
    /// XAUTH_DOMAIN.
    Domain(Vec<u8>),
    /// XAUTH_STATUS.
    Status {
        /// OK or FAIL.
        value: XauthStatus,
        /// TV or TLV of N bytes.
        form: IntForm,
    },
    /// XAUTH_NEXT_PIN.
    NextPin(Secret),
    /// XAUTH_ANSWER.
    Answer(Secret),
    /// The Cisco extension attribute 0x7d88, value as received.
    CiscoExtVendor(OwnedAttrValue),
    /// Any other attribute, as received (Mode Config attributes may share a list).
    Unknown(OwnedAttribute),
}

impl XauthAttribute {
    /// The attribute type number.
    pub fn kind(&self) -> u16 {
        match self {
            XauthAttribute::Type { .. } => XAUTH_TYPE,
            XauthAttribute::UserName(_) => XAUTH_USER_NAME,
            XauthAttribute::UserPassword(_) => XAUTH_USER_PASSWORD,
            XauthAttribute::Passcode(_) => XAUTH_PASSCODE,
            XauthAttribute::Message(_) => XAUTH_MESSAGE,
            XauthAttribute::Challenge(_) => XAUTH_CHALLENGE,
            XauthAttribute::Domain(_) => XAUTH_DOMAIN,
            XauthAttribute::Status { .. } => XAUTH_STATUS,
            XauthAttribute::NextPin(_) => XAUTH_NEXT_PIN,
            XauthAttribute::Answer(_) => XAUTH_ANSWER,
            XauthAttribute::CiscoExtVendor(_) => CISCO_EXT_VENDOR,
            XauthAttribute::Unknown(a) => a.kind,
        }
    }

    /// The name used by the drafts and the PIX debug output.
    pub fn name(&self) -> &'static str {
        kind_name(self.kind())
    }

    /// Interprets one data attribute.
    pub fn from_attr(a: &Attribute<'_>) -> Result<Self, XauthError> {
        Ok(match a.kind {
            XAUTH_TYPE => {
                let (v, form) = int_value(a)?;
                XauthAttribute::Type {
                    value: XauthType::from(u16::try_from(v).map_err(|_| {
                        XauthError::BadAttribute {
                            kind: a.kind,
                            reason: "XAUTH_TYPE value above 65535",
                        }
                    })?),
                    form,
                }
            }
            XAUTH_STATUS => {
                let (v, form) = int_value(a)?;
                let value = match v {
                    0 => XauthStatus::Fail,
                    1 => XauthStatus::Ok,
                    _ => {
                        return Err(XauthError::BadAttribute {
                            kind: a.kind,
                            reason: "XAUTH_STATUS must be 0 (FAIL) or 1 (OK)",
                        })
                    }
                };
                XauthAttribute::Status { value, form }
            }
            XAUTH_USER_NAME => XauthAttribute::UserName(text_value(a)),
            XAUTH_USER_PASSWORD => XauthAttribute::UserPassword(Secret::new(text_value(a))),
            XAUTH_PASSCODE => XauthAttribute::Passcode(Secret::new(text_value(a))),
            XAUTH_MESSAGE => XauthAttribute::Message(text_value(a)),
            XAUTH_CHALLENGE => XauthAttribute::Challenge(text_value(a)),
            XAUTH_DOMAIN => XauthAttribute::Domain(text_value(a)),
            XAUTH_NEXT_PIN => XauthAttribute::NextPin(Secret::new(text_value(a))),
            XAUTH_ANSWER => XauthAttribute::Answer(Secret::new(text_value(a))),
            CISCO_EXT_VENDOR => XauthAttribute::CiscoExtVendor(a.to_owned_attr().value),
            _ => XauthAttribute::Unknown(a.to_owned_attr()),
        })
    }

    /// The data attribute to put on the wire.
    ///
    /// Secret values are copied into the (non-zeroizing) buffer of
    /// [`OwnedAttribute`]: keep such attributes in a
    /// [`crate::payload::ZeroizingPayload`] (as [`crate::XauthClient`] does), which
    /// wipes them on drop, or wipe them with [`crate::payload::wipe_payload`].
    pub fn to_owned_attr(&self) -> OwnedAttribute {
        match self {
            XauthAttribute::Type { value, form } => int_attr(XAUTH_TYPE, u16::from(*value), *form),
            XauthAttribute::Status { value, form } => {
                let v = match value {
                    XauthStatus::Fail => 0,
                    XauthStatus::Ok => 1,
                };
                int_attr(XAUTH_STATUS, v, *form)
            }
            XauthAttribute::UserName(v)
            | XauthAttribute::Message(v)
            | XauthAttribute::Challenge(v)
            | XauthAttribute::Domain(v) => OwnedAttribute::variable(self.kind(), v.clone()),
            XauthAttribute::UserPassword(s)
            | XauthAttribute::Passcode(s)
            | XauthAttribute::NextPin(s)
            | XauthAttribute::Answer(s) => {
                OwnedAttribute::variable(self.kind(), s.expose_secret().to_vec())
            }
            XauthAttribute::CiscoExtVendor(v) => OwnedAttribute {
                kind: CISCO_EXT_VENDOR,
                value: v.clone(),
            },
            XauthAttribute::Unknown(a) => a.clone(),
        }
    }

    /// A value-less copy, as a REQUEST lists it ("send me this").
    pub fn is_empty_request(&self) -> bool {
        match self {
            XauthAttribute::UserName(v)
            | XauthAttribute::Message(v)
            | XauthAttribute::Domain(v) => v.is_empty(),
            XauthAttribute::UserPassword(s)
            | XauthAttribute::Passcode(s)
            | XauthAttribute::NextPin(s)
            | XauthAttribute::Answer(s) => s.is_empty(),
            _ => false,
        }
    }
}

/// The draft's name for an Xauth attribute type (`"UNKNOWN"` for others), from
/// the registry in [`isakmp_wire::attr::config`].
pub fn kind_name(kind: u16) -> &'static str {
    let t = ConfigAttrType::from(kind);
    if t.is_xauth() {
        t.name()
    } else {
        "UNKNOWN"
    }
}

/// Parses an attribute list (already bounded by the iterator's cap).
pub fn parse_list(iter: AttributeIter<'_>) -> Result<Vec<XauthAttribute>, XauthError> {
    iter.map(|a| XauthAttribute::from_attr(&a?)).collect()
}

/// The data attributes for a list of typed ones, in order.
pub fn to_owned_list(attrs: &[XauthAttribute]) -> Vec<OwnedAttribute> {
    attrs.iter().map(XauthAttribute::to_owned_attr).collect()
}

fn int_value(a: &Attribute<'_>) -> Result<(u32, IntForm), XauthError> {
    match a.value {
        AttrValue::Basic(v) => Ok((u32::from(v), IntForm::Basic)),
        AttrValue::Variable(bytes) => {
            let n = u8::try_from(bytes.len())
                .ok()
                .filter(|n| (1..=4).contains(n))
                .ok_or(XauthError::BadAttribute {
                    kind: a.kind,
                    reason: "integer attribute in TLV form must have 1 to 4 bytes",
                })?;
            let v = bytes.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
            Ok((v, IntForm::Variable(n)))
        }
    }
}

fn int_attr(kind: u16, v: u16, form: IntForm) -> OwnedAttribute {
    match form {
        IntForm::Basic => OwnedAttribute::basic(kind, v),
        IntForm::Variable(n) => {
            let wide = u32::from(v).to_be_bytes();
            let n = usize::from(n.clamp(1, 4));
            let start = wide.len().saturating_sub(n);
            let mut bytes = wide.get(start..).unwrap_or(&wide).to_vec();
            // A 1-byte form cannot hold values above 255: widen rather than truncate.
            if v > 0xff && bytes.len() < 2 {
                bytes = v.to_be_bytes().to_vec();
            }
            OwnedAttribute::variable(kind, bytes)
        }
    }
}

fn text_value(a: &Attribute<'_>) -> Vec<u8> {
    match a.value {
        AttrValue::Basic(v) => v.to_be_bytes().to_vec(),
        AttrValue::Variable(b) => b.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use isakmp_wire::ConfigPayload;

    fn one(bytes: &[u8]) -> XauthAttribute {
        let (a, rest) = Attribute::parse(bytes, 0).unwrap();
        assert!(rest.is_empty());
        XauthAttribute::from_attr(&a).unwrap()
    }

    fn emit(a: &XauthAttribute) -> Vec<u8> {
        let mut out = Vec::new();
        a.to_owned_attr().emit(&mut out).unwrap();
        out
    }

    #[test]
    fn every_attribute_parses_and_round_trips() {
        let cases: Vec<(Vec<u8>, XauthAttribute)> = vec![
            (
                vec![0xc0, 0x88, 0, 0],
                XauthAttribute::Type {
                    value: XauthType::Generic,
                    form: IntForm::Basic,
                },
            ),
            (
                vec![0xc0, 0x88, 0, 1],
                XauthAttribute::Type {
                    value: XauthType::RadiusChap,
                    form: IntForm::Basic,
                },
            ),
            (
                vec![0xc0, 0x88, 0, 2],
                XauthAttribute::Type {
                    value: XauthType::Otp,
                    form: IntForm::Basic,
                },
            ),
            (
                vec![0x40, 0x88, 0, 4, 0, 0, 0, 3],
                XauthAttribute::Type {
                    value: XauthType::SKey,
                    form: IntForm::Variable(4),
                },
            ),
            (
                vec![0x40, 0x89, 0, 3, b'b', b'o', b'b'],
                XauthAttribute::UserName(b"bob".to_vec()),
            ),
            (
                vec![0x40, 0x8a, 0, 2, b'p', b'w'],
                XauthAttribute::UserPassword(Secret::from("pw")),
            ),
            (
                vec![0x40, 0x8b, 0, 1, b'7'],
                XauthAttribute::Passcode(Secret::from("7")),
            ),
            (
                vec![0x40, 0x8c, 0, 2, b'h', b'i'],
                XauthAttribute::Message(b"hi".to_vec()),
            ),
            (
                vec![0x40, 0x8d, 0, 2, 1, 2],
                XauthAttribute::Challenge(vec![1, 2]),
            ),
            (
                vec![0x40, 0x8e, 0, 1, b'D'],
                XauthAttribute::Domain(b"D".to_vec()),
            ),
            (
                vec![0xc0, 0x8f, 0, 1],
                XauthAttribute::Status {
                    value: XauthStatus::Ok,
                    form: IntForm::Basic,
                },
            ),
            (
                vec![0x40, 0x8f, 0, 4, 0, 0, 0, 0],
                XauthAttribute::Status {
                    value: XauthStatus::Fail,
                    form: IntForm::Variable(4),
                },
            ),
            (
                vec![0x40, 0x8f, 0, 2, 0, 1],
                XauthAttribute::Status {
                    value: XauthStatus::Ok,
                    form: IntForm::Variable(2),
                },
            ),
            (
                vec![0x40, 0x90, 0, 4, b'1', b'2', b'3', b'4'],
                XauthAttribute::NextPin(Secret::from("1234")),
            ),
            (
                vec![0x40, 0x91, 0, 3, b'y', b'e', b's'],
                XauthAttribute::Answer(Secret::from("yes")),
            ),
            (
                vec![0xfd, 0x88, 0, 9],
                XauthAttribute::CiscoExtVendor(OwnedAttrValue::Basic(9)),
            ),
            (
                vec![0x00, 0x01, 0, 4, 10, 0, 0, 1],
                XauthAttribute::Unknown(OwnedAttribute::variable(1, vec![10, 0, 0, 1])),
            ),
        ];
        for (bytes, want) in cases {
            let got = one(&bytes);
            assert_eq!(got, want, "{bytes:02x?}");
            assert_eq!(emit(&got), bytes, "{}", got.name());
        }
    }

    #[test]
    fn tv_message_is_two_characters() {
        assert_eq!(
            one(&[0xc0, 0x8c, b'O', b'K']),
            XauthAttribute::Message(b"OK".to_vec())
        );
    }

    #[test]
    fn bad_integer_forms_are_errors() {
        let (a, _) = Attribute::parse(&[0x40, 0x8f, 0, 5, 0, 0, 0, 0, 1], 0).unwrap();
        assert_eq!(
            XauthAttribute::from_attr(&a),
            Err(XauthError::BadAttribute {
                kind: XAUTH_STATUS,
                reason: "integer attribute in TLV form must have 1 to 4 bytes"
            })
        );
        let (a, _) = Attribute::parse(&[0xc0, 0x8f, 0, 2], 0).unwrap();
        assert!(matches!(
            XauthAttribute::from_attr(&a),
            Err(XauthError::BadAttribute { kind: 16527, .. })
        ));
        let (a, _) = Attribute::parse(&[0x40, 0x88, 0, 0], 0).unwrap();
        assert!(XauthAttribute::from_attr(&a).is_err());
        let (a, _) = Attribute::parse(&[0x40, 0x88, 0, 3, 1, 0, 0], 0).unwrap();
        assert!(XauthAttribute::from_attr(&a).is_err());
    }

    #[test]
    fn seed_request_parses() {
        // The PIX's request: XAUTH_TYPE, XAUTH_USER_NAME, XAUTH_USER_PASSWORD.
        let body = [
            1, 0, 0x12, 0x34, 0xc0, 0x88, 0, 0, 0x40, 0x89, 0, 0, 0x40, 0x8a, 0, 0,
        ];
        let p = ConfigPayload::parse(&body, 0).unwrap();
        let list = parse_list(p.attributes()).unwrap();
        let names: Vec<_> = list.iter().map(XauthAttribute::name).collect();
        assert_eq!(
            names,
            ["XAUTH_TYPE", "XAUTH_USER_NAME", "XAUTH_USER_PASSWORD"]
        );
        assert!(list[1].is_empty_request() && list[2].is_empty_request());
        assert!(!list[0].is_empty_request());
    }

    #[test]
    fn names_cover_every_kind() {
        for k in 16520..=16529u16 {
            assert_ne!(kind_name(k), "UNKNOWN");
        }
        assert_eq!(kind_name(CISCO_EXT_VENDOR), "CISCO_EXT_VENDOR");
        assert_eq!(kind_name(1), "UNKNOWN");
        assert_eq!(u16::from(XauthType::from(77)), 77);
    }
}
