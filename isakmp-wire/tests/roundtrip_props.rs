//! Property tests: for every wire type, `emit` writes exactly `wire_len` bytes
//! and parse(emit(x)) == x; every prefix of an emitted body either fails to
//! parse or parses to exactly that prefix; every strict prefix of a message is
//! an error.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use isakmp_wire::attr::{AttributeIter, OwnedAttrValue, OwnedAttribute};
use isakmp_wire::cfg::{CfgType, OwnedConfigPayload};
use isakmp_wire::doi::{CertEncoding, Doi, IdType, ProtocolId};
use isakmp_wire::header::{ExchangeType, Flags, Header};
use isakmp_wire::payload::cert::OwnedCert;
use isakmp_wire::payload::delete::OwnedDelete;
use isakmp_wire::payload::fragment::OwnedFragment;
use isakmp_wire::payload::id::OwnedId;
use isakmp_wire::payload::nat_oa::OwnedNatOa;
use isakmp_wire::payload::notify::{NotifyType, OwnedNotify};
use isakmp_wire::payload::proposal::OwnedProposal;
use isakmp_wire::payload::sa::OwnedSa;
use isakmp_wire::payload::transform::OwnedTransform;
use isakmp_wire::{
    Limits, Message, OwnedBody, OwnedBodyKind, OwnedMessage, OwnedPayload, Payload, PayloadType,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

fn attribute() -> impl Strategy<Value = OwnedAttribute> {
    prop_oneof![
        (0u16..0x8000, any::<u16>()).prop_map(|(k, v)| OwnedAttribute::basic(k, v)),
        (0u16..0x8000, bytes(24)).prop_map(|(k, v)| OwnedAttribute::variable(k, v)),
    ]
}

fn transform() -> impl Strategy<Value = OwnedTransform> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        vec(attribute(), 0..8),
    )
        .prop_map(
            |(reserved, number, transform_id, reserved2, attributes)| OwnedTransform {
                reserved,
                number,
                transform_id,
                reserved2,
                attributes,
            },
        )
}

fn proposal() -> impl Strategy<Value = OwnedProposal> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        bytes(16),
        vec(transform(), 0..5),
    )
        .prop_map(
            |(reserved, number, protocol, spi, transforms)| OwnedProposal {
                reserved,
                number,
                protocol: ProtocolId::from(protocol),
                spi,
                transforms,
            },
        )
}

fn sa() -> impl Strategy<Value = OwnedSa> {
    (any::<u32>(), any::<u32>(), vec(proposal(), 0..4)).prop_map(|(doi, situation, proposals)| {
        OwnedSa {
            doi: Doi::from(doi),
            situation,
            proposals,
        }
    })
}

fn id() -> impl Strategy<Value = OwnedId> {
    let fixed = prop_oneof![
        Just((1u8, 4usize)),
        Just((4, 8)),
        Just((5, 16)),
        Just((6, 32)),
        Just((7, 8)),
        Just((8, 32))
    ]
    .prop_flat_map(|(t, n)| (Just(t), vec(any::<u8>(), n)));
    let free = (
        any::<u8>().prop_filter("not an address type", |t| ![1, 4, 5, 6, 7, 8].contains(t)),
        bytes(40),
    );
    (prop_oneof![fixed, free], any::<u8>(), any::<u16>()).prop_map(|((t, data), protocol, port)| {
        OwnedId {
            id_type: IdType::from(t),
            protocol,
            port,
            data,
        }
    })
}

fn notify() -> impl Strategy<Value = OwnedNotify> {
    (
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
        bytes(16),
        bytes(24),
    )
        .prop_map(|(doi, p, t, spi, data)| OwnedNotify {
            doi: Doi::from(doi),
            protocol: ProtocolId::from(p),
            notify_type: NotifyType::from(t),
            spi,
            data,
        })
}

fn delete() -> impl Strategy<Value = OwnedDelete> {
    (any::<u32>(), any::<u8>(), 0u8..20, 0u16..8).prop_flat_map(|(doi, p, size, count)| {
        vec(any::<u8>(), usize::from(size) * usize::from(count)).prop_map(move |spis| OwnedDelete {
            doi: Doi::from(doi),
            protocol: ProtocolId::from(p),
            spi_size: size,
            spi_count: count,
            spis,
        })
    })
}

fn config() -> impl Strategy<Value = OwnedBody> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        vec(attribute(), 0..8),
    )
        .prop_map(
            |(t, reserved, identifier, attributes)| OwnedBody::Attributes {
                reserved,
                payload: OwnedConfigPayload {
                    cfg_type: CfgType::from(t),
                    identifier,
                    attributes,
                },
            },
        )
}

/// Payload type numbers this crate does not give a typed body.
fn unknown_kind() -> impl Strategy<Value = PayloadType> {
    prop_oneof![2u8..=3, 15u8..=19, 22u8..=129, 133u8..=255].prop_map(PayloadType::from)
}

