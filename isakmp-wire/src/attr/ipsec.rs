//! IPsec DOI SA attributes (RFC 2407 4.5), with the NAT-T encapsulation modes of
//! RFC 3947 (3, 4) and the drafts (61443, 61444).

use crate::attr::phase1::{GroupDescription, LifeType};
use crate::attr::{Attribute, AttributeIter};
use crate::error::WireError;
use crate::wire_enum::wire_enum;

wire_enum! {
    /// IPsec DOI attribute classes.
    pub enum IpsecAttrType: u16 {
        /// 1 (B).
        SaLifeType = 1 => "SA-Life-Type",
        /// 2 (V).
        SaLifeDuration = 2 => "SA-Life-Duration",
        /// 3 (B): PFS group.
        GroupDescription = 3 => "Group-Description",
        /// 4 (B).
        EncapsulationMode = 4 => "Encapsulation-Mode",
        /// 5 (B).
        AuthenticationAlgorithm = 5 => "Authentication-Algorithm",
        /// 6 (B).
        KeyLength = 6 => "Key-Length",
        /// 7 (B).
        KeyRounds = 7 => "Key-Rounds",
        /// 8 (B).
        CompressDictionarySize = 8 => "Compress-Dictionary-Size",
        /// 9 (V).
        CompressPrivateAlgorithm = 9 => "Compress-Private-Algorithm",
        /// 10 (B, RFC 3168).
        EcnTunnel = 10 => "ECN-Tunnel",
        /// 11 (B, RFC 4304).
        ExtendedSequenceNumber = 11 => "Extended-Sequence-Number",
    }
}

wire_enum! {
    /// Encapsulation modes.
    pub enum EncapsulationMode: u16 {
        /// 1.
        Tunnel = 1 => "Tunnel",
        /// 2.
        Transport = 2 => "Transport",
        /// 3 (RFC 3947).
        UdpTunnel = 3 => "UDP-Encapsulated-Tunnel",
        /// 4 (RFC 3947).
        UdpTransport = 4 => "UDP-Encapsulated-Transport",
        /// 61443 (draft-ietf-ipsec-nat-t-ike, used by Cisco and older peers).
        UdpTunnelDraft = 61443 => "UDP-Encapsulated-Tunnel (draft)",
        /// 61444.
        UdpTransportDraft = 61444 => "UDP-Encapsulated-Transport (draft)",
    }
}

impl EncapsulationMode {
    /// Whether ESP travels in UDP (RFC 3947 or draft values).
    pub fn is_udp_encapsulated(self) -> bool {
        matches!(
            self,
            EncapsulationMode::UdpTunnel
                | EncapsulationMode::UdpTransport
                | EncapsulationMode::UdpTunnelDraft
                | EncapsulationMode::UdpTransportDraft
        )
    }

    /// Whether this is one of the tunnel modes.
    pub fn is_tunnel(self) -> bool {
        matches!(
            self,
            EncapsulationMode::Tunnel
                | EncapsulationMode::UdpTunnel
                | EncapsulationMode::UdpTunnelDraft
        )
    }
}

wire_enum! {
    /// Authentication algorithms (RFC 2407 4.5, RFC 4868, RFC 3566, RFC 4543).
    pub enum AuthAlgorithm: u16 {
        /// 1.
        HmacMd5 = 1 => "HMAC-MD5",
        /// 2.
        HmacSha = 2 => "HMAC-SHA",
        /// 3.
        DesMac = 3 => "DES-MAC",
        /// 4.
        Kpdk = 4 => "KPDK",
        /// 5.
        HmacSha2_256 = 5 => "HMAC-SHA2-256",
        /// 6.
        HmacSha2_384 = 6 => "HMAC-SHA2-384",
        /// 7.
        HmacSha2_512 = 7 => "HMAC-SHA2-512",
        /// 8.
        HmacRipemd = 8 => "HMAC-RIPEMD",
        /// 9.
        AesXcbcMac = 9 => "AES-XCBC-MAC",
        /// 10.
        SigRsa = 10 => "SIG-RSA",
        /// 11.
        Aes128Gmac = 11 => "AES-128-GMAC",
        /// 12.
        Aes192Gmac = 12 => "AES-192-GMAC",
        /// 13.
        Aes256Gmac = 13 => "AES-256-GMAC",
    }
}

/// An IPsec DOI attribute, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpsecAttribute<'a> {
    /// SA-Life-Type.
    LifeType(LifeType),
    /// SA-Life-Duration (any width up to 8 bytes).
    LifeDuration(u64),
    /// Group-Description (PFS).
    Group(GroupDescription),
    /// Encapsulation-Mode.
    Encapsulation(EncapsulationMode),
    /// Authentication-Algorithm.
    Auth(AuthAlgorithm),
    /// Key-Length in bits.
    KeyLength(u64),
    /// Anything else, as on the wire.
    Other(Attribute<'a>),
}

