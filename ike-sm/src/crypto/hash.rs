//! The negotiated hash and its HMAC PRF (RFC 2409 section 5: `prf` is the HMAC
//! version of the negotiated hash when no PRF attribute is given).

use crate::error::SmError;
use hmac::{Hmac, KeyInit, Mac};
use pix_primitives::Secret;

/// Phase-1 `Hash Algorithm` (RFC 2409 Appendix A, class 2; SHA2-256 from RFC 4868).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlg {
    /// MD5 (attribute value 1); PRF = HMAC-MD5.
    Md5,
    /// SHA-1 (attribute value 2); PRF = HMAC-SHA1.
    Sha1,
    /// SHA2-256 (attribute value 4); PRF = HMAC-SHA2-256.
    Sha256,
}

impl HashAlg {
    /// From the phase-1 `Hash Algorithm` attribute value.
    ///
    /// # Errors
    /// [`SmError::UnsupportedHash`] for anything but 1, 2 and 4.
    pub fn from_attribute(value: u16) -> Result<Self, SmError> {
        match value {
            1 => Ok(Self::Md5),
            2 => Ok(Self::Sha1),
            4 => Ok(Self::Sha256),
            other => Err(SmError::UnsupportedHash(other)),
        }
    }

    /// The phase-1 `Hash Algorithm` attribute value.
    #[must_use]
    pub fn attribute(self) -> u16 {
        match self {
            Self::Md5 => 1,
            Self::Sha1 => 2,
            Self::Sha256 => 4,
        }
    }

    /// Output length in bytes (also the PRF output length).
    #[must_use]
    pub fn output_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    /// `hash(parts[0] | parts[1] | ...)`.
    #[must_use]
    pub fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        self.digest(parts).to_vec()
    }

    /// [`HashAlg::hash`] on the stack, without allocating.
    #[must_use]
    pub(crate) fn digest(self, parts: &[&[u8]]) -> Digest {
        match self {
            Self::Md5 => hash_with::<md5::Md5>(parts),
            Self::Sha1 => hash_with::<sha1::Sha1>(parts),
            Self::Sha256 => hash_with::<sha2::Sha256>(parts),
        }
    }

    /// `prf(key, parts[0] | parts[1] | ...)` = HMAC of the negotiated hash. Keys of any
    /// length are accepted (a key longer than the hash block is hashed first, RFC 2104).
    #[must_use]
    pub fn prf(self, key: &[u8], parts: &[&[u8]]) -> Secret {
        let d = match self {
            Self::Md5 => hmac_with::<md5::Md5>(key, parts),
            Self::Sha1 => hmac_with::<sha1::Sha1>(key, parts),
            Self::Sha256 => hmac_with::<sha2::Sha256>(key, parts),
        };
        Secret::from_slice(&d)
    }
}

/// A PRF key with its HMAC state keyed once (RFC 2104: the inner and outer pads are
/// hashed when the key is set). Every `prf(key, ...)` under a long-lived key (SKEYID,
/// SKEYID_a, SKEYID_d) clones this state instead of re-keying, which saves two
/// compression-function calls per PRF.
///
/// The keyed state is key-equivalent: the hash cores zeroize on drop (the `zeroize`
/// feature of `md-5`/`sha1`/`sha2`), there is no `Clone` outside the crate, and `Debug`
/// prints nothing of it.
#[derive(Clone)]
pub(crate) enum PrfKey {
    Md5(Hmac<md5::Md5>),
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
}

impl core::fmt::Debug for PrfKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PrfKey(<redacted>)")
    }
}

impl PrfKey {
    /// Keys the HMAC of `alg` with `key` (any length).
    pub(crate) fn new(alg: HashAlg, key: &[u8]) -> Self {
        match alg {
            HashAlg::Md5 => Self::Md5(keyed::<md5::Md5>(key)),
            HashAlg::Sha1 => Self::Sha1(keyed::<sha1::Sha1>(key)),
            HashAlg::Sha256 => Self::Sha256(keyed::<sha2::Sha256>(key)),
        }
    }

    /// `prf(key, parts[0] | parts[1] | ...)` as a secret.
    pub(crate) fn prf(&self, parts: &[&[u8]]) -> Secret {
        Secret::from_slice(&self.mac(parts))
    }

    /// `prf(key, parts[0] | parts[1] | ...)` as plain bytes (for the HASH payloads, which
    /// are sent in the clear anyway). On the stack; the copy on it is wiped on drop,
    /// since the same call derives keys through [`PrfKey::prf`].
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> Digest {
        match self {
            Self::Md5(m) => finish(m.clone(), parts),
            Self::Sha1(m) => finish(m.clone(), parts),
            Self::Sha256(m) => finish(m.clone(), parts),
        }
    }
}

