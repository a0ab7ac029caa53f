//! Phase-1 key derivation (RFC 2409 section 5 and Appendix B) and the phase-1
//! authentication hashes HASH_I / HASH_R (section 5.4, pre-shared keys).

use super::cipher::CipherAlg;
use super::hash::{HashAlg, PrfKey};
use crate::error::SmError;
use pix_primitives::Secret;

/// The most bytes [`expand_key`] and [`super::keymat::expand`] will produce (far above the
/// 32-byte AES-256 key plus 32-byte HMAC key that any suite here needs).
pub const MAX_EXPANSION: usize = 1024;

/// SKEYID for pre-shared key authentication: `prf(pre-shared-key, Ni_b | Nr_b)`.
///
/// `Ni_b`/`Nr_b` are the bodies of the nonce payloads (no generic header).
#[must_use]
pub fn skeyid_psk(hash: HashAlg, psk: &[u8], ni_b: &[u8], nr_b: &[u8]) -> Secret {
    hash.prf(psk, &[ni_b, nr_b])
}

/// SKEYID for signature authentication: `prf(Ni_b | Nr_b, g^xy)`.
#[must_use]
pub fn skeyid_signature(hash: HashAlg, ni_b: &[u8], nr_b: &[u8], g_xy: &[u8]) -> Secret {
    let key = Secret::new([ni_b, nr_b].concat());
    hash.prf(key.expose_secret(), &[g_xy])
}

/// The phase-1 keying state: SKEYID and the three keys derived from it.
///
/// ```text
/// SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
/// SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
/// SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
/// ```
///
/// The PRFs keyed with SKEYID, SKEYID_a and SKEYID_d are kept keyed (HMAC state after the
/// pads), since every later HASH and KEYMAT is a PRF under one of them.
#[derive(Debug)]
pub struct Skeyids {
    hash: HashAlg,
    skeyid: Secret,
    skeyid_d: Secret,
    skeyid_a: Secret,
    skeyid_e: Secret,
    prf_skeyid: PrfKey,
    prf_a: PrfKey,
    prf_d: PrfKey,
}

impl Skeyids {
    /// Derives SKEYID_d, SKEYID_a and SKEYID_e from SKEYID (see [`skeyid_psk`],
    /// [`skeyid_signature`]) and g^xy (modulus-length big-endian bytes).
    #[must_use]
    pub fn derive(
        hash: HashAlg,
        skeyid: Secret,
        g_xy: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
    ) -> Self {
        let prf_skeyid = PrfKey::new(hash, skeyid.expose_secret());
        let skeyid_d = prf_skeyid.prf(&[g_xy, cky_i, cky_r, &[0]]);
        let skeyid_a = prf_skeyid.prf(&[skeyid_d.expose_secret(), g_xy, cky_i, cky_r, &[1]]);
        let skeyid_e = prf_skeyid.prf(&[skeyid_a.expose_secret(), g_xy, cky_i, cky_r, &[2]]);
        let prf_a = PrfKey::new(hash, skeyid_a.expose_secret());
        let prf_d = PrfKey::new(hash, skeyid_d.expose_secret());
        Self {
            hash,
            skeyid,
            skeyid_d,
            skeyid_a,
            skeyid_e,
            prf_skeyid,
            prf_a,
            prf_d,
        }
    }

    /// The negotiated hash (whose HMAC is the PRF).
    #[must_use]
    pub fn hash_alg(&self) -> HashAlg {
        self.hash
    }

    /// The PRF keyed with SKEYID_a (HASH(1..3), Informational and Transaction HASH).
    pub(crate) fn keyed_a(&self) -> &PrfKey {
        &self.prf_a
    }

    /// The PRF keyed with SKEYID_d (KEYMAT).
    pub(crate) fn keyed_d(&self) -> &PrfKey {
        &self.prf_d
    }

    /// SKEYID.
    #[must_use]
    pub fn skeyid(&self) -> &Secret {
        &self.skeyid
    }

    /// SKEYID_d: keys phase 2 (KEYMAT).
    #[must_use]
    pub fn skeyid_d(&self) -> &Secret {
        &self.skeyid_d
    }

