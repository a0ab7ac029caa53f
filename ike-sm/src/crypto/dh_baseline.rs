//! The previous Diffie-Hellman exponentiation (crypto-bigint's `FixedMontyForm`, a
//! constant-time windowed `pow_bounded_exp`, and a square-and-double ladder for the
//! generator 2), kept only as the same-run "before" baseline of
//! `benches/benches/ike_crypto.rs`. Nothing in the crate uses it: [`super::dh`] runs on
//! the crate's own `crypto::monty`. Delete it (and the crypto-bigint dependency) once that comparison is
//! no longer wanted.

use super::dh::DhGroup;
use super::modp::{MODP_1024_HEX, MODP_1536_HEX, MODP_2048_HEX, MODP_768_HEX};
use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, Uint, U1024, U1536, U2048, U768};
use pix_primitives::Secret;
use zeroize::{Zeroize, Zeroizing};

static PARAMS_768: FixedMontyParams<{ U768::LIMBS }> =
    FixedMontyParams::new_vartime(Odd::<U768>::from_be_hex(MODP_768_HEX));
static PARAMS_1024: FixedMontyParams<{ U1024::LIMBS }> =
    FixedMontyParams::new_vartime(Odd::<U1024>::from_be_hex(MODP_1024_HEX));
static PARAMS_1536: FixedMontyParams<{ U1536::LIMBS }> =
    FixedMontyParams::new_vartime(Odd::<U1536>::from_be_hex(MODP_1536_HEX));
static PARAMS_2048: FixedMontyParams<{ U2048::LIMBS }> =
    FixedMontyParams::new_vartime(Odd::<U2048>::from_be_hex(MODP_2048_HEX));

/// [`DhGroup::modexp`] as it was computed before (same contract: big-endian inputs of at
/// most `modulus_len` bytes, the low `exponent_bits` bits of the exponent, `None` for
/// over-long inputs).
#[must_use]
pub fn modexp(group: DhGroup, base: &[u8], exponent: &[u8], exponent_bits: u32) -> Option<Secret> {
    let len = group.modulus_len();
    if base.len() > len || exponent.len() > len || exponent_bits > group.modulus_bits() {
        return None;
    }
    let b = left_pad(base, len)?;
    let e = left_pad(exponent, len)?;
    let two = base.iter().rev().skip(1).all(|&x| x == 0) && base.last() == Some(&2);
    Some(match (group, two) {
        (DhGroup::Modp768, true) => pow2_be(&PARAMS_768, &e, exponent_bits),
        (DhGroup::Modp1024, true) => pow2_be(&PARAMS_1024, &e, exponent_bits),
        (DhGroup::Modp1536, true) => pow2_be(&PARAMS_1536, &e, exponent_bits),
        (DhGroup::Modp2048, true) => pow2_be(&PARAMS_2048, &e, exponent_bits),
        (DhGroup::Modp768, false) => pow_be(&PARAMS_768, &b, &e, exponent_bits),
        (DhGroup::Modp1024, false) => pow_be(&PARAMS_1024, &b, &e, exponent_bits),
        (DhGroup::Modp1536, false) => pow_be(&PARAMS_1536, &b, &e, exponent_bits),
        (DhGroup::Modp2048, false) => pow_be(&PARAMS_2048, &b, &e, exponent_bits),
    })
}

fn left_pad(v: &[u8], len: usize) -> Option<Zeroizing<Vec<u8>>> {
    let start = len.checked_sub(v.len())?;
    let mut out = Zeroizing::new(vec![0u8; len]);
    out.get_mut(start..)?.copy_from_slice(v);
    Some(out)
}

fn pow_be<const L: usize>(
    params: &FixedMontyParams<L>,
    base: &[u8],
    exp: &[u8],
    bits: u32,
) -> Secret {
    let mut b = Uint::<L>::from_be_slice(base);
    let mut e = Uint::<L>::from_be_slice(exp);
    let mut m = FixedMontyForm::new(&b, params);
    let mut r = m.pow_bounded_exp(&e, bits);
    let mut out = r.retrieve();
    let mut enc = out.to_be_bytes();
    let secret = Secret::from_slice(enc.as_slice());
    enc.zeroize();
    out.zeroize();
    r.zeroize();
    m.zeroize();
    e.zeroize();
    b.zeroize();
    secret
}

fn pow2_be<const L: usize>(params: &FixedMontyParams<L>, exp: &[u8], bits: u32) -> Secret {
    use crypto_bigint::ctutils::CtAssign;
    let mut e = Uint::<L>::from_be_slice(exp);
    let mut z = FixedMontyForm::one(params);
    let mut i = bits.min(Uint::<L>::BITS);
    while i > 0 {
        i = i.saturating_sub(1);
        z = z.square();
        let mut doubled = z.double();
        z.ct_assign(&doubled, e.bit(i));
        doubled.zeroize();
    }
    let mut out = z.retrieve();
    let mut enc = out.to_be_bytes();
    let secret = Secret::from_slice(enc.as_slice());
    enc.zeroize();
    out.zeroize();
    z.zeroize();
    e.zeroize();
    secret
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dh::ALL_GROUPS;

    #[test]
    fn baseline_equals_the_new_exponentiation() {
        for g in ALL_GROUPS {
            let len = g.modulus_len();
            let exp: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let base: Vec<u8> = (0..len).map(|i| (i * 91 + 5) as u8).collect();
            for bits in [0, 9, 256, g.modulus_bits()] {
                for b in [&base[..], &[2u8][..]] {
                    let old = modexp(g, b, &exp, bits).unwrap();
                    let new = g.modexp(b, &exp, bits).unwrap();
                    assert_eq!(old.expose_secret(), new.expose_secret(), "{bits}");
                }
            }
        }
    }
}
