//! Phase-1 (Oakley) SA attributes, RFC 2409 Appendix A, with the Xauth
//! (draft-beaulieu-ike-xauth 5) and hybrid (draft-ietf-ipsra-hybrid-auth)
//! authentication methods.

use crate::attr::{Attribute, AttributeIter};
use crate::error::WireError;
use crate::wire_enum::wire_enum;

wire_enum! {
    /// Phase-1 attribute classes.
    pub enum Phase1AttrType: u16 {
        /// 1 (B).
        EncryptionAlgorithm = 1 => "Encryption-Algorithm",
        /// 2 (B).
        HashAlgorithm = 2 => "Hash-Algorithm",
        /// 3 (B).
        AuthenticationMethod = 3 => "Authentication-Method",
        /// 4 (B).
        GroupDescription = 4 => "Group-Description",
        /// 5 (B).
        GroupType = 5 => "Group-Type",
        /// 6 (V).
        GroupPrime = 6 => "Group-Prime",
        /// 7 (V).
        GroupGeneratorOne = 7 => "Group-Generator-One",
        /// 8 (V).
        GroupGeneratorTwo = 8 => "Group-Generator-Two",
        /// 9 (V).
        GroupCurveA = 9 => "Group-Curve-A",
        /// 10 (V).
        GroupCurveB = 10 => "Group-Curve-B",
        /// 11 (B).
        LifeType = 11 => "Life-Type",
        /// 12 (V): any width.
        LifeDuration = 12 => "Life-Duration",
        /// 13 (B).
        Prf = 13 => "PRF",
        /// 14 (B).
        KeyLength = 14 => "Key-Length",
        /// 15 (B).
        FieldSize = 15 => "Field-Size",
        /// 16 (V).
        GroupOrder = 16 => "Group-Order",
    }
}

wire_enum! {
    /// Phase-1 encryption algorithms.
    pub enum EncryptionAlgorithm: u16 {
        /// 1.
        DesCbc = 1 => "DES-CBC",
        /// 2.
        IdeaCbc = 2 => "IDEA-CBC",
        /// 3.
        BlowfishCbc = 3 => "Blowfish-CBC",
        /// 4.
        Rc5 = 4 => "RC5-R16-B64-CBC",
        /// 5.
        TripleDesCbc = 5 => "3DES-CBC",
        /// 6.
        CastCbc = 6 => "CAST-CBC",
        /// 7 (RFC 3602; key length attribute gives 128/192/256).
        AesCbc = 7 => "AES-CBC",
        /// 8 (RFC 4312).
        CamelliaCbc = 8 => "CAMELLIA-CBC",
    }
}

wire_enum! {
    /// Phase-1 hash algorithms.
    pub enum HashAlgorithm: u16 {
        /// 1.
        Md5 = 1 => "MD5",
        /// 2.
        Sha = 2 => "SHA",
        /// 3.
        Tiger = 3 => "Tiger",
        /// 4 (RFC 4878).
        Sha2_256 = 4 => "SHA2-256",
        /// 5.
        Sha2_384 = 5 => "SHA2-384",
        /// 6.
        Sha2_512 = 6 => "SHA2-512",
    }
}

wire_enum! {
    /// Phase-1 authentication methods.
    pub enum AuthMethod: u16 {
        /// 1.
        PreSharedKey = 1 => "Pre-shared key",
        /// 2.
        DssSignatures = 2 => "DSS signatures",
        /// 3.
        RsaSignatures = 3 => "RSA signatures",
        /// 4.
        RsaEncryption = 4 => "Encryption with RSA",
        /// 5.
        RsaRevisedEncryption = 5 => "Revised encryption with RSA",
        /// 9 (RFC 4754).
        EcdsaSha256 = 9 => "ECDSA with SHA-256 on the P-256 curve",
        /// 10.
        EcdsaSha384 = 10 => "ECDSA with SHA-384 on the P-384 curve",
        /// 11.
        EcdsaSha512 = 11 => "ECDSA with SHA-512 on the P-521 curve",
        /// 64221.
        HybridInitRsa = 64221 => "HybridInitRSA",
        /// 64222.
        HybridRespRsa = 64222 => "HybridRespRSA",
        /// 64223.
        HybridInitDss = 64223 => "HybridInitDSS",
        /// 64224.
        HybridRespDss = 64224 => "HybridRespDSS",
        /// 65001: what Cisco VPN clients offer for group PSK + Xauth.
        XauthInitPreShared = 65001 => "XAUTHInitPreShared",
        /// 65002.
        XauthRespPreShared = 65002 => "XAUTHRespPreShared",
        /// 65003.
        XauthInitDss = 65003 => "XAUTHInitDSS",
        /// 65004.
        XauthRespDss = 65004 => "XAUTHRespDSS",
        /// 65005.
        XauthInitRsa = 65005 => "XAUTHInitRSA",
        /// 65006.
        XauthRespRsa = 65006 => "XAUTHRespRSA",
        /// 65007.
        XauthInitRsaEncryption = 65007 => "XAUTHInitRSAEncryption",
        /// 65008.
        XauthRespRsaEncryption = 65008 => "XAUTHRespRSAEncryption",
        /// 65009.
        XauthInitRsaRevisedEncryption = 65009 => "XAUTHInitRSARevisedEncryption",
        /// 65010.
        XauthRespRsaRevisedEncryption = 65010 => "XAUTHRespRSARevisedEncryption",
    }
}

