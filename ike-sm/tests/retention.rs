//! What an established SA keeps for the peer's retransmissions, and for how long
//! (issue 20, less memory per user).
//!
//! A VPN Client 1.1 logs in (Main Mode, Xauth, Mode Config push). The gateway is the last
//! sender of phase 1 (MM6), so a retransmitted MM5 must get the same MM6 again while the
//! client may still be retransmitting; after one retransmission window of quiet (62 s
//! with the default limits) the stored MM6 is gone and a replayed MM5 is dropped, and the
//! SA still works (a Quick Mode after it). MM4, whose receipt MM5 proved, is not kept at
//! all: a replayed MM3 gets nothing. (A Mode Config pull REQUEST replayed late is still
//! answered: the pull server itself repeats its REPLY, which is deterministic.)
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::net::{seed_gateway_config, Net, SEED_POOL};
use ike_sm::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::net::SocketAddr;
use std::time::Duration;

/// The exchange type and message ID of an ISAKMP datagram.
fn kind(d: &[u8]) -> (u8, u32) {
    (d[18], u32::from_be_bytes([d[20], d[21], d[22], d[23]]))
}

/// Hands `d` to the gateway as if `from` sent it again; what the gateway sends back.
fn replay(net: &mut Net, from: SocketAddr, d: &[u8]) -> Vec<Vec<u8>> {
    let now = net.now;
    let gw = common::net::GW.parse().unwrap();
    net.gw.handle_datagram(now, gw, from, d, &mut net.rng);
    let mut out = Vec::new();
    while let Some(t) = net.gw.poll_transmit() {
        out.push(t.bytes);
    }
    out
}

#[test]
fn the_last_phase1_reply_is_kept_for_one_retransmission_window_then_dropped() {
    let (config, pools) = seed_gateway_config(SEED_POOL);
    let mut net = Net::new(20, Endpoint::new(config, pools));
    let c = net.client("198.51.100.7:500");
    let mut rng = StdRng::seed_from_u64(21);
    let mut profile = presets::vpn_client_11(b"cisco1234", "cisco_customer", b"cisco123");
    profile.initial_contact = false;
    let sa = net.initiate(c, profile, &mut rng);
    net.run(Duration::from_secs(2));
    assert!(net.cli(c).ready_for_quick_mode(sa), "logged in");

    // The wire starts with MM1 .. MM6, in order.
    let mm: Vec<Vec<u8>> = net.wire[..6].to_vec();
    for (i, d) in mm.iter().enumerate() {
        assert_eq!(kind(d), (2, 0), "MM{}", i + 1);
    }
    let (mm3, mm4, mm5, mm6) = (&mm[2], &mm[3], &mm[4], &mm[5]);

    // MM5 proved that the client has MM4: a replayed MM3 gets nothing.
    let again = replay(&mut net, c, mm3);
    assert!(!again.contains(mm4), "MM4 was kept");
    assert!(
        again.is_empty(),
        "an answer to a replayed MM3: {}",
        again.len()
    );

    // Within the window: the very same MM6 again.
    net.run(Duration::from_secs(10));
    assert_eq!(replay(&mut net, c, mm5), vec![mm6.clone()]);

    // One window of quiet later (62 s after the last activity): dropped, nothing sent.
    net.run(Duration::from_secs(70));
    assert!(replay(&mut net, c, mm5).is_empty(), "the stored MM6 went");

    // The SA still works: a Quick Mode.
    let gw_sa = net.gw_sa_of(c);
    assert_eq!(net.gw.sa_state(gw_sa), Some(P1State::Established));
    let addr = net.cli(c).assigned_address(sa).unwrap();
    let now = net.now;
    net.cli(c)
        .initiate_quick_mode(now, sa, presets::vpn_client_quick_mode(addr), &mut rng)
        .unwrap();
    net.run(Duration::from_secs(5));
    assert_eq!(net.gw_children().len(), 1, "the gateway made the child SA");
    assert_eq!(net.cli_children().len(), 1, "the client has it");
}
