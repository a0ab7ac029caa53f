//! Every raw ISAKMP message in ike-scan's corpus parses (IKEv2 ones are rejected
//! with a version error), round-trips byte for byte, and agrees with ike-scan's
//! own decode (check-decode.expected.txt) on the fields it states.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // IO in a test: reads ike-scan's corpus
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use isakmp_wire::attr::phase1::{Phase1Attribute, Phase1Transform};
use isakmp_wire::doi::IdType;
use isakmp_wire::payload::id::IdValue;
use isakmp_wire::{Body, Message, OwnedMessage, Payload, PayloadType, WireError};

fn read(name: &str) -> Vec<u8> {
    testkit::corpus::read_corpus(&format!("ike-scan/{name}"))
}

fn payloads(bytes: &[u8]) -> Vec<isakmp_wire::PayloadRef<'_>> {
    let m = Message::parse(bytes).unwrap();
    let Body::Payloads(c) = m.body else {
        panic!("encrypted")
    };
    c.iter().collect::<Result<_, _>>().unwrap()
}

#[test]
fn every_dat_file_parses_or_is_rejected_as_ikev2() {
    let mut seen = 0;
    for e in std::fs::read_dir(testkit::corpus::corpus("ike-scan")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !name.ends_with(".dat") {
            continue;
        }
        seen += 1;
        let mut bytes = std::fs::read(&path).unwrap();
        if name.contains("natt") {
            // UDP 4500 payload: the 4-byte non-ESP marker precedes ISAKMP.
            assert_eq!(&bytes[..4], &[0, 0, 0, 0], "{name}");
            bytes.drain(..4);
        }
        let r = Message::parse(&bytes);
        if name == "pkt-malformed.dat" {
            // --headerver=0x32: ike-scan's deliberately odd header.
            assert!(
                matches!(
                    r,
                    Err(WireError::UnsupportedVersion {
                        major: 3,
                        minor: 2,
                        ..
                    })
                ),
                "{name}: {r:?}"
            );
            continue;
        }
        if name.contains("v2") || name == "pkt-ikev2.dat" {
            assert!(
                matches!(
                    r,
                    Err(WireError::UnsupportedVersion {
                        major: 2,
                        minor: 0,
                        ..
                    })
                ),
                "{name}: {r:?}"
            );
            assert_eq!(r.unwrap_err().notify(), 5, "INVALID-MAJOR-VERSION");
            continue;
        }
        let m = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m.wire_len(), bytes.len(), "{name}");
        let owned = m.to_owned_message().unwrap();
        assert_eq!(
            owned.to_bytes().unwrap(),
            bytes,
            "{name}: bytes -> model -> bytes"
        );
        assert_eq!(owned.wire_len(), bytes.len(), "{name}");
    }
    assert_eq!(seen, 14, "all 14 .dat files seen");
}

#[test]
fn main_mode_response_agrees_with_ike_scan() {
    // HDR=(CKY-R=636fa075dcf8ba90)
    // SA=(Enc=3DES Hash=SHA1 Auth=RSA_Sig Group=2:modp1024 LifeType=Seconds LifeDuration(4)=0x00007080)
    let bytes = read("pkt-main-mode-response.dat");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(hex::encode(m.header.responder_cookie), "636fa075dcf8ba90");
    assert_eq!(hex::encode(m.header.initiator_cookie), "deadbeefdeadbeef");
    let ps = payloads(&bytes);
    let Payload::Sa(sa) = ps[0].body else {
        panic!()
    };
    let p = sa.proposals().next().unwrap().unwrap();
    let t = p.transforms().next().unwrap().unwrap();
    let v = Phase1Transform::from_attributes(t.attributes()).unwrap();
    assert_eq!(v.encryption.unwrap().name(), "3DES-CBC");
    assert_eq!(v.hash.unwrap().name(), "SHA");
    assert_eq!(v.auth_method.unwrap().name(), "RSA signatures");
    assert_eq!(v.group.unwrap().number(), 2);
    assert_eq!(v.life_seconds, Some(0x7080));
    // LifeDuration(4): a 4-byte TLV, kept in that form.
    let life = t
        .attributes()
        .map(Result::unwrap)
        .find(|a| matches!(Phase1Attribute::from(*a), Phase1Attribute::LifeDuration(_)))
        .unwrap();
    assert_eq!(life.bytes(), Some(&[0, 0, 0x70, 0x80][..]));
    let Payload::VendorId(vid) = ps[1].body else {
        panic!()
    };
    assert_eq!(
        hex::encode(vid.0),
        "f4ed19e0c114eb516faaac0ee37daf2807b4381f000000010000138d459becd70000000018000000"
    );
    assert_eq!(
        vid.known().unwrap().vendor().name(),
        "Check Point Firewall-1"
    );
}

