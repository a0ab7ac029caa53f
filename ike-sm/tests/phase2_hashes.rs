//! Quick Mode HASH(1)/(2)/(3), the Informational HASH, MD5 Appendix B and PFS KEYMAT.
//!
//! No public vector file covers these, so the expected values were computed once with
//! Python's `hmac`/`hashlib` (an independent implementation) from the inputs of RUB-NDS
//! vector 1 (whose SKEYID chain the corpus does certify, see kat_vectors.rs), for both
//! SHA-1 and MD5. The Python lines are quoted beside each value.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

mod common;

use common::{parse_blocks, unhex, Block};
use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::phase1::{skeyid_psk, Skeyids};
use ike_sm::crypto::phase2::hashes_equal;
use testkit::corpus::read_corpus_text;

const MSG_ID: u32 = 0xd802_9d42;
/// An SA payload prefix standing in for "the rest of the message" (any bytes will do).
const REST: &str = "0a00003400000001000000010000002800030401";
/// A NOTIFY payload (INITIAL-CONTACT style header) for the Informational HASH.
const NOTIFY: &str = "0000000c0000000101000010";

fn rub_vector1() -> Block {
    parse_blocks(&read_corpus_text(
        "rub-nds/rub-nds-ikev1-session-secrets.txt",
    ))
    .into_iter()
    .next()
    .unwrap()
}

fn keys(hash: HashAlg, v: &Block) -> Skeyids {
    Skeyids::derive(
        hash,
        skeyid_psk(hash, &v.hex("PSK"), &v.hex("NI_B"), &v.hex("NR_B")),
        &v.hex("G_XY"),
        &v.cookie("CKY_I"),
        &v.cookie("CKY_R"),
    )
}

fn h(s: &str) -> Vec<u8> {
    unhex("expected", s)
}

#[test]
fn quick_mode_and_informational_hashes_sha1() {
    let v = rub_vector1();
    let k = keys(HashAlg::Sha1, &v);
    assert_eq!(k.skeyid_a().expose_secret(), &v.hex("SKEYID_A")[..]);
    let (ni, nr, rest) = (v.hex("NI_B"), v.hex("NR_B"), h(REST));
    // hmac.new(a, mid+rest, sha1)
    assert_eq!(
        k.qm_hash1(MSG_ID, &rest),
        h("6832476423149b19266b37cdeeadbd8b6b47bfad")
    );
    // hmac.new(a, mid+ni+rest, sha1)
    assert_eq!(
        k.qm_hash2(MSG_ID, &ni, &rest),
        h("686d3393e8971088a726a8bb09ce309017e5cecc")
    );
    // hmac.new(a, b'\0'+mid+ni+nr, sha1)
    assert_eq!(
        k.qm_hash3(MSG_ID, &ni, &nr),
        h("30f37027ab85ae0b1ea778a4b5c1ed5d1a42aa87")
    );
    // hmac.new(a, mid+notify, sha1)
    assert_eq!(
        k.informational_hash(MSG_ID, &h(NOTIFY)),
        h("b7426900f3f6e75f3eba16992fec1ed53159b344")
    );
    // The message ID is part of every hash.
    assert_ne!(k.qm_hash1(MSG_ID ^ 1, &rest), k.qm_hash1(MSG_ID, &rest));
    assert!(hashes_equal(
        &k.qm_hash3(MSG_ID, &ni, &nr),
        &h("30f37027ab85ae0b1ea778a4b5c1ed5d1a42aa87")
    ));
    assert!(!hashes_equal(
        &k.qm_hash3(MSG_ID, &nr, &ni),
        &h("30f37027ab85ae0b1ea778a4b5c1ed5d1a42aa87")
    ));
}

#[test]
fn md5_chain_appendix_b_hashes_and_pfs_keymat() {
    let v = rub_vector1();
    let k = keys(HashAlg::Md5, &v);
    assert_eq!(
        k.skeyid_a().expose_secret(),
        &h("dc9ddf7141f0e60debe797f0c7153bdd")[..]
    );
    assert_eq!(
        k.skeyid_e().expose_secret(),
        &h("9e397ea943114c41c6bab1c0785a282b")[..]
    );
    // 3DES with an MD5 PRF: 24 > 16 bytes, so Appendix B: K1 = prf(e, 0), K2 = prf(e, K1).
    assert_eq!(
        k.encryption_key(CipherAlg::TripleDes).expose_secret(),
        &h("db270b39485953ceed985f158199bcc6dd3e7f5052bb8675")[..]
    );
    // AES-128 with MD5: exactly 16 bytes, SKEYID_e itself.
    assert_eq!(
        k.encryption_key(CipherAlg::Aes128).expose_secret(),
        k.skeyid_e().expose_secret()
    );
    let (ni, nr, rest) = (v.hex("NI_B"), v.hex("NR_B"), h(REST));
    assert_eq!(
        k.qm_hash1(MSG_ID, &rest),
        h("3c46933aa784d34133e9082e3ae09b00")
    );
    assert_eq!(
        k.qm_hash2(MSG_ID, &ni, &rest),
        h("0e657cc08dd00e484dfc051c9ce288e6")
    );
    assert_eq!(
        k.qm_hash3(MSG_ID, &ni, &nr),
        h("458aa053ac7b5583c634a19921d52273")
    );
    assert_eq!(
        k.informational_hash(MSG_ID, &h(NOTIFY)),
        h("ec20784c05bf0fb6e4899841bf99c1d7")
    );
    // KEYMAT with PFS (g(qm)^xy first), ESP, 40 bytes = 3DES key + HMAC-MD5 key:
    // seed = gxy + b'\3' + spi + ni + nr; Kn = hmac(d, K(n-1) + seed, md5)
    let km = k
        .keymat(Some(&v.hex("G_XY")), 3, &h("bc87cf3f"), &ni, &nr, 40)
        .unwrap();
    assert_eq!(
        km.expose_secret(),
        &h("b7231411d58137d41207ec9bcf3232f9969467a241206f92a25b5aeb688746121ffda1c695a80157")[..]
    );
}
