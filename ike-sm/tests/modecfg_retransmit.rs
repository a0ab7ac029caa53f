//! A lost Mode Config message is resent by its machine's timer as the very datagram
//! sent first (no new encryption, no new exchange), once per retransmission: the
//! client's CFG_REQUEST (pull) and the gateway's CFG_SET (push), on the virtual clock.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::disallowed_methods,
    missing_docs
)]

mod common;

use common::net::*;
use ike_sm::Secret;
use ike_sm::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

const CLIENT: &str = "192.168.1.2:500";

fn profile(mode: Phase1Mode, mode_config: ClientModeCfg) -> ClientProfile {
    ClientProfile {
        mode,
        group_name: Some("vpn3000".into()),
        psk: Secret::from_slice(SEED_PSK),
        offers: offers_4x_des(),
        xauth: Some(("cisco_customer".into(), Secret::from_slice(b"cisco123"))),
        mode_config,
        vendor_ids: true,
        nat_t: false,
        initial_contact: true,
        fragmentation: false,
        force_natt_encapsulation: false,
    }
}

/// Runs a login in which the `lost`-th (1-based) Transaction datagram sent by `from` is
/// lost once; returns every Transaction datagram `from` sent (the lost one included),
/// and the client's assigned address.
fn login_losing(
    p: ClientProfile,
    from: IpAddr,
    lost: usize,
    seed: u64,
) -> (Vec<Vec<u8>>, Option<std::net::Ipv4Addr>) {
    let (cfg, pools) = seed_gateway_config(SEED_POOL);
    let mut net = Net::new(seed, Endpoint::new(cfg, pools));
    let sent = Rc::new(RefCell::new(Vec::<Vec<u8>>::new()));
    let log = Rc::clone(&sent);
    net.drop = Box::new(move |_, t| {
        if t.local.ip() != from || t.bytes.get(18) != Some(&6) {
            return false;
        }
        let mut log = log.borrow_mut();
        log.push(t.bytes.clone());
        log.len() == lost
    });
    let c = net.client(CLIENT);
    let mut rng = StdRng::seed_from_u64(seed);
    let sa = net.initiate(c, p, &mut rng);
    net.run(Duration::from_secs(60));
    let addr = net.cli(c).assigned_address(sa);
    let sent = sent.borrow().clone();
    (sent, addr)
}

/// The lost datagram went out exactly twice, the second time as the next Transaction
/// datagram of its sender.
fn assert_resent_once(sent: &[Vec<u8>], lost: usize) {
    let dropped = &sent[lost - 1];
    assert_eq!(
        sent.iter().filter(|b| *b == dropped).count(),
        2,
        "the lost datagram is sent twice in all"
    );
    assert_eq!(&sent[lost], dropped, "resent as it was");
}

#[test]
fn a_lost_cfg_request_is_resent_as_it_was_once() {
    let client: SocketAddr = CLIENT.parse().unwrap();
    // The client's Xauth REPLY, Xauth ACK, then its CFG_REQUEST (3rd).
    let p = profile(Phase1Mode::Aggressive, ClientModeCfg::Pull);
    let (sent, addr) = login_losing(p, client.ip(), 3, 31);
    assert_resent_once(&sent, 3);
    assert!(addr.is_some(), "the client got its address");
}

#[test]
fn a_lost_cfg_set_is_resent_as_it_was_once() {
    let gw: SocketAddr = GW.parse().unwrap();
    // The gateway's Xauth REQUEST, Xauth SET, then its CFG_SET (3rd).
    let mut p = profile(Phase1Mode::Aggressive, ClientModeCfg::Push);
    // No Unity vendor ID: the gateway pushes.
    p.vendor_ids = false;
    let (sent, addr) = login_losing(p, gw.ip(), 3, 32);
    assert_resent_once(&sent, 3);
    assert!(addr.is_some(), "the client got its address");
}