fn payload() -> impl Strategy<Value = OwnedPayload> {
    let body = prop_oneof![
        sa().prop_map(|s| (PayloadType::SecurityAssociation, OwnedBody::Sa(s))),
        bytes(64).prop_map(|b| (PayloadType::KeyExchange, OwnedBody::KeyExchange(b))),
        id().prop_map(|i| (PayloadType::Identification, OwnedBody::Identification(i))),
        (any::<u8>(), bytes(40)).prop_map(|(e, d)| (
            PayloadType::Certificate,
            OwnedBody::Certificate(OwnedCert {
                encoding: CertEncoding::from(e),
                data: d
            })
        )),
        (any::<u8>(), bytes(40)).prop_map(|(e, d)| (
            PayloadType::CertificateRequest,
            OwnedBody::CertificateRequest(OwnedCert {
                encoding: CertEncoding::from(e),
                data: d
            })
        )),
        bytes(32).prop_map(|b| (PayloadType::Hash, OwnedBody::Hash(b))),
        bytes(32).prop_map(|b| (PayloadType::Signature, OwnedBody::Signature(b))),
        bytes(32).prop_map(|b| (PayloadType::Nonce, OwnedBody::Nonce(b))),
        notify().prop_map(|n| (PayloadType::Notification, OwnedBody::Notification(n))),
        delete().prop_map(|d| (PayloadType::Delete, OwnedBody::Delete(d))),
        bytes(32).prop_map(|b| (PayloadType::VendorId, OwnedBody::VendorId(b))),
        config().prop_map(|c| (PayloadType::Attributes, c)),
        (prop_oneof![Just(20u8), Just(130u8)], bytes(20))
            .prop_map(|(k, b)| (PayloadType::from(k), OwnedBody::NatD(b))),
        (
            prop_oneof![Just(21u8), Just(131u8)],
            any::<u8>(),
            any::<[u8; 3]>(),
            bytes(16)
        )
            .prop_map(|(k, t, reserved, address)| (
                PayloadType::from(k),
                OwnedBody::NatOa(OwnedNatOa {
                    id_type: IdType::from(t),
                    reserved,
                    address
                })
            )),
        (any::<u16>(), any::<u8>(), any::<u8>(), bytes(40)).prop_map(
            |(fragment_id, number, flags, data)| (
                PayloadType::CiscoFragmentation,
                OwnedBody::Fragment(OwnedFragment {
                    fragment_id,
                    number,
                    flags,
                    data
                })
            )
        ),
        (unknown_kind(), bytes(32)).prop_map(|(k, b)| (k, OwnedBody::Unknown(b))),
    ];
    (body, any::<u8>()).prop_map(|((kind, body), reserved)| OwnedPayload {
        kind,
        reserved,
        body,
    })
}

fn header() -> impl Strategy<Value = Header> {
    (
        any::<[u8; 8]>(),
        any::<[u8; 8]>(),
        0x10u8..=0x1f,
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(i, r, version, x, flags, message_id)| Header {
            initiator_cookie: i,
            responder_cookie: r,
            next_payload: PayloadType::None,
            version,
            exchange_type: ExchangeType::from(x),
            flags: Flags(flags),
            message_id,
            length: 0,
        })
}

fn message() -> impl Strategy<Value = OwnedMessage> {
    prop_oneof![
        (header(), vec(payload(), 0..7)).prop_map(|(mut h, ps)| {
            h.flags.0 &= !Flags::ENCRYPTION;
            OwnedMessage {
                header: h,
                body: OwnedBodyKind::Payloads(ps),
            }
        }),
        (header(), any::<u8>(), bytes(64)).prop_map(|(mut h, np, ct)| {
            h.flags.0 |= Flags::ENCRYPTION;
            h.next_payload = PayloadType::from(np);
            OwnedMessage {
                header: h,
                body: OwnedBodyKind::Encrypted(ct),
            }
        }),
    ]
}

