//! Diffie-Hellman checks against num-bigint (an independent, variable-time reference):
//! the MODP primes rebuilt from their defining formula, their primality, proptest
//! equality of our constant-time exponentiation with `BigUint::modpow` for every group,
//! edge bases and exponents, algebraic identities, and fixed known answers for groups 2
//! and 14 (computed by CPython's `pow`).
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair, ALL_GROUPS, DEFAULT_EXPONENT_BITS};
use ike_sm::SmError;
use num_bigint::BigUint;
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};

fn big(b: &[u8]) -> BigUint {
    BigUint::from_bytes_be(b)
}

fn prime(g: DhGroup) -> BigUint {
    big(&g.prime_be())
}

/// `bytes` left-padded to `len`.
fn be(n: &BigUint, len: usize) -> Vec<u8> {
    let b = n.to_bytes_be();
    let mut out = vec![0u8; len - b.len()];
    out.extend_from_slice(&b);
    out
}

/// floor(pi * 2^bits), by Machin's formula in fixed point (64 guard bits).
fn pi_fixed(bits: u32) -> BigUint {
    let guard = bits + 64;
    let one = BigUint::from(1u8) << guard;
    let atan_inv = |x: u32| -> (BigUint, BigUint) {
        // returns (positive terms, negative terms) to stay unsigned
        let (mut pos, mut neg) = (BigUint::from(0u8), BigUint::from(0u8));
        let x2 = BigUint::from(x * x);
        let mut term = &one / BigUint::from(x);
        let mut n = 1u32;
        let mut plus = true;
        while term > BigUint::from(0u8) {
            let t = &term / BigUint::from(n);
            if plus {
                pos += t;
            } else {
                neg += t;
            }
            term /= &x2;
            n += 2;
            plus = !plus;
        }
        (pos, neg)
    };
    let (p5, n5) = atan_inv(5);
    let (p239, n239) = atan_inv(239);
    // pi = 16 atan(1/5) - 4 atan(1/239)
    let pi = BigUint::from(16u8) * (p5 - n5) - BigUint::from(4u8) * (p239 - n239);
    pi >> 64u32
}

/// RFC 2409 section 6 / RFC 3526: p = 2^n - 2^(n-64) - 1 + 2^64 * (floor(2^(n-130) pi) + k).
#[test]
fn primes_match_their_defining_formula() {
    for (g, k) in [
        (DhGroup::Modp768, 149_686u32),
        (DhGroup::Modp1024, 129_093),
        (DhGroup::Modp1536, 741_804),
        (DhGroup::Modp2048, 124_476),
    ] {
        let n = g.modulus_bits();
        let one = BigUint::from(1u8);
        let p = (&one << n) - (&one << (n - 64)) - &one
            + ((pi_fixed(n - 130) + BigUint::from(k)) << 64u32);
        assert_eq!(p, prime(g), "group {}", g.attribute());
        assert_eq!(p.bits(), u64::from(n));
        assert!(g
            .prime_hex()
            .starts_with("FFFFFFFFFFFFFFFFC90FDAA22168C234"));
        assert!(g.prime_hex().ends_with("FFFFFFFFFFFFFFFF"));
    }
}

