//! Unit tests per wire type: layout against hand-assembled RFC layouts, parse,
//! emit, wire_len, truncation at every prefix, and the caps.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use core::net::{Ipv4Addr, Ipv6Addr};

use isakmp_wire::attr::ipsec::{EncapsulationMode, IpsecTransform};
use isakmp_wire::attr::phase1::AuthMethod;
use isakmp_wire::attr::{AttrSpace, Attribute, OwnedAttribute};
use isakmp_wire::doi::{Doi, IdType, ProtocolId};
use isakmp_wire::payload::delete::{DeletePayload, OwnedDelete};
use isakmp_wire::payload::fragment::FragmentPayload;
use isakmp_wire::payload::id::{IdPayload, IdValue, OwnedId};
use isakmp_wire::payload::nat_oa::NatOaPayload;
use isakmp_wire::payload::notify::{NotifyPayload, NotifyType};
use isakmp_wire::payload::sa::SaPayload;
use isakmp_wire::{parse_decrypted, Limits, Location, Message, Payload, PayloadType, WireError};

/// SA (RFC 2408 3.4) with one ESP proposal (3.5, SPI 4 bytes) of one transform
/// (3.6: ESP_3DES, HMAC-MD5, tunnel, life 28800 s as a 4-byte TLV).
const SA_BODY: [u8; 44] = [
    0, 0, 0, 1, // DOI IPsec
    0, 0, 0, 1, // SIT_IDENTITY_ONLY
    0, 0, 0, 36, // proposal: last, reserved, length 36
    1, 3, 4, 1, // #1, ESP, SPI size 4, 1 transform
    0xde, 0xad, 0xbe, 0xef, // SPI
    0, 0, 0, 24, // transform: last, reserved, length 24
    1, 3, 0, 0, // #1, ESP_3DES, RESERVED2
    0x80, 5, 0, 1, // Authentication-Algorithm HMAC-MD5 (TV)
    0x80, 4, 0, 1, // Encapsulation-Mode Tunnel (TV)
    0, 2, 0, 4, 0, 0, 0x70, 0x80, // SA-Life-Duration 28800 (TLV, 4 bytes)
];

#[test]
fn sa_proposal_transform_layout() {
    let sa = SaPayload::parse(&SA_BODY, 32, &Limits::DEFAULT).unwrap();
    assert_eq!((sa.doi, sa.situation), (Doi::Ipsec, 1));
    let ps: Vec<_> = sa.proposals().map(Result::unwrap).collect();
    assert_eq!(ps.len(), 1);
    let p = &ps[0];
    assert_eq!(
        (p.number, p.protocol, p.spi, p.transform_count),
        (1, ProtocolId::Esp, &[0xde, 0xad, 0xbe, 0xef][..], 1)
    );
    assert_eq!(p.offset, 40);
    assert_eq!(p.wire_len(), 36);
    let t = p.transforms().next().unwrap().unwrap();
    assert_eq!((t.number, t.transform_id, t.offset), (1, 3, 52));
    assert_eq!(
        isakmp_wire::doi::transform_name(p.protocol, t.transform_id),
        "3DES"
    );
    let v = IpsecTransform::from_attributes(t.attributes()).unwrap();
    assert_eq!(v.encapsulation, Some(EncapsulationMode::Tunnel));
    assert_eq!(v.auth.unwrap().name(), "HMAC-MD5");
    // No life type before the duration: RFC 2407 says seconds is the default,
    // but the view only pairs a duration with an explicit type.
    assert_eq!(v.life_seconds, None);
    let mut out = Vec::new();
    sa.emit(&mut out);
    assert_eq!(out, SA_BODY);
    assert_eq!(sa.wire_len(), SA_BODY.len());
    let owned = sa.to_owned_sa().unwrap();
    let mut out = Vec::new();
    owned.emit(&mut out).unwrap();
    assert_eq!(out, SA_BODY);
    assert_eq!(owned.wire_len(), SA_BODY.len());
    // Every prefix is an error, except DOI + situation alone (an SA with no
    // proposal is well-formed syntax; choosing from it is the state machine's job).
    for n in 0..SA_BODY.len() {
        let r = SaPayload::parse(&SA_BODY[..n], 32, &Limits::DEFAULT);
        assert_eq!(r.is_ok(), n == 8, "prefix {n}: {r:?}");
    }
}

