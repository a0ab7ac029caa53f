//! Known-answer tests from the shared corpus: the NSS IKEv1 SHA-1 vectors (SKEYID forms,
//! SKEYID_d/a/e, Appendix B, KEYMAT-style expansion), the RUB-NDS session secrets
//! (SKEYID* -> KA, phase-1 IV, HASH_R, informational IV, Quick Mode KEYMAT, an encrypted
//! Informational message) and the ike-scan psk-crack HASH_R vectors (MD5 and SHA-1).
//! Every vector in each file is used; the counts are asserted.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

mod common;

use common::{parse_blocks, unhex, Block};
use ike_sm::crypto::cipher::{CipherAlg, IkeCipher};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::iv::{Iv, IvChain};
use ike_sm::crypto::keymat;
use ike_sm::crypto::phase1::{expand_key, skeyid_psk, skeyid_signature, Skeyids};
use ike_sm::Secret;
use testkit::corpus::read_corpus_text;

fn blocks(file: &str) -> Vec<Block> {
    parse_blocks(&read_corpus_text(file))
}

fn header(b: &Block) -> &str {
    b.sections.last().map(String::as_str).unwrap_or("")
}

// ---------------------------------------------------------------- NSS

#[test]
fn nss_ike_sha1_vectors() {
    let all = blocks("nss/nss-ike-sha1-vectors.txt");
    let mut seen = Vec::new();
    for b in &all {
        let id = header(b).to_string();
        match id.as_str() {
            "ID 5" => {
                let s = skeyid_psk(HashAlg::Sha1, &b.hex("PSK"), &b.hex("NI"), &b.hex("NR"));
                assert_eq!(s.expose_secret(), &b.hex("SKEYID")[..], "{id}");
            }
            "ID 1" => {
                let s = skeyid_signature(HashAlg::Sha1, &b.hex("NI"), &b.hex("NR"), &b.hex("GXY"));
                assert_eq!(s.expose_secret(), &b.hex("SKEYID")[..], "{id}");
            }
            "ID 2-4" => {
                let k = Skeyids::derive(
                    HashAlg::Sha1,
                    Secret::new(b.hex("SKEYID")),
                    &b.hex("GXY"),
                    &b.cookie("CKY_I"),
                    &b.cookie("CKY_R"),
                );
                assert_eq!(k.skeyid_d().expose_secret(), &b.hex("SKEYID_D")[..]);
                assert_eq!(k.skeyid_a().expose_secret(), &b.hex("SKEYID_A")[..]);
                assert_eq!(k.skeyid_e().expose_secret(), &b.hex("SKEYID_E")[..]);
            }
            "ID 11" | "ID 12" | "ID 13" => {
                let size: usize = b.field("SIZE").parse().unwrap();
                let ka = expand_key(HashAlg::Sha1, &b.hex("SKEYID_E"), size).unwrap();
                assert_eq!(ka.len(), size);
                assert_eq!(ka.expose_secret(), &b.hex("KA")[..], "{id}");
            }
            "ID 14" | "ID 15" | "ID 16" => {
                let size: usize = b.field("SIZE").parse().unwrap();
                let km =
                    keymat::expand(HashAlg::Sha1, &b.hex("KEY"), &[&b.hex("SEED")], size).unwrap();
                assert_eq!(km.expose_secret(), &b.hex("KEYMAT")[..], "{id}");
            }
            other => panic!("unexpected NSS vector {other:?} at line {}", b.line),
        }
        seen.push(id);
    }
    seen.sort();
    assert_eq!(
        seen,
        ["ID 1", "ID 11", "ID 12", "ID 13", "ID 14", "ID 15", "ID 16", "ID 2-4", "ID 5"]
    );
}

#[test]
fn appendix_b_through_skeyids() {
    // The same NSS id 11 chain reached through `Skeyids::encryption_key`: 3DES (24 bytes)
    // and AES-256 (32) need expansion with SHA-1; AES-128 (16) takes a prefix.
    let all = blocks("nss/nss-ike-sha1-vectors.txt");
    let b = all.iter().find(|b| header(b) == "ID 11").unwrap();
    let ka = b.hex("KA");
    let e = expand_key(HashAlg::Sha1, &b.hex("SKEYID_E"), 24).unwrap();
    assert_eq!(e.expose_secret(), &ka[..24]);
    assert_eq!(
        expand_key(HashAlg::Sha1, &b.hex("SKEYID_E"), 32)
            .unwrap()
            .expose_secret(),
        &ka[..32]
    );
    let e16 = expand_key(HashAlg::Sha1, &b.hex("SKEYID_E"), 16).unwrap();
    assert_eq!(e16.expose_secret(), &b.hex("SKEYID_E")[..16]);
    assert!(expand_key(HashAlg::Sha1, &[1; 20], 5000).is_err());
    assert!(keymat::expand(HashAlg::Sha1, &[1; 20], &[], 5000).is_err());
}

// ---------------------------------------------------------------- RUB-NDS

const RUB: &str = "rub-nds/rub-nds-ikev1-session-secrets.txt";

