//! SA parameters as IKEv1 Quick Mode negotiates them (RFC 2407 IPsec DOI numbers),
//! and the key material split the way RFC 2409 5.5 KEYMAT lays it out.

use crate::error::EspError;
use crate::lifetime::LifetimeConfig;
use crate::replay::{DEFAULT_WINDOW, MAX_WINDOW};
use pix_primitives::Secret;

/// ESP encryption transform (RFC 2407 4.4.4 transform IDs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncryptionAlgorithm {
    /// ESP_DES (2), DES-CBC with explicit IV (RFC 2405), PIX `esp-des`.
    Des,
    /// ESP_3DES (3), 3DES-EDE-CBC (RFC 2451), PIX `esp-3des`.
    TripleDes,
    /// ESP_NULL (11), no confidentiality (RFC 2410), PIX `esp-null`.
    Null,
    /// ESP_AES (12) with a 128-bit key (RFC 3602), PIX `esp-aes`.
    Aes128,
    /// ESP_AES (12) with a 192-bit key, PIX `esp-aes-192`.
    Aes192,
    /// ESP_AES (12) with a 256-bit key, PIX `esp-aes-256`.
    Aes256,
}

impl EncryptionAlgorithm {
    /// ESP_DES.
    pub const ESP_DES: u8 = 2;
    /// ESP_3DES.
    pub const ESP_3DES: u8 = 3;
    /// ESP_NULL.
    pub const ESP_NULL: u8 = 11;
    /// ESP_AES.
    pub const ESP_AES: u8 = 12;

    /// From an ESP transform ID and the optional Key Length attribute (bits).
    /// ESP_AES without a Key Length means 128 bits (RFC 3602 5).
    pub fn from_transform(transform_id: u8, key_bits: Option<u16>) -> Result<Self, EspError> {
        let unsupported = EspError::UnsupportedTransform {
            transform_id,
            key_bits,
        };
        match (transform_id, key_bits) {
            (Self::ESP_DES, None | Some(64)) => Ok(Self::Des),
            (Self::ESP_3DES, None | Some(192)) => Ok(Self::TripleDes),
            (Self::ESP_NULL, None | Some(0)) => Ok(Self::Null),
            (Self::ESP_AES, None | Some(128)) => Ok(Self::Aes128),
            (Self::ESP_AES, Some(192)) => Ok(Self::Aes192),
            (Self::ESP_AES, Some(256)) => Ok(Self::Aes256),
            _ => Err(unsupported),
        }
    }

    /// A cipher as IKEv1 Quick Mode negotiates it on a PIX: ESP_DES and ESP_3DES
    /// without a Key Length attribute, ESP_AES with 128 (or none: RFC 3602 5), 192 or
    /// 256 bits; `key_bits` is the attribute value as IKE parses it. `None` for anything
    /// else, ESP_NULL included (no transform set offers it).
    pub fn from_ike_transform(transform_id: u8, key_bits: Option<u64>) -> Option<Self> {
        match (transform_id, key_bits) {
            (Self::ESP_DES, None) => Some(Self::Des),
            (Self::ESP_3DES, None) => Some(Self::TripleDes),
            (Self::ESP_AES, None | Some(128)) => Some(Self::Aes128),
            (Self::ESP_AES, Some(192)) => Some(Self::Aes192),
            (Self::ESP_AES, Some(256)) => Some(Self::Aes256),
            _ => None,
        }
    }