#[test]
fn bad_proposal_syntax_is_named() {
    // Transform count says 2, one present: BAD-PROPOSAL-SYNTAX.
    let mut b = SA_BODY;
    b[15] = 2;
    let e = SaPayload::parse(&b, 0, &Limits::DEFAULT).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::BadProposal {
                field: "number of transforms",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.notify(), 15);
    // Last transform claims a successor.
    let mut b = SA_BODY;
    b[20] = 3;
    let e = SaPayload::parse(&b, 0, &Limits::DEFAULT).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::BadProposal {
                field: "next payload",
                value: 3,
                ..
            }
        ),
        "{e}"
    );
    // Transform length runs past the proposal.
    let mut b = SA_BODY;
    b[23] = 25;
    let e = SaPayload::parse(&b, 0, &Limits::DEFAULT).unwrap_err();
    assert_eq!(
        e,
        WireError::BadLength {
            what: "transforms",
            at: Location {
                offset: 20,
                payload: Some(3)
            },
            length: 25,
            reason: "runs past the end of the enclosing payload"
        }
    );
}

#[test]
fn caps_on_proposals_transforms_attributes_payloads() {
    let limits = Limits {
        max_proposals: 1,
        max_transforms: 1,
        max_attributes: 2,
        ..Limits::DEFAULT
    };
    let e = SaPayload::parse(&SA_BODY, 0, &limits).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::TooMany {
                what: "data attributes",
                limit: 2,
                ..
            }
        ),
        "{e}"
    );
    // Two proposals, cap 1.
    let mut two = SA_BODY[..8].to_vec();
    let mut p = SA_BODY[8..].to_vec();
    p[0] = 2;
    two.extend_from_slice(&p);
    two.extend_from_slice(&SA_BODY[8..]);
    assert!(SaPayload::parse(&two, 0, &Limits::DEFAULT).is_ok());
    let e = SaPayload::parse(
        &two,
        0,
        &Limits {
            max_proposals: 1,
            ..Limits::DEFAULT
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            WireError::TooMany {
                what: "proposals",
                limit: 1,
                ..
            }
        ),
        "{e}"
    );
    // 65 VIDs in one message, cap 64.
    let mut body = Vec::new();
    for i in 0..65 {
        body.extend_from_slice(&[if i == 64 { 0 } else { 13 }, 0, 0, 4]);
    }
    let e = parse_decrypted(PayloadType::VendorId, &body, 28, &Limits::DEFAULT).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::TooMany {
                what: "payloads",
                limit: 64,
                ..
            }
        ),
        "{e}"
    );
    assert!(parse_decrypted(PayloadType::VendorId, &body[4..], 28, &Limits::DEFAULT).is_ok());
}

#[test]
fn notify_dpd_layout() {
    // R-U-THERE (RFC 3706): DOI 1, ISAKMP, SPI = CKY-I|CKY-R, sequence 0x01020304.
    let mut b = vec![0, 0, 0, 1, 1, 16, 0x8d, 0x28];
    b.extend_from_slice(&[0xaa; 16]);
    b.extend_from_slice(&[1, 2, 3, 4]);
    let n = NotifyPayload::parse(&b, 0).unwrap();
    assert_eq!(n.notify_type, NotifyType::RUThere);
    assert_eq!(n.notify_type.number(), 36136);
    assert!(!n.notify_type.is_error());
    assert_eq!(n.spi, &[0xaa; 16]);
    assert_eq!(n.dpd_sequence(), Some(0x0102_0304));
    let mut out = Vec::new();
    n.emit(&mut out).unwrap();
    assert_eq!(out, b);
    assert_eq!(n.wire_len(), b.len());
    for n in 0..24 {
        assert!(NotifyPayload::parse(&b[..n], 0).is_err(), "prefix {n}");
    }
    for (num, name) in [
        (24578, "INITIAL-CONTACT"),
        (24576, "RESPONDER-LIFETIME"),
        (24577, "REPLAY-STATUS"),
        (36137, "R-U-THERE-ACK"),
        (16, "PAYLOAD-MALFORMED"),
        (40501, "UNITY-LOAD-BALANCE"),
    ] {
        assert_eq!(NotifyType::from(num).name(), name);
    }
}

