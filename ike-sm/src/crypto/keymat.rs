//! Phase-2 keying material (RFC 2409 section 5.5).
//!
//! ```text
//! KEYMAT = K1 | K2 | K3 ...
//!   K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//!   Kn = prf(SKEYID_d, K(n-1) | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)
//! ```
//! One KEYMAT per SPI, i.e. per direction: the SPI is the one chosen by the receiver of
//! that direction's traffic.

use super::hash::{HashAlg, PrfKey};
use super::phase1::{Skeyids, MAX_EXPANSION};
use crate::error::SmError;
use pix_primitives::Secret;

/// `K1 | K2 | ...` truncated to `len` bytes, with `K1 = prf(key, seed)` and
/// `Kn = prf(key, K(n-1) | seed)`; `seed` is the concatenation of `seed_parts`.
///
/// # Errors
/// [`SmError::OutputTooLong`] above [`MAX_EXPANSION`] bytes.
pub fn expand(
    hash: HashAlg,
    key: &[u8],
    seed_parts: &[&[u8]],
    len: usize,
) -> Result<Secret, SmError> {
    expand_keyed(&PrfKey::new(hash, key), hash, seed_parts, len)
}

/// [`expand`] under an already keyed PRF.
fn expand_keyed(
    prf: &PrfKey,
    hash: HashAlg,
    seed_parts: &[&[u8]],
    len: usize,
) -> Result<Secret, SmError> {
    if len > MAX_EXPANSION {
        return Err(SmError::OutputTooLong {
            what: "KEYMAT",
            requested: len,
            max: MAX_EXPANSION,
        });
    }
    let mut out = Secret::with_capacity(len.saturating_add(hash.output_len()));
    let mut block = prf.prf(seed_parts);
    loop {
        out.extend_from_slice(block.expose_secret());
        if out.len() >= len {
            break;
        }
        let next = {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(seed_parts.len().saturating_add(1));
            parts.push(block.expose_secret());
            parts.extend_from_slice(seed_parts);
            prf.prf(&parts)
        };
        block = next;
    }
    out.truncate(len);
    Ok(out)
}

impl Skeyids {
    /// KEYMAT for one SPI: `len` bytes (encryption key first, then the integrity key).
    ///
    /// `pfs_g_xy` is g(qm)^xy when Quick Mode carried KE payloads (PFS); `protocol` is the
    /// IPsec protocol ID (2 AH, 3 ESP, 4 IPCOMP); `spi` as carried in the proposal.
    ///
    /// # Errors
    /// [`SmError::OutputTooLong`] above [`MAX_EXPANSION`] bytes.
    pub fn keymat(
        &self,
        pfs_g_xy: Option<&[u8]>,
        protocol: u8,
        spi: &[u8],
        ni_b: &[u8],
        nr_b: &[u8],
        len: usize,
    ) -> Result<Secret, SmError> {
        let proto = [protocol];
        let seed: [&[u8]; 5] = [pfs_g_xy.unwrap_or_default(), &proto, spi, ni_b, nr_b];
        expand_keyed(self.keyed_d(), self.hash_alg(), &seed, len)
    }
}
