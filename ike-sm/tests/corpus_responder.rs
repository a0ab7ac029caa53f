//! The gateway's Aggressive Mode responder fed first messages from real captures and from
//! ike-scan: the policy checks it logs, and the structure of the AM2 it answers with,
//! compared with what a Cisco responder sent in the same capture.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods
)]

mod common;

use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::crypto::hash::HashAlg;
use ike_sm::{presets, DebugEvent, Endpoint, Event, IsakmpPolicy};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn datagram(m: &common::capture::Msg) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&m.cky_i);
    d.extend_from_slice(&m.cky_r);
    d.extend_from_slice(&[m.next_payload, 0x10, m.exchange, m.flags]);
    d.extend_from_slice(&m.msg_id.to_be_bytes());
    d.extend_from_slice(&u32::try_from(28 + m.body.len()).unwrap().to_be_bytes());
    d.extend_from_slice(&m.body);
    d
}

fn kinds(bytes: &[u8]) -> Vec<u8> {
    isakmp_wire::Message::parse(bytes)
        .unwrap()
        .payloads()
        .unwrap()
        .map(|p| p.unwrap().kind.into())
        .collect()
}

fn lines(gw: &mut Endpoint) -> Vec<String> {
    let mut v = Vec::new();
    while let Some(e) = gw.poll_event() {
        if let Event::Debug(d) = e {
            v.extend(d.pix_lines());
        }
    }
    v
}

#[test]
fn aggressive_mode_capture_first_message() {
    let msgs = common::capture::isakmp_messages(
        "zeek-spicy-ipsec/traces/ipsec-ikev1-isakmp-aggressive-mode.pcap",
    );
    let am1 = &msgs[0];
    let am2 = &msgs[1];
    assert_eq!((am1.exchange, am2.exchange), (4, 4));
    let (mut cfg, pools) = presets::seed_gateway(
        b"secret",
        "10.0.0.1".parse().unwrap(),
        "10.0.0.9".parse().unwrap(),
    )
    .unwrap();
    let gw = cfg.gateway.as_mut().unwrap();
    // The capture negotiated AES-128/SHA-1/MODP1024 with PSK: a policy for it at priority 5.
    gw.policies.push(IsakmpPolicy {
        priority: 5,
        encryption: CipherAlg::Aes128,
        hash: HashAlg::Sha1,
        group: DhGroup::Modp1024,
        lifetime_secs: 86_400,
    });
    gw.nat_traversal = Some(Duration::from_secs(20));
    let mut ep = Endpoint::new(cfg, pools);
    let mut rng = StdRng::seed_from_u64(1);
    let now = Instant::now();
    let src = SocketAddr::from((am1.src.0, am1.src.1));
    let dst = SocketAddr::from((am1.dst.0, am1.dst.1));
    ep.handle_datagram(now, dst, src, &datagram(am1), &mut rng);
    let l = lines(&mut ep);
    assert!(
        l.iter()
            .any(|x| x == "ISAKMP (0): Checking ISAKMP transform 1 against priority 5 policy"),
        "{l:#?}"
    );
    assert!(
        l.iter()
            .any(|x| x.starts_with("ISAKMP (0): atts are acceptable.")),
        "{l:#?}"
    );
    assert!(l
        .iter()
        .any(|x| x == "ISAKMP (0): remote peer supports dead peer detection"));
    assert!(l
        .iter()
        .any(|x| x == "ISAKMP (0): remote peer supports NAT-T"));
    let ours = ep.poll_transmit().expect("AM2");
    assert_eq!(ours.remote, src);
    // The Cisco responder's AM2: SA, VIDs, KE, ID, NONCE, HASH, NAT-D x2. Ours carries the
    // same payloads besides the vendor IDs (in RFC 2409 order), NAT-D x2 last as Cisco's.
    let theirs = kinds(&datagram(am2));
    let mine = kinds(&ours.bytes);
    let core = |k: &[u8]| {
        let mut v: Vec<u8> = k.iter().copied().filter(|&x| x != 13).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(
        core(&mine),
        core(&theirs),
        "ours {mine:?} theirs {theirs:?}"
    );
    assert_eq!(&mine[mine.len() - 2..], &theirs[theirs.len() - 2..]);
    // The same initiator cookie, a fresh responder cookie, AM exchange.
    assert_eq!(ours.bytes[..8], am1.cky_i);
    assert_ne!(ours.bytes[8..16], [0; 8]);
    assert_eq!(ours.bytes[18], 4);
}

#[test]
fn ike_scan_aggressive_probe() {
    // ike-scan --aggressive --id=royhills@hotmail.com --idtype=3 --dhgroup=2: its default
    // transforms (3DES/DES x SHA/MD5, PSK, group 2) against the seed's policies 10 and 20.
    let bytes = testkit::corpus::read_corpus("ike-scan/pkt-aggressive.dat");
    let (cfg, pools) = presets::seed_gateway(
        b"cisco1234",
        "10.89.129.200".parse().unwrap(),
        "10.89.129.204".parse().unwrap(),
    )
    .unwrap();
    let mut ep = Endpoint::new(cfg, pools);
    let mut rng = StdRng::seed_from_u64(2);
    let now = Instant::now();
    let (gw, peer): (SocketAddr, SocketAddr) = (
        "192.168.1.1:500".parse().unwrap(),
        "192.168.1.9:500".parse().unwrap(),
    );
    ep.handle_datagram(now, gw, peer, &bytes, &mut rng);
    let l = lines(&mut ep);
    let checks = l
        .iter()
        .filter(|x| x.contains("Checking ISAKMP transform"))
        .count();
    assert!(checks >= 1, "{l:#?}");
    let accepted = l
        .iter()
        .any(|x| x.starts_with("ISAKMP (0): atts are acceptable."));
    let out = ep
        .poll_transmit()
        .unwrap_or_else(|| panic!("no answer: {l:#?}"));
    if accepted {
        // DES/MD5/PSK/group 2 is among ike-scan's defaults. A USER_FQDN is no group name:
        // it gets the fake-key treatment of an unknown group (the same AM2 shape), never
        // the `isakmp key ... address 0.0.0.0 netmask 0.0.0.0` (issue 15, item 3; the
        // opt-in `GatewayConfig::aggressive_address_keys` is tested in tests/flood.rs).
        assert_eq!(&kinds(&out.bytes)[..5], &[1, 4, 10, 5, 8]);
        assert!(l.iter().any(|x| x.contains("No pre-shared key")));
    } else {
        assert_eq!(kinds(&out.bytes), vec![11]);
    }
    // The same datagram again is a retransmission: the same answer, no second SA.
    ep.handle_datagram(now, gw, peer, &bytes, &mut rng);
    assert_eq!(ep.poll_transmit().unwrap().bytes, out.bytes);
    assert!(ep.sa_count() <= 1);
    let _ = DebugEvent::Authenticated;
}
