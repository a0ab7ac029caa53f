//! `Endpoint::reconfigure` (a gateway's `reload`): established SAs stay; those whose
//! key the new configuration no longer has are reported (`Stale`), the others keep
//! working under the group found again by name (its new Mode Config policy included);
//! new negotiations use the new configuration. `Endpoint::reconfigure_pools` keeps the
//! leases of pools that keep their name and range.
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
use rand::SeedableRng;
use std::net::Ipv4Addr;
use std::time::Duration;

/// The seed's gateway with client 4.x (Aggressive Mode, group vpn3000) and client 1.1
/// (Main Mode, `isakmp key` of its address) logged in; their gateway-side SAs.
fn two_clients() -> (Net, SaId, SaId) {
    let (cfg, pools) = seed_gateway_config(SEED_POOL);
    let mut net = Net::new(3, Endpoint::new(cfg, pools));
    let mut rng = StdRng::seed_from_u64(9);
    let c4 = net.client("192.168.1.2:500");
    let c11 = net.client("192.168.1.3:500");
    let profile =
        presets::vpn_client_4x(DhGroup::Modp1024, SEED_PSK, "cisco_customer", b"cisco123");
    let s4 = net.initiate(c4, profile, &mut rng);
    net.run(Duration::from_secs(30));
    let s11 = net.initiate(
        c11,
        presets::vpn_client_11(SEED_PSK, "cisco_customer", b"cisco123"),
        &mut rng,
    );
    net.run(Duration::from_secs(30));
    assert!(net.cli(c4).ready_for_quick_mode(s4) && net.cli(c11).ready_for_quick_mode(s11));
    let mut gw_sas: Vec<SaId> = net
        .gw_events
        .iter()
        .filter_map(|e| match e {
            Event::Phase1Established { sa, .. } => Some(*sa),
            _ => None,
        })
        .collect();
    gw_sas.dedup();
    assert_eq!(gw_sas.len(), 2);
    (net, gw_sas[0], gw_sas[1])
}

fn config_with(edit: impl FnOnce(&mut GatewayConfig)) -> Config {
    let (mut cfg, _) = seed_gateway_config(SEED_POOL);
    edit(cfg.gateway.as_mut().unwrap());
    cfg
}

#[test]
fn the_same_keys_keep_every_sa() {
    let (mut net, a, b) = two_clients();
    // a new group before vpn3000 (its index moves) and a new policy
    let stale = net.gw.reconfigure(config_with(|gw| {
        gw.groups.insert(
            0,
            VpnGroup {
                name: "sales".into(),
                password: Secret::from_slice(b"other"),
                policy: modecfg::GroupPolicy::named("sales"),
            },
        );
        gw.groups[1].policy.dns_servers = vec![Ipv4Addr::new(10, 0, 0, 53)];
    }));
    assert!(stale.is_empty(), "{stale:?}");
    assert_eq!(net.gw.sa_count(), 2);
    for sa in [a, b] {
        assert!(net.gw.sa_state(sa).is_some());
    }
}

#[test]
fn a_changed_or_removed_key_is_reported_per_sa() {
    let (mut net, a, _) = two_clients();
    let stale = net.gw.reconfigure(config_with(|gw| {
        gw.groups[0].password = Secret::from_slice(b"new group key");
    }));
    assert_eq!(stale, vec![(a, Stale::GroupKeyChanged("vpn3000".into()))]);

    let (mut net, a, b2) = two_clients();
    let stale = net.gw.reconfigure(config_with(|gw| {
        gw.groups.clear();
        gw.keys[0].key = Secret::from_slice(b"new address key");
    }));
    assert_eq!(
        stale,
        vec![
            (a, Stale::GroupRemoved("vpn3000".into())),
            (b2, Stale::PeerKeyChanged)
        ]
    );
    let (mut net, _, b3) = two_clients();
    let stale = net.gw.reconfigure(config_with(|gw| gw.keys.clear()));
    assert_eq!(stale, vec![(b3, Stale::PeerKeyRemoved)]);
    // the driver ends them with a DELETE the client hears
    net.gw
        .delete(net.now, b3, &mut StdRng::seed_from_u64(1))
        .unwrap();
    net.run(Duration::from_secs(5));
    assert!(net.gw.sa_state(b3).is_none());
}

#[test]
fn reconfigured_pools_keep_the_leases_of_the_same_pool() {
    let (mut net, _, _) = two_clients();
    assert_eq!(net.gw.pools().total_in_use(), 2);
    let mut pools = modecfg::Pools::new();
    pools
        .add(
            "VPNpool",
            "10.89.129.200".parse().unwrap(),
            "10.89.129.201".parse().unwrap(),
        )
        .unwrap();
    let orphans = net.gw.reconfigure_pools(pools).unwrap();
    assert!(orphans.is_empty(), "{orphans:?}");
    assert_eq!(net.gw.pools().pool("VPNpool").unwrap().in_use(), 2);
    let orphans = net.gw.reconfigure_pools(modecfg::Pools::new()).unwrap();
    assert_eq!(orphans.len(), 2);
}
