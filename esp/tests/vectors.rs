//! Known-answer tests: RFC 3602 (AES-CBC and ESP packets), RFC 2202 (HMAC-MD5/SHA1,
//! truncated to 96 bits for ESP), NIST CAVP DES/3DES/AES-CBC (pyca cryptography-vectors).
// Tests own the clock and may index/unwrap freely.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;
use common::*;
use esp::cipher::EspCipher;
use esp::hmac96::{HmacKey, Md5, Sha1};
use esp::*;
use std::time::Instant;
use testkit::corpus::read_corpus;

#[test]
fn rfc3602_raw_cbc_cases_1_to_4() {
    let text = String::from_utf8(read_corpus("rfc3602/rfc3602-aes-cbc-esp-vectors.txt")).unwrap();
    let blocks = parse_kv_blocks(&text);
    let mut n = 0;
    for (section, kv) in blocks
        .iter()
        .filter(|(_, kv)| kv.contains_key("CIPHERTEXT"))
    {
        let c = EspCipher::new(EncryptionAlgorithm::Aes128, &hx(&kv["KEY"])).unwrap();
        let mut data = hx(&kv["PLAINTEXT"]);
        c.encrypt_cbc(&hx(&kv["IV"]), &mut data).unwrap();
        assert_eq!(hex::encode(&data), kv["CIPHERTEXT"], "{section} encrypt");
        c.decrypt_cbc(&hx(&kv["IV"]), &mut data).unwrap();
        assert_eq!(hex::encode(&data), kv["PLAINTEXT"], "{section} decrypt");
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn rfc3602_esp_packets_cases_5_to_8() {
    let text = String::from_utf8(read_corpus("rfc3602/rfc3602-aes-cbc-esp-vectors.txt")).unwrap();
    let now = Instant::now();
    let mut n = 0;
    for (section, kv) in parse_kv_blocks(&text)
        .iter()
        .filter(|(_, kv)| kv.contains_key("ESP_PACKET"))
    {
        let mode = if kv["MODE"].contains("tunnel") {
            Encapsulation::Tunnel
        } else {
            Encapsulation::Transport
        };
        let spi = u32::from_str_radix(&kv["SPI"], 16).unwrap();
        let seq: u32 = kv["SEQ"].parse().unwrap();
        let nh: u8 = kv["NEXT_HEADER"].parse().unwrap();
        let params = || {
            EspSaParams::new(
                spi,
                EncryptionAlgorithm::Aes128,
                IntegrityAlgorithm::None,
                mode,
                EspKeys::new(&hx(&kv["KEY"]), &[]),
            )
        };
        let payload = hx(&kv["ESP_PAYLOAD"]);
        let expected = hx(&kv["ESP_PACKET"]);
        // Encapsulate with the RFC's IV and sequence number: byte-identical packet.
        let mut out = OutboundSa::new(&params(), now).unwrap();
        out.set_last_seq(seq - 1);
        let mut rng = FixedBytes(hx(&kv["IV"]));
        let mut buf = vec![0u8; 200];
        let len = out
            .encapsulate(now, &mut rng, nh, &payload, &mut buf)
            .unwrap();
        assert_eq!(
            hex::encode(&buf[..len]),
            kv["ESP_PACKET"],
            "{section} encapsulate"
        );
        // Decapsulate the RFC's packet.
        let mut inb = InboundSa::new(&params(), now).unwrap();
        let mut pkt = expected.clone();
        let d = inb.decapsulate(now, &mut pkt).unwrap();
        assert_eq!(d.seq, seq);
        assert_eq!(d.next_header, nh);
        assert_eq!(
            &pkt[d.payload.clone()],
            &payload[..],
            "{section} decapsulate"
        );
        let pad_len: usize = kv["PAD_LENGTH"].parse().unwrap();
        assert_eq!(
            expected.len() - 8 - 16 - payload.len() - 2,
            pad_len,
            "{section} pad length"
        );
        n += 1;
    }
    assert_eq!(n, 4);
}

fn rfc2202(file: &str, mac: impl Fn(&[u8], &[u8]) -> Vec<u8>) -> usize {
    let text = String::from_utf8(read_corpus(file)).unwrap();
    let mut n = 0;
    for (_, kv) in parse_kv_blocks(&text)
        .iter()
        .filter(|(_, kv)| kv.contains_key("MD"))
    {
        let key = hx(&kv["Key"]);
        let msg = hx(&kv["Msg"]);
        assert_eq!(
            hex::encode(mac(&key, &msg)),
            kv["MD"],
            "key {} msg {}",
            kv["Key"],
            kv["Msg"]
        );
        n += 1;
    }
    n
}

#[test]
fn rfc2202_hmac_md5_and_96_bit_truncation() {
    let n = rfc2202("pyca-cryptography-vectors/HMAC/rfc-2202-md5.txt", |k, m| {
        let key = HmacKey::<Md5>::new(k);
        let full = key.mac_full(m)[..16].to_vec();
        assert_eq!(key.icv(m)[..], full[..12]);
        assert!(key.verify(m, &full[..12]));
        full
    });
    assert_eq!(n, 7);
}

#[test]
fn rfc2202_hmac_sha1_and_96_bit_truncation() {
    let n = rfc2202(
        "pyca-cryptography-vectors/HMAC/rfc-2202-sha1.txt",
        |k, m| {
            let key = HmacKey::<Sha1>::new(k);
            let full = key.mac_full(m).to_vec();
            assert_eq!(key.icv(m)[..], full[..12]);
            let mut bad = full[..12].to_vec();
            bad[11] ^= 1;
            assert!(!key.verify(m, &bad));
            full
        },
    );
    assert_eq!(n, 7);
}

/// Runs every vector of a NIST CBC .rsp file; returns the count.
fn nist_cbc(
    file: &str,
    alg: impl Fn(&std::collections::BTreeMap<String, String>) -> (EncryptionAlgorithm, Vec<u8>),
) -> usize {
    let text = String::from_utf8(read_corpus(file)).unwrap();
    let mut n = 0;
    for (section, kv) in parse_kv_blocks(&text) {
        if !kv.contains_key("COUNT") {
            continue;
        }
        let (a, key) = alg(&kv);
        let c = EspCipher::new(a, &key).unwrap();
        let iv = hx(&kv["IV"]);
        let pt = hx(&kv["PLAINTEXT"]);
        let ct = hx(&kv["CIPHERTEXT"]);
        if section == "ENCRYPT" {
            let mut d = pt.clone();
            c.encrypt_cbc(&iv, &mut d).unwrap();
            assert_eq!(d, ct, "{file} {section} COUNT {}", kv["COUNT"]);
        } else {
            assert_eq!(section, "DECRYPT");
            let mut d = ct.clone();
            c.decrypt_cbc(&iv, &mut d).unwrap();
            assert_eq!(d, pt, "{file} {section} COUNT {}", kv["COUNT"]);
        }
        n += 1;
    }
    n
}

fn aes_alg(
    bits: usize,
) -> impl Fn(&std::collections::BTreeMap<String, String>) -> (EncryptionAlgorithm, Vec<u8>) {
    move |kv| {
        let a = match bits {
            128 => EncryptionAlgorithm::Aes128,
            192 => EncryptionAlgorithm::Aes192,
            _ => EncryptionAlgorithm::Aes256,
        };
        (a, hx(&kv["KEY"]))
    }
}

#[test]
fn nist_aes_cbc_mmt_and_gfsbox() {
    let mut total = 0;
    for bits in [128, 192, 256] {
        for kind in ["CBCMMT", "CBCGFSbox"] {
            let n = nist_cbc(
                &format!("pyca-cryptography-vectors/ciphers/AES/CBC/{kind}{bits}.rsp"),
                aes_alg(bits),
            );
            assert!(n >= 10, "{kind}{bits}: only {n} vectors");
            total += n;
        }
    }
    assert_eq!(total, 96, "vectors in the six AES files");
}

fn tdes_key(kv: &std::collections::BTreeMap<String, String>) -> Vec<u8> {
    if let Some(k) = kv.get("KEYs") {
        return hx(&format!("{k}{k}{k}"));
    }
    hx(&format!("{}{}{}", kv["KEY1"], kv["KEY2"], kv["KEY3"]))
}

#[test]
fn nist_3des_cbc_mmt() {
    for f in ["TCBCMMT1", "TCBCMMT2", "TCBCMMT3"] {
        let n = nist_cbc(
            &format!("pyca-cryptography-vectors/ciphers/3DES/CBC/{f}.rsp"),
            |kv| (EncryptionAlgorithm::TripleDes, tdes_key(kv)),
        );
        assert_eq!(n, 20, "{f}");
    }
}

/// KEY1=KEY2=KEY3 makes 3DES equal to single DES: these are DES-CBC KATs, run
/// through both the 3DES and the DES cipher.
#[test]
fn nist_single_des_cbc_known_answers() {
    for f in ["TCBCvarkey", "TCBCvartext"] {
        let path = format!("pyca-cryptography-vectors/ciphers/3DES/CBC/{f}.rsp");
        let n3 = nist_cbc(&path, |kv| (EncryptionAlgorithm::TripleDes, tdes_key(kv)));
        let n1 = nist_cbc(&path, |kv| (EncryptionAlgorithm::Des, hx(&kv["KEYs"])));
        assert_eq!(n1, n3);
        assert!(n1 >= 64, "{f}: {n1}");
    }
}
