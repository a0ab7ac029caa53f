//! `Limits::initiator_dh_reuse` (a load-testing knob): a client endpoint with it sends
//! the same KE in every negotiation it starts within the window and a new one after it,
//! and the handshakes still complete; by default every negotiation has its own KE.
//! `Limits::initiator_dh_agreement_cache` (likewise load testing only): against a
//! gateway under pressure (one reused key pair, the same KE in every reply) a client with
//! both knobs does no modexp from its second handshake on, and still agrees on the keys
//! with the gateway. Virtual clock, seeded RNG.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    missing_docs
)]

mod common;

use common::net::{Net, Side, GW, SEED_PSK};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use isakmp_wire::{Message, Payload};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The one client's address (its negotiations start from other ports of it).
const CL: &str = "192.168.1.2:500";

/// The KE payload of a plaintext ISAKMP message, if it has one.
fn ke_of(bytes: &[u8]) -> Option<Vec<u8>> {
    Message::parse(bytes)
        .ok()
        .and_then(|m| m.payloads())
        .and_then(|mut ps| {
            ps.find_map(|p| match p.ok()?.body {
                Payload::KeyExchange(k) => Some(k.to_vec()),
                _ => None,
            })
        })
}

/// A client with `initiator_dh_reuse` `reuse`.
fn reuse_net(seed: u64, main_mode: bool, reuse: Duration) -> Net {
    new_net(
        seed,
        main_mode,
        Limits {
            initiator_dh_reuse: reuse,
            ..Limits::default()
        },
        false,
    )
}

/// A client with `client_limits`; with `pressure` the gateway is under pressure from
/// the start (`pressure_half_open` 0), so it reuses one key pair per group. Xauth
/// accepts every password.
fn new_net(seed: u64, main_mode: bool, client_limits: Limits, pressure: bool) -> Net {
    let (mut cfg, pools) = presets::seed_gateway(
        SEED_PSK,
        Ipv4Addr::new(10, 89, 129, 1),
        Ipv4Addr::new(10, 89, 129, 50),
    )
    .unwrap();
    if main_mode {
        let gw = cfg.gateway.as_mut().unwrap();
        gw.client_authentication = false;
        gw.mode_config = ModeCfgMode::default();
    }
    if pressure {
        cfg.limits.pressure_half_open = 0;
    }
    let client = Config {
        limits: client_limits,
        ..presets::client()
    };
    let mut net = Net::new(seed, Endpoint::new(cfg, pools));
    net.any_password = true;
    net.client_with(CL, Endpoint::new(client, modecfg::Pools::new()));
    net
}

/// The KE payload of every plaintext message `side` sent, in order.
fn kes(net: &Net, side: Side) -> Vec<Vec<u8>> {
    net.sent_by(side).filter_map(ke_of).collect()
}

/// The client endpoint.
fn cl(net: &mut Net) -> &mut Endpoint {
    &mut net.clients[0].1
}

/// One phase 1 from client port `port`, run to completion; returns the KE it sent.
fn connect(net: &mut Net, main_mode: bool, port: u16) -> Vec<u8> {
    connect_sa(net, main_mode, port).1
}

/// One phase 1 from client port `port`, run to completion; returns the client's SA
/// and the KE it sent.
fn connect_sa(net: &mut Net, main_mode: bool, port: u16) -> (SaId, Vec<u8>) {
    let profile = if main_mode {
        let mut p = presets::vpn_client_11(b"cisco1234", "u", b"p");
        p.offers[0].group = DhGroup::Modp1024;
        p.xauth = None;
        p.mode_config = ClientModeCfg::None;
        p
    } else {
        presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "cisco_customer", b"c")
    };
    let local = SocketAddr::from((Ipv4Addr::new(192, 168, 1, 2), port));
    let before = kes(net, Side::Client).len();
    let (now, gw) = (net.now, GW.parse().unwrap());
    let sa = net.clients[0]
        .1
        .initiate(now, local, gw, profile, &mut net.rng)
        .unwrap();
    net.run_for(Duration::from_secs(2));
    assert!(
        cl(net).ready_for_quick_mode(sa),
        "phase 1 from port {port} did not complete"
    );
    let mut sent = kes(net, Side::Client);
    assert_eq!(sent.len(), before + 1, "one KE per phase 1");
    (sa, sent.pop().unwrap())
}

/// The gateway's SAs whose phase 1 completed, in order.
fn gw_established(net: &Net) -> Vec<SaId> {
    net.gw_events
        .iter()
        .filter_map(|e| match e {
            Event::Phase1Established { sa, .. } => Some(*sa),
            _ => None,
        })
        .collect()
}

/// The phase-1 key-log material (initiator cookie, encryption key) of the gateway's
/// last established SA.
fn gw_last_keylog(net: &Net) -> ([u8; 8], Vec<u8>) {
    let sa = *gw_established(net)
        .last()
        .expect("gateway established no SA");
    let (cky, key) = net.gw.phase1_keylog(sa).expect("gateway SA has keys");
    (cky, key.expose_secret().to_vec())
}

