//! The decryptable capture zeek-spicy-ipsec/traces/ikev1-certs.pcap (a copy of Wireshark's
//! test/captures/ikev1-certs.pcap): Openswan initiator, Juniper SRX responder, Main Mode
//! with RSA signatures, 3DES, MD5, MODP1024, then one Quick Mode with PFS.
//!
//! With only the 3DES key (from Wireshark's ikev1_decryption_table), this test computes
//! the phase-1 IV from the KE payloads of MM3/MM4, decrypts MM5 and MM6 along the IV
//! chain, derives the Quick Mode IV from the last phase-1 block and the M-ID, decrypts
//! QM1..QM3, and decrypts frame 8 (a retransmission of frame 7) with frame 7's IV.
//!
//! The ISAKMP header and the generic payload headers are parsed by hand here, on purpose:
//! this test must not depend on the crate's own (or isakmp-wire's) parsers.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used
)]

mod common;

use ike_sm::crypto::cipher::{CipherAlg, IkeCipher};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::crypto::hash::HashAlg;
use ike_sm::crypto::iv::{IncomingIv, Iv, IvChain};
use ike_sm::Secret;

use common::capture::{isakmp_messages, walk, Msg};

const KEY_3DES: &str = "735be0cb62f82675c4f7bf8fbab9b56834ba76d6ab4fa240";
const CKY_I: [u8; 8] = [0xfa, 0xfa, 0xeb, 0x49, 0x38, 0x2a, 0x76, 0x3c];
const CKY_R: [u8; 8] = [0x36, 0xe6, 0x5a, 0xd2, 0xf6, 0x6f, 0x44, 0x03];
const QM_MSG_ID: u32 = 0xf2cf_e203;

fn types(chain: &[(u8, Vec<u8>)]) -> Vec<u8> {
    chain.iter().map(|(t, _)| *t).collect()
}

fn payload(chain: &[(u8, Vec<u8>)], t: u8) -> &[u8] {
    &chain
        .iter()
        .find(|(x, _)| *x == t)
        .expect("payload present")
        .1
}

fn capture() -> Vec<Msg> {
    let msgs = isakmp_messages("zeek-spicy-ipsec/traces/ikev1-certs.pcap");
    assert_eq!(msgs.len(), 10, "frames in ikev1-certs.pcap");
    for m in &msgs {
        assert_eq!(m.cky_i, CKY_I, "frame {}", m.frame);
        if m.frame > 1 {
            assert_eq!(m.cky_r, CKY_R, "frame {}", m.frame);
        }
    }
    msgs
}

fn cipher() -> IkeCipher {
    let alg = CipherAlg::from_attributes(5, None).unwrap();
    IkeCipher::new(alg, Secret::new(hex::decode(KEY_3DES).unwrap())).unwrap()
}

fn decrypt(c: &IkeCipher, iv: &Iv, m: &Msg) -> (Vec<(u8, Vec<u8>)>, Vec<u8>) {
    assert_eq!(m.flags & 1, 1, "frame {}: E bit", m.frame);
    let mut body = m.body.clone();
    c.decrypt_in_place(iv, &mut body).unwrap();
    let (chain, pad) = walk(m.next_payload, &body);
    assert!(
        pad < 8,
        "frame {}: {pad} bytes after the chain (more than a block)",
        m.frame
    );
    (chain, body)
}

struct Phase1 {
    /// The IV chain after MM6: its current IV is the last phase-1 CBC block.
    chain: IvChain,
    mm5: Vec<(u8, Vec<u8>)>,
    mm6: Vec<(u8, Vec<u8>)>,
    mm6_plain: Vec<u8>,
}

