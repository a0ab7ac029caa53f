//! The `fuzzing` feature (no-security DH for the fuzz target) is off in a normal build, and
//! when it is on, both sides of a key exchange still agree.

use ike_sm::crypto::dh::{ExponentSize, KeyPair, INSECURE_FUZZING_CRYPTO};

#[cfg(not(feature = "fuzzing"))]
#[test]
fn normal_builds_do_real_diffie_hellman() {
    const { assert!(!INSECURE_FUZZING_CRYPTO) };
    // g^x with x = 2..: the public value of exponent 3 in any MODP group is 8, not 3.
    let kp = KeyPair::from_private_exponent(
        ike_sm::crypto::dh::DhGroup::Modp768,
        &[3],
        ExponentSize::Bits(160),
    )
    .expect("exponent 3");
    let public = kp.public_value();
    assert_eq!(public.last(), Some(&8));
    assert!(public.iter().rev().skip(1).all(|&b| b == 0));
    // And the shared secret is (g^y)^x, not an XOR of exponents.
    let other = KeyPair::from_private_exponent(
        ike_sm::crypto::dh::DhGroup::Modp768,
        &[5],
        ExponentSize::Bits(160),
    )
    .expect("exponent 5");
    let s = kp.agree(other.public_value()).expect("agree");
    // 2^15 = 32768 = 0x8000.
    let s = s.expose_secret();
    assert_eq!(&s[s.len() - 2..], &[0x80, 0x00]);
}

#[cfg(feature = "fuzzing")]
#[test]
fn fuzzing_builds_say_so_and_still_agree() {
    const { assert!(INSECURE_FUZZING_CRYPTO) };
    for g in ike_sm::crypto::dh::ALL_GROUPS {
        let a = KeyPair::from_private_exponent(g, &[3], ExponentSize::Full).expect("a");
        let b = KeyPair::from_private_exponent(g, &[5], ExponentSize::Full).expect("b");
        let ab = a.agree(b.public_value()).expect("ab");
        let ba = b.agree(a.public_value()).expect("ba");
        assert_eq!(ab.expose_secret(), ba.expose_secret());
    }
}
