//! No secret reaches a `Debug` string: key pairs, SKEYID*, ciphers, KEYMAT.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

use ike_sm::crypto::cipher::{CipherAlg, IkeCipher};
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::phase1::{skeyid_psk, Skeyids};
use ike_sm::Secret;

fn assert_hidden(debug: &str, secret: &[u8]) {
    assert!(debug.contains("<redacted>"), "{debug}");
    // No 4-byte window of the secret, in hex or as a decimal byte list, appears.
    for w in secret.windows(4) {
        assert!(!debug.contains(&hex::encode(w)), "{debug}");
        let dec = format!("{}, {}, {}, {}", w[0], w[1], w[2], w[3]);
        assert!(!debug.contains(&dec), "{debug}");
    }
}

#[test]
fn debug_output_is_redacted() {
    let x = [0x5au8; 32];
    let kp =
        KeyPair::from_private_exponent(DhGroup::Modp1024, &x, ExponentSize::Bits(256)).unwrap();
    assert_hidden(&format!("{kp:?}"), &x);

    let psk = b"vpn3000-group-secret";
    let skeyid = skeyid_psk(HashAlg::Sha1, psk, b"nonce-i.", b"nonce-r.");
    let raw = skeyid.expose_secret().to_vec();
    let keys = Skeyids::derive(HashAlg::Sha1, skeyid, &[7; 128], &[1; 8], &[2; 8]);
    let dbg = format!("{keys:?}");
    for s in [
        &raw[..],
        keys.skeyid_d().expose_secret(),
        keys.skeyid_a().expose_secret(),
        keys.skeyid_e().expose_secret(),
    ] {
        assert_hidden(&dbg, s);
    }

    let key = keys.encryption_key(CipherAlg::TripleDes);
    let key_bytes = key.expose_secret().to_vec();
    let c = IkeCipher::new(CipherAlg::TripleDes, key).unwrap();
    assert_hidden(&format!("{c:?}"), &key_bytes);

    let km = keys
        .keymat(None, 3, &[1, 2, 3, 4], b"ni", b"nr", 36)
        .unwrap();
    assert_hidden(&format!("{km:?}"), km.expose_secret());
    assert_hidden(&format!("{:?}", Secret::from_slice(psk)), psk);
}
