//! Back-pressure (issue 17): a driver that stops draining the gateway never loses a
//! transmit or a non-debug event; new datagrams are refused, typed and counted, before
//! any work, while commands and timers still run; once drained, datagrams are taken
//! again.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

mod common;

use common::net::*;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

const CLIENT: &str = "192.168.1.2:500";

/// A Main Mode first message (from a client endpoint of ours).
fn mm1() -> Vec<u8> {
    let mut c = client_endpoint();
    let mut rng = StdRng::seed_from_u64(5);
    let profile = presets::vpn_client_11(SEED_PSK, "cisco_customer", b"cisco123");
    c.initiate(
        std::time::Instant::now(),
        CLIENT.parse().unwrap(),
        GW.parse().unwrap(),
        profile,
        &mut rng,
    )
    .unwrap();
    c.poll_transmit().unwrap().bytes
}

#[test]
fn a_full_queue_refuses_datagrams_and_loses_no_event() {
    let (config, pools) = seed_gateway_config(SEED_POOL);
    assert!(
        config.limits.debug_events,
        "debug on: the queue fills fastest"
    );
    let mut net = Net::new(1, Endpoint::new(config, pools));
    // A real user with two child SAs, drained as usual.
    let c = net.client(CLIENT);
    let mut rng = StdRng::seed_from_u64(2);
    let profile =
        presets::vpn_client_4x(DhGroup::Modp1024, SEED_PSK, "cisco_customer", b"cisco123");
    net.initiate(c, profile, &mut rng);
    net.run(Duration::from_secs(30));
    let csa = net.client_sa(c);
    let addr = net.cli(c).assigned_address(csa).unwrap();
    let now = net.now;
    net.cli(c)
        .initiate_quick_mode(now, csa, presets::vpn_client_quick_mode(addr), &mut rng)
        .unwrap();
    net.run(Duration::from_secs(30));
    let children: Vec<u32> = net.gw_children().iter().map(|c| c.spi_in).collect();
    assert_eq!(children.len(), 1, "one child SA pair on the gateway");
    let gw_sa = net.gw_children()[0].ike_sa;
    net.gw_events.clear();

    // The driver stops draining; first messages keep coming from 6,000 sources.
    let template = mm1();
    let gw_addr: SocketAddr = GW.parse().unwrap();
    let mut src_rng = StdRng::seed_from_u64(3);
    let mut handled = 0usize;
    let mut refused = 0usize;
    for i in 0..6_000u32 {
        let mut b = template.clone();
        src_rng.fill_bytes(&mut b[..8]);
        let src = SocketAddr::from((Ipv4Addr::from(0x0a50_0000 | (i + 1)), 500));
        match net
            .gw
            .handle_datagram(net.now, gw_addr, src, &b, &mut net.rng)
        {
            Outcome::Handled => {
                assert_eq!(
                    refused, 0,
                    "datagram {i} taken after a refusal, nothing drained"
                );
                handled += 1;
            }
            Outcome::Dropped(DropReason::Backpressure { transmits, events }) => {
                assert!(
                    transmits >= Endpoint::QUEUE_BOUND || events >= Endpoint::QUEUE_BOUND,
                    "refused under the bound: {transmits} transmits, {events} events"
                );
                refused += 1;
            }
            other => panic!("datagram {i}: {other:?}"),
        }
    }
    assert!(
        handled > 0 && refused > 0,
        "{handled} handled, {refused} refused"
    );
    assert_eq!(
        net.gw.counters().get(Refusal::Backpressure),
        refused as u64,
        "every refusal counted"
    );
    // The real client's datagrams are refused too (typed), nothing parsed.
    let dpd_like = template.clone();
    let o = net
        .gw
        .handle_datagram(net.now, gw_addr, c, &dpd_like, &mut net.rng);
    assert!(
        matches!(o, Outcome::Dropped(DropReason::Backpressure { .. })),
        "{o:?}"
    );

    // Commands and timers still run over the bound, and lose nothing: the user is
    // deleted (its child SA pair with it), every half-open SA times out.
    net.gw.delete(net.now, gw_sa, &mut net.rng).unwrap();
    let later = net.now + Duration::from_secs(5 * 60);
    net.gw.handle_timeout(later, &mut net.rng);
    assert_eq!(net.gw.sa_count(), 0);

    let (mut deleted, mut child_deleted, mut debug) = (Vec::new(), Vec::new(), 0usize);
    while let Some(e) = net.gw.poll_event() {
        match e {
            Event::Deleted { sa, .. } => deleted.push(sa),
            Event::ChildDeleted { spi_in, .. } => child_deleted.push(spi_in),
            Event::Debug(_) => debug += 1,
            _ => {}
        }
    }
    assert_eq!(child_deleted, children, "the ChildDeleted of the pair");
    assert_eq!(
        deleted.len(),
        handled + 1,
        "one Deleted per IKE SA, none lost"
    );
    assert!(deleted.contains(&gw_sa));
    assert!(
        debug <= Endpoint::QUEUE_BOUND,
        "{debug} debug events past the bound"
    );
    let mut transmits = 0usize;
    while net.gw.poll_transmit().is_some() {
        transmits += 1;
    }
    // Every MM1 taken was answered (MM2), and the DELETE to the user went out.
    assert!(
        transmits > handled,
        "{transmits} transmits for {handled} answers"
    );

    // Drained: datagrams are taken again.
    let mut b = template.clone();
    src_rng.fill_bytes(&mut b[..8]);
    let src = SocketAddr::from((Ipv4Addr::new(10, 81, 0, 1), 500));
    assert_eq!(
        net.gw
            .handle_datagram(later, gw_addr, src, &b, &mut net.rng),
        Outcome::Handled
    );
}