fn cached_agreement_costs_the_second_handshake_no_modexp(main_mode: bool) {
    let limits = Limits {
        initiator_dh_reuse: Duration::from_secs(60),
        initiator_dh_agreement_cache: 16,
        ..Limits::default()
    };
    let mut net = new_net(11, main_mode, limits, true);
    assert!(net.gw.under_pressure(), "pressure_half_open 0: always");
    let m0 = cl(&mut net).initiator_phase1_modexps();
    let (sa1, ke1) = connect_sa(&mut net, main_mode, 500);
    let m1 = cl(&mut net).initiator_phase1_modexps();
    assert_eq!(
        m1 - m0,
        2,
        "first handshake: one key pair and one agreement"
    );
    let (sa2, ke2) = connect_sa(&mut net, main_mode, 501);
    let m2 = cl(&mut net).initiator_phase1_modexps();
    assert_eq!(ke1, ke2, "the client reuses its key pair");
    let gw_kes = kes(&net, Side::Gateway);
    let gw_kes = &gw_kes[gw_kes.len() - 2..];
    assert_eq!(
        gw_kes[0], gw_kes[1],
        "the gateway under pressure reuses its key pair"
    );
    assert_eq!(
        m2 - m1,
        0,
        "second handshake: the agreement comes from the cache"
    );
    // The cached g^xy is the right one: phase 1 completed (HASH_R/HASH_I verified), and
    // the client's phase-1 key is the gateway's; the nonces make the two SAs' keys differ.
    let (c1, k1) = cl(&mut net).phase1_keylog(sa1).unwrap();
    let (c2, k2) = cl(&mut net).phase1_keylog(sa2).unwrap();
    assert_eq!(gw_last_keylog(&net), (c2, k2.expose_secret().to_vec()));
    assert_ne!(c1, c2);
    assert_ne!(
        k1.expose_secret(),
        k2.expose_secret(),
        "sessions still differ"
    );
    assert_eq!(gw_established(&net).len(), 2);
}

#[test]
fn aggressive_mode_cached_agreement_against_a_gateway_under_pressure() {
    cached_agreement_costs_the_second_handshake_no_modexp(false);
}

#[test]
fn main_mode_cached_agreement_against_a_gateway_under_pressure() {
    cached_agreement_costs_the_second_handshake_no_modexp(true);
}

/// The cache is keyed by the peer's public value: a gateway not under pressure sends a
/// new one each time, so every handshake computes its agreement (one modexp: the key
/// pair is still reused), and the keys agree.
#[test]
fn cache_misses_on_a_new_peer_value() {
    let limits = Limits {
        initiator_dh_reuse: Duration::from_secs(60),
        initiator_dh_agreement_cache: 16,
        ..Limits::default()
    };
    for main_mode in [false, true] {
        let mut net = new_net(12, main_mode, limits, false);
        connect(&mut net, main_mode, 500);
        for port in 501..504 {
            let m = cl(&mut net).initiator_phase1_modexps();
            let (sa, _) = connect_sa(&mut net, main_mode, port);
            assert_eq!(
                cl(&mut net).initiator_phase1_modexps() - m,
                1,
                "main mode: {main_mode}"
            );
            let (c, k) = cl(&mut net).phase1_keylog(sa).unwrap();
            assert_eq!(gw_last_keylog(&net), (c, k.expose_secret().to_vec()));
        }
        let gw_kes = kes(&net, Side::Gateway);
        let n = gw_kes.len();
        assert_ne!(gw_kes[n - 1], gw_kes[n - 2], "gateway not under pressure");
    }
}

/// Off by default; without it (key pair reuse alone), a gateway under pressure still
/// costs the client one agreement per handshake.
#[test]
fn by_default_the_agreement_is_computed_every_time() {
    assert_eq!(Limits::default().initiator_dh_agreement_cache, 0);
    for (reuse, per_handshake) in [(Duration::ZERO, 2), (Duration::from_secs(60), 1)] {
        let limits = Limits {
            initiator_dh_reuse: reuse,
            ..Limits::default()
        };
        let mut net = new_net(13, false, limits, true);
        connect(&mut net, false, 500);
        let m = cl(&mut net).initiator_phase1_modexps();
        connect(&mut net, false, 501);
        assert_eq!(
            cl(&mut net).initiator_phase1_modexps() - m,
            per_handshake,
            "reuse {reuse:?}"
        );
    }
}

fn within_window_same_ke_after_it_new(main_mode: bool) {
    let window = Duration::from_secs(60);
    let mut net = reuse_net(7, main_mode, window);
    let start = net.now;
    let a = connect(&mut net, main_mode, 500);
    let b = connect(&mut net, main_mode, 501);
    assert_eq!(a, b, "two negotiations within the window send the same KE");
    net.run_for(start + window + Duration::from_secs(1) - net.now);
    let c = connect(&mut net, main_mode, 502);
    assert_ne!(a, c, "after the window the initiator makes a new key pair");
    let d = connect(&mut net, main_mode, 503);
    assert_eq!(c, d, "and reuses that one within its window");
}

#[test]
fn aggressive_mode_initiator_reuses_its_key_pair_for_the_window() {
    within_window_same_ke_after_it_new(false);
}

#[test]
fn main_mode_initiator_reuses_its_key_pair_for_the_window() {
    within_window_same_ke_after_it_new(true);
}

/// Off by default: every negotiation draws its own key pair.
#[test]
fn by_default_every_negotiation_has_its_own_ke() {
    assert_eq!(Limits::default().initiator_dh_reuse, Duration::ZERO);
    for main_mode in [false, true] {
        let mut net = reuse_net(8, main_mode, Limits::default().initiator_dh_reuse);
        let a = connect(&mut net, main_mode, 500);
        let b = connect(&mut net, main_mode, 501);
        assert_ne!(a, b, "main mode: {main_mode}");
    }
}
