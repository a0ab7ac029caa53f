//! Phase-1 rekey: a client endpoint of ours rekeys its IKE SA before the lifetime ends,
//! the gateway endpoint keeps both SAs until the client deletes the old one, child SAs
//! live on under the new IKE SA on both sides, and later Quick Modes (and the child SAs'
//! own expiry) use the new IKE SA. Virtual clock, seeded RNG.
#![allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    missing_docs
)]

mod common;

use common::events::{child_deleted, children, debug, deleted, established, rekeyed};
use common::net::{Net, GW, SEED_PSK};
use ike_sm::crypto::dh::DhGroup;
use ike_sm::*;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

const LIFE: u64 = 1000;
/// The one client's address.
const CL: &str = "192.168.1.2:500";

/// The seed's gateway with phase-1 lifetime [`LIFE`] (`main_mode`: without Xauth and
/// Mode Config) and a client at [`CL`]; Xauth accepts every password.
fn new_net(seed: u64, main_mode: bool) -> Net {
    let (mut cfg, pools) = presets::seed_gateway(
        SEED_PSK,
        Ipv4Addr::new(10, 89, 129, 200),
        Ipv4Addr::new(10, 89, 129, 204),
    )
    .unwrap();
    let gw = cfg.gateway.as_mut().unwrap();
    for p in &mut gw.policies {
        p.lifetime_secs = LIFE;
    }
    if main_mode {
        gw.client_authentication = false;
        gw.mode_config = ModeCfgMode::default();
    }
    let mut net = Net::new(seed, Endpoint::new(cfg, pools));
    net.any_password = true;
    net.client(CL);
    net
}

fn cl_addr() -> SocketAddr {
    CL.parse().unwrap()
}

fn quick_mode(net: &mut Net, sa: SaId, life_secs: u64) {
    let c = cl_addr();
    let cur = net.cli(c).current_sa(sa);
    let local = net
        .cli(c)
        .assigned_address(cur)
        .unwrap_or(Ipv4Addr::new(192, 168, 1, 2));
    let req = QuickModeRequest {
        local: TrafficSelector::new(Selector::Addr(local)),
        remote: TrafficSelector::new(Selector::Addr(Ipv4Addr::new(192, 168, 1, 1))),
        offers: presets::seed_qm_offers(),
        pfs: None,
        life_secs,
        life_kb: 0,
    };
    let now = net.now;
    net.clients[0]
        .1
        .initiate_quick_mode(now, sa, req, &mut net.rng)
        .unwrap();
}

/// The client starts phase 1 with `profile`; its SA.
fn initiate(net: &mut Net, profile: ClientProfile) -> SaId {
    let (now, g) = (net.now, GW.parse().unwrap());
    net.clients[0]
        .1
        .initiate(now, cl_addr(), g, profile, &mut net.rng)
        .unwrap()
}

/// Phase 1 and one Quick Mode; returns the client's SA.
fn connect(net: &mut Net, main_mode: bool) -> SaId {
    let mut profile = if main_mode {
        let mut p = presets::vpn_client_11(b"cisco1234", "u", b"p");
        p.offers[0].group = DhGroup::Modp1024;
        p.xauth = None;
        p.mode_config = ClientModeCfg::None;
        p
    } else {
        presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "cisco_customer", b"c")
    };
    for o in &mut profile.offers {
        o.life_secs = Some(LIFE);
    }
    let sa = initiate(net, profile);
    net.run_for(Duration::from_secs(2));
    assert!(net.cli(cl_addr()).ready_for_quick_mode(sa));
    quick_mode(net, sa, 28_800);
    net.run_for(Duration::from_secs(2));
    assert_eq!(children(&net.cli_log()).len(), 1);
    assert_eq!(children(&net.gw_log()).len(), 1);
    sa
}