fn keyed<D>(key: &[u8]) -> Hmac<D>
where
    D: hmac::EagerHash,
    Hmac<D>: KeyInit + Mac,
{
    // HMAC accepts keys of any length: `new_from_slice` never fails (hmac 0.13 source).
    match <Hmac<D> as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => <Hmac<D> as KeyInit>::new(&Default::default()),
    }
}

/// A hash or PRF output (at most 32 bytes, SHA2-256) on the stack: the per-message
/// HASH payloads, IVs and retransmission digests never touch the heap. Wiped on drop (a
/// PRF output may be key material before it becomes a [`Secret`]).
#[derive(Clone)]
pub(crate) struct Digest {
    bytes: [u8; 32],
    len: usize,
}

impl Digest {
    fn new(out: &[u8]) -> Self {
        let mut bytes = [0u8; 32];
        let len = out.len().min(32);
        if let (Some(d), Some(s)) = (bytes.get_mut(..len), out.get(..len)) {
            d.copy_from_slice(s);
        }
        Self { bytes, len }
    }
}

impl Drop for Digest {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bytes);
    }
}

impl core::ops::Deref for Digest {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl PartialEq for Digest {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl core::fmt::Debug for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Digest(<{} bytes>)", self.len)
    }
}

fn finish<M: Mac>(mut m: M, parts: &[&[u8]]) -> Digest {
    for p in parts {
        Mac::update(&mut m, p);
    }
    let mut out = m.finalize().into_bytes();
    let d = Digest::new(&out);
    zeroize::Zeroize::zeroize(out.as_mut_slice());
    d
}

fn hash_with<D: digest::Digest>(parts: &[&[u8]]) -> Digest {
    let mut d = D::new();
    for p in parts {
        d.update(p);
    }
    Digest::new(&d.finalize())
}

fn hmac_with<D>(key: &[u8], parts: &[&[u8]]) -> Digest
where
    D: hmac::EagerHash,
    Hmac<D>: KeyInit + Mac,
{
    finish(keyed::<D>(key), parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        for h in [HashAlg::Md5, HashAlg::Sha1, HashAlg::Sha256] {
            assert_eq!(HashAlg::from_attribute(h.attribute()), Ok(h));
            assert_eq!(h.hash(&[b"x"]).len(), h.output_len());
            assert_eq!(h.prf(b"k", &[b"x"]).len(), h.output_len());
        }
        assert_eq!(HashAlg::from_attribute(3), Err(SmError::UnsupportedHash(3)));
    }

    // RFC 2202 test case 2 ("Jefe"), split across parts to check concatenation.
    #[test]
    fn rfc2202_case2() {
        let md5 = HashAlg::Md5.prf(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(
            md5.expose_secret(),
            &hex("750c783e6ab0b503eaa86e310a5db738")[..]
        );
        let sha = HashAlg::Sha1.prf(b"Jefe", &[b"what do ya want ", b"", b"for nothing?"]);
        assert_eq!(
            sha.expose_secret(),
            &hex("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")[..]
        );
        // RFC 4231 test case 2
        let s256 = HashAlg::Sha256.prf(b"Jefe", &[b"what do ya want for nothing?"]);
        assert_eq!(
            s256.expose_secret(),
            &hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")[..]
        );
    }

    #[test]
    fn plain_hashes() {
        assert_eq!(
            HashAlg::Md5.hash(&[b"a", b"bc"]),
            hex("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            HashAlg::Sha1.hash(&[b"ab", b"c"]),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
    }

    #[test]
    fn keyed_prf_matches_prf() {
        for h in [HashAlg::Md5, HashAlg::Sha1, HashAlg::Sha256] {
            for key in [&b"k"[..], &[7u8; 65][..], &[9u8; 200][..]] {
                let k = PrfKey::new(h, key);
                for _ in 0..2 {
                    let want = h.prf(key, &[b"ab", b"", b"cdef"]);
                    assert!(k.prf(&[b"abc", b"def"]).ct_eq(want.expose_secret()));
                    assert_eq!(&*k.mac(&[b"abcdef"]), want.expose_secret());
                }
            }
            assert_eq!(
                format!("{:?}", PrfKey::new(h, b"secret")),
                "PrfKey(<redacted>)"
            );
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        ::hex::decode(s).unwrap()
    }
}