fn phase1(msgs: &[Msg], c: &IkeCipher) -> Phase1 {
    // MM3 (initiator) and MM4 (responder): KE, NONCE [, CR], in the clear.
    let (mm3, _) = walk(msgs[2].next_payload, &msgs[2].body);
    let (mm4, _) = walk(msgs[3].next_payload, &msgs[3].body);
    assert_eq!(types(&mm3), [4, 10]);
    assert_eq!(types(&mm4), [4, 10, 7]);
    let (g_xi, g_xr) = (payload(&mm3, 4), payload(&mm4, 4));
    // MODP1024 public values: 128 bytes each, in range.
    DhGroup::Modp1024.validate_public_value(g_xi).unwrap();
    DhGroup::Modp1024.validate_public_value(g_xr).unwrap();

    let iv = Iv::phase1(HashAlg::Md5, g_xi, g_xr, 8).unwrap();
    let mut chain = IvChain::new(iv);

    // MM5: ID, CERT, CR, SIG.
    let m5 = &msgs[4];
    assert_eq!((m5.exchange, m5.msg_id), (2, 0));
    let IncomingIv::Fresh(iv5) = chain.incoming(&m5.body) else {
        panic!("MM5 is new")
    };
    let (mm5, _) = decrypt(c, &iv5, m5);
    chain.advance(&m5.body).unwrap();
    assert_eq!(types(&mm5), [5, 6, 7, 9]);
    let lens: Vec<usize> = mm5.iter().map(|(_, b)| b.len() + 4).collect();
    assert_eq!(lens, [12, 1498, 87, 132], "tshark's payload lengths");

    // MM6: ID, CERT, SIG, decrypted with the last block of MM5.
    let m6 = &msgs[5];
    assert_eq!(chain.current().as_bytes(), &m5.body[m5.body.len() - 8..]);
    let IncomingIv::Fresh(iv6) = chain.incoming(&m6.body) else {
        panic!("MM6 is new")
    };
    let (mm6, mm6_plain) = decrypt(c, &iv6, m6);
    chain.advance(&m6.body).unwrap();
    assert_eq!(types(&mm6), [5, 6, 9]);
    let lens: Vec<usize> = mm6.iter().map(|(_, b)| b.len() + 4).collect();
    assert_eq!(lens, [12, 1630, 260]);
    Phase1 {
        chain,
        mm5,
        mm6,
        mm6_plain,
    }
}

#[test]
fn main_mode_decrypts_along_the_iv_chain() {
    let msgs = capture();
    let c = cipher();
    let p1 = phase1(&msgs, &c);

    // ID payloads: type, protocol, port, data (ID_IPV4_ADDR of each peer).
    for (who, chain) in [("MM5", &p1.mm5), ("MM6", &p1.mm6)] {
        let id = payload(chain, 5);
        assert_eq!(id.len(), 8, "{who}");
        assert_eq!(id[0], 1, "{who}: ID_IPV4_ADDR");
        // CERT: encoding 4 (X.509 signature), then a DER SEQUENCE.
        let cert = payload(chain, 6);
        assert_eq!(cert[0], 4, "{who}: X.509 certificate - signature");
        assert_eq!(cert[1], 0x30, "{who}: DER SEQUENCE");
        let der_len = usize::from(u16::from_be_bytes([cert[3], cert[4]]));
        assert_eq!(cert[2], 0x82);
        assert_eq!(
            der_len + 4,
            cert.len() - 1,
            "{who}: DER length fills the payload"
        );
        // SIG: an RSA signature as long as the key (1024 or 2048 bits).
        let sig = payload(chain, 9);
        assert!(
            sig.len() == 128 || sig.len() == 256,
            "{who}: SIG {}",
            sig.len()
        );
    }
    let id5 = payload(&p1.mm5, 5);
    assert_eq!(&id5[4..8], &[192, 168, 12, 118], "initiator's address");
    let id6 = payload(&p1.mm6, 5);
    assert_eq!(&id6[4..8], &[172, 16, 1, 103], "responder's address");
    // As Wireshark's own test checks: the certificate names "OpenSwan".
    let cert = payload(&p1.mm5, 6);
    assert!(
        cert.windows(8).any(|w| w == b"OpenSwan"),
        "OpenSwan in the MM5 certificate"
    );
    // A wrong IV for MM6 (the un-chained phase-1 IV) garbles its first block only (CBC).
    let mut wrong = msgs[5].body.clone();
    let (g_xi, g_xr) = (&msgs[2].body[4..4 + 128], &msgs[3].body[4..4 + 128]);
    let iv0 = Iv::phase1(HashAlg::Md5, g_xi, g_xr, 8).unwrap();
    c.decrypt_in_place(&iv0, &mut wrong).unwrap();
    assert_ne!(wrong[..8], p1.mm6_plain[..8]);
    assert_eq!(wrong[8..], p1.mm6_plain[8..]);
}