fn rub_phase1(b: &Block) -> Skeyids {
    let skeyid = skeyid_psk(HashAlg::Sha1, &b.hex("PSK"), &b.hex("NI_B"), &b.hex("NR_B"));
    Skeyids::derive(
        HashAlg::Sha1,
        skeyid,
        &b.hex("G_XY"),
        &b.cookie("CKY_I"),
        &b.cookie("CKY_R"),
    )
}

fn rub_common_checks(b: &Block, keys: &Skeyids) {
    let ctx = header(b);
    for k in ["G_XI", "G_XR", "G_XY"] {
        assert_eq!(
            DhGroup::Modp1024.validate_public_value(&b.hex(k)),
            Ok(()),
            "{ctx} {k}"
        );
    }
    let alg = CipherAlg::from_attributes(7, Some(128)).unwrap();
    assert_eq!(
        keys.encryption_key(alg).expose_secret(),
        &b.hex("KA")[..],
        "{ctx} KA"
    );
    let iv = Iv::phase1(
        HashAlg::Sha1,
        &b.hex("G_XI"),
        &b.hex("G_XR"),
        alg.block_size(),
    )
    .unwrap();
    assert_eq!(iv.as_bytes(), &b.hex("IV_PHASE1")[..], "{ctx} IV");
}

#[test]
fn rub_nds_session_secrets() {
    let all = blocks(RUB);
    assert_eq!(all.len(), 4, "RUB-NDS vector count");

    // Vector 1: full phase-1 chain and HASH_R.
    let v1 = &all[0];
    assert!(header(v1).starts_with("VECTOR 1"));
    let k1 = rub_phase1(v1);
    for (name, got) in [
        ("SKEYID", k1.skeyid()),
        ("SKEYID_D", k1.skeyid_d()),
        ("SKEYID_A", k1.skeyid_a()),
        ("SKEYID_E", k1.skeyid_e()),
    ] {
        assert_eq!(got.expose_secret(), &v1.hex(name)[..], "vector 1 {name}");
    }
    rub_common_checks(v1, &k1);
    let hash_r = k1.hash_r(
        &v1.hex("G_XR"),
        &v1.hex("G_XI"),
        &v1.cookie("CKY_R"),
        &v1.cookie("CKY_I"),
        &v1.hex("SAI_B"),
        &v1.hex("IDIR_B"),
    );
    assert_eq!(hash_r, v1.hex("HASH_R"));
    // HASH_I with the same inputs is a different value (initiator order).
    let hash_i = k1.hash_i(
        &v1.hex("G_XI"),
        &v1.hex("G_XR"),
        &v1.cookie("CKY_I"),
        &v1.cookie("CKY_R"),
        &v1.hex("SAI_B"),
        &v1.hex("IDIR_B"),
    );
    assert_ne!(hash_i, hash_r);

    // Vector 2: phase-1 chain, HASH_R, and the IV of an Informational exchange.
    let v2 = &all[1];
    assert!(header(v2).starts_with("VECTOR 2"));
    let k2 = rub_phase1(v2);
    assert_eq!(k2.skeyid().expose_secret(), &v2.hex("SKEYID")[..]);
    assert_eq!(k2.skeyid_d().expose_secret(), &v2.hex("SKEYID_D")[..]);
    assert_eq!(k2.skeyid_a().expose_secret(), &v2.hex("SKEYID_A")[..]);
    assert_eq!(k2.skeyid_e().expose_secret(), &v2.hex("SKEYID_E")[..]);
    rub_common_checks(v2, &k2);
    let hash_r = k2.hash_r(
        &v2.hex("G_XR"),
        &v2.hex("G_XI"),
        &v2.cookie("CKY_R"),
        &v2.cookie("CKY_I"),
        &v2.hex("SAI_B"),
        &v2.hex("IDIR_B"),
    );
    assert_eq!(hash_r, v2.hex("HASH_R"));
    // In the RUB test no phase-1 message was encrypted yet, so the chain's current IV
    // (its "last phase-1 block") is still the phase-1 IV.
    let chain = IvChain::new(Iv::from_slice(&v2.hex("IV_PHASE1")).unwrap());
    let info = Iv::for_message_id(HashAlg::Sha1, chain.current(), 0xd802_9d42, 16).unwrap();
    assert_eq!(info.as_bytes(), &v2.hex("IV_MSGID_d8029d42")[..]);

    // Vector 3: Quick Mode KEYMAT for both SPIs (ESP, AES-128 + HMAC-SHA1 = 36 bytes).
    let v3 = &all[2];
    assert!(header(v3).starts_with("VECTOR 3"));
    let k3 = rub_phase1(v3);
    rub_common_checks(v3, &k3);
    let proto: u8 = v3.field("QM_PROTOCOL").parse().unwrap();
    assert_eq!(proto, 3);
    for (spi, want) in [
        ("SPI_INBOUND", "KEYMAT_INBOUND_36"),
        ("SPI_OUTBOUND", "KEYMAT_OUTBOUND_36"),
    ] {
        let km = k3
            .keymat(
                None,
                proto,
                &v3.hex(spi),
                &v3.hex("QM_NI_B"),
                &v3.hex("QM_NR_B"),
                36,
            )
            .unwrap();
        assert_eq!(km.expose_secret(), &v3.hex(want)[..], "{want}");
        // A PFS g(qm)^xy changes the result (and is included, not ignored).
        let pfs = k3
            .keymat(
                Some(&[9; 128]),
                proto,
                &v3.hex(spi),
                &v3.hex("QM_NI_B"),
                &v3.hex("QM_NR_B"),
                36,
            )
            .unwrap();
        assert_ne!(pfs.expose_secret(), km.expose_secret());
    }

    // Vector 4: decrypt an encrypted Informational message (AES-128-CBC).
    let v4 = &all[3];
    assert!(header(v4).starts_with("VECTOR 4"));
    let msg = v4.hex("MESSAGE");
    let declared = u32::from_be_bytes(msg[24..28].try_into().unwrap()) as usize;
    assert_eq!(declared, msg.len());
    assert_eq!(msg[19] & 1, 1, "E bit");
    let cipher = IkeCipher::new(CipherAlg::Aes128, Secret::new(v4.hex("KEY"))).unwrap();
    let iv = Iv::from_slice(&v4.hex("IV")).unwrap();
    let mut body = msg[28..].to_vec();
    cipher.decrypt_in_place(&iv, &mut body).unwrap();
    assert_eq!(body, v4.hex("PLAINTEXT_FULL"));
    let payloads = v4.hex("PLAINTEXT_PAYLOADS");
    assert!(body.starts_with(&payloads));
    // HASH (8) then NOTIFY (11): walk the chain; the rest is padding, ignored.
    assert_eq!(msg[16], 8);
    let hash_len = u16::from_be_bytes([body[2], body[3]]) as usize;
    assert_eq!(body[0], 11);
    let notify_len = u16::from_be_bytes([body[hash_len + 2], body[hash_len + 3]]) as usize;
    assert_eq!(body[hash_len], 0);
    assert_eq!(hash_len + notify_len, payloads.len());
    // Encrypting the payloads again (zero padding) gives the same ciphertext.
    let mut buf = vec![0xAA; 64];
    buf[..payloads.len()].copy_from_slice(&payloads);
    let n = cipher
        .encrypt_in_place(&iv, &mut buf, payloads.len())
        .unwrap();
    assert_eq!(&buf[..n], &msg[28..]);
    assert_eq!(
        &buf[n..],
        &[0xAA; 16],
        "bytes after the padded body untouched"
    );
}

