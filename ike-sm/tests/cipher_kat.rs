//! NIST CAVP CBC known answers through `IkeCipher` (the ISAKMP payload cipher): every
//! vector of the TDES (keying options 1-3, and the single-DES "KEYs" KATs) and AES-CBC
//! (MMT and GFSbox, 128/192/256) files in ../shared/corpus/pyca-cryptography-vectors,
//! both directions, in place. Plus the padding rules of ISAKMP bodies.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

mod common;

use common::parse_blocks;
use ike_sm::crypto::cipher::{CipherAlg, IkeCipher};
use ike_sm::crypto::iv::Iv;
use ike_sm::Secret;
use ike_sm::SmError;
use testkit::corpus::read_corpus_text;

/// Runs every vector of one .rsp file; returns how many were checked.
fn run(rel: &str, alg: CipherAlg) -> usize {
    let mut encrypt = None;
    let mut n = 0;
    for b in parse_blocks(&read_corpus_text(&format!(
        "pyca-cryptography-vectors/{rel}"
    ))) {
        for s in &b.sections {
            match s.as_str() {
                "ENCRYPT" => encrypt = Some(true),
                "DECRYPT" => encrypt = Some(false),
                other => panic!("{rel}: section {other}"),
            }
        }
        let encrypt = encrypt.expect("direction section before the first vector");
        let key = match (b.get("KEY"), b.get("KEYs"), alg) {
            (Some(_), _, _) => b.hex("KEY"),
            // Single-DES KATs: KEY1 = KEY2 = KEY3.
            (None, Some(_), CipherAlg::Des) => b.hex("KEYs"),
            (None, None, CipherAlg::TripleDes) => {
                [b.hex("KEY1"), b.hex("KEY2"), b.hex("KEY3")].concat()
            }
            (None, None, CipherAlg::Des) => {
                let k1 = b.hex("KEY1");
                if k1 != b.hex("KEY2") || k1 != b.hex("KEY3") {
                    // A true 3DES vector in a DES run: skip is not allowed, so fail.
                    panic!("{rel} line {}: not a single-DES vector", b.line);
                }
                k1
            }
            _ => panic!("{rel} line {}: no key", b.line),
        };
        let cipher = IkeCipher::new(alg, Secret::new(key)).unwrap();
        let iv = Iv::from_slice(&b.hex("IV")).unwrap();
        let (pt, ct) = (b.hex("PLAINTEXT"), b.hex("CIPHERTEXT"));
        if encrypt {
            let mut buf = pt.clone();
            let len = cipher.encrypt_in_place(&iv, &mut buf, pt.len()).unwrap();
            assert_eq!(len, pt.len(), "whole blocks get no padding");
            assert_eq!(buf, ct, "{rel} line {} encrypt", b.line);
        } else {
            let mut buf = ct.clone();
            cipher.decrypt_in_place(&iv, &mut buf).unwrap();
            assert_eq!(buf, pt, "{rel} line {} decrypt", b.line);
        }
        n += 1;
    }
    n
}

#[test]
fn tdes_cbc_all_vectors() {
    assert_eq!(
        run("ciphers/3DES/CBC/TCBCMMT1.rsp", CipherAlg::TripleDes),
        20
    );
    assert_eq!(
        run("ciphers/3DES/CBC/TCBCMMT2.rsp", CipherAlg::TripleDes),
        20
    );
    assert_eq!(
        run("ciphers/3DES/CBC/TCBCMMT3.rsp", CipherAlg::TripleDes),
        20
    );
}

#[test]
fn des_cbc_all_vectors() {
    assert_eq!(run("ciphers/3DES/CBC/TCBCvarkey.rsp", CipherAlg::Des), 112);
    assert_eq!(run("ciphers/3DES/CBC/TCBCvartext.rsp", CipherAlg::Des), 128);
}

#[test]
fn aes_cbc_all_vectors() {
    assert_eq!(run("ciphers/AES/CBC/CBCMMT128.rsp", CipherAlg::Aes128), 20);
    assert_eq!(run("ciphers/AES/CBC/CBCMMT192.rsp", CipherAlg::Aes192), 20);
    assert_eq!(run("ciphers/AES/CBC/CBCMMT256.rsp", CipherAlg::Aes256), 20);
    assert_eq!(
        run("ciphers/AES/CBC/CBCGFSbox128.rsp", CipherAlg::Aes128),
        14
    );
    assert_eq!(
        run("ciphers/AES/CBC/CBCGFSbox192.rsp", CipherAlg::Aes192),
        12
    );
    assert_eq!(
        run("ciphers/AES/CBC/CBCGFSbox256.rsp", CipherAlg::Aes256),
        10
    );
}

