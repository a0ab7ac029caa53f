//! Behaviour of the SAs: replay, tampering, padding, next header, sequence
//! exhaustion, lifetimes, buffers, KEYMAT split, UDP encapsulation; plus proptests
//! (round trip for every algorithm pair, replay window vs a set-based model).
// Tests own the clock and may index/unwrap freely.
#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use esp::hmac96::{HmacKey, Sha1};
use esp::*;
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const ENCS: [EncryptionAlgorithm; 6] = [
    EncryptionAlgorithm::Des,
    EncryptionAlgorithm::TripleDes,
    EncryptionAlgorithm::Aes128,
    EncryptionAlgorithm::Aes192,
    EncryptionAlgorithm::Aes256,
    EncryptionAlgorithm::Null,
];
const AUTHS: [IntegrityAlgorithm; 3] = [
    IntegrityAlgorithm::None,
    IntegrityAlgorithm::HmacMd5_96,
    IntegrityAlgorithm::HmacSha1_96,
];

fn params(enc: EncryptionAlgorithm, auth: IntegrityAlgorithm, mode: Encapsulation) -> EspSaParams {
    let keymat: Vec<u8> = (0..64u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    EspSaParams::new(
        0xfeed_0001,
        enc,
        auth,
        mode,
        EspKeys::from_keymat(&keymat, enc, auth).unwrap(),
    )
}

fn pair(enc: EncryptionAlgorithm, auth: IntegrityAlgorithm) -> (OutboundSa, InboundSa, Instant) {
    let now = Instant::now();
    let p = params(enc, auth, Encapsulation::Tunnel);
    (
        OutboundSa::new(&p, now).unwrap(),
        InboundSa::new(&p, now).unwrap(),
        now,
    )
}

fn ipv4(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len.max(20)];
    p[0] = 0x45;
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    for (i, b) in p.iter_mut().enumerate().skip(20) {
        *b = i as u8;
    }
    p
}

#[test]
fn null_without_integrity_is_refused() {
    let p = params(
        EncryptionAlgorithm::Null,
        IntegrityAlgorithm::None,
        Encapsulation::Tunnel,
    );
    assert_eq!(
        OutboundSa::new(&p, Instant::now()).unwrap_err(),
        EspError::NullWithoutIntegrity
    );
    assert_eq!(
        InboundSa::new(&p, Instant::now()).unwrap_err().kind(),
        ErrorKind::InvalidParameters
    );
}

#[test]
fn doi_numbers_map_to_algorithms() {
    use EncryptionAlgorithm as E;
    assert_eq!(E::from_transform(2, None).unwrap(), E::Des);
    assert_eq!(E::from_transform(3, None).unwrap(), E::TripleDes);
    assert_eq!(E::from_transform(11, None).unwrap(), E::Null);
    assert_eq!(E::from_transform(12, None).unwrap(), E::Aes128);
    assert_eq!(E::from_transform(12, Some(192)).unwrap(), E::Aes192);
    assert_eq!(E::from_transform(12, Some(256)).unwrap(), E::Aes256);
    assert_eq!(
        E::from_transform(12, Some(100)).unwrap_err(),
        EspError::UnsupportedTransform {
            transform_id: 12,
            key_bits: Some(100)
        }
    );
    assert!(E::from_transform(1, None).is_err());
    for e in ENCS {
        assert_eq!(
            E::from_transform(e.transform_id(), e.key_length_attribute()).unwrap(),
            e
        );
    }
    assert_eq!(
        IntegrityAlgorithm::from_attribute(Some(1)).unwrap(),
        IntegrityAlgorithm::HmacMd5_96
    );
    assert_eq!(
        IntegrityAlgorithm::from_attribute(Some(2)).unwrap(),
        IntegrityAlgorithm::HmacSha1_96
    );
    assert_eq!(
        IntegrityAlgorithm::from_attribute(None).unwrap(),
        IntegrityAlgorithm::None
    );
    assert!(IntegrityAlgorithm::from_attribute(Some(3)).is_err());
    for (v, m) in [
        (1, Encapsulation::Tunnel),
        (2, Encapsulation::Transport),
        (3, Encapsulation::UdpTunnel),
        (4, Encapsulation::UdpTransport),
        (61443, Encapsulation::UdpTunnel),
        (61444, Encapsulation::UdpTransport),
    ] {
        assert_eq!(Encapsulation::from_attribute(v).unwrap(), m);
    }
    assert!(Encapsulation::from_attribute(5).is_err());
    assert_eq!(EncryptionAlgorithm::Des.pix_name(), "esp-des");
    assert_eq!(
        IntegrityAlgorithm::HmacMd5_96.pix_name(),
        Some("esp-md5-hmac")
    );
}

