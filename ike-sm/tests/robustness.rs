//! Untrusted input never panics: arbitrary bytes and lengths through every entry point
//! that peer data reaches (public values, ciphertext bodies, IV chains, attribute numbers).
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

use ike_sm::crypto::cipher::{CipherAlg, IkeCipher};
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair, ALL_GROUPS};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::iv::{Iv, IvChain};
use ike_sm::Secret;
use ike_sm::SmError;
use proptest::prelude::*;

const CIPHERS: [CipherAlg; 5] = [
    CipherAlg::Des,
    CipherAlg::TripleDes,
    CipherAlg::Aes128,
    CipherAlg::Aes192,
    CipherAlg::Aes256,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn attribute_numbers(v in any::<u16>(), k in proptest::option::of(any::<u16>())) {
        let _ = DhGroup::from_attribute(v);
        let _ = HashAlg::from_attribute(v);
        if let Ok(c) = CipherAlg::from_attributes(v, k) {
            prop_assert_eq!(CipherAlg::from_attributes(c.attribute(), c.key_length_attribute()), Ok(c));
        }
    }

    #[test]
    fn public_values(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        for g in ALL_GROUPS {
            match g.validate_public_value(&bytes) {
                Ok(()) => prop_assert_eq!(bytes.len(), g.modulus_len()),
                Err(SmError::PublicValueLength { got, .. }) => prop_assert_eq!(got, bytes.len()),
                Err(SmError::PublicValueRange { group }) => prop_assert_eq!(group, g.attribute()),
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }

    #[test]
    fn decrypt_any_body(
        body in prop::collection::vec(any::<u8>(), 0..100),
        iv in prop::collection::vec(any::<u8>(), 1..17),
        which in 0usize..5,
    ) {
        let a = CIPHERS[which];
        let c = IkeCipher::new(a, Secret::new(vec![7; a.key_len()])).unwrap();
        let iv = Iv::from_slice(&iv).unwrap();
        let mut b = body.clone();
        let r = c.decrypt_in_place(&iv, &mut b);
        let ok_shape = !body.is_empty() && body.len() % a.block_size() == 0 && iv.len() == a.block_size();
        prop_assert_eq!(r.is_ok(), ok_shape);
        let mut chain = IvChain::new(iv);
        let _ = chain.incoming(&body);
        prop_assert_eq!(chain.advance(&body).is_ok(), body.len() >= iv.len());
    }

    #[test]
    fn encrypt_any_length(len in 0usize..80, extra in 0usize..40, which in 0usize..5) {
        let a = CIPHERS[which];
        let c = IkeCipher::new(a, Secret::new(vec![3; a.key_len()])).unwrap();
        let iv = Iv::from_slice(&vec![1; a.block_size()]).unwrap();
        let mut buf = vec![0x11; len + extra];
        match c.encrypt_in_place(&iv, &mut buf, len) {
            Ok(n) => prop_assert!(n >= len.max(1) && n <= buf.len() && n % a.block_size() == 0),
            Err(SmError::BufferTooSmall { needed, got }) => prop_assert!(needed > got),
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }
}

#[test]
fn agree_rejects_every_bad_shape() {
    let k = KeyPair::from_private_exponent(DhGroup::Modp768, &[0x42; 40], ExponentSize::Bits(256))
        .unwrap();
    for len in [0, 1, 95, 97, 1000] {
        assert!(k.agree(&vec![5; len]).is_err(), "len {len}");
    }
    assert!(k.agree(&[0xff; 96]).is_err(), "above p");
}