impl AuthMethod {
    /// Whether this method runs Xauth after phase 1 (65001-65010).
    pub fn is_xauth(self) -> bool {
        (65001..=65010).contains(&self.number())
    }
}

wire_enum! {
    /// Oakley groups (RFC 2409 6, RFC 3526, RFC 5903).
    pub enum GroupDescription: u16 {
        /// 1.
        Modp768 = 1 => "Default 768-bit MODP group",
        /// 2.
        Modp1024 = 2 => "Alternate 1024-bit MODP group",
        /// 3.
        Ec2n155 = 3 => "EC2N group on GP[2^155]",
        /// 4.
        Ec2n185 = 4 => "EC2N group on GP[2^185]",
        /// 5.
        Modp1536 = 5 => "1536 bit MODP group",
        /// 14.
        Modp2048 = 14 => "2048 bit MODP group",
        /// 15.
        Modp3072 = 15 => "3072 bit MODP group",
        /// 16.
        Modp4096 = 16 => "4096 bit MODP group",
        /// 17.
        Modp6144 = 17 => "6144 bit MODP group",
        /// 18.
        Modp8192 = 18 => "8192 bit MODP group",
        /// 19.
        Ecp256 = 19 => "256-bit random ECP group",
        /// 20.
        Ecp384 = 20 => "384-bit random ECP group",
        /// 21.
        Ecp521 = 21 => "521-bit random ECP group",
    }
}

wire_enum! {
    /// Group types.
    pub enum GroupType: u16 {
        /// 1.
        Modp = 1 => "MODP",
        /// 2.
        Ecp = 2 => "ECP",
        /// 3.
        Ec2n = 3 => "EC2N",
    }
}

wire_enum! {
    /// Life types (phase 1 and IPsec DOI share the values).
    pub enum LifeType: u16 {
        /// 1.
        Seconds = 1 => "Seconds",
        /// 2.
        Kilobytes = 2 => "Kilobytes",
    }
}

/// A phase-1 attribute, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase1Attribute<'a> {
    /// Encryption-Algorithm.
    Encryption(EncryptionAlgorithm),
    /// Hash-Algorithm.
    Hash(HashAlgorithm),
    /// Authentication-Method.
    AuthMethod(AuthMethod),
    /// Group-Description.
    Group(GroupDescription),
    /// Group-Type.
    GroupType(GroupType),
    /// Life-Type.
    LifeType(LifeType),
    /// Life-Duration (TV, or TLV of up to 8 bytes).
    LifeDuration(u64),
    /// Key-Length in bits.
    KeyLength(u64),
    /// PRF.
    Prf(u64),
    /// Anything else (or a value of unusable width), as on the wire.
    Other(Attribute<'a>),
}

fn small(a: &Attribute<'_>) -> Option<u16> {
    a.as_u64().and_then(|v| u16::try_from(v).ok())
}

impl<'a> From<Attribute<'a>> for Phase1Attribute<'a> {
    fn from(a: Attribute<'a>) -> Self {
        let t = Phase1AttrType::from(a.kind);
        let typed = match t {
            Phase1AttrType::EncryptionAlgorithm => {
                small(&a).map(|v| Phase1Attribute::Encryption(v.into()))
            }
            Phase1AttrType::HashAlgorithm => small(&a).map(|v| Phase1Attribute::Hash(v.into())),
            Phase1AttrType::AuthenticationMethod => {
                small(&a).map(|v| Phase1Attribute::AuthMethod(v.into()))
            }
            Phase1AttrType::GroupDescription => small(&a).map(|v| Phase1Attribute::Group(v.into())),
            Phase1AttrType::GroupType => small(&a).map(|v| Phase1Attribute::GroupType(v.into())),
            Phase1AttrType::LifeType => small(&a).map(|v| Phase1Attribute::LifeType(v.into())),
            Phase1AttrType::LifeDuration => a.as_u64().map(Phase1Attribute::LifeDuration),
            Phase1AttrType::KeyLength => a.as_u64().map(Phase1Attribute::KeyLength),
            Phase1AttrType::Prf => a.as_u64().map(Phase1Attribute::Prf),
            _ => None,
        };
        typed.unwrap_or(Phase1Attribute::Other(a))
    }
}

/// The usual phase-1 attributes of one transform, collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phase1Transform {
    /// Encryption algorithm.
    pub encryption: Option<EncryptionAlgorithm>,
    /// Key length in bits (AES).
    pub key_length: Option<u64>,
    /// Hash algorithm.
    pub hash: Option<HashAlgorithm>,
    /// Authentication method.
    pub auth_method: Option<AuthMethod>,
    /// Oakley group.
    pub group: Option<GroupDescription>,
    /// Lifetime in seconds (a Life-Duration after Life-Type Seconds).
    pub life_seconds: Option<u64>,
    /// Lifetime in kilobytes.
    pub life_kilobytes: Option<u64>,
    /// PRF.
    pub prf: Option<u64>,
}