    /// The IPsec DOI name of an ESP transform ID as PIX debug output prints it
    /// (`ESP_DES`, `ESP_3DES`, `ESP_NULL`, `ESP_AES`); `None` for an ID without one here.
    pub fn doi_name(transform_id: u8) -> Option<&'static str> {
        match transform_id {
            Self::ESP_DES => Some("ESP_DES"),
            Self::ESP_3DES => Some("ESP_3DES"),
            Self::ESP_NULL => Some("ESP_NULL"),
            Self::ESP_AES => Some("ESP_AES"),
            _ => None,
        }
    }

    /// The RFC 2407 transform ID.
    pub fn transform_id(self) -> u8 {
        match self {
            Self::Des => Self::ESP_DES,
            Self::TripleDes => Self::ESP_3DES,
            Self::Null => Self::ESP_NULL,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => Self::ESP_AES,
        }
    }

    /// The Key Length attribute to send (only for AES).
    pub fn key_length_attribute(self) -> Option<u16> {
        match self {
            Self::Aes128 => Some(128),
            Self::Aes192 => Some(192),
            Self::Aes256 => Some(256),
            _ => None,
        }
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Des => 8,
            Self::TripleDes | Self::Aes192 => 24,
            Self::Null => 0,
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }

    /// Cipher block size in bytes (1 for NULL).
    pub fn block_len(self) -> usize {
        match self {
            Self::Des | Self::TripleDes => 8,
            Self::Null => 1,
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
        }
    }

    /// Length of the explicit IV carried in every packet.
    pub fn iv_len(self) -> usize {
        match self {
            Self::Null => 0,
            other => other.block_len(),
        }
    }

    /// The alignment the ciphertext (payload + padding + trailer) must have:
    /// the block size, and at least 4 (RFC 4303 2.4).
    pub fn alignment(self) -> usize {
        self.block_len().max(4)
    }

    /// The PIX transform-set keyword (`esp-des`, `esp-3des`, ...).
    pub fn pix_name(self) -> &'static str {
        match self {
            Self::Des => "esp-des",
            Self::TripleDes => "esp-3des",
            Self::Null => "esp-null",
            Self::Aes128 => "esp-aes",
            Self::Aes192 => "esp-aes-192",
            Self::Aes256 => "esp-aes-256",
        }
    }
}

/// ESP integrity algorithm (RFC 2407 4.5 Authentication Algorithm attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IntegrityAlgorithm {
    /// No integrity (allowed only with a real cipher, RFC 4303 3.2).
    None,
    /// HMAC-MD5-96 (RFC 2403), attribute value 1, PIX `esp-md5-hmac`.
    HmacMd5_96,
    /// HMAC-SHA1-96 (RFC 2404), attribute value 2, PIX `esp-sha-hmac`.
    HmacSha1_96,
}

impl IntegrityAlgorithm {
    /// From the Authentication Algorithm attribute; `None` (attribute absent) means no integrity.
    pub fn from_attribute(auth: Option<u16>) -> Result<Self, EspError> {
        match auth {
            None => Ok(Self::None),
            Some(1) => Ok(Self::HmacMd5_96),
            Some(2) => Ok(Self::HmacSha1_96),
            Some(other) => Err(EspError::UnsupportedAuthentication { auth: other }),
        }
    }

    /// An HMAC as IKEv1 Quick Mode negotiates it: the Authentication Algorithm
    /// attribute value as IKE parses it (1 HMAC-MD5, 2 HMAC-SHA1); `None` for any other.
    pub fn from_ike_attribute(auth: u64) -> Option<Self> {
        match auth {
            1 => Some(Self::HmacMd5_96),
            2 => Some(Self::HmacSha1_96),
            _ => None,
        }
    }

    /// The attribute value, `None` for no integrity.
    pub fn attribute(self) -> Option<u16> {
        match self {
            Self::None => None,
            Self::HmacMd5_96 => Some(1),
            Self::HmacSha1_96 => Some(2),
        }
    }

    /// Key length in bytes (RFC 2403: 16, RFC 2404: 20).
    pub fn key_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::HmacMd5_96 => 16,
            Self::HmacSha1_96 => 20,
        }
    }

    /// ICV length in bytes (12 for the -96 HMACs).
    pub fn icv_len(self) -> usize {
        match self {
            Self::None => 0,
            Self::HmacMd5_96 | Self::HmacSha1_96 => 12,
        }
    }

    /// The PIX transform-set keyword, if any.
    pub fn pix_name(self) -> Option<&'static str> {
        match self {
            Self::None => None,
            Self::HmacMd5_96 => Some("esp-md5-hmac"),
            Self::HmacSha1_96 => Some("esp-sha-hmac"),
        }
    }
}

