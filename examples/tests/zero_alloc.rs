//! The gateway core's data path allocates nothing per packet: once a TCP connection
//! through the tunnel is established, its later packets both ways (raw ESP decrypted in
//! place, inside packets encapsulated in place) pass the policy's established-flow fast
//! path and the ESP transforms without a single heap allocation. Counted with a global
//! counting allocator (`stats_alloc`), which is why this binary has one test only.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use common::*;
use pix_gateway::gateway::io::{INSIDE_HEADROOM, INSIDE_TAILROOM};
use pix_gateway::gateway::{Handled, Input, Settings};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const N: usize = 2_000;

#[test]
fn established_tunnel_traffic_allocates_nothing_in_the_core() {
    let mut net = Net::one(
        radius_plan(2, |t| t),
        Settings::new(GW_IP),
        radius_aaa(),
        7,
        base(),
    );
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let addr = net.connect(c, "cisco_customer", "cisco123").to_string();
    // The connection is built by its first packets (the full check, with its trace).
    let syn = tcp(&addr, 40000, "10.89.129.131", 80, 0x02);
    assert_eq!(net.client_sends(c, &syn).1, Some(syn.clone()));
    let synack = tcp("10.89.129.131", 80, &addr, 40000, 0x12);
    assert!(net.inside_at(0, &synack).is_some());
    // Its later packets, prepared outside the counted region: raw ESP from the client
    // (IPv4 header, protocol 50) and the server's packets with room around them.
    let now = net.now;
    let ack = tcp(&addr, 40000, "10.89.129.131", 80, 0x10);
    let mut ups: Vec<Vec<u8>> = (0..N)
        .map(|_| {
            let esp = net.clients[c].esp.as_mut().unwrap();
            let mut buf = vec![0u8; 20 + ack.len() + 128];
            let n = esp
                .out
                .encapsulate_ip(now, &mut net.rng, &ack, &mut buf[20..])
                .unwrap();
            buf.truncate(20 + n);
            buf[0] = 0x45;
            let total = buf.len() as u16;
            buf[2..4].copy_from_slice(&total.to_be_bytes());
            buf[8] = 64;
            buf[9] = 50;
            buf[12..16].copy_from_slice(&[198, 51, 100, 7]);
            buf[16..20].copy_from_slice(&GW_IP.octets());
            buf
        })
        .collect();
    let data = tcp("10.89.129.131", 80, &addr, 40000, 0x10);
    let mut downs: Vec<Vec<u8>> = (0..N)
        .map(|_| {
            let mut b = vec![0u8; INSIDE_HEADROOM + data.len() + INSIDE_TAILROOM];
            b[INSIDE_HEADROOM..INSIDE_HEADROOM + data.len()].copy_from_slice(&data);
            b
        })
        .collect();
    let gw = &mut net.shards[0];
    let rng = &mut net.rng;
    // a few packets first: anything that grows once (a map's first entry) grows here
    let (warm_up, counted) = ups.split_at_mut(10);
    let (warm_down, counted_down) = downs.split_at_mut(10);
    for (u, d) in warm_up.iter_mut().zip(warm_down.iter_mut()) {
        let _ = gw.handle(now, Input::RawEsp { packet: u }, rng);
        let _ = gw.handle(
            now,
            Input::InsideInPlace {
                buf: d,
                len: data.len(),
            },
            rng,
        );
    }
    while gw.poll_output().is_some() {}
    let region = Region::new(GLOBAL);
    let mut inside = 0usize;
    let mut outside = 0usize;
    for (u, d) in counted.iter_mut().zip(counted_down.iter_mut()) {
        if let Handled::ToInside(_) = gw.handle(now, Input::RawEsp { packet: u }, rng) {
            inside += 1;
        }
        if let Handled::ToOutsideIn { .. } = gw.handle(
            now,
            Input::InsideInPlace {
                buf: d,
                len: data.len(),
            },
            rng,
        ) {
            outside += 1;
        }
    }
    let change = region.change();
    assert_eq!(
        (inside, outside),
        (N - 10, N - 10),
        "every packet went through"
    );
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "{} packets each way: {change:?}",
        N - 10
    );
    assert!(
        gw.poll_output().is_none(),
        "nothing queued for the driver either"
    );
    // The counter does count: ICMP is not stateful on a PIX 6.3, so every echo reply
    // takes the full check, whose packet-tracer trace allocates.
    let pong = icmp("10.89.129.131", &addr, true);
    let mut b = vec![0u8; INSIDE_HEADROOM + pong.len() + INSIDE_TAILROOM];
    b[INSIDE_HEADROOM..INSIDE_HEADROOM + pong.len()].copy_from_slice(&pong);
    let region = Region::new(GLOBAL);
    let h = gw.handle(
        now,
        Input::InsideInPlace {
            buf: &mut b,
            len: pong.len(),
        },
        rng,
    );
    assert!(matches!(h, Handled::ToOutsideIn { .. }));
    assert!(region.change().allocations > 0, "the slow path allocates");
    while gw.poll_output().is_some() {}

    // A flood of ESP with an unknown SPI: the first is logged (402101, which
    // allocates), the others within the same second are only counted: no allocation.
    let mut bad: Vec<Vec<u8>> = (0..N)
        .map(|_| {
            let mut p = ups[0].clone();
            p[20..24].copy_from_slice(&0xdead_beef_u32.to_be_bytes());
            p
        })
        .collect();
    let (first, rest) = bad.split_at_mut(1);
    // (the rig turns `debug crypto` on; a PIX in production runs without it)
    gw.set_debug(&[]);
    let _ = gw.handle(
        now,
        Input::RawEsp {
            packet: &mut first[0],
        },
        rng,
    );
    let mut logged = 0;
    while let Some(o) = gw.poll_output() {
        if matches!(o, pix_gateway::Output::Log(ref r) if r.id == pix_gateway::MsgId::BadSpi) {
            logged += 1;
        }
    }
    assert_eq!(logged, 1, "the first bad SPI is logged");
    let region = Region::new(GLOBAL);
    for p in rest.iter_mut() {
        assert!(matches!(
            gw.handle(now, Input::RawEsp { packet: p }, rng),
            Handled::Done
        ));
    }
    let change = region.change();
    assert_eq!(
        (change.allocations, change.reallocations),
        (0, 0),
        "{} dropped packets: {change:?}",
        N - 1
    );
    assert!(
        gw.poll_output().is_none(),
        "the rest are counted, not logged"
    );
}