/// Miller-Rabin with fixed bases (a probable-prime test; a composite passes all these
/// bases with negligible probability).
fn miller_rabin(n: &BigUint, bases: &[u32]) -> bool {
    let one = BigUint::from(1u8);
    let n1 = n - &one;
    let s = n1.trailing_zeros().unwrap();
    let d = &n1 >> s;
    'outer: for &a in bases {
        let mut x = BigUint::from(a).modpow(&d, n);
        if x == one || x == n1 {
            continue;
        }
        for _ in 1..s {
            x = x.modpow(&BigUint::from(2u8), n);
            if x == n1 {
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// q = (p-1)/2 is a probable prime (Miller-Rabin); then p is prime by Pocklington's
/// criterion (q | p-1, q > sqrt(p) - 1, 2^(p-1) = 1 mod p, gcd(2^2 - 1, p) = 1), and 2
/// generates the subgroup of order q.
#[test]
fn primes_are_safe_primes() {
    for g in ALL_GROUPS {
        let p = prime(g);
        let one = BigUint::from(1u8);
        let q = (&p - &one) >> 1u32;
        assert!(
            miller_rabin(&q, &[2, 3, 5, 7]),
            "q of group {}",
            g.attribute()
        );
        let two = BigUint::from(2u8);
        assert_eq!(
            two.modpow(&(&p - &one), &p),
            one,
            "Fermat base 2, group {}",
            g.attribute()
        );
        assert_ne!(&p % BigUint::from(3u8), BigUint::from(0u8));
        assert_eq!(two.modpow(&q, &p), one, "2 has order q");
        // ... and our own exponentiation agrees.
        let r = g.modexp(&[2], &q.to_bytes_be(), g.modulus_bits()).unwrap();
        assert_eq!(big(r.expose_secret()), one);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Our constant-time modexp equals num-bigint's modpow, for random bases (including
    /// bases >= p) and exponents, at full width and at a random bound, in every group.
    #[test]
    fn modexp_equals_num_bigint(
        seed in any::<[u8; 32]>(),
        bounded in any::<bool>(),
        bits_pick in 1u32..2048,
    ) {
        let mut rng = StdRng::from_seed(seed);
        for g in ALL_GROUPS {
            let len = g.modulus_len();
            let mut base = vec![0u8; len];
            let mut exp = vec![0u8; len];
            rand_core::Rng::fill_bytes(&mut rng, &mut base);
            rand_core::Rng::fill_bytes(&mut rng, &mut exp);
            let bits = if bounded { 1 + bits_pick % g.modulus_bits() } else { g.modulus_bits() };
            let got = g.modexp(&base, &exp, bits).unwrap();
            let mask = (BigUint::from(1u8) << bits) - BigUint::from(1u8);
            let want = big(&base).modpow(&(big(&exp) & mask), &prime(g));
            prop_assert_eq!(got.expose_secret(), &be(&want, len)[..], "group {}", g.attribute());
        }
    }

    /// The generator 2 takes the square-and-double ladder: same results as num-bigint,
    /// whether the base is given as one byte or left-padded, at any exponent bound.
    #[test]
    fn generator_ladder_equals_num_bigint(
        seed in any::<[u8; 32]>(),
        bits_pick in 1u32..2048,
        pad in 0usize..8,
    ) {
        let mut rng = StdRng::from_seed(seed);
        for g in ALL_GROUPS {
            let len = g.modulus_len();
            let mut exp = vec![0u8; len];
            rand_core::Rng::fill_bytes(&mut rng, &mut exp);
            let bits = 1 + bits_pick % g.modulus_bits();
            let mut base = vec![0u8; pad];
            base.push(2);
            let got = g.modexp(&base, &exp, bits).unwrap();
            let mask = (BigUint::from(1u8) << bits) - BigUint::from(1u8);
            let want = BigUint::from(2u8).modpow(&(big(&exp) & mask), &prime(g));
            prop_assert_eq!(got.expose_secret(), &be(&want, len)[..], "group {}", g.attribute());
            // ... and the general path on base 4 = 2^2 agrees: 4^e = 2^(2e).
            let four = g.modexp(&[4], &exp, bits).unwrap();
            let sq = g.modexp(got.expose_secret(), &[2], 2).unwrap();
            prop_assert_eq!(four.expose_secret(), sq.expose_secret());
        }
    }

    /// Short inputs are left-padded; an over-long one is refused.
    #[test]
    fn modexp_short_inputs(
        base in prop::collection::vec(any::<u8>(), 1..40),
        exp in prop::collection::vec(any::<u8>(), 1..40),
    ) {
        for g in ALL_GROUPS {
            let got = g.modexp(&base, &exp, g.modulus_bits()).unwrap();
            let want = big(&base).modpow(&big(&exp), &prime(g));
            prop_assert_eq!(got.expose_secret(), &be(&want, g.modulus_len())[..]);
            prop_assert!(g.modexp(&vec![1; g.modulus_len() + 1], &exp, 8).is_none());
        }
    }
}

#[test]
fn key_agreement_full_and_bounded() {
    let mut rng = StdRng::seed_from_u64(0x1ce5);
    for g in ALL_GROUPS {
        for (a_size, b_size) in [
            (ExponentSize::Full, ExponentSize::Full),
            (ExponentSize::default(), ExponentSize::Full),
            (
                ExponentSize::Bits(DEFAULT_EXPONENT_BITS),
                ExponentSize::Bits(512),
            ),
        ] {
            let a = KeyPair::generate(g, a_size, &mut rng).unwrap();
            let b = KeyPair::generate(g, b_size, &mut rng).unwrap();
            assert_eq!(a.public_value().len(), g.modulus_len());
            g.validate_public_value(a.public_value()).unwrap();
            let s1 = a.agree(b.public_value()).unwrap();
            let s2 = b.agree(a.public_value()).unwrap();
            assert_eq!(s1.len(), g.modulus_len());
            assert!(s1.ct_eq(s2.expose_secret()), "group {}", g.attribute());
            assert_ne!(a.public_value(), b.public_value());
            // Bad peer values are refused, never computed with.
            assert_eq!(
                a.agree(&be(&BigUint::from(1u8), g.modulus_len())).err(),
                Some(SmError::PublicValueRange {
                    group: g.attribute()
                })
            );
            assert!(a.agree(&b.public_value()[1..]).is_err());
        }
    }
}

#[test]
fn same_seed_same_keys() {
    for size in [ExponentSize::Full, ExponentSize::default()] {
        let a = KeyPair::generate(DhGroup::Modp1024, size, &mut StdRng::seed_from_u64(7)).unwrap();
        let b = KeyPair::generate(DhGroup::Modp1024, size, &mut StdRng::seed_from_u64(7)).unwrap();
        let c = KeyPair::generate(DhGroup::Modp1024, size, &mut StdRng::seed_from_u64(8)).unwrap();
        assert_eq!(a.public_value(), b.public_value());
        assert_ne!(a.public_value(), c.public_value());
    }
}

#[test]
fn known_exponent_public_values_match_num_bigint() {
    let mut rng = StdRng::seed_from_u64(99);
    for g in ALL_GROUPS {
        let mut x = vec![0u8; g.modulus_len()];
        rand_core::Rng::fill_bytes(&mut rng, &mut x[1..]);
        let full = KeyPair::from_private_exponent(g, &x, ExponentSize::Full).unwrap();
        let want = BigUint::from(2u8).modpow(&big(&x), &prime(g));
        assert_eq!(full.public_value(), &be(&want, g.modulus_len())[..]);
        // Bounded: only the low 256 bits of the exponent count.
        let bounded = KeyPair::from_private_exponent(g, &x, ExponentSize::Bits(256)).unwrap();
        let low = big(&x) & ((BigUint::from(1u8) << 256u32) - BigUint::from(1u8));
        let want = BigUint::from(2u8).modpow(&low, &prime(g));
        assert_eq!(bounded.public_value(), &be(&want, g.modulus_len())[..]);
        assert_eq!(bounded.exponent_bits(), 256);
        let dbg = format!("{bounded:?}");
        assert!(dbg.contains("<redacted>") && !dbg.contains(&hex::encode(&x[..8])));
    }
}

#[test]
fn bounded_exponents_really_are_bounded() {
    // A generated Bits(160) key is 2^x with x the first 20 bytes of the RNG stream: replay
    // the same stream to rebuild x and compare public values.
    let seed = [5u8; 32];
    let k = KeyPair::generate(
        DhGroup::Modp768,
        ExponentSize::Bits(160),
        &mut StdRng::from_seed(seed),
    )
    .unwrap();
    let mut r = StdRng::from_seed(seed);
    let mut x = vec![0u8; 20];
    rand_core::Rng::fill_bytes(&mut r, &mut x);
    let want = BigUint::from(2u8).modpow(&big(&x), &prime(DhGroup::Modp768));
    assert_eq!(k.public_value(), &be(&want, 96)[..]);
    assert_eq!(k.exponent_bits(), 160);
}

// Known answers for groups 2 and 14, computed by CPython's built-in three-argument
// `pow` (an implementation independent of ours and of num-bigint) with
//   x = int.from_bytes(sha256(b"pix-ipsec modp kat x").digest(), "big")           (256 bits)
//   b = int.from_bytes(sha256(b"pix-ipsec modp kat y").digest() * (len // 32), "big")
// (b < p for both primes; `len` is the modulus length in bytes): `2^x mod p`, `b^x mod p`.
const KAT_G2_2X: &str = concat!(
    "FC912A38F8A752FF12C2CC2FBD2F5957D525EA69D48F210F4269268B5D661E85",
    "FBC21E8446701A9173128373666339CA71B8830662A984CBA158BC3BD9D75AFE",
    "AD3D4C28CA4B1D279C1DE54A31D90BF6A2550858107C7CDB48DCF97CE27D3873",
    "E254B5877B3D49690E2096A5F690D529C47AE678A1BB3A16B339CF5649A41187",
);
const KAT_G2_BX: &str = concat!(
    "8ACBC8A786B73CFA6B2E71384F1DAD0ABAA0A4BDC3A034A7C12A124EE9266D8B",
    "8F71BE9E783962BB7C9BD489E9F9694C5D6019C4FB39F9179E8D51A217955D9A",
    "59098887FAC3556A72E3F7454301059849741B559F0B89E5885B392117300D0D",
    "F455E27BC24609336E1DD7663D3B4171F82D8B00A6FD013489F2AC912FF0CAE0",
);
const KAT_G14_2X: &str = concat!(
    "09BED971ED61B91C3D610B3AEBEC626B49420AF6DA661EF97481896E7E623FBE",
    "458AAA36844CCFDF50DBF99D56F6A3C9CBE8A38E94792BA0970BBB200FF3FD0C",
    "E030D80A6CB719DCEC9CEBB20D0C7EE213E467BC3892B7ACCA592FDF248AB7A0",
    "CA96B1767422083A0232F53BCD48DEF69201EEF6FADB4117A6F78942602AD4B6",
    "06AE12194F5ECA3463999B5C41CBA72030611A96EB7C5B48BDF792DCF6AD7D5D",
    "4385AF57C8F2E4997E70668A408F269BA1FC7924B54D1BDC2A1B8FE28CA911F8",
    "0427DF12B6D296C9CD0C2F109662CFF504CCCC6086DFC6D506D6F03642EDB6B3",
    "D228FEAB9ED8DD07FF1FEF51575ADE6781F6CF282FB1E788DA3FBE84A2137443",
);
const KAT_G14_BX: &str = concat!(
    "E8F17A7B344DBD66EA0D2C0E87C20A87BF0EDCE3ADBF784A4F9D2F39A1987FC3",
    "19952E86460448C42E1845938CE923BB41FDFA36DE00F977207AA5233B34519A",
    "1003229CE0FBEB8FBDF64E522FF8A4CD67FE6489A679EC076BE69A359DD6D644",
    "9ACC3C3D2790174D8DE081E3E6ED2950143801E7C72AC586D447DC16EF3F34BC",
    "144D2EF1F05921A1D8E0436C66E0C95B23BBAF4378785ED6871441775BDF9D28",
    "14B444200DBB1B90F0549E4AC96490A4EB411940C8B1C04F6A402D8220F31C79",
    "AA9065BD368FC314883F90FE8F93B6D91A0F9375FDF9168DA3C3A7B6F89FFD5C",
    "FDF3D88FC13594A0CD995ACB3796B2954A13090BE2BF7D0425BE412159435CD7",
);

/// The fixed vectors above, through the general path, the generator-2 path and
/// `KeyPair` (256-bit bounded and full-size exponent), and num-bigint agrees with them.
#[test]
fn known_answers_groups_2_and_14() {
    use sha2::{Digest, Sha256};
    for (g, want_2x, want_bx) in [
        (DhGroup::Modp1024, KAT_G2_2X, KAT_G2_BX),
        (DhGroup::Modp2048, KAT_G14_2X, KAT_G14_BX),
    ] {
        let len = g.modulus_len();
        let x = Sha256::digest(b"pix-ipsec modp kat x").to_vec();
        let b = Sha256::digest(b"pix-ipsec modp kat y").repeat(len / 32);
        let (want_2x, want_bx) = (hex::decode(want_2x).unwrap(), hex::decode(want_bx).unwrap());
        assert_eq!(
            be(&BigUint::from(2u8).modpow(&big(&x), &prime(g)), len),
            want_2x
        );
        assert_eq!(be(&big(&b).modpow(&big(&x), &prime(g)), len), want_bx);
        for bits in [256, g.modulus_bits()] {
            assert_eq!(
                g.modexp(&[2], &x, bits).unwrap().expose_secret(),
                &want_2x[..]
            );
            assert_eq!(
                g.modexp(&b, &x, bits).unwrap().expose_secret(),
                &want_bx[..]
            );
        }
        for size in [ExponentSize::Bits(256), ExponentSize::Full] {
            let k = KeyPair::from_private_exponent(g, &x, size).unwrap();
            assert_eq!(k.public_value(), &want_2x[..]);
            assert_eq!(k.agree(&b).unwrap().expose_secret(), &want_bx[..]);
        }
    }
}

/// Edge values in every group: bases 0, 1, p-1, p, p+1 and all ones (>= p: reduced),
/// exponents 0, 1, 2, all ones; 2^x 2^y = 2^(x+y) and (b^x)^y = (b^y)^x.
#[test]
fn edge_bases_exponents_and_identities() {
    for g in ALL_GROUPS {
        let len = g.modulus_len();
        let n = g.modulus_bits();
        let p = prime(g);
        let one = BigUint::from(1u8);
        let bases = [
            BigUint::from(0u8),
            one.clone(),
            &p - &one,
            p.clone(),
            &p + &one,
            (&one << n) - &one,
        ];
        let exps = [
            BigUint::from(0u8),
            one.clone(),
            BigUint::from(2u8),
            (&one << n) - &one,
            (&one << 256u32) - &one,
        ];
        for b in &bases {
            for (i, e) in exps.iter().enumerate() {
                // Full-width runs (slow in a debug build) for the all-ones exponent only.
                let bit_list: &[u32] = if i == 3 {
                    &[0, 1, 257, n - 1, n]
                } else {
                    &[0, 1, 2, 257]
                };
                for &bits in bit_list {
                    let got = g.modexp(&be(b, len), &be(e, len), bits).unwrap();
                    let e_used = e & ((&one << bits) - &one);
                    let want = b.modpow(&e_used, &p);
                    assert_eq!(
                        big(got.expose_secret()),
                        want,
                        "group {} bits {bits}",
                        g.attribute()
                    );
                }
            }
        }
        // 2^x 2^y = 2^(x+y), with x + y < 2^n.
        let mut rng = StdRng::seed_from_u64(u64::from(g.attribute()));
        let mut x = vec![0u8; len];
        let mut y = vec![0u8; len];
        rand_core::Rng::fill_bytes(&mut rng, &mut x[1..]);
        rand_core::Rng::fill_bytes(&mut rng, &mut y[1..]);
        let gx = big(g.modexp(&[2], &x, n).unwrap().expose_secret());
        let gy = big(g.modexp(&[2], &y, n).unwrap().expose_secret());
        let sum = be(&(big(&x) + big(&y)), len);
        let gxy = big(g.modexp(&[2], &sum, n).unwrap().expose_secret());
        assert_eq!((gx * gy) % &p, gxy);
        // (b^x)^y = (b^y)^x on the general path.
        let b = be(&(&p - BigUint::from(12345u32)), len);
        let bx = g.modexp(&b, &x, n).unwrap();
        let by = g.modexp(&b, &y, n).unwrap();
        let bxy = g.modexp(bx.expose_secret(), &y, n).unwrap();
        let byx = g.modexp(by.expose_secret(), &x, n).unwrap();
        assert_eq!(bxy.expose_secret(), byx.expose_secret());
    }
}