#[test]
fn delete_with_many_spis() {
    let d = OwnedDelete::ipsec(ProtocolId::Esp, &[0x11223344, 0x55667788, 0x99aabbcc]).unwrap();
    let mut b = Vec::new();
    d.emit(&mut b);
    assert_eq!(&b[..8], &[0, 0, 0, 1, 3, 4, 0, 3]);
    assert_eq!(b.len(), d.wire_len());
    let p = DeletePayload::parse(&b, 0, &Limits::DEFAULT).unwrap();
    let spis: Vec<_> = p.spis().collect();
    assert_eq!(
        spis,
        [
            &[0x11, 0x22, 0x33, 0x44][..],
            &[0x55, 0x66, 0x77, 0x88],
            &[0x99, 0xaa, 0xbb, 0xcc]
        ]
    );
    for n in 0..b.len() {
        assert!(
            DeletePayload::parse(&b[..n], 0, &Limits::DEFAULT).is_err(),
            "prefix {n}"
        );
    }
    let d = OwnedDelete::isakmp([1; 8], [2; 8]);
    let mut b = Vec::new();
    d.emit(&mut b);
    let p = DeletePayload::parse(&b, 0, &Limits::DEFAULT).unwrap();
    assert_eq!(
        p.spis().next().unwrap(),
        &[1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
    );
    // Count and size disagree with the body.
    let mut bad = b.clone();
    bad[7] = 2;
    assert!(matches!(
        DeletePayload::parse(&bad, 0, &Limits::DEFAULT),
        Err(WireError::BadLength { .. })
    ));
    // Cap on SPIs.
    let e = DeletePayload::parse(
        &b,
        0,
        &Limits {
            max_spis: 0,
            ..Limits::DEFAULT
        },
    )
    .unwrap_err();
    assert!(matches!(e, WireError::TooMany { .. }));
}

#[test]
fn id_types() {
    let cases: Vec<(OwnedId, &str)> = vec![
        (
            OwnedId::ipv4(Ipv4Addr::new(10, 1, 2, 3), 17, 500),
            "10.1.2.3",
        ),
        (OwnedId::key_id(b"vpn3000".to_vec()), "vpn3000"),
        (
            OwnedId::ipv4_subnet(
                Ipv4Addr::new(192, 168, 1, 0),
                Ipv4Addr::new(255, 255, 255, 0),
            ),
            "192.168.1.0/255.255.255.0",
        ),
        (
            OwnedId {
                id_type: IdType::Ipv4AddrRange,
                protocol: 6,
                port: 80,
                data: vec![10, 0, 0, 1, 10, 0, 0, 9],
            },
            "10.0.0.1-10.0.0.9",
        ),
        (
            OwnedId {
                id_type: IdType::Ipv6Addr,
                protocol: 0,
                port: 0,
                data: Ipv6Addr::LOCALHOST.octets().to_vec(),
            },
            "::1",
        ),
        (
            OwnedId {
                id_type: IdType::Fqdn,
                protocol: 0,
                port: 0,
                data: b"pix.example.com".to_vec(),
            },
            "pix.example.com",
        ),
        (
            OwnedId {
                id_type: IdType::UserFqdn,
                protocol: 0,
                port: 0,
                data: b"a@b.c".to_vec(),
            },
            "a@b.c",
        ),
        (
            OwnedId {
                id_type: IdType::DerAsn1Dn,
                protocol: 0,
                port: 0,
                data: vec![0x30, 0x00],
            },
            "3000",
        ),
    ];
    for (id, text) in cases {
        let mut b = Vec::new();
        id.emit(&mut b);
        assert_eq!(b.len(), id.wire_len());
        assert_eq!(
            b[..4],
            [
                u8::from(id.id_type),
                id.protocol,
                (id.port >> 8) as u8,
                id.port as u8
            ]
        );
        let p = IdPayload::parse(&b, 0).unwrap();
        assert_eq!(p.value().to_string(), text);
        assert_eq!(p.to_owned_id(), id);
        for n in 0..4 {
            assert!(IdPayload::parse(&b[..n], 0).is_err());
        }
    }
    let v6net = [vec![6, 0, 0, 0], vec![0x20; 16], vec![0xff; 8], vec![0; 8]].concat();
    let p = IdPayload::parse(&v6net, 0).unwrap();
    assert!(
        matches!(p.value(), IdValue::Ipv6Subnet(_, m) if m.to_string() == "ffff:ffff:ffff:ffff::")
    );
    // Address types need exactly their address bytes: INVALID-ID-INFORMATION.
    let e = IdPayload::parse(&[1, 0, 0, 0, 10, 0, 0], 40).unwrap_err();
    assert_eq!(e.notify(), 18);
    assert_eq!(
        e.location(),
        Location {
            offset: 44,
            payload: Some(5)
        }
    );
}

#[test]
fn nat_oa_and_fragment_layouts() {
    let b = [1, 0, 0, 0, 192, 0, 2, 1];
    let p = NatOaPayload::parse(&b, 0, 21).unwrap();
    assert_eq!(p.addr(), Some(Ipv4Addr::new(192, 0, 2, 1).into()));
    let mut out = Vec::new();
    p.emit(&mut out);
    assert_eq!(out, b);
    for n in 0..4 {
        assert!(NatOaPayload::parse(&b[..n], 0, 21).is_err());
    }
    let f = [0x12, 0x34, 2, 1, 0xaa, 0xbb];
    let p = FragmentPayload::parse(&f, 0).unwrap();
    assert_eq!(
        (p.fragment_id, p.number, p.is_last(), p.data),
        (0x1234, 2, true, &[0xaa, 0xbb][..])
    );
    let mut out = Vec::new();
    p.emit(&mut out);
    assert_eq!(out, f);
    for n in 0..4 {
        assert!(FragmentPayload::parse(&f[..n], 0).is_err());
    }
}

#[test]
fn decrypted_chain_reports_padding() {
    // HASH(20) then NOTIFY INITIAL-CONTACT, then 7 bytes of padding.
    let mut b = vec![11, 0, 0, 24];
    b.extend_from_slice(&[0x55; 20]);
    b.extend_from_slice(&[0, 0, 0, 28, 0, 0, 0, 1, 1, 16, 0x60, 0x02]);
    b.extend_from_slice(&[0x77; 16]);
    b.extend_from_slice(&[0, 0, 0, 0, 0, 0, 7]);
    let c = parse_decrypted(PayloadType::Hash, &b, 28, &Limits::DEFAULT).unwrap();
    assert_eq!(c.padding, &[0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(c.count, 2);
    let ps: Vec<_> = c.iter().map(Result::unwrap).collect();
    assert_eq!(ps[1].offset, 28 + 24);
    let Payload::Notification(n) = ps[1].body else {
        panic!()
    };
    assert_eq!(n.notify_type, NotifyType::InitialContact);
    // The same bytes as a plaintext message body are refused (trailing bytes).
    let mut msg = vec![0u8; 28];
    msg[16] = 8;
    msg[17] = 0x10;
    msg[18] = 5;
    msg.extend_from_slice(&b);
    let len = msg.len() as u32;
    msg[24..28].copy_from_slice(&len.to_be_bytes());
    let e = Message::parse(&msg).unwrap_err();
    assert!(
        matches!(
            e,
            WireError::TrailingBytes {
                length: 7,
                at: Location { offset: 80, .. },
                ..
            }
        ),
        "{e}"
    );
    // With the E flag the body is opaque.
    msg[19] = 1;
    let m = Message::parse(&msg).unwrap();
    assert!(matches!(m.body, isakmp_wire::Body::Encrypted(c) if c.len() == b.len()));
}

/// libreswan pads its plaintext IKEv1 messages to 4 octets and counts the padding in
/// the header's Length: up to 3 zero bytes after the last payload are accepted (and
/// reported as padding); 4, or a non-zero byte, are still errors.
#[test]
fn plaintext_alignment_padding_of_up_to_three_zero_bytes() {
    let with_tail = |tail: &[u8]| {
        let mut msg = vec![0u8; 28];
        msg[16] = 8; // HASH
        msg[17] = 0x10;
        msg[18] = 5;
        msg.extend_from_slice(&[0, 0, 0, 24]);
        msg.extend_from_slice(&[0x55; 20]);
        msg.extend_from_slice(tail);
        let len = msg.len() as u32;
        msg[24..28].copy_from_slice(&len.to_be_bytes());
        msg
    };
    for n in 0..4 {
        let msg = with_tail(&vec![0; n]);
        let m = Message::parse(&msg).unwrap_or_else(|e| panic!("{n} zero bytes: {e}"));
        let isakmp_wire::Body::Payloads(c) = m.body else {
            panic!()
        };
        assert_eq!(c.padding.len(), n);
        assert_eq!(c.count, 1);
        // the model drops the padding: it emits the message without it, Length fixed
        let owned = m.to_owned_message().unwrap();
        assert_eq!(owned.header.length as usize, msg.len() - n);
        let mut canonical = msg[..msg.len() - n].to_vec();
        let len = (canonical.len() as u32).to_be_bytes();
        canonical[24..28].copy_from_slice(&len);
        assert_eq!(owned.to_bytes().unwrap(), canonical);
        assert_eq!(isakmp_wire::OwnedMessage::parse(&canonical).unwrap(), owned);
    }
    for tail in [&[0u8, 0, 0, 0][..], &[1][..], &[0, 0, 9][..]] {
        let e = Message::parse(&with_tail(tail)).unwrap_err();
        assert!(
            matches!(e, WireError::TrailingBytes { length, .. } if length == tail.len()),
            "{tail:?}: {e}"
        );
    }
}

#[test]
fn attribute_views_and_names() {
    let a = Attribute::basic(3, 65001);
    assert_eq!(AttrSpace::Phase1.type_name(a.kind), "Authentication-Method");
    assert_eq!(AttrSpace::Phase1.value_name(&a), Some("XAUTHInitPreShared"));
    assert!(AuthMethod::from(65001).is_xauth());
    assert_eq!(AuthMethod::from(64221).name(), "HybridInitRSA");
    assert_eq!(
        AttrSpace::Ipsec.value_name(&Attribute::basic(4, 61443)),
        Some("UDP-Encapsulated-Tunnel (draft)")
    );
    assert!(EncapsulationMode::from(61443).is_udp_encapsulated());
    assert_eq!(AttrSpace::Config.type_name(16521), "XAUTH_USER_NAME");
    assert_eq!(
        AttrSpace::Config.type_name(28683),
        "UNITY_SMARTCARD_REMOVAL_DISCONNECT"
    );
    assert_eq!(AttrSpace::Config.type_name(15), "INTERNAL_IP6_SUBNET");
    assert_eq!(
        AttrSpace::Config.value_name(&Attribute::basic(16527, 1)),
        Some("OK")
    );
    // Life duration of any width: 8-byte TLV.
    let o = OwnedAttribute::variable(12, vec![0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(o.as_attr().as_u64(), Some(1 << 32));
    assert_eq!(AttrSpace::for_protocol(ProtocolId::Esp), AttrSpace::Ipsec);
}

#[test]
fn payloads_print_in_words() {
    let bytes = testkit::corpus::read_corpus("ike-scan/pkt-aggr-mode-response.dat");
    let m = Message::parse(&bytes).unwrap();
    let lines: Vec<String> = m
        .payloads()
        .unwrap()
        .map(|p| p.unwrap().to_string())
        .collect();
    assert_eq!(
        lines[0],
        "sa doi=IPSEC sit=1 [p#1 ISAKMP spi= t#1 KEY_IKE (Encryption-Algorithm=3DES-CBC, \
         Hash-Algorithm=SHA, Group-Description=Alternate 1024-bit MODP group, Authentication-Method=Pre-shared key, \
         Life-Type=Seconds, Life-Duration=28800)]",
        "wire order, as ike-scan prints it (Group before Auth)"
    );
    assert_eq!(lines[2], "vid RFC 3706 DPD (Dead Peer Detection)");
    assert_eq!(lines[4], "ke 128 bytes");
    assert_eq!(lines[6], "id IPV4_ADDR proto=17 port=500 62.3.105.251");
}