// ---------------------------------------------------------------- ike-scan

#[test]
fn ike_scan_psk_crack_hash_r() {
    let all = blocks("ike-scan/psk-crack-vectors.txt");
    assert_eq!(all.len(), 4, "ike-scan vector count");
    let mut prfs = Vec::new();
    for b in &all {
        let hash = match b.field("PRF") {
            "HMAC-MD5" => HashAlg::Md5,
            "HMAC-SHA1" => HashAlg::Sha1,
            other => panic!("line {}: PRF {other}", b.line),
        };
        prfs.push(hash);
        let f: Vec<&str> = b.field("PSKCRACK").split(':').collect();
        assert_eq!(f.len(), 9, "line {}: psk-crack fields", b.line);
        let v: Vec<Vec<u8>> = f.iter().map(|s| unhex("PSKCRACK", s)).collect();
        let (g_xr, g_xi, sai_b, idir_b, ni_b, nr_b, want) =
            (&v[0], &v[1], &v[4], &v[5], &v[6], &v[7], &v[8]);
        let cky_r: [u8; 8] = v[2].as_slice().try_into().unwrap();
        let cky_i: [u8; 8] = v[3].as_slice().try_into().unwrap();
        assert_eq!(want.len(), hash.output_len());
        let psk = b.field("PSK_ASCII").as_bytes();
        let skeyid = skeyid_psk(hash, psk, ni_b, nr_b);
        assert_eq!(
            skeyid.expose_secret(),
            &b.hex("SKEYID")[..],
            "line {}",
            b.line
        );
        // HASH_R needs SKEYID only; g^xy is not part of the psk-crack data.
        let keys = Skeyids::derive(hash, skeyid, &[], &cky_i, &cky_r);
        let got = keys.hash_r(g_xr, g_xi, &cky_r, &cky_i, sai_b, idir_b);
        assert_eq!(&got, want, "line {} HASH_R", b.line);
        // A wrong PSK (one character off) does not verify.
        let mut wrong = psk.to_vec();
        wrong[0] ^= 1;
        let keys = Skeyids::derive(
            hash,
            skeyid_psk(hash, &wrong, ni_b, nr_b),
            &[],
            &cky_i,
            &cky_r,
        );
        assert!(!ike_sm::crypto::phase2::hashes_equal(
            &keys.hash_r(g_xr, g_xi, &cky_r, &cky_i, sai_b, idir_b),
            want
        ));
    }
    assert_eq!(
        prfs,
        [HashAlg::Md5, HashAlg::Sha1, HashAlg::Md5, HashAlg::Sha1]
    );
    assert_eq!(all[2].field("PSK_ASCII").len(), 65);
}