impl<'a> From<Attribute<'a>> for IpsecAttribute<'a> {
    fn from(a: Attribute<'a>) -> Self {
        let small = a.as_u64().and_then(|v| u16::try_from(v).ok());
        let typed = match IpsecAttrType::from(a.kind) {
            IpsecAttrType::SaLifeType => small.map(|v| IpsecAttribute::LifeType(v.into())),
            IpsecAttrType::SaLifeDuration => a.as_u64().map(IpsecAttribute::LifeDuration),
            IpsecAttrType::GroupDescription => small.map(|v| IpsecAttribute::Group(v.into())),
            IpsecAttrType::EncapsulationMode => {
                small.map(|v| IpsecAttribute::Encapsulation(v.into()))
            }
            IpsecAttrType::AuthenticationAlgorithm => small.map(|v| IpsecAttribute::Auth(v.into())),
            IpsecAttrType::KeyLength => a.as_u64().map(IpsecAttribute::KeyLength),
            _ => None,
        };
        typed.unwrap_or(IpsecAttribute::Other(a))
    }
}

/// The usual IPsec attributes of one transform, collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpsecTransform {
    /// Encapsulation mode.
    pub encapsulation: Option<EncapsulationMode>,
    /// Authentication algorithm.
    pub auth: Option<AuthAlgorithm>,
    /// Key length in bits.
    pub key_length: Option<u64>,
    /// PFS group.
    pub group: Option<GroupDescription>,
    /// Lifetime in seconds.
    pub life_seconds: Option<u64>,
    /// Lifetime in kilobytes.
    pub life_kilobytes: Option<u64>,
}

impl IpsecTransform {
    /// Collects the attributes of a transform (a duration applies to the life
    /// type before it).
    pub fn from_attributes(attrs: AttributeIter<'_>) -> Result<Self, WireError> {
        // The common case, a well-formed list, read straight from the bytes;
        // anything else replays the typed walk, which reports the iterator's error.
        crate::attr::phase1::collect_transform(attrs, Self::apply, Self::from_attributes_typed)
    }

    /// One attribute (type, value read as by [`Attribute::as_u64`]) applied as
    /// [`IpsecAttribute::from`] would type it.
    #[inline(always)]
    fn apply(t: &mut Self, life: &mut Option<LifeType>, kind: u16, value: Option<u64>) {
        let small = value.and_then(|v| u16::try_from(v).ok());
        match kind {
            1 => {
                if let Some(v) = small {
                    *life = Some(v.into());
                }
            }
            2 => {
                if let Some(d) = value {
                    match life {
                        Some(LifeType::Seconds) => t.life_seconds = Some(d),
                        Some(LifeType::Kilobytes) => t.life_kilobytes = Some(d),
                        _ => {}
                    }
                }
            }
            3 => {
                if let Some(v) = small {
                    t.group = Some(v.into());
                }
            }
            4 => {
                if let Some(v) = small {
                    t.encapsulation = Some(v.into());
                }
            }
            5 => {
                if let Some(v) = small {
                    t.auth = Some(v.into());
                }
            }
            6 if value.is_some() => t.key_length = value,
            _ => {}
        }
    }

    /// The reference walk over typed attributes.
    #[cold]
    #[inline(never)]
    fn from_attributes_typed(attrs: AttributeIter<'_>) -> Result<Self, WireError> {
        let mut t = IpsecTransform::default();
        let mut life = None;
        for a in attrs {
            match IpsecAttribute::from(a?) {
                IpsecAttribute::LifeType(v) => life = Some(v),
                IpsecAttribute::LifeDuration(d) => match life {
                    Some(LifeType::Seconds) => t.life_seconds = Some(d),
                    Some(LifeType::Kilobytes) => t.life_kilobytes = Some(d),
                    _ => {}
                },
                IpsecAttribute::Group(v) => t.group = Some(v),
                IpsecAttribute::Encapsulation(v) => t.encapsulation = Some(v),
                IpsecAttribute::Auth(v) => t.auth = Some(v),
                IpsecAttribute::KeyLength(v) => t.key_length = Some(v),
                IpsecAttribute::Other(_) => {}
            }
        }
        Ok(t)
    }
}

/// The name of an IPsec DOI attribute value, for classes with a registry.
pub fn value_name(kind: u16, value: u64) -> Option<&'static str> {
    let v = u16::try_from(value).ok()?;
    let name = match IpsecAttrType::from(kind) {
        IpsecAttrType::SaLifeType => LifeType::from(v).name(),
        IpsecAttrType::GroupDescription => GroupDescription::from(v).name(),
        IpsecAttrType::EncapsulationMode => EncapsulationMode::from(v).name(),
        IpsecAttrType::AuthenticationAlgorithm => AuthAlgorithm::from(v).name(),
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-level fast path gives what the typed walk gives, errors included,
    /// from a fresh iterator and from one already partly walked.
    #[test]
    fn fast_path_agrees_with_typed_walk() {
        crate::attr::tests::fast_path_agrees(
            IpsecTransform::from_attributes,
            IpsecTransform::from_attributes_typed,
        );
    }
}