#[test]
fn keymat_split_order() {
    let keymat: Vec<u8> = (0..60).collect();
    let k = EspKeys::from_keymat(
        &keymat,
        EncryptionAlgorithm::TripleDes,
        IntegrityAlgorithm::HmacSha1_96,
    )
    .unwrap();
    assert_eq!(k.encryption.expose_secret(), &keymat[..24]);
    assert_eq!(k.integrity.expose_secret(), &keymat[24..44]);
    assert_eq!(format!("{k:?}").matches("redacted").count(), 2);
    assert!(!format!("{k:?}").contains("23"));
    let short = EspKeys::from_keymat(
        &keymat[..43],
        EncryptionAlgorithm::TripleDes,
        IntegrityAlgorithm::HmacSha1_96,
    );
    assert_eq!(
        short.unwrap_err(),
        EspError::InvalidKeyLength {
            what: "KEYMAT",
            expected: 44,
            got: 43
        }
    );
}

#[test]
fn every_pair_round_trips_and_has_the_right_length() {
    let mut rng = StdRng::seed_from_u64(7);
    for enc in ENCS {
        for auth in AUTHS {
            if enc == EncryptionAlgorithm::Null && auth == IntegrityAlgorithm::None {
                continue;
            }
            let (mut o, mut i, now) = pair(enc, auth);
            for len in [0usize, 1, 13, 14, 15, 16, 17, 20, 64, 1400] {
                let payload: Vec<u8> = (0..len).map(|x| x as u8 ^ 0x5a).collect();
                let mut buf = vec![0u8; 1600];
                let n = o
                    .encapsulate(now, &mut rng, 17, &payload, &mut buf)
                    .unwrap();
                assert_eq!(n, o.encapsulated_len(len).unwrap());
                let ct = n - 8 - enc.iv_len() - auth.icv_len();
                assert_eq!(ct % enc.alignment(), 0);
                assert!(ct >= len + 2 && ct < len + 2 + enc.alignment());
                // transport-mode next header 17 in a tunnel SA is refused
                let mut copy = buf[..n].to_vec();
                let err = i.decapsulate(now, &mut copy).unwrap_err();
                assert_eq!(
                    err.kind(),
                    ErrorKind::BadNextHeader,
                    "{enc:?} {auth:?} {len}"
                );
            }
            let mut it =
                OutboundSa::new(&params(enc, auth, Encapsulation::Transport), now).unwrap();
            let mut ir = InboundSa::new(&params(enc, auth, Encapsulation::Transport), now).unwrap();
            for len in [0usize, 7, 100, 1500] {
                let payload: Vec<u8> = (0..len).map(|x| x as u8).collect();
                let mut buf = vec![0u8; 1600];
                let n = it
                    .encapsulate(now, &mut rng, 6, &payload, &mut buf)
                    .unwrap();
                let d = ir.decapsulate(now, &mut buf[..n]).unwrap();
                assert_eq!(d.next_header, 6);
                assert_eq!(&buf[d.payload.clone()], &payload[..]);
            }
            let _ = &mut i;
        }
    }
}

