//! Both dialogues over a lossy in-memory link on a virtual clock: whatever is dropped, the
//! machines end (done or failed, never stuck), the client's address is the one the server
//! leased, and no more than one address is ever held per session.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::time::Instant;

use isakmp_wire::cfg::{ConfigPayload, OwnedConfigPayload};
use modecfg::{
    to_bytes, Assign, GroupPolicy, Pools, PullClient, PullServer, PushClient, PushServer,
    RetransmitConfig, ServerConfig,
};
use proptest::prelude::*;

#[allow(clippy::disallowed_methods)]
fn t0() -> Instant {
    Instant::now()
}

fn setup() -> (Pools, GroupPolicy) {
    let mut p = Pools::new();
    p.add(
        "VPNpool",
        "10.89.129.200".parse().unwrap(),
        "10.89.129.204".parse().unwrap(),
    )
    .unwrap();
    let policy = GroupPolicy {
        address_pools: vec!["VPNpool".into()],
        ..GroupPolicy::named("vpn3000")
    };
    (p, policy)
}

/// Drops the message when the next loss bit says so (bits run out: deliver).
fn deliver(loss: &mut std::slice::Iter<'_, bool>, p: OwnedConfigPayload) -> Option<Vec<u8>> {
    if loss.next().copied().unwrap_or(false) {
        None
    } else {
        Some(to_bytes(&p).unwrap())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn pull_survives_loss(loss in prop::collection::vec(any::<bool>(), 0..12)) {
        let (mut pools, policy) = setup();
        let start = t0();
        let mut now = start;
        let mut loss = loss.iter();
        let mut client = PullClient::vpn_client_4x(now, 7, "v", RetransmitConfig::default()).unwrap();
        let mut server = PullServer::new(ServerConfig { request_timeout: None, ..ServerConfig::pix63() }, now);
        for _ in 0..100 {
            while let Some(req) = client.poll_transmit() {
                if let Some(b) = deliver(&mut loss, req.payload) {
                    let mut cx = Assign { pools: &mut pools, policy: &policy, user: "u", aaa: None };
                    server.handle_payload(now, &ConfigPayload::parse(&b, 0).unwrap(), &mut cx).unwrap();
                }
            }
            while let Some(rep) = server.poll_transmit() {
                if let Some(b) = deliver(&mut loss, rep.payload) {
                    // A duplicate reply after the first is refused, harmlessly.
                    let _ = client.handle_payload(now, &ConfigPayload::parse(&b, 0).unwrap());
                }
            }
            prop_assert!(pools.total_in_use() <= 1);
            match client.poll_timeout() {
                Some(d) => { now = d; client.handle_timeout(now); }
                None => break,
            }
        }
        prop_assert!(client.poll_timeout().is_none(), "client stuck");
        if let Some(cfg) = client.config() {
            prop_assert_eq!(cfg.address, server.lease().map(|l| l.addr()));
        } else {
            prop_assert!(client.is_failed());
        }
        if let Some(l) = server.take_lease() {
            pools.release(l).unwrap();
        }
        prop_assert_eq!(pools.total_in_use(), 0);
    }

    #[test]
    fn push_survives_loss(loss in prop::collection::vec(any::<bool>(), 0..12)) {
        let (mut pools, policy) = setup();
        let mut now = t0();
        let mut loss = loss.iter();
        let mut cx = Assign { pools: &mut pools, policy: &policy, user: "u", aaa: None };
        let mut server = PushServer::start(&ServerConfig::pix63(), now, 0x6231, &mut cx).unwrap();
        let mut client = PushClient::new(now, None);
        for _ in 0..100 {
            while let Some(set) = server.poll_transmit() {
                if let Some(b) = deliver(&mut loss, set.payload) {
                    client.handle_payload(now, &ConfigPayload::parse(&b, 0).unwrap()).unwrap();
                }
            }
            while let Some(ack) = client.poll_transmit() {
                if let Some(b) = deliver(&mut loss, ack.payload) {
                    server.handle_payload(now, &ConfigPayload::parse(&b, 0).unwrap()).unwrap();
                }
            }
            match server.poll_timeout() {
                Some(d) => { now = d; server.handle_timeout(now); }
                None => break,
            }
        }
        prop_assert!(server.is_done() || server.is_failed(), "server stuck");
        let addr = server.lease().unwrap().addr();
        if server.is_done() {
            prop_assert_eq!(client.config().unwrap().address, Some(addr));
        }
        prop_assert_eq!(pools.total_in_use(), 1);
        pools.release(server.take_lease().unwrap()).unwrap();
        prop_assert_eq!(pools.total_in_use(), 0);
    }
}

#[test]
fn every_prefix_of_the_seed_request_is_handled() {
    let mut c = PullClient::vpn_client_4x(
        t0(),
        1,
        "Cisco Systems VPN Client 4.0.5",
        RetransmitConfig::default(),
    )
    .unwrap();
    let bytes = to_bytes(&c.poll_transmit().unwrap().payload).unwrap();
    let attrs = &bytes[4..];
    let full = modecfg::attrs::decode_bytes(attrs, 4).unwrap();
    for n in 0..attrs.len() {
        match modecfg::attrs::decode_bytes(&attrs[..n], 4) {
            Ok(list) => assert_eq!(list[..], full[..list.len()]),
            Err(modecfg::ModeCfgError::Wire(_)) => {}
            Err(e) => panic!("prefix {n}: {e}"),
        }
    }
}