/// Tunnel or transport mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The payload is a whole IP packet (Next Header 4 or 41).
    Tunnel,
    /// The payload is the upper-layer protocol of the outer IP header.
    Transport,
}

/// Encapsulation Mode attribute (RFC 2407 4.5, RFC 3947 and the NAT-T drafts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encapsulation {
    /// Tunnel (1).
    Tunnel,
    /// Transport (2).
    Transport,
    /// UDP-Encapsulated-Tunnel: 3 (RFC 3947) or 61443 (draft-ietf-ipsec-nat-t-ike).
    UdpTunnel,
    /// UDP-Encapsulated-Transport: 4 (RFC 3947) or 61444 (drafts).
    UdpTransport,
}

impl Encapsulation {
    /// From the attribute value; absent means Tunnel for a PIX crypto map.
    pub fn from_attribute(value: u16) -> Result<Self, EspError> {
        match value {
            1 => Ok(Self::Tunnel),
            2 => Ok(Self::Transport),
            3 | 61443 => Ok(Self::UdpTunnel),
            4 | 61444 => Ok(Self::UdpTransport),
            other => Err(EspError::UnsupportedEncapsulation { mode: other }),
        }
    }

    /// The RFC 3947 attribute value.
    pub fn attribute(self) -> u16 {
        match self {
            Self::Tunnel => 1,
            Self::Transport => 2,
            Self::UdpTunnel => 3,
            Self::UdpTransport => 4,
        }
    }

    /// Tunnel or transport.
    pub fn mode(self) -> Mode {
        match self {
            Self::Tunnel | Self::UdpTunnel => Mode::Tunnel,
            Self::Transport | Self::UdpTransport => Mode::Transport,
        }
    }

    /// Whether packets travel in UDP (RFC 3948).
    pub fn is_udp(self) -> bool {
        matches!(self, Self::UdpTunnel | Self::UdpTransport)
    }
}

/// The keys of one ESP SA, held inline (no allocation: every ESP key fits a
/// [`Secret`]'s inline buffer) and wiped when dropped.
#[derive(Debug)]
pub struct EspKeys {
    /// Encryption key (empty for NULL).
    pub encryption: Secret,
    /// Integrity key (empty for no integrity).
    pub integrity: Secret,
}

impl EspKeys {
    /// Splits IKEv1 KEYMAT (RFC 2409 5.5, as expanded by the caller to at least the
    /// needed length): the encryption key first, then the authentication key. Extra
    /// bytes are ignored, as the RFC allows.
    pub fn from_keymat(
        keymat: &[u8],
        encryption: EncryptionAlgorithm,
        integrity: IntegrityAlgorithm,
    ) -> Result<Self, EspError> {
        let ek = encryption.key_len();
        let ak = integrity.key_len();
        let needed = ek.saturating_add(ak);
        let (enc, rest) = keymat
            .split_at_checked(ek)
            .ok_or(EspError::InvalidKeyLength {
                what: "KEYMAT",
                expected: needed,
                got: keymat.len(),
            })?;
        let auth = rest.get(..ak).ok_or(EspError::InvalidKeyLength {
            what: "KEYMAT",
            expected: needed,
            got: keymat.len(),
        })?;
        Ok(EspKeys {
            encryption: Secret::from_slice(enc),
            integrity: Secret::from_slice(auth),
        })
    }

    /// Keys given separately.
    pub fn new(encryption: &[u8], integrity: &[u8]) -> Self {
        EspKeys {
            encryption: Secret::from_slice(encryption),
            integrity: Secret::from_slice(integrity),
        }
    }
}