#[test]
fn replayed_and_old_packets_are_rejected() {
    let (mut o, mut i, now) = pair(EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacSha1_96);
    let mut rng = StdRng::seed_from_u64(1);
    let mut pkts = Vec::new();
    for _ in 0..100 {
        let mut buf = vec![0u8; 200];
        let n = o
            .encapsulate_ip(now, &mut rng, &ipv4(40), &mut buf)
            .unwrap();
        buf.truncate(n);
        pkts.push(buf);
    }
    let mut p = pkts[0].clone();
    i.decapsulate(now, &mut p).unwrap();
    let mut p = pkts[0].clone();
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::Replayed {
            spi: 0xfeed_0001,
            seq: 1
        }
    );
    let mut p = pkts[99].clone();
    i.decapsulate(now, &mut p).unwrap();
    // seq 36 = 100 - 64: just outside the 64-packet window
    let mut p = pkts[35].clone();
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::OutsideWindow {
            spi: 0xfeed_0001,
            seq: 36,
            highest: 100,
            window: 64
        }
    );
    let mut p = pkts[36].clone();
    i.decapsulate(now, &mut p).unwrap(); // seq 37: inside, first time
    let mut p = pkts[36].clone();
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err().kind(),
        ErrorKind::Replayed
    );
}

#[test]
fn forged_packet_does_not_move_window() {
    let (mut o, mut i, now) = pair(
        EncryptionAlgorithm::TripleDes,
        IntegrityAlgorithm::HmacMd5_96,
    );
    let mut rng = StdRng::seed_from_u64(2);
    let mut buf = vec![0u8; 200];
    let n = o
        .encapsulate_ip(now, &mut rng, &ipv4(60), &mut buf)
        .unwrap();
    let good = buf[..n].to_vec();
    // Forge seq = 1000 with a wrong ICV.
    let mut forged = good.clone();
    forged[4..8].copy_from_slice(&1000u32.to_be_bytes());
    assert_eq!(
        i.decapsulate(now, &mut forged).unwrap_err(),
        EspError::BadIcv {
            spi: 0xfeed_0001,
            seq: 1000
        }
    );
    assert_eq!(i.replay_window().highest(), 0);
    // The genuine seq 1 is still accepted.
    let mut p = good.clone();
    i.decapsulate(now, &mut p).unwrap();
    assert_eq!(i.replay_window().highest(), 1);
}

#[test]
fn tampering_anywhere_fails_the_icv() {
    let (mut o, mut i, now) = pair(EncryptionAlgorithm::Aes256, IntegrityAlgorithm::HmacSha1_96);
    let mut rng = StdRng::seed_from_u64(3);
    let mut buf = vec![0u8; 200];
    let n = o
        .encapsulate_ip(now, &mut rng, &ipv4(50), &mut buf)
        .unwrap();
    for byte in 0..n {
        let mut p = buf[..n].to_vec();
        p[byte] ^= 0x80;
        let err = i.decapsulate(now, &mut p).unwrap_err();
        let expected = if byte < 4 {
            ErrorKind::UnknownSpi
        } else {
            ErrorKind::BadIcv
        };
        assert_eq!(err.kind(), expected, "byte {byte}: {err}");
    }
    let mut p = buf[..n].to_vec();
    i.decapsulate(now, &mut p).unwrap();
}

#[test]
fn truncated_and_misaligned_packets() {
    let (mut o, mut i, now) = pair(EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacSha1_96);
    let mut rng = StdRng::seed_from_u64(4);
    let mut buf = vec![0u8; 200];
    let n = o
        .encapsulate_ip(now, &mut rng, &ipv4(20), &mut buf)
        .unwrap();
    for cut in 0..n {
        let mut p = buf[..cut].to_vec();
        let err = i.decapsulate(now, &mut p).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Truncated | ErrorKind::BadIcv),
            "cut {cut}: {err}"
        );
    }
    let mut p = buf[..n - 1].to_vec();
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::Misaligned {
            spi: 0xfeed_0001,
            len: n - 1 - 8 - 16 - 12,
            block: 16
        }
    );
    let mut p = buf[..7].to_vec();
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::Truncated {
            what: "ESP header",
            len: 7,
            needed: 8
        }
    );
}

/// Builds a NULL + HMAC-SHA1-96 packet with an arbitrary (possibly bad) trailer and a
/// valid ICV, so the trailer checks are reached.
fn null_packet(seq: u32, plain: &[u8]) -> Vec<u8> {
    let p = params(
        EncryptionAlgorithm::Null,
        IntegrityAlgorithm::HmacSha1_96,
        Encapsulation::Tunnel,
    );
    let mut pkt = 0xfeed_0001u32.to_be_bytes().to_vec();
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(plain);
    let icv = HmacKey::<Sha1>::new(p.keys.integrity.expose_secret()).icv(&pkt);
    pkt.extend_from_slice(&icv);
    pkt
}

