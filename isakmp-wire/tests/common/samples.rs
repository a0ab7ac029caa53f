//! Sample messages built with the owned model, as real peers send them; shared
//! by the zero-allocation test and the criterion benches
//! (`benches/benches/isakmp_wire.rs` includes this file by path).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use core::net::Ipv4Addr;

use isakmp_wire::attr::OwnedAttribute;
use isakmp_wire::doi::ProtocolId;
use isakmp_wire::header::{ExchangeType, Flags, Header};
use isakmp_wire::payload::id::OwnedId;
use isakmp_wire::payload::proposal::OwnedProposal;
use isakmp_wire::payload::sa::OwnedSa;
use isakmp_wire::payload::transform::OwnedTransform;
use isakmp_wire::{OwnedBody, OwnedBodyKind, OwnedMessage, OwnedPayload, PayloadType};

const XAUTH: &str = "09002689dfd6b712";
const DPD: &str = "afcad71368a1f1c96b8696fc77570100";
const UNITY: &str = "12f5f28c457168a9702d9fe274cc0100";
const FRAG: &str = "4048b7d56ebce88525e7de7f00d6c2d380000000";
const NATT_RFC: &str = "4a131c81070358455c5728f20e95452f";
const NATT_02N: &str = "90cb80913ebb696e086381b5ec427b1f";
const NATT_02: &str = "cd60464335df21f87cfdb2fc68b6a448";
const NATT_03: &str = "7d9419a65310ca6f2c179d9215529d56";