#[test]
fn quick_mode_and_the_retransmitted_frame_8() {
    let msgs = capture();
    let c = cipher();
    let p1 = phase1(&msgs, &c);
    let last_phase1_block = *p1.chain.current();
    assert_eq!(
        last_phase1_block.as_bytes(),
        &msgs[5].body[msgs[5].body.len() - 8..]
    );

    let (qm1, qm1r, qm2, qm3) = (&msgs[6], &msgs[7], &msgs[8], &msgs[9]);
    for m in [qm1, qm1r, qm2, qm3] {
        assert_eq!((m.exchange, m.msg_id), (32, QM_MSG_ID), "frame {}", m.frame);
    }
    assert_eq!(
        qm1.body, qm1r.body,
        "frame 8 is a byte-identical copy of frame 7"
    );

    let iv = Iv::for_message_id(HashAlg::Md5, &last_phase1_block, QM_MSG_ID, 8).unwrap();
    let mut chain = IvChain::new(iv);

    // QM1 (frame 7): HASH(1), SA, Ni, KE, IDci, IDcr.
    let IncomingIv::Fresh(iv7) = chain.incoming(&qm1.body) else {
        panic!("QM1 is new")
    };
    assert_eq!(iv7, iv);
    let (c7, _) = decrypt(&c, &iv7, qm1);
    chain.advance(&qm1.body).unwrap();
    assert_eq!(types(&c7), [8, 1, 10, 4, 5, 5]);
    assert_eq!(payload(&c7, 8).len(), 16, "HASH(1) is an MD5 output");
    assert_eq!(payload(&c7, 4).len(), 128, "PFS KE for MODP1024");
    DhGroup::Modp1024
        .validate_public_value(payload(&c7, 4))
        .unwrap();

    // Frame 8: recognised as the retransmission of frame 7, decrypted with frame 7's IV.
    let incoming = chain.incoming(&qm1r.body);
    assert_eq!(incoming, IncomingIv::Retransmission(iv7));
    let (c8, _) = decrypt(&c, incoming.iv(), qm1r);
    assert_eq!(c8, c7);
    // What tshark does (the advanced IV): the first block comes out wrong.
    let mut tshark = qm1r.body.clone();
    c.decrypt_in_place(chain.current(), &mut tshark).unwrap();
    assert_ne!(
        tshark[0], 1,
        "a wrongly chained IV breaks the first payload header"
    );

    // QM2 (frame 9): HASH(2), SA, Nr, KE, IDci, IDcr; IV = last block of QM1 (not of 8).
    let IncomingIv::Fresh(iv9) = chain.incoming(&qm2.body) else {
        panic!("QM2 is new")
    };
    assert_eq!(iv9.as_bytes(), &qm1.body[qm1.body.len() - 8..]);
    let (c9, _) = decrypt(&c, &iv9, qm2);
    chain.advance(&qm2.body).unwrap();
    assert_eq!(types(&c9), [8, 1, 10, 4, 5, 5]);
    // The IDs come back unchanged; the responder's SA has one proposal with one transform.
    assert_eq!(payload(&c9, 5), payload(&c7, 5));
    assert_ne!(payload(&c9, 10), payload(&c7, 10), "Nr differs from Ni");

    // QM3 (frame 10): HASH(3) only.
    let IncomingIv::Fresh(iv10) = chain.incoming(&qm3.body) else {
        panic!("QM3 is new")
    };
    let (c10, _) = decrypt(&c, &iv10, qm3);
    assert_eq!(types(&c10), [8]);
    assert_eq!(payload(&c10, 8).len(), 16);
}