    /// SKEYID_a: authenticates ISAKMP messages after phase 1 (HASH(1)..(3), Informational).
    #[must_use]
    pub fn skeyid_a(&self) -> &Secret {
        &self.skeyid_a
    }

    /// SKEYID_e: the source of the ISAKMP encryption key.
    #[must_use]
    pub fn skeyid_e(&self) -> &Secret {
        &self.skeyid_e
    }

    /// The ISAKMP SA encryption key for `cipher`: the first `key_len` bytes of SKEYID_e,
    /// expanded per RFC 2409 Appendix B when SKEYID_e is shorter (e.g. 3DES with SHA-1).
    #[must_use]
    pub fn encryption_key(&self, cipher: CipherAlg) -> Secret {
        // key_len() <= 32 < MAX_EXPANSION, so this cannot fail.
        expand_key(self.hash, self.skeyid_e.expose_secret(), cipher.key_len()).unwrap_or_default()
    }

    /// HASH_I = `prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)`.
    ///
    /// `SAi_b` is the initiator's whole SA payload body (without the generic header),
    /// `IDii_b` the initiator's ID payload body.
    #[must_use]
    pub fn hash_i(
        &self,
        g_xi: &[u8],
        g_xr: &[u8],
        cky_i: &[u8; 8],
        cky_r: &[u8; 8],
        sai_b: &[u8],
        idii_b: &[u8],
    ) -> Vec<u8> {
        self.prf_skeyid
            .mac(&[g_xi, g_xr, cky_i, cky_r, sai_b, idii_b])
            .to_vec()
    }

    /// HASH_R = `prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)`.
    #[must_use]
    pub fn hash_r(
        &self,
        g_xr: &[u8],
        g_xi: &[u8],
        cky_r: &[u8; 8],
        cky_i: &[u8; 8],
        sai_b: &[u8],
        idir_b: &[u8],
    ) -> Vec<u8> {
        hash_r_with(&self.prf_skeyid, g_xr, g_xi, cky_r, cky_i, sai_b, idir_b)
    }
}

/// HASH_R = `prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)`, the one place
/// that says so. Also called with SKEYID alone, before g^xy (and so SKEYID_d/a/e) exists:
/// with pre-shared keys SKEYID does not depend on the shared secret, so an Aggressive
/// Mode responder answers AM1 and computes the agreement only when AM3 proves the peer's
/// address.
pub(crate) fn hash_r_with(
    prf_skeyid: &PrfKey,
    g_xr: &[u8],
    g_xi: &[u8],
    cky_r: &[u8; 8],
    cky_i: &[u8; 8],
    sai_b: &[u8],
    idir_b: &[u8],
) -> Vec<u8> {
    prf_skeyid
        .mac(&[g_xr, g_xi, cky_r, cky_i, sai_b, idir_b])
        .to_vec()
}

/// RFC 2409 Appendix B: the encryption key of `len` bytes from SKEYID_e. When SKEYID_e is
/// at least `len` bytes, its first `len` bytes; otherwise the first `len` bytes of
/// `K1 | K2 | ...` with `K1 = prf(SKEYID_e, 0)` and `Kn = prf(SKEYID_e, K(n-1))`.
///
/// # Errors
/// [`SmError::OutputTooLong`] above [`MAX_EXPANSION`] bytes.
pub fn expand_key(hash: HashAlg, skeyid_e: &[u8], len: usize) -> Result<Secret, SmError> {
    if len > MAX_EXPANSION {
        return Err(SmError::OutputTooLong {
            what: "encryption key (Appendix B)",
            requested: len,
            max: MAX_EXPANSION,
        });
    }
    if skeyid_e.len() >= len {
        return Ok(Secret::from_slice(skeyid_e.get(..len).unwrap_or_default()));
    }
    // Capacity for the whole output up front, so the buffer never reallocates (and never
    // leaves an unzeroized copy behind); `Secret` zeroizes it on drop.
    let mut acc = Secret::with_capacity(len.saturating_add(hash.output_len()));
    let prf = PrfKey::new(hash, skeyid_e);
    let mut block = prf.prf(&[&[0]]);
    loop {
        acc.extend_from_slice(block.expose_secret());
        if acc.len() >= len {
            break;
        }
        block = prf.prf(&[block.expose_secret()]);
    }
    acc.truncate(len);
    Ok(acc)
}
