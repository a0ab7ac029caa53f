//! Diffie-Hellman checks against num-bigint (an independent, variable-time reference):
//! the MODP primes rebuilt from their defining formula, their primality, and proptest
//! equality of our constant-time exponentiation with `BigUint::modpow` for every group.
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