/// The same Quick Mode through `decrypt_next` / `Decrypted::accept`, the way a state
/// machine drives it: decrypt, (verify the HASH,) accept; frame 8 is flagged as a
/// retransmission and leaves the chain alone.
#[test]
fn quick_mode_through_decrypt_next() {
    let msgs = capture();
    let c = cipher();
    let p1 = phase1(&msgs, &c);
    let iv = Iv::for_message_id(HashAlg::Md5, p1.chain.current(), QM_MSG_ID, 8).unwrap();
    let mut chain = IvChain::new(iv);
    let mut seen = Vec::new();
    for m in &msgs[6..10] {
        let mut body = m.body.clone();
        let d = c.decrypt_next(&chain, &mut body).unwrap();
        let (payloads, pad) = walk(m.next_payload, &body);
        assert!(pad < 8);
        assert_eq!(payloads[0].0, 8, "frame {}: HASH first", m.frame);
        seen.push((m.frame, d.is_retransmission(), types(&payloads)));
        d.accept(&mut chain);
    }
    assert_eq!(
        seen,
        vec![
            (7, false, vec![8, 1, 10, 4, 5, 5]),
            (8, true, vec![8, 1, 10, 4, 5, 5]),
            (9, false, vec![8, 1, 10, 4, 5, 5]),
            (10, false, vec![8]),
        ]
    );
    assert_eq!(
        chain.current().as_bytes(),
        &msgs[9].body[msgs[9].body.len() - 8..]
    );

    // Without accept() the chain does not move: an unauthenticated message cannot
    // desynchronise the exchange.
    let fresh = IvChain::new(iv);
    let mut body = msgs[6].body.clone();
    let _unverified = c.decrypt_next(&fresh, &mut body).unwrap();
    assert_eq!(fresh.current(), &iv);

    // Our own sends go through encrypt_next: re-encrypting QM1's plaintext with the QM IV
    // reproduces frame 7 byte for byte (Openswan pads with zeros), and advances.
    let mut plain = msgs[6].body.clone();
    c.decrypt_in_place(&iv, &mut plain).unwrap();
    let (chain7, pad) = walk(msgs[6].next_payload, &plain);
    let plain_len = plain.len() - pad;
    assert!(
        chain7.len() == 6 && plain[plain_len..].iter().all(|&b| b == 0),
        "zero padding"
    );
    let mut sender = IvChain::new(iv);
    let n = c.encrypt_next(&mut sender, &mut plain, plain_len).unwrap();
    assert_eq!(&plain[..n], &msgs[6].body[..]);
    assert_eq!(sender.current().as_bytes(), &msgs[6].body[n - 8..]);
}

#[test]
fn decrypting_a_body_that_is_not_whole_blocks_is_an_error() {
    let msgs = capture();
    let c = cipher();
    let mut body = msgs[4].body.clone();
    body.pop();
    let iv = Iv::from_slice(&[0; 8]).unwrap();
    assert_eq!(
        c.decrypt_in_place(&iv, &mut body),
        Err(ike_sm::SmError::CiphertextLength {
            len: body.len(),
            block: 8
        })
    );
    assert!(c.decrypt_in_place(&iv, &mut []).is_err());
    let iv16 = Iv::from_slice(&[0; 16]).unwrap();
    let mut ok = vec![0; 16];
    assert_eq!(
        c.decrypt_in_place(&iv16, &mut ok),
        Err(ike_sm::SmError::IvLength {
            expected: 8,
            got: 16
        })
    );
}