/// Everything needed to install one direction of an ESP SA.
#[derive(Debug)]
pub struct EspSaParams {
    /// The SPI (chosen by the receiver).
    pub spi: u32,
    /// Cipher.
    pub encryption: EncryptionAlgorithm,
    /// Integrity algorithm.
    pub integrity: IntegrityAlgorithm,
    /// Tunnel/transport, plain or in UDP.
    pub encapsulation: Encapsulation,
    /// Keys.
    pub keys: EspKeys,
    /// Anti-replay window in packets (inbound only; 0 disables anti-replay).
    pub replay_window: u32,
    /// Soft and hard lifetimes.
    pub lifetime: LifetimeConfig,
}

impl EspSaParams {
    /// Parameters with the default replay window (64) and no lifetime limits.
    pub fn new(
        spi: u32,
        encryption: EncryptionAlgorithm,
        integrity: IntegrityAlgorithm,
        encapsulation: Encapsulation,
        keys: EspKeys,
    ) -> Self {
        EspSaParams {
            spi,
            encryption,
            integrity,
            encapsulation,
            keys,
            replay_window: DEFAULT_WINDOW,
            lifetime: LifetimeConfig::unlimited(),
        }
    }

    /// Checks the combination and key lengths.
    pub fn validate(&self) -> Result<(), EspError> {
        if self.encryption == EncryptionAlgorithm::Null
            && self.integrity == IntegrityAlgorithm::None
        {
            return Err(EspError::NullWithoutIntegrity);
        }
        if self.keys.encryption.len() != self.encryption.key_len() {
            return Err(EspError::InvalidKeyLength {
                what: "encryption",
                expected: self.encryption.key_len(),
                got: self.keys.encryption.len(),
            });
        }
        if self.keys.integrity.len() != self.integrity.key_len() {
            return Err(EspError::InvalidKeyLength {
                what: "authentication",
                expected: self.integrity.key_len(),
                got: self.keys.integrity.len(),
            });
        }
        if self.replay_window > MAX_WINDOW {
            return Err(EspError::InvalidReplayWindow {
                size: self.replay_window,
                max: MAX_WINDOW,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What IKEv1 negotiates maps onto the ESP transform IDs and key lengths both ways;
    /// what a PIX does not negotiate (ESP_NULL, a Key Length on DES/3DES, an AES key
    /// length other than 128/192/256, an unknown HMAC) is refused.
    #[test]
    fn ike_transforms_round_trip() {
        use EncryptionAlgorithm as E;
        for e in [E::Des, E::TripleDes, E::Aes128, E::Aes192, E::Aes256] {
            let bits = e.key_length_attribute().map(u64::from);
            assert_eq!(E::from_ike_transform(e.transform_id(), bits), Some(e));
            assert_eq!(
                e.key_len(),
                E::from_transform(e.transform_id(), e.key_length_attribute())
                    .map(E::key_len)
                    .unwrap_or(0)
            );
            assert!(E::doi_name(e.transform_id()).is_some_and(|n| n.starts_with("ESP_")));
        }
        assert_eq!(E::from_ike_transform(E::ESP_AES, None), Some(E::Aes128));
        for (id, bits) in [
            (E::ESP_NULL, None),
            (E::ESP_DES, Some(64)),
            (E::ESP_3DES, Some(192)),
            (E::ESP_AES, Some(512)),
            (4, None),
        ] {
            assert_eq!(E::from_ike_transform(id, bits), None, "{id} {bits:?}");
        }
        assert_eq!(E::doi_name(4), None);
        use IntegrityAlgorithm as I;
        for i in [I::HmacMd5_96, I::HmacSha1_96] {
            let a = i.attribute().map(u64::from).unwrap_or(0);
            assert_eq!(I::from_ike_attribute(a), Some(i));
        }
        assert_eq!(I::from_ike_attribute(0), None);
        assert_eq!(I::from_ike_attribute(3), None);
    }
}