fn check_rekey(net: &mut Net, old_cl: SaId) -> (SaId, SaId) {
    // Client: rekeyed before the lifetime (at 90% of it: 1000 s with the default 540 s
    // margin capped at a tenth), the old SA deleted right after the new one was up.
    let rk = rekeyed(&net.cli_log());
    assert_eq!(rk.len(), 1, "{rk:?}");
    let (t, old, new_cl) = rk[0];
    assert_eq!(old, old_cl);
    assert!((900..LIFE).contains(&t), "rekeyed at {t}");
    assert_eq!(net.cli(cl_addr()).current_sa(old_cl), new_cl);
    assert!(deleted(&net.cli_log()).contains(&(t, old_cl)));
    assert_eq!(net.cli(cl_addr()).sa_count(), 1);
    assert_eq!(
        net.cli(cl_addr()).sa_state(new_cl),
        Some(P1State::Established)
    );
    // Gateway: a second SA from the same peer while the old one lives (no
    // INITIAL-CONTACT), then the client's DELETE removes the old one; its child SA moves
    // to the new IKE SA instead of being deleted.
    let est = established(&net.gw_log());
    assert_eq!(est.len(), 2);
    let (old_gw, new_gw) = (est[0].1, est[1].1);
    let grk = rekeyed(&net.gw_log());
    assert_eq!(grk.len(), 1);
    assert_eq!((grk[0].1, grk[0].2), (old_gw, new_gw));
    let gdel = deleted(&net.gw_log());
    assert_eq!(gdel.len(), 1);
    assert_eq!(gdel[0].1, old_gw);
    assert!(gdel[0].0 >= est[1].0 && gdel[0].0 < LIFE);
    assert_eq!(net.gw.sa_count(), 1);
    assert!(child_deleted(&net.gw_log()).is_empty());
    assert!(child_deleted(&net.cli_log()).is_empty());
    // The debug rendering tells the story on both sides.
    let cd = debug(&net.cli_log());
    assert!(
        cd.iter().any(|l| l.starts_with(&format!(
            "ISAKMP (0): IKE SA {} expires in 100 seconds: beginning phase 1 rekey, new IKE SA {}",
            old_cl.0, new_cl.0
        ))),
        "{cd:#?}"
    );
    assert!(cd.contains(&format!(
        "ISAKMP (0): IKE SA {o} replaced by IKE SA {n}: deleting IKE SA {o}, 1 IPsec SA pair(s) moved to IKE SA {n}",
        o = old_cl.0,
        n = new_cl.0
    )));
    let gd = debug(&net.gw_log());
    assert!(gd.contains(&format!(
        "ISAKMP (0): IKE SA {o} replaced by IKE SA {n}: deleting IKE SA {o}, 1 IPsec SA pair(s) moved to IKE SA {n}",
        o = old_gw.0,
        n = new_gw.0
    )));
    (new_cl, new_gw)
}

#[test]
fn aggressive_xauth_cfg_rekeys_before_expiry_and_keeps_children() {
    let mut net = new_net(41, false);
    let old = connect(&mut net, false);
    net.run_for(Duration::from_secs(LIFE - 50));
    let (new_cl, new_gw) = check_rekey(&mut net, old);
    // The new SA ran Xauth and Mode Config again, as the profile says.
    assert!(net.cli(cl_addr()).ready_for_quick_mode(new_cl));
    assert!(net.cli(cl_addr()).assigned_address(new_cl).is_some());
    // A Quick Mode asked for on the old SA id runs on the new SA, on both sides.
    quick_mode(&mut net, old, 28_800);
    net.run_for(Duration::from_secs(2));
    let (c, g) = (children(&net.cli_log()), children(&net.gw_log()));
    assert_eq!((c.len(), g.len()), (2, 2));
    assert_eq!(c[1].0, new_cl);
    assert_eq!(g[1].0, new_gw);
    assert_eq!(c[1].2, g[1].1);
    // Past the old SA's lifetime nothing else happens: no second delete, no expiry.
    net.run_for(Duration::from_secs(100));
    assert_eq!(deleted(&net.cli_log()).len(), 1);
    assert_eq!(deleted(&net.gw_log()).len(), 1);
    // The address the old SA's child uses is held until the new SA goes.
    assert!(net.gw.pools().pool("VPNpool").map_or(0, |p| p.in_use()) >= 1);
}