fn null_inbound() -> (InboundSa, Instant) {
    let now = Instant::now();
    let p = params(
        EncryptionAlgorithm::Null,
        IntegrityAlgorithm::HmacSha1_96,
        Encapsulation::Tunnel,
    );
    (InboundSa::new(&p, now).unwrap(), now)
}

#[test]
fn bad_padding_bytes_and_length() {
    let (mut i, now) = null_inbound();
    let mut inner = ipv4(20);
    inner.extend_from_slice(&[1, 2, 9, 4, 5, 6, 6, 4]); // pad byte 2 is 9
    let mut p = null_packet(1, &inner);
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::BadPadding {
            spi: 0xfeed_0001,
            index: 2,
            got: 9,
            expected: 3
        }
    );
    // Authenticated: the window moved even though the trailer is bad.
    assert_eq!(i.replay_window().highest(), 1);
    let mut p = null_packet(2, &[1, 2, 200, 4]);
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::BadPadLength {
            spi: 0xfeed_0001,
            pad_len: 200,
            available: 2
        }
    );
    let mut ok = ipv4(22);
    ok.extend_from_slice(&[0, 4]);
    let mut p = null_packet(3, &ok);
    let d = i.decapsulate(now, &mut p).unwrap();
    assert_eq!(d.payload, 8..30);
}

#[test]
fn bad_next_header_and_dummy_packets() {
    let (mut i, now) = null_inbound();
    let mut p = null_packet(1, &[0, 0, 0, 17]);
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err(),
        EspError::BadNextHeader {
            spi: 0xfeed_0001,
            next_header: 17,
            mode: Mode::Tunnel
        }
    );
    let mut p = null_packet(2, &[0, 0, 0, 59]);
    assert!(i.decapsulate(now, &mut p).unwrap().is_dummy());
    let mut p = null_packet(3, &[0, 0, 0, 41]);
    assert_eq!(i.decapsulate(now, &mut p).unwrap().next_header, 41);
}

#[test]
fn sequence_zero_is_outside_window() {
    let (mut i, now) = null_inbound();
    let mut p = null_packet(0, &[0, 0, 0, 4]);
    assert_eq!(
        i.decapsulate(now, &mut p).unwrap_err().kind(),
        ErrorKind::OutsideWindow
    );
}

#[test]
fn sequence_exhaustion() {
    let (mut o, mut i, now) = pair(EncryptionAlgorithm::Des, IntegrityAlgorithm::HmacMd5_96);
    let mut rng = StdRng::seed_from_u64(5);
    o.set_last_seq(u32::MAX - 1);
    let mut buf = vec![0u8; 200];
    let n = o
        .encapsulate_ip(now, &mut rng, &ipv4(20), &mut buf)
        .unwrap();
    assert_eq!(o.last_seq(), u32::MAX);
    assert_eq!(i.decapsulate(now, &mut buf[..n]).unwrap().seq, u32::MAX);
    assert_eq!(
        o.encapsulate_ip(now, &mut rng, &ipv4(20), &mut buf)
            .unwrap_err(),
        EspError::SequenceExhausted { spi: 0xfeed_0001 }
    );
    assert_eq!(o.last_seq(), u32::MAX, "no wrap");
}

#[test]
fn buffer_too_small_says_how_much() {
    let (mut o, _, now) = pair(EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacSha1_96);
    let mut rng = StdRng::seed_from_u64(6);
    let need = o.encapsulated_len(100).unwrap();
    assert_eq!(need, 8 + 16 + 112 + 12);
    let mut buf = vec![0u8; need - 1];
    assert_eq!(
        o.encapsulate(now, &mut rng, 4, &[0; 100], &mut buf)
            .unwrap_err(),
        EspError::BufferTooSmall {
            needed: need,
            available: need - 1
        }
    );
    assert_eq!(o.last_seq(), 0, "a failed call consumes no sequence number");
    assert_eq!(
        o.encapsulated_len(70000).unwrap_err().kind(),
        ErrorKind::Buffer
    );
    // In place: payload already at payload_offset().
    let mut buf = vec![0u8; need];
    buf[o.payload_offset()..][..100].copy_from_slice(&[9; 100]);
    assert_eq!(
        o.encapsulate_in_place(now, &mut rng, 4, &mut buf, 100)
            .unwrap(),
        need
    );
}

