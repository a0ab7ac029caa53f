//! NIST CAVP SP 800-135 "KDF135" IKEv1 component vectors, SHA-1 groups only
//! (../shared/corpus/nist-cavp-ikev1-kdf/, from nss-dev/nss tests/fips/cavs_samples/IKE/fax/).
//! Every vector of both files is checked: 500 pre-shared-key and 500 signature vectors.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

mod common;

use common::{parse_blocks, Block};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::phase1::{skeyid_psk, skeyid_signature, Skeyids};
use ike_sm::Secret;
use testkit::corpus::read_corpus_text;

/// The five SHA-1 groups of each file and their sizes in bits: (g^xy, Ni/Nr, PSK).
const PSK_GROUPS: [(usize, usize, usize); 5] = [
    (256, 64, 8),
    (256, 2048, 224),
    (8192, 64, 8),
    (8192, 2048, 224),
    (2048, 64, 8),
];

fn vectors(file: &str) -> Vec<Block> {
    let blocks: Vec<Block> = parse_blocks(&read_corpus_text(file))
        .into_iter()
        .filter(|b| b.get("COUNT").is_some())
        .collect();
    blocks
}

fn section_bits(b: &Block, name: &str, current: &mut usize) {
    for s in &b.sections {
        if let Some(v) = s
            .strip_prefix(name)
            .and_then(|r| r.trim().strip_prefix('='))
        {
            *current = v.trim().parse().expect("section number");
        }
    }
}

fn check_derived(b: &Block, skeyid: Secret) {
    let keys = Skeyids::derive(
        HashAlg::Sha1,
        skeyid,
        &b.hex("g^xy"),
        &b.cookie("CKY_I"),
        &b.cookie("CKY_R"),
    );
    let ctx = format!("line {} COUNT {}", b.line, b.field("COUNT"));
    assert_eq!(
        keys.skeyid().expose_secret(),
        &b.hex("SKEYID")[..],
        "{ctx} SKEYID"
    );
    assert_eq!(
        keys.skeyid_d().expose_secret(),
        &b.hex("SKEYID_d")[..],
        "{ctx} SKEYID_d"
    );
    assert_eq!(
        keys.skeyid_a().expose_secret(),
        &b.hex("SKEYID_a")[..],
        "{ctx} SKEYID_a"
    );
    assert_eq!(
        keys.skeyid_e().expose_secret(),
        &b.hex("SKEYID_e")[..],
        "{ctx} SKEYID_e"
    );
}

#[test]
fn nist_ikev1_psk_sha1_all_500() {
    let blocks = vectors("nist-cavp-ikev1-kdf/ikev1_psk.sha1.fax");
    assert_eq!(blocks.len(), 500, "PSK vector count");
    let (mut gxy_bits, mut n_bits, mut psk_bits) = (0, 0, 0);
    let mut per_group = std::collections::BTreeMap::new();
    for b in &blocks {
        section_bits(b, "g^xy length", &mut gxy_bits);
        section_bits(b, "Ni length", &mut n_bits);
        section_bits(b, "pre-shared-key length", &mut psk_bits);
        assert!(b
            .sections
            .iter()
            .all(|s| !s.starts_with("SHA-") || s == "SHA-1"));
        let (ni, nr, psk, gxy) = (
            b.hex("Ni"),
            b.hex("Nr"),
            b.hex("pre-shared-key"),
            b.hex("g^xy"),
        );
        assert_eq!(
            (ni.len() * 8, nr.len() * 8),
            (n_bits, n_bits),
            "line {}",
            b.line
        );
        assert_eq!(psk.len() * 8, psk_bits, "line {}", b.line);
        assert_eq!(gxy.len() * 8, gxy_bits, "line {}", b.line);
        *per_group.entry((gxy_bits, n_bits, psk_bits)).or_insert(0) += 1;
        check_derived(b, skeyid_psk(HashAlg::Sha1, &psk, &ni, &nr));
    }
    for g in PSK_GROUPS {
        assert_eq!(per_group.get(&g), Some(&100), "group {g:?}");
    }
    assert_eq!(per_group.len(), 5);
}

#[test]
fn nist_ikev1_dsa_sha1_all_500() {
    let blocks = vectors("nist-cavp-ikev1-kdf/ikev1_dsa.sha1.fax");
    assert_eq!(blocks.len(), 500, "DSA vector count");
    let (mut gxy_bits, mut n_bits) = (0, 0);
    let mut per_group = std::collections::BTreeMap::new();
    for b in &blocks {
        section_bits(b, "g^xy length", &mut gxy_bits);
        section_bits(b, "Ni length", &mut n_bits);
        assert!(b.get("pre-shared-key").is_none());
        let (ni, nr, gxy) = (b.hex("Ni"), b.hex("Nr"), b.hex("g^xy"));
        assert_eq!(gxy.len() * 8, gxy_bits, "line {}", b.line);
        assert_eq!(ni.len() * 8, n_bits, "line {}", b.line);
        *per_group.entry((gxy_bits, n_bits)).or_insert(0) += 1;
        check_derived(b, skeyid_signature(HashAlg::Sha1, &ni, &nr, &gxy));
    }
    assert_eq!(per_group.values().sum::<i32>(), 500);
    assert!(per_group.values().all(|&n| n == 100), "{per_group:?}");
}

#[test]
fn a_wrong_input_changes_every_output() {
    // Guard against a test that cannot fail: flip one bit of CKY_R in the first vector.
    let blocks = vectors("nist-cavp-ikev1-kdf/ikev1_psk.sha1.fax");
    let b = &blocks[0];
    let mut cky_r = b.cookie("CKY_R");
    cky_r[7] ^= 1;
    let keys = Skeyids::derive(
        HashAlg::Sha1,
        skeyid_psk(
            HashAlg::Sha1,
            &b.hex("pre-shared-key"),
            &b.hex("Ni"),
            &b.hex("Nr"),
        ),
        &b.hex("g^xy"),
        &b.cookie("CKY_I"),
        &cky_r,
    );
    assert_eq!(keys.skeyid().expose_secret(), &b.hex("SKEYID")[..]);
    assert_ne!(keys.skeyid_d().expose_secret(), &b.hex("SKEYID_d")[..]);
    assert_ne!(keys.skeyid_a().expose_secret(), &b.hex("SKEYID_a")[..]);
    assert_ne!(keys.skeyid_e().expose_secret(), &b.hex("SKEYID_e")[..]);
}

// The vector-file parser itself.
#[test]
fn parser_handles_sections_comments_and_crlf() {
    let t = "# c\r\n[A] text\r\n[B = 1]\r\n\r\nX = 01\r\n# mid\r\nY = 02\r\n\r\n[C]\r\nZ = 03\r\n";
    let b = common::parse_blocks(t);
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].sections, vec!["A text", "B = 1"]);
    assert_eq!(b[0].fields.len(), 2);
    assert_eq!(b[0].hex("Y"), vec![2]);
    assert_eq!(b[1].sections, vec!["C"]);
    assert_eq!(b[1].line, 10);
}

#[test]
#[should_panic(expected = "not KEY = VALUE")]
fn parser_rejects_garbage() {
    common::parse_blocks("X = 1\njunk\n");
}