#[test]
fn main_mode_rekey_then_child_expiry_and_phase2_rekey_use_the_new_sa() {
    let mut net = new_net(42, true);
    let mut profile = presets::vpn_client_11(b"cisco1234", "u", b"p");
    profile.offers[0].group = DhGroup::Modp1024;
    profile.offers[0].life_secs = Some(LIFE);
    profile.xauth = None;
    profile.mode_config = ClientModeCfg::None;
    let old = initiate(&mut net, profile);
    net.run_for(Duration::from_secs(2));
    // A child that outlives the old IKE SA but expires under the new one.
    quick_mode(&mut net, old, 1200);
    net.run_for(Duration::from_secs(2));
    let first = children(&net.cli_log())[0];
    let gw_first = children(&net.gw_log())[0];
    net.run_for(Duration::from_secs(LIFE - 50));
    let (new_cl, new_gw) = check_rekey(&mut net, old);
    // Phase-2 rekey after the phase-1 rekey: a new child on the new SA, then the child
    // of the old SA expires and its DELETE goes under the new SA (the gateway hears it).
    quick_mode(&mut net, old, 1200);
    net.run_for(Duration::from_secs(2));
    let c2 = children(&net.cli_log());
    assert_eq!(c2.len(), 2);
    assert_eq!(c2[1].0, new_cl);
    net.run_for(Duration::from_secs(300));
    assert_eq!(
        child_deleted(&net.cli_log()),
        vec![(new_cl, first.1)],
        "the old child expired under the new IKE SA"
    );
    assert_eq!(
        child_deleted(&net.gw_log()),
        vec![(new_gw, gw_first.1)],
        "the gateway got the IPsec DELETE through the new IKE SA"
    );
    assert_eq!(net.gw.sa_count(), 1);
    assert_eq!(net.cli(cl_addr()).sa_count(), 1);
}

#[test]
fn manual_rekey_and_no_rekey_without_margin() {
    // rekey_phase1 on demand.
    let mut net = new_net(43, true);
    let old = connect(&mut net, true);
    let now = net.now;
    let new = net.clients[0]
        .1
        .rekey_phase1(now, old, &mut net.rng)
        .unwrap();
    assert_ne!(new, old);
    // Asking again while it runs gives the same new SA.
    assert_eq!(
        net.clients[0]
            .1
            .rekey_phase1(now, old, &mut net.rng)
            .unwrap(),
        new
    );
    net.run_for(Duration::from_secs(5));
    assert_eq!(rekeyed(&net.cli_log())[0].1, old);
    assert_eq!(net.cli(cl_addr()).current_sa(old), new);
    assert_eq!(net.cli(cl_addr()).sa_count(), 1);
    assert_eq!(net.gw.sa_count(), 1);
    // A responder SA is not ours to rekey.
    let gw_sa = established(&net.gw_log())[1].1;
    let now = net.now;
    assert!(matches!(
        net.gw.rekey_phase1(now, gw_sa, &mut net.rng),
        Err(SmError::NotEstablished(_))
    ));

    // With the margin off, the SA simply expires (and the gateway's copy with it).
    let mut net = new_net(44, true);
    let limits = Limits {
        phase1_rekey_margin: None,
        ..Limits::default()
    };
    net.client_with(
        CL,
        Endpoint::new(
            Config {
                limits,
                ..presets::client()
            },
            modecfg::Pools::new(),
        ),
    );
    let _ = connect(&mut net, true);
    net.run_for(Duration::from_secs(LIFE + 10));
    assert!(rekeyed(&net.cli_log()).is_empty());
    assert_eq!((net.cli(cl_addr()).sa_count(), net.gw.sa_count()), (0, 0));
}