#[test]
fn lifetimes_soft_then_hard_in_seconds() {
    let now = Instant::now();
    let mut p = params(
        EncryptionAlgorithm::Aes128,
        IntegrityAlgorithm::HmacSha1_96,
        Encapsulation::Tunnel,
    );
    p.lifetime = LifetimeConfig::from_hard(Some(100), None);
    let mut o = OutboundSa::new(&p, now).unwrap();
    let mut rng = StdRng::seed_from_u64(8);
    let mut buf = vec![0u8; 200];
    assert_eq!(o.poll_timeout(), Some(now + Duration::from_secs(90)));
    assert_eq!(o.poll_event(now + Duration::from_secs(89)), None);
    assert_eq!(
        o.poll_event(now + Duration::from_secs(90)),
        Some(LifetimeEvent::Soft(LifetimeLimit::Seconds))
    );
    assert_eq!(
        o.poll_event(now + Duration::from_secs(91)),
        None,
        "reported once"
    );
    assert_eq!(o.poll_timeout(), Some(now + Duration::from_secs(100)));
    o.encapsulate_ip(now + Duration::from_secs(99), &mut rng, &ipv4(20), &mut buf)
        .unwrap();
    assert_eq!(
        o.encapsulate_ip(
            now + Duration::from_secs(100),
            &mut rng,
            &ipv4(20),
            &mut buf
        )
        .unwrap_err(),
        EspError::LifetimeExpired {
            spi: 0xfeed_0001,
            limit: LifetimeLimit::Seconds
        }
    );
    assert_eq!(
        o.poll_event(now + Duration::from_secs(100)),
        Some(LifetimeEvent::Hard(LifetimeLimit::Seconds))
    );
    assert_eq!(o.poll_timeout(), None);
}