#[test]
fn phase1_attribute_numbers() {
    assert_eq!(CipherAlg::from_attributes(1, None), Ok(CipherAlg::Des));
    assert_eq!(
        CipherAlg::from_attributes(5, None),
        Ok(CipherAlg::TripleDes)
    );
    assert_eq!(
        CipherAlg::from_attributes(7, Some(128)),
        Ok(CipherAlg::Aes128)
    );
    assert_eq!(
        CipherAlg::from_attributes(7, Some(192)),
        Ok(CipherAlg::Aes192)
    );
    assert_eq!(
        CipherAlg::from_attributes(7, Some(256)),
        Ok(CipherAlg::Aes256)
    );
    for (alg, bits) in [
        (7, None),
        (7, Some(64)),
        (5, Some(128)),
        (2, None),
        (3, None),
        (0, None),
    ] {
        assert_eq!(
            CipherAlg::from_attributes(alg, bits),
            Err(SmError::UnsupportedCipher {
                alg,
                key_bits: bits
            })
        );
    }
    for a in [
        CipherAlg::Des,
        CipherAlg::TripleDes,
        CipherAlg::Aes128,
        CipherAlg::Aes192,
        CipherAlg::Aes256,
    ] {
        assert_eq!(
            CipherAlg::from_attributes(a.attribute(), a.key_length_attribute()),
            Ok(a)
        );
        assert_eq!(
            IkeCipher::new(a, Secret::new(vec![0; a.key_len() + 1])).err(),
            Some(SmError::KeyLength {
                what: "ISAKMP encryption",
                expected: a.key_len(),
                got: a.key_len() + 1
            })
        );
    }
}

#[test]
fn padding_on_send_and_receive() {
    for a in [
        CipherAlg::Des,
        CipherAlg::TripleDes,
        CipherAlg::Aes128,
        CipherAlg::Aes192,
        CipherAlg::Aes256,
    ] {
        let bs = a.block_size();
        let c = IkeCipher::new(a, Secret::new((1..=a.key_len() as u8).collect())).unwrap();
        let iv = Iv::from_slice(&vec![9; bs]).unwrap();
        for plain_len in [1, bs - 1, bs, bs + 1, 3 * bs + 5] {
            let plain: Vec<u8> = (0..plain_len).map(|i| i as u8 ^ 0x5a).collect();
            let padded = a.padded_len(plain_len);
            assert!(padded >= plain_len && padded % bs == 0 && padded - plain_len < bs);
            // Too small a buffer for the padding is an error, not a panic.
            let mut small = plain.clone();
            if padded > plain_len {
                assert_eq!(
                    c.encrypt_in_place(&iv, &mut small, plain_len),
                    Err(SmError::BufferTooSmall {
                        needed: padded,
                        got: plain_len
                    })
                );
            }
            // Garbage after the plaintext becomes zero padding.
            let mut buf = plain.clone();
            buf.resize(padded + 7, 0xee);
            let n = c.encrypt_in_place(&iv, &mut buf, plain_len).unwrap();
            assert_eq!(n, padded);
            assert_eq!(&buf[n..], &[0xee; 7]);
            let mut ct = buf[..n].to_vec();
            c.decrypt_in_place(&iv, &mut ct).unwrap();
            assert_eq!(&ct[..plain_len], &plain[..]);
            assert!(ct[plain_len..].iter().all(|&b| b == 0), "zero padding");
        }
        // A body padded the RFC 2409 way (pad length in the last byte) decrypts the same:
        // the receiver never interprets padding.
        let plain = [0x42u8; 5];
        let mut rfc = plain.to_vec();
        rfc.resize(bs, 0);
        let pad = (bs - plain.len() - 1) as u8;
        *rfc.last_mut().unwrap() = pad;
        let n = c.encrypt_in_place(&iv, &mut rfc, bs).unwrap();
        let mut back = rfc[..n].to_vec();
        c.decrypt_in_place(&iv, &mut back).unwrap();
        assert_eq!(&back[..5], &plain);
        assert_eq!(back[bs - 1], pad);
    }
}