impl Phase1Transform {
    /// Collects the attributes of a transform. A Life-Duration applies to the
    /// Life-Type before it (RFC 2409 App. A); one without a type is ignored.
    pub fn from_attributes(attrs: AttributeIter<'_>) -> Result<Self, WireError> {
        // A policy walk calls this once per (policy, transform) pair, so the common
        // case, a well-formed list, is read straight from the bytes; anything else
        // replays the typed walk, which reports the iterator's error.
        collect_transform(attrs, Self::apply, Self::from_attributes_typed)
    }

    /// One attribute (type, value read as by [`Attribute::as_u64`]) applied as
    /// [`Phase1Attribute::from`] would type it.
    #[inline(always)]
    fn apply(t: &mut Self, life: &mut Option<LifeType>, kind: u16, value: Option<u64>) {
        let small = value.and_then(|v| u16::try_from(v).ok());
        match kind {
            1 => {
                if let Some(v) = small {
                    t.encryption = Some(v.into());
                }
            }
            2 => {
                if let Some(v) = small {
                    t.hash = Some(v.into());
                }
            }
            3 => {
                if let Some(v) = small {
                    t.auth_method = Some(v.into());
                }
            }
            4 => {
                if let Some(v) = small {
                    t.group = Some(v.into());
                }
            }
            11 => {
                if let Some(v) = small {
                    *life = Some(v.into());
                }
            }
            12 => {
                if let Some(d) = value {
                    match life {
                        Some(LifeType::Seconds) => t.life_seconds = Some(d),
                        Some(LifeType::Kilobytes) => t.life_kilobytes = Some(d),
                        _ => {}
                    }
                }
            }
            13 if value.is_some() => t.prf = value,
            14 if value.is_some() => t.key_length = value,
            _ => {}
        }
    }

    /// The reference walk over typed attributes.
    #[cold]
    #[inline(never)]
    fn from_attributes_typed(attrs: AttributeIter<'_>) -> Result<Self, WireError> {
        let mut t = Phase1Transform::default();
        let mut life = None;
        for a in attrs {
            match Phase1Attribute::from(a?) {
                Phase1Attribute::Encryption(v) => t.encryption = Some(v),
                Phase1Attribute::Hash(v) => t.hash = Some(v),
                Phase1Attribute::AuthMethod(v) => t.auth_method = Some(v),
                Phase1Attribute::Group(v) => t.group = Some(v),
                Phase1Attribute::KeyLength(v) => t.key_length = Some(v),
                Phase1Attribute::Prf(v) => t.prf = Some(v),
                Phase1Attribute::LifeType(v) => life = Some(v),
                Phase1Attribute::LifeDuration(d) => match life {
                    Some(LifeType::Seconds) => t.life_seconds = Some(d),
                    Some(LifeType::Kilobytes) => t.life_kilobytes = Some(d),
                    _ => {}
                },
                Phase1Attribute::GroupType(_) | Phase1Attribute::Other(_) => {}
            }
        }
        Ok(t)
    }
}

/// The name of a phase-1 attribute value, for the classes that have a registry.
pub fn value_name(kind: u16, value: u64) -> Option<&'static str> {
    let v = u16::try_from(value).ok()?;
    let name = match Phase1AttrType::from(kind) {
        Phase1AttrType::EncryptionAlgorithm => EncryptionAlgorithm::from(v).name(),
        Phase1AttrType::HashAlgorithm => HashAlgorithm::from(v).name(),
        Phase1AttrType::AuthenticationMethod => AuthMethod::from(v).name(),
        Phase1AttrType::GroupDescription => GroupDescription::from(v).name(),
        Phase1AttrType::GroupType => GroupType::from(v).name(),
        Phase1AttrType::LifeType => LifeType::from(v).name(),
        _ => return None,
    };
    Some(name)
}

/// A transform's attributes applied one by one with `apply` straight from the bytes
/// when the list is well formed (the common case), with the Life-Type in force passed
/// along; otherwise `typed`, the reference walk, which reports the iterator's error.
#[inline(always)]
pub(crate) fn collect_transform<T: Default>(
    attrs: AttributeIter<'_>,
    apply: impl Fn(&mut T, &mut Option<LifeType>, u16, Option<u64>),
    typed: impl FnOnce(AttributeIter<'_>) -> Result<T, WireError>,
) -> Result<T, WireError> {
    match attrs.fold_well_formed(
        (T::default(), None::<LifeType>),
        |(t, life), kind, value| apply(t, life, kind, value),
    ) {
        Some((t, _)) => Ok(t),
        None => typed(attrs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-level fast path gives what the typed walk gives, errors included,
    /// from a fresh iterator and from one already partly walked.
    #[test]
    fn fast_path_agrees_with_typed_walk() {
        crate::attr::tests::fast_path_agrees(
            Phase1Transform::from_attributes,
            Phase1Transform::from_attributes_typed,
        );
    }
}