#[test]
fn lifetimes_in_kilobytes_inbound() {
    let now = Instant::now();
    let mut p = params(
        EncryptionAlgorithm::TripleDes,
        IntegrityAlgorithm::HmacSha1_96,
        Encapsulation::Tunnel,
    );
    p.lifetime = LifetimeConfig {
        soft_kilobytes: Some(2),
        hard_kilobytes: Some(3),
        ..LifetimeConfig::unlimited()
    };
    let mut o = OutboundSa::new(&p, now).unwrap();
    let mut i = InboundSa::new(&p, now).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let mut sent = 0;
    let mut events = Vec::new();
    loop {
        let mut buf = vec![0u8; 1200];
        let n = match o.encapsulate_ip(now, &mut rng, &ipv4(1000), &mut buf) {
            Ok(n) => n,
            Err(e) => {
                assert_eq!(
                    e,
                    EspError::LifetimeExpired {
                        spi: 0xfeed_0001,
                        limit: LifetimeLimit::Kilobytes
                    }
                );
                break;
            }
        };
        sent += 1;
        match i.decapsulate(now, &mut buf[..n]) {
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
        while let Some(ev) = i.poll_event(now) {
            events.push((sent, ev));
        }
    }
    assert_eq!(
        sent, 4,
        "3 KB = 3072 bytes: the 4th 1000-byte packet crosses it"
    );
    assert_eq!(i.bytes(), 4000);
    assert_eq!(
        events,
        vec![
            (3, LifetimeEvent::Soft(LifetimeLimit::Kilobytes)),
            (4, LifetimeEvent::Hard(LifetimeLimit::Kilobytes))
        ]
    );
}

#[test]
fn sa_table_unknown_spi() {
    let now = Instant::now();
    let mut t = InboundSaTable::new();
    let p = params(
        EncryptionAlgorithm::Aes128,
        IntegrityAlgorithm::HmacSha1_96,
        Encapsulation::Tunnel,
    );
    t.insert(InboundSa::new(&p, now).unwrap());
    let mut o = OutboundSa::new(&p, now).unwrap();
    let mut rng = StdRng::seed_from_u64(10);
    let mut buf = vec![0u8; 200];
    let n = o
        .encapsulate_ip(now, &mut rng, &ipv4(30), &mut buf)
        .unwrap();
    let mut q = buf[..n].to_vec();
    q[3] ^= 1;
    assert_eq!(
        t.decapsulate(now, &mut q).unwrap_err(),
        EspError::UnknownSpi { spi: 0xfeed_0000 }
    );
    assert_eq!(t.decapsulate(now, &mut buf[..n]).unwrap().seq, 1);
    assert_eq!(
        t.decapsulate(now, &mut [1, 2, 3]).unwrap_err().kind(),
        ErrorKind::Truncated
    );
}

#[test]
fn error_kinds_have_distinct_names() {
    let names: BTreeSet<_> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(names.len(), ErrorKind::ALL.len());
}

#[test]
fn udp_encapsulation_rfc3948() {
    use udp_encap::*;
    assert_eq!(classify(&[0xff]).unwrap(), Port4500::Keepalive);
    assert_eq!(esp_payload(&[0xff]).unwrap_err().kind(), ErrorKind::NotEsp);
    let ike = [0u8, 0, 0, 0, 0xaa, 0xbb];
    assert_eq!(classify(&ike).unwrap(), Port4500::Ike(&[0xaa, 0xbb]));
    let esp = [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 9];
    assert_eq!(classify(&esp).unwrap(), Port4500::Esp(&esp));
    assert_eq!(
        classify(&esp[..7]).unwrap_err().kind(),
        ErrorKind::Truncated
    );
    assert_eq!(classify(&[]).unwrap_err().kind(), ErrorKind::Truncated);
    let mut hdr = [0xeeu8; 8];
    assert_eq!(write_udp_header(&mut hdr, 4500, 4500, 100).unwrap(), 8);
    assert_eq!(
        hdr,
        [0x11, 0x94, 0x11, 0x94, 0, 108, 0, 0],
        "zero checksum (RFC 3948 2.1)"
    );
    assert_eq!(
        write_udp_header(&mut hdr, 1, 2, 65530).unwrap_err().kind(),
        ErrorKind::Buffer
    );
    let mut out = [0u8; 8];
    assert_eq!(write_ike(&mut out, &[1, 2, 3]).unwrap(), 7);
    assert_eq!(out[..7], [0, 0, 0, 0, 1, 2, 3]);
    assert_eq!(
        write_ike(&mut out, &[1; 5]).unwrap_err(),
        EspError::BufferTooSmall {
            needed: 9,
            available: 8
        }
    );
}

fn l4_checksum(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> u16 {
    let mut sum = 0u32;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&src);
    add(&dst);
    add(&[0, proto]);
    add(&(l4.len() as u16).to_be_bytes());
    add(l4);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

proptest! {
    #[test]
    fn transport_checksum_fixup_matches_recomputation(
        tcp in any::<bool>(),
        data in proptest::collection::vec(any::<u8>(), 20..200),
        a in any::<[u8; 4]>(), b in any::<[u8; 4]>(), c in any::<[u8; 4]>(), d in any::<[u8; 4]>(),
    ) {
        let proto = if tcp { 6 } else { 17 };
        let at = if tcp { 16 } else { 6 };
        let mut l4 = data.clone();
        l4[at] = 0; l4[at + 1] = 0;
        let mut c0 = l4_checksum(proto, a, b, &l4);
        if !tcp && c0 == 0 { c0 = 0xffff; }
        l4[at..at + 2].copy_from_slice(&c0.to_be_bytes());
        udp_encap::fixup_transport_checksum(proto, &mut l4, a, b, c, d).unwrap();
        // The fixed packet verifies against the new addresses.
        let v = l4_checksum(proto, c, d, &l4);
        prop_assert!(v == 0 || v == 0xffff, "{v:#x}");
        // A zero UDP checksum stays zero.
        if !tcp {
            let mut z = data.clone();
            z[6] = 0; z[7] = 0;
            udp_encap::fixup_transport_checksum(17, &mut z, a, b, c, d).unwrap();
            prop_assert_eq!(&z[6..8], &[0, 0]);
        }
    }

    #[test]
    fn decapsulate_encapsulate_is_identity(
        enc in 0usize..6, auth in 0usize..3, transport in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1500),
        seed in any::<u64>(),
    ) {
        let (enc, auth) = (ENCS[enc], AUTHS[auth]);
        prop_assume!(!(enc == EncryptionAlgorithm::Null && auth == IntegrityAlgorithm::None));
        let mode = if transport { Encapsulation::UdpTransport } else { Encapsulation::UdpTunnel };
        let now = Instant::now();
        let mut o = OutboundSa::new(&params(enc, auth, mode), now).unwrap();
        let mut i = InboundSa::new(&params(enc, auth, mode), now).unwrap();
        let nh = if transport { 6 } else { 4 };
        let mut rng = StdRng::seed_from_u64(seed);
        let mut buf = vec![0u8; 1600];
        let n = o.encapsulate(now, &mut rng, nh, &payload, &mut buf).unwrap();
        let d = i.decapsulate(now, &mut buf[..n]).unwrap();
        prop_assert_eq!(&buf[d.payload.clone()], &payload[..]);
        prop_assert_eq!(d.next_header, nh);
        prop_assert_eq!(d.seq, 1);
    }

    #[test]
    fn replay_window_agrees_with_set_model(
        size in prop_oneof![Just(0u32), Just(64), Just(128), 1u32..2000],
        seqs in proptest::collection::vec(
            prop_oneof![0u32..300, 0u32..5000, Just(u32::MAX), Just(u32::MAX - 1)], 1..400),
        verify in proptest::collection::vec(any::<bool>(), 400),
    ) {
        let mut w = ReplayWindow::new(size);
        let eff = w.size();
        prop_assert!(eff >= size.min(65536) && eff % 64 == 0);
        let mut seen = BTreeSet::new();
        let mut highest = 0u32;
        for (k, &s) in seqs.iter().enumerate() {
            let model = if s == 0 {
                Err(replay::ReplayVerdict::OutsideWindow)
            } else if eff == 0 || s > highest {
                Ok(())
            } else if highest - s >= eff {
                Err(replay::ReplayVerdict::OutsideWindow)
            } else if seen.contains(&s) {
                Err(replay::ReplayVerdict::Replayed)
            } else {
                Ok(())
            };
            prop_assert_eq!(w.check(s), model, "seq {} highest {}", s, highest);
            // Only "authenticated" packets update the window.
            if model.is_ok() && verify[k] {
                w.update(s);
                seen.insert(s);
                highest = highest.max(s);
            }
            prop_assert_eq!(w.highest(), highest);
        }
    }
}

#[test]
fn replay_window_large_sizes() {
    let mut w = ReplayWindow::new(1024);
    assert_eq!(w.size(), 1024);
    w.update(5000);
    assert!(w.check(5000 - 1023).is_ok());
    assert_eq!(
        w.check(5000 - 1024),
        Err(replay::ReplayVerdict::OutsideWindow)
    );
    w.update(3977);
    assert_eq!(w.check(3977), Err(replay::ReplayVerdict::Replayed));
    w.update(5001);
    assert_eq!(w.check(3977), Err(replay::ReplayVerdict::OutsideWindow));
    let p = {
        let mut p = params(
            EncryptionAlgorithm::Aes128,
            IntegrityAlgorithm::HmacSha1_96,
            Encapsulation::Tunnel,
        );
        p.replay_window = 70000;
        p
    };
    assert_eq!(
        InboundSa::new(&p, Instant::now()).unwrap_err(),
        EspError::InvalidReplayWindow {
            size: 70000,
            max: 65536
        }
    );
}

/// Every rendering of a run of three bytes of `bytes` that a leak would show: decimal
/// and hex `Debug` of a slice, `0x` hex, and contiguous lower and upper hex; without
/// whitespace (the text searched has none either).
fn renderings(bytes: &[u8]) -> Vec<String> {
    bytes
        .windows(3)
        .flat_map(|w| {
            let (a, b, c) = (w[0], w[1], w[2]);
            [
                format!("{a},{b},{c}"),
                format!("{a:x},{b:x},{c:x}"),
                format!("0x{a:x},0x{b:x},0x{c:x}"),
                format!("{a:02x}{b:02x}{c:02x}"),
                format!("{a:02X}{b:02X}{c:02X}"),
            ]
        })
        .collect()
}

#[test]
fn debug_output_never_shows_keys() {
    let now = Instant::now();
    // Bytes whose hex digits are all letters and whose decimal renderings are
    // comma-separated runs: neither can occur by chance in what else the Debug output
    // holds (numbers such as an `Instant`'s seconds and nanoseconds).
    let key: [u8; 24] = [
        0xab, 0xbc, 0xcd, 0xde, 0xef, 0xfa, 0xaf, 0xba, 0xac, 0xbd, 0xce, 0xdf, 0xea, 0xfb, 0xad,
        0xbe, 0xae, 0xbf, 0xca, 0xdb, 0xec, 0xfd, 0xda, 0xeb,
    ];
    let auth: [u8; 20] = [
        0xca, 0xfe, 0xbe, 0xef, 0xda, 0xcc, 0xdd, 0xee, 0xff, 0xaa, 0xbb, 0xfc, 0xed, 0xdc, 0xcb,
        0xba, 0xaf, 0xfe, 0xea, 0xce,
    ];
    let needles: Vec<String> = renderings(&key)
        .into_iter()
        .chain(renderings(&auth))
        .collect();
    for b in key.iter().chain(&auth) {
        assert!(format!("{b:02x}").chars().all(|c| c.is_ascii_alphabetic()));
    }
    let p = EspSaParams::new(
        1,
        EncryptionAlgorithm::TripleDes,
        IntegrityAlgorithm::HmacSha1_96,
        Encapsulation::Tunnel,
        EspKeys::new(&key, &auth),
    );
    let out = OutboundSa::new(&p, now).unwrap();
    let inb = InboundSa::new(&p, now).unwrap();
    for text in [
        format!("{p:?}"),
        format!("{out:?}"),
        format!("{inb:?}"),
        format!("{p:#?}"),
        format!("{out:#?}"),
        format!("{inb:#?}"),
    ] {
        assert!(text.contains("redacted"), "{text}");
        let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for needle in &needles {
            assert!(!flat.contains(needle.as_str()), "{needle} in {text}");
        }
    }
}

#[test]
fn a_refused_packet_is_left_as_it_came() {
    // AES with an HMAC checks and decrypts side by side: a forgery must still leave
    // the caller's buffer exactly as it was (the decrypted part is encrypted back).
    for (enc, auth) in [
        (EncryptionAlgorithm::Aes128, IntegrityAlgorithm::HmacSha1_96),
        (EncryptionAlgorithm::Aes256, IntegrityAlgorithm::HmacMd5_96),
        (
            EncryptionAlgorithm::TripleDes,
            IntegrityAlgorithm::HmacSha1_96,
        ),
    ] {
        let (mut o, mut i, now) = pair(enc, auth);
        let mut rng = StdRng::seed_from_u64(5);
        let mut buf = vec![0u8; 2048];
        let n = o
            .encapsulate_ip(now, &mut rng, &ipv4(1400), &mut buf)
            .unwrap();
        for byte in [8usize, 30, 100, 700, n - 13, n - 1] {
            let mut p = buf[..n].to_vec();
            p[byte] ^= 0x01;
            let before = p.clone();
            let err = i.decapsulate(now, &mut p).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BadIcv, "{enc:?} byte {byte}");
            assert!(
                p == before,
                "{enc:?}/{auth:?}: byte {byte} tampered, buffer changed"
            );
        }
        let mut p = buf[..n].to_vec();
        let d = i.decapsulate(now, &mut p).unwrap();
        assert_eq!(&p[d.payload.clone()][..20], &ipv4(1400)[..20]);
    }
}