#[test]
fn aggressive_mode_response_agrees_with_ike_scan() {
    let bytes = read("pkt-aggr-mode-response.dat");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(hex::encode(m.header.responder_cookie), "61a878367079dd35");
    assert_eq!(m.header.exchange_type.name(), "Aggressive");
    let ps = payloads(&bytes);
    let kinds: Vec<_> = ps.iter().map(|p| p.kind).collect();
    use PayloadType as T;
    assert_eq!(
        kinds,
        [
            T::SecurityAssociation,
            T::VendorId,
            T::VendorId,
            T::VendorId,
            T::KeyExchange,
            T::Nonce,
            T::Identification,
            T::Hash
        ]
    );
    let Payload::Sa(sa) = ps[0].body else {
        panic!()
    };
    let t = sa
        .proposals()
        .next()
        .unwrap()
        .unwrap()
        .transforms()
        .next()
        .unwrap()
        .unwrap();
    let v = Phase1Transform::from_attributes(t.attributes()).unwrap();
    assert_eq!(v.encryption.unwrap().name(), "3DES-CBC");
    assert_eq!(v.auth_method.unwrap().name(), "Pre-shared key");
    assert_eq!(v.life_seconds, Some(28800));
    let names: Vec<String> = ps
        .iter()
        .filter_map(|p| match p.body {
            Payload::VendorId(v) => Some(v.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(names[0], "Netscreen-15");
    assert_eq!(names[1], "RFC 3706 DPD (Dead Peer Detection)");
    assert!(names[2].starts_with("HeartBeat_Notify"), "{}", names[2]);
    let Payload::KeyExchange(ke) = ps[4].body else {
        panic!()
    };
    assert_eq!(ke.len(), 128);
    assert_eq!(
        hex::encode(ke),
        "9a1f1fce36808165e6b253df5845567aebe67bcbcfed3f3347ca6349926bbc9f9bdc2ce1a3297ae7ffaf0fe86b4ae05ae63e2bf084b7f78c19d154560067b9a1492259a203df7d3d286dc093e1ea64f0683fb7bc1bbdd98fd34cd6568a9547573a9933f0d44aab7b21499d5995797cf183392a3dac51cb320fa56c0c57cff1bd"
    );
    let Payload::Nonce(n) = ps[5].body else {
        panic!()
    };
    assert_eq!(hex::encode(n), "8ffc97aebdf3ea384341f12392043badce30c230");
    let Payload::Identification(id) = ps[6].body else {
        panic!()
    };
    assert_eq!(id.id_type, IdType::Ipv4Addr);
    assert_eq!(id.value(), IdValue::Ipv4("62.3.105.251".parse().unwrap()));
    // idir_b in the PSK parameters is the ID body: type, protocol, port, data.
    let mut idb = Vec::new();
    id.emit(&mut idb);
    assert_eq!(hex::encode(idb), "011101f43e0369fb");
    let Payload::Hash(h) = ps[7].body else {
        panic!()
    };
    assert_eq!(hex::encode(h), "950d8c8ea94a4af3d0b078372e81608890485b54");
}

#[test]
fn notify_responses_agree_with_ike_scan() {
    let bytes = read("pkt-notify-response.dat");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(m.header.message_id, 0x41a8534e);
    let ps = payloads(&bytes);
    let Payload::Notification(n) = ps[0].body else {
        panic!()
    };
    assert_eq!(n.notify_type.number(), 14);
    assert_eq!(n.notify_type.name(), "NO-PROPOSAL-CHOSEN");

    let bytes = read("pkt-checkpoint-notify.dat");
    let ps = payloads(&bytes);
    let Payload::Notification(n) = ps[0].body else {
        panic!()
    };
    assert_eq!(n.notify_type.number(), 9101);
    assert_eq!(n.data, b"User testing unknown.\0");
}

#[test]
fn cert_response_agrees_with_ike_scan() {
    let bytes = read("pkt-aggr-cert-response.dat");
    let m = Message::parse(&bytes).unwrap();
    assert_eq!(hex::encode(m.header.responder_cookie), "94403c1b3fcacf94");
    let ps = payloads(&bytes);
    let mut saw_cert = false;
    let mut saw_sig = false;
    for p in &ps {
        match p.body {
            Payload::Certificate(c) => {
                assert_eq!(c.encoding.name(), "X.509 Certificate - Signature");
                assert_eq!(c.data.len(), 1376);
                saw_cert = true;
            }
            Payload::Signature(s) => {
                assert_eq!(s.len(), 256);
                saw_sig = true;
            }
            Payload::Identification(id) => {
                assert_eq!(id.value().to_string(), "172.16.3.27");
            }
            Payload::KeyExchange(k) => assert_eq!(k.len(), 128),
            Payload::Nonce(n) => assert_eq!(n.len(), 20),
            _ => {}
        }
    }
    assert!(saw_cert && saw_sig);
}

#[test]
fn natt_main_mode_response_agrees_with_ike_scan() {
    // HDR=(CKY-R=f92704e8a4245b38), same SA as the MM response, Firewall-1 VID.
    let raw = read("pkt-main-natt-response.dat");
    let isakmp_wire::natt::Udp4500::Isakmp(bytes) = isakmp_wire::natt::classify_udp4500(&raw)
    else {
        panic!("non-ESP marker expected")
    };
    let m = Message::parse(bytes).unwrap();
    assert_eq!(hex::encode(m.header.responder_cookie), "f92704e8a4245b38");
    let ps = payloads(bytes);
    let Payload::Sa(sa) = ps[0].body else {
        panic!()
    };
    let t = sa
        .proposals()
        .next()
        .unwrap()
        .unwrap()
        .transforms()
        .next()
        .unwrap()
        .unwrap();
    let v = Phase1Transform::from_attributes(t.attributes()).unwrap();
    assert_eq!(
        (
            v.encryption.unwrap().number(),
            v.hash.unwrap().number(),
            v.group.unwrap().number()
        ),
        (5, 2, 2)
    );
    assert_eq!(v.life_seconds, Some(0x7080));
    let Payload::VendorId(vid) = ps[1].body else {
        panic!()
    };
    assert_eq!(
        hex::encode(vid.0),
        "f4ed19e0c114eb516faaac0ee37daf2807b4381f000000010000138d459d15d80000000018000000"
    );
}

#[test]
fn ikev2_is_rejected_with_a_version_error() {
    for name in [
        "pkt-v2-sainit-response.dat",
        "pkt-v2-notify-response.dat",
        "pkt-ikev2.dat",
    ] {
        let bytes = read(name);
        let e = Message::parse(&bytes).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unsupported ISAKMP version 2.0 at offset 17 (this codec speaks IKEv1, version 1.0)"
        );
        // The cheap view still routes it.
        let v = isakmp_wire::Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(v.version(), 0x20);
    }
}

#[test]
fn custom_proposal_keeps_reserved_bytes_and_attribute_order() {
    // --mbz=255: every reserved field is 255; the third transform repeats
    // LifeType/LifeDuration pairs (seconds then kilobytes).
    let bytes = read("pkt-custom-proposal.dat");
    let ps = payloads(&bytes);
    assert_eq!(ps[0].reserved, 255);
    let Payload::Sa(sa) = ps[0].body else {
        panic!()
    };
    let p = sa.proposals().next().unwrap().unwrap();
    assert_eq!(p.reserved, 255);
    let ts: Vec<_> = p.transforms().map(Result::unwrap).collect();
    assert_eq!(ts.len(), 3);
    assert!(ts
        .iter()
        .all(|t| t.reserved == 255 && t.reserved2 == 0xffff));
    let v = Phase1Transform::from_attributes(ts[1].attributes()).unwrap();
    assert_eq!(v.encryption.unwrap().name(), "AES-CBC");
    assert_eq!(v.key_length, Some(128));
    let v = Phase1Transform::from_attributes(ts[2].attributes()).unwrap();
    assert_eq!(v.life_seconds, Some(0x7080));
    assert_eq!(v.life_kilobytes, Some(0x0010_0000));
    let vids: Vec<_> = ps
        .iter()
        .filter_map(|p| match p.body {
            Payload::VendorId(v) => Some(hex::encode(v.0)),
            _ => None,
        })
        .collect();
    assert_eq!(vids, ["deadbeef", "00010203"]);
    assert_eq!(
        OwnedMessage::parse(&bytes).unwrap().to_bytes().unwrap(),
        bytes
    );
}

#[test]
fn default_proposal_has_eight_transforms_as_documented() {
    let bytes = read("pkt-default-proposal.dat");
    let ps = payloads(&bytes);
    let Payload::Sa(sa) = ps[0].body else {
        panic!()
    };
    let p = sa.proposals().next().unwrap().unwrap();
    let got: Vec<(u16, u16, u16, u16)> = p
        .transforms()
        .map(|t| {
            let v = Phase1Transform::from_attributes(t.unwrap().attributes()).unwrap();
            (
                v.encryption.unwrap().number(),
                v.hash.unwrap().number(),
                v.auth_method.unwrap().number(),
                v.group.unwrap().number(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (5, 2, 1, 2),
            (5, 1, 1, 2),
            (1, 2, 1, 2),
            (1, 1, 1, 2),
            (5, 2, 1, 1),
            (5, 1, 1, 1),
            (1, 2, 1, 1),
            (1, 1, 1, 1)
        ]
    );
}

#[test]
fn owned_parse_matches_borrowed() {
    let bytes = read("pkt-aggressive.dat");
    let o = OwnedMessage::parse(&bytes).unwrap();
    assert_eq!(o.to_bytes().unwrap(), bytes);
}