fn header(exchange: ExchangeType, message_id: u32) -> Header {
    Header {
        initiator_cookie: [0x5c, 0x11, 0x3d, 0x27, 0x9a, 0x03, 0x4e, 0x81],
        responder_cookie: if message_id == 0 {
            [0; 8]
        } else {
            [0x2b, 0x71, 0x08, 0xe4, 0x55, 0x19, 0x60, 0xcd]
        },
        next_payload: PayloadType::None,
        version: 0x10,
        exchange_type: exchange,
        flags: Flags(0),
        message_id,
        length: 0,
    }
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

fn vid(h: &str) -> OwnedPayload {
    OwnedPayload::new(OwnedBody::VendorId(unhex(h)))
}

/// A phase-1 transform with 4-byte life 2147483 s, as the Cisco client sends.
fn p1_transform(
    n: u8,
    enc: u16,
    key_len: Option<u16>,
    hash: u16,
    auth: u16,
    group: u16,
) -> OwnedTransform {
    let mut a = vec![OwnedAttribute::basic(1, enc)];
    if let Some(k) = key_len {
        a.push(OwnedAttribute::basic(14, k));
    }
    a.push(OwnedAttribute::basic(2, hash));
    a.push(OwnedAttribute::basic(4, group));
    a.push(OwnedAttribute::basic(3, auth));
    a.push(OwnedAttribute::basic(11, 1));
    a.push(OwnedAttribute::variable(
        12,
        2_147_483u32.to_be_bytes().to_vec(),
    ));
    OwnedTransform::new(n, 1, a)
}

/// Cisco VPN Client style Aggressive Mode message 1: SA with one proposal of 24
/// transforms (AES-256, AES-128, 3DES, DES x SHA1, MD5 x XAUTHInitPreShared
/// (65001), pre-shared key (1), XAUTHInitRSA (65005); group 2; life 2147483 s),
/// KE (128 bytes), NONCE (20), ID KEY_ID "vpn3000", 8 vendor IDs.
pub fn am1() -> OwnedMessage {
    let encs: [(u16, Option<u16>); 4] = [(7, Some(256)), (7, Some(128)), (5, None), (1, None)];
    let mut ts = Vec::new();
    for (enc, kl) in encs {
        for hash in [2u16, 1] {
            for auth in [65001u16, 1, 65005] {
                let n = u8::try_from(ts.len() + 1).unwrap();
                ts.push(p1_transform(n, enc, kl, hash, auth, 2));
            }
        }
    }
    assert_eq!(ts.len(), 24);
    let sa = OwnedSa::ipsec(vec![OwnedProposal::new(
        1,
        ProtocolId::Isakmp,
        Vec::new(),
        ts,
    )]);
    let ke: Vec<u8> = (0..128u32).map(|i| (i * 37 + 11) as u8).collect();
    let nonce: Vec<u8> = (0..20u32).map(|i| (i * 91 + 5) as u8).collect();
    let mut payloads = vec![
        OwnedPayload::new(OwnedBody::Sa(sa)),
        OwnedPayload::new(OwnedBody::KeyExchange(ke)),
        OwnedPayload::new(OwnedBody::Nonce(nonce)),
        OwnedPayload::new(OwnedBody::Identification(OwnedId::key_id(
            b"vpn3000".to_vec(),
        ))),
    ];
    for v in [
        XAUTH, DPD, UNITY, FRAG, NATT_RFC, NATT_02N, NATT_02, NATT_03,
    ] {
        payloads.push(vid(v));
    }
    OwnedMessage {
        header: header(ExchangeType::Aggressive, 0),
        body: OwnedBodyKind::Payloads(payloads),
    }
}

/// Main Mode message 1 (Cisco VPN Client 1.1 style): SA with 8 transforms
/// (3DES/DES x SHA/MD5 x group 2/1, pre-shared key, life 86400 s), 3 VIDs.
pub fn mm1() -> OwnedMessage {
    let mut ts = Vec::new();
    for group in [2u16, 1] {
        for enc in [5u16, 1] {
            for hash in [2u16, 1] {
                let n = u8::try_from(ts.len() + 1).unwrap();
                let a = vec![
                    OwnedAttribute::basic(1, enc),
                    OwnedAttribute::basic(2, hash),
                    OwnedAttribute::basic(3, 1),
                    OwnedAttribute::basic(4, group),
                    OwnedAttribute::basic(11, 1),
                    OwnedAttribute::integer(12, 86_400),
                ];
                ts.push(OwnedTransform::new(n, 1, a));
            }
        }
    }
    let sa = OwnedSa::ipsec(vec![OwnedProposal::new(
        1,
        ProtocolId::Isakmp,
        Vec::new(),
        ts,
    )]);
    OwnedMessage {
        header: header(ExchangeType::IdentityProtection, 0),
        body: OwnedBodyKind::Payloads(vec![
            OwnedPayload::new(OwnedBody::Sa(sa)),
            vid(NATT_RFC),
            vid(DPD),
            vid(XAUTH),
        ]),
    }
}

fn esp_proposal(n: u8, spi: u32, transform_id: u8, auth: u16) -> OwnedProposal {
    let a = vec![
        OwnedAttribute::basic(5, auth),
        OwnedAttribute::basic(4, 1),
        OwnedAttribute::basic(1, 1),
        OwnedAttribute::variable(2, 2_147_483u32.to_be_bytes().to_vec()),
    ];
    OwnedProposal::new(
        n,
        ProtocolId::Esp,
        spi.to_be_bytes().to_vec(),
        vec![OwnedTransform::new(1, transform_id, a)],
    )
}

/// The plaintext of a client Quick Mode message 1 (as the seed's trace shows
/// it): HASH, SA with 6 ESP proposals (3DES/DES x MD5/SHA, AES-256), NONCE, ID
/// client address, ID 0.0.0.0/0; followed by 4 bytes of cipher padding.
/// Returns the chain bytes (first payload HASH).
pub fn qm_body() -> Vec<u8> {
    let mut props = Vec::new();
    for (i, (t, a)) in [(3u8, 1u16), (3, 2), (2, 1), (2, 2), (12, 2), (12, 1)]
        .iter()
        .enumerate()
    {
        let n = u8::try_from(i + 1).unwrap();
        props.push(esp_proposal(n, 0x8c3a_1f00 + u32::from(n), *t, *a));
    }
    let payloads = vec![
        OwnedPayload::new(OwnedBody::Hash(vec![0x42; 20])),
        OwnedPayload::new(OwnedBody::Sa(OwnedSa::ipsec(props))),
        OwnedPayload::new(OwnedBody::Nonce(vec![0x17; 20])),
        OwnedPayload::new(OwnedBody::Identification(OwnedId::ipv4(
            Ipv4Addr::new(10, 1, 1, 1),
            0,
            0,
        ))),
        OwnedPayload::new(OwnedBody::Identification(OwnedId::ipv4_subnet(
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
        ))),
    ];
    let mut out = Vec::new();
    isakmp_wire::payload::emit_chain(&payloads, &mut out).unwrap();
    out.extend_from_slice(&[0, 0, 0, 3]);
    out
}

/// Borrowed validating walk: header, every payload, proposal, transform and
/// attribute. Returns a count so the work cannot be optimised away.
pub fn walk(bytes: &[u8]) -> Result<usize, isakmp_wire::WireError> {
    let m = isakmp_wire::Message::parse(bytes)?;
    let mut n = 0usize;
    if let isakmp_wire::Body::Payloads(chain) = m.body {
        n += walk_chain(&chain)?;
    }
    Ok(n)
}

/// The walk over a payload chain.
pub fn walk_chain(chain: &isakmp_wire::PayloadChain<'_>) -> Result<usize, isakmp_wire::WireError> {
    let mut n = 0usize;
    for p in chain.iter() {
        let p = p?;
        n += 1;
        if let isakmp_wire::Payload::Sa(sa) = p.body {
            for pr in sa.proposals() {
                for t in pr?.transforms() {
                    for a in t?.attributes() {
                        n += usize::from(a?.kind);
                    }
                }
            }
        }
    }
    Ok(n)
}