fn emit_payload_body(p: &OwnedPayload) -> Vec<u8> {
    let mut b = Vec::new();
    p.body.emit(&mut b).unwrap();
    assert_eq!(
        b.len(),
        p.body.wire_len(),
        "emit writes exactly wire_len bytes"
    );
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn attribute_round_trip(a in attribute()) {
        let mut b = Vec::new();
        a.emit(&mut b).unwrap();
        prop_assert_eq!(b.len(), a.wire_len());
        let got: Vec<_> = AttributeIter::new(&b, 0).map(|x| x.unwrap().to_owned_attr()).collect();
        prop_assert_eq!(got, vec![a.clone()]);
        // The form survives: TV stays TV even for values a TLV could hold.
        prop_assert_eq!(matches!(a.value, OwnedAttrValue::Basic(_)), b[0] & 0x80 != 0);
    }

    #[test]
    fn attribute_walkers_agree(data in bytes(48), limit in 0usize..10) {
        // Reference: repeated Attribute::parse with the cap checked first.
        let mut reference = Vec::new();
        let mut rest = &data[..];
        let mut off = 7usize;
        let expect: Result<Vec<_>, _> = loop {
            if rest.is_empty() {
                break Ok(reference);
            }
            if reference.len() >= limit {
                break Err(isakmp_wire::WireError::TooMany {
                    what: "data attributes",
                    at: isakmp_wire::Location { offset: off, payload: None },
                    limit,
                });
            }
            match isakmp_wire::Attribute::parse(rest, off) {
                Ok((a, r)) => {
                    off += a.wire_len();
                    rest = r;
                    reference.push(a);
                }
                Err(e) => break Err(e),
            }
        };
        let it: Result<Vec<_>, _> = AttributeIter::with_limit(&data, 7, limit).collect();
        prop_assert_eq!(&it, &expect);
        let v = isakmp_wire::attr::validate_attributes(&data, 7, limit);
        prop_assert_eq!(v, expect.map(|a| a.len()));
    }

    #[test]
    fn transform_round_trip(t in transform(), last in any::<bool>()) {
        let mut b = Vec::new();
        t.emit(&mut b, last).unwrap();
        prop_assert_eq!(b.len(), t.wire_len());
        prop_assert_eq!(b[0], if last { 0 } else { 3 });
        let parsed = isakmp_wire::payload::transform::Transform::parse_body(&b[4..], 4, b[1], &Limits::DEFAULT).unwrap();
        prop_assert_eq!(parsed.wire_len(), b.len());
        prop_assert_eq!(parsed.to_owned_transform().unwrap(), t);
    }

    #[test]
    fn proposal_round_trip(p in proposal()) {
        let mut b = Vec::new();
        p.emit(&mut b, true).unwrap();
        prop_assert_eq!(b.len(), p.wire_len());
        let parsed = isakmp_wire::payload::proposal::Proposal::parse_body(&b[4..], 4, b[1], &Limits::DEFAULT).unwrap();
        prop_assert_eq!(parsed.wire_len(), b.len());
        let mut again = Vec::new();
        parsed.emit(&mut again, true).unwrap();
        prop_assert_eq!(&again, &b);
        prop_assert_eq!(parsed.to_owned_proposal().unwrap(), p);
    }

    #[test]
    fn payload_round_trip_and_prefixes(p in payload()) {
        let body = emit_payload_body(&p);
        let parsed = Payload::parse(p.kind, &body, 4, &Limits::DEFAULT).unwrap();
        prop_assert_eq!(parsed.wire_len(), body.len());
        let mut again = Vec::new();
        parsed.emit(&mut again).unwrap();
        prop_assert_eq!(&again, &body);
        prop_assert_eq!(parsed.to_owned_body().unwrap(), p.body.clone());
        // Every prefix: an error, or a consistent parse of exactly that prefix.
        for n in 0..body.len() {
            if let Ok(q) = Payload::parse(p.kind, &body[..n], 4, &Limits::DEFAULT) {
                let mut b = Vec::new();
                q.emit(&mut b).unwrap();
                prop_assert_eq!(&b[..], &body[..n]);
            }
        }
    }

    #[test]
    fn message_round_trip(m in message()) {
        let bytes = m.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), m.wire_len());
        let parsed = Message::parse(&bytes).unwrap();
        prop_assert_eq!(parsed.wire_len(), bytes.len());
        let owned = parsed.to_owned_message().unwrap();
        // The model equals the input once the derived header fields are derived.
        let mut expect = m.clone();
        expect.header = m.derived_header().unwrap();
        prop_assert_eq!(&owned, &expect);
        prop_assert_eq!(owned.to_bytes().unwrap(), bytes.clone());
        // Every strict prefix of a plaintext message (with its Length patched to
        // the prefix) is an error.
        if matches!(m.body, OwnedBodyKind::Payloads(ref ps) if !ps.is_empty()) {
            for n in 28..bytes.len() {
                let mut cut = bytes[..n].to_vec();
                cut[24..28].copy_from_slice(&(n as u32).to_be_bytes());
                prop_assert!(Message::parse(&cut).is_err(), "prefix {} parsed", n);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(np in any::<u8>(), flags in 0u8..2, body in bytes(300)) {
        // A valid header over random payload bytes, so the walk gets exercised.
        let mut data = vec![0u8; 28];
        data[16] = np;
        data[17] = 0x10;
        data[19] = flags;
        data.extend_from_slice(&body);
        let len = data.len() as u32;
        data[24..28].copy_from_slice(&len.to_be_bytes());
        if let Ok(m) = Message::parse(&data) {
            let again = m.to_owned_message().unwrap().to_bytes().unwrap();
            prop_assert_eq!(&again[..], &data[..m.wire_len()]);
        }
        let _ = isakmp_wire::parse_decrypted(PayloadType::Hash, &data, 28, &Limits::DEFAULT);
    }
}
