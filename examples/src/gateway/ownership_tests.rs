//! Who owns an address, on the gateway core without IO (issue 15, item 4): user A (the
//! seed's VPN Client 4.x, an address from `VPNpool`) and B, a site-to-site peer with
//! `isakmp key ... no-xauth no-config-mode` whose own network (10.1.2.0/24) is outside
//! the pool. The IKE layer refuses B's claims on the pool; a B whose pair covers A's
//! address anyway (forged here, as a newer pair than A's) still cannot send with A's
//! address nor take the inside's traffic for it.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use super::dataplane::{DataPlane, Drop, EspDest};
use super::*;
use ike_sm::crypto::dh::DhGroup;
use ike_sm::Secret;
use ike_sm::{presets, ChildSa, Selector, TrafficSelector};
use rand::rngs::StdRng;
use rand::SeedableRng;
use testkit::aaa::MemAaa;

use super::test_support::rig::{base, Net};

const GW: &str = "192.168.1.1:500";
const A: &str = "198.51.100.7:500";
const B: &str = "198.51.100.9:500";

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn sel(a: &str, m: &str) -> TrafficSelector {
    TrafficSelector::new(Selector::Subnet(ip(a), ip(m)))
}

/// The demo configuration plus B's address key.
fn plan() -> setup::Plan {
    let plan = super::test_support::demo_plan_with(
        |text| {
            text.replace(
                "isakmp identity address",
                "isakmp key b-site-key address 198.51.100.9 netmask 255.255.255.255 no-xauth no-config-mode\nisakmp identity address",
            )
        },
        &[],
        &[],
    )
    .unwrap();
    let keys = &plan.ike.gateway.as_ref().unwrap().keys;
    assert!(
        keys.iter()
            .any(|k| k.address == ip("198.51.100.9") && k.no_xauth && k.no_config_mode),
        "{keys:?}"
    );
    plan
}

/// The core alone (seed 15), both debugs on, no clients yet.
fn rig() -> Net {
    Net::one(
        plan(),
        Settings::new(ip("192.168.1.1")),
        MemAaa::new(),
        15,
        base(),
    )
}

/// A client at `at` logs in with `profile`: its index and SA.
fn connect(rig: &mut Net, at: &str, profile: ike_sm::ClientProfile) -> (usize, ike_sm::SaId) {
    let i = rig.add_client(at.parse().unwrap());
    let sa = rig.login(i, profile);
    assert!(rig.clients[i].ep.ready_for_quick_mode(sa));
    (i, sa)
}

/// Client `i` asks for `req` on `sa`; IKE runs until quiet.
fn quick_mode(rig: &mut Net, i: usize, sa: ike_sm::SaId, req: ike_sm::QuickModeRequest) {
    rig.clients[i]
        .ep
        .initiate_quick_mode(rig.now, sa, req, &mut rig.rng)
        .unwrap();
    rig.pump();
}

/// The gateway's IKE SA with the peer at `at`.
fn gw_sa(rig: &Net, at: &str) -> ike_sm::SaId {
    let a: SocketAddr = at.parse().unwrap();
    rig.shards[0]
        .sessions()
        .find(|s| s.remote == a)
        .map(|s| s.sa)
        .unwrap()
}

/// Raw ESP from `from` (its IP header added): the inner packet when the core passes it
/// to the inside; the debug lines it caused.
fn esp_in(rig: &mut Net, from: Ipv4Addr, esp: &[u8]) -> (Option<Vec<u8>>, Vec<String>) {
    let at = rig.debug.len();
    let (_, inner) = rig.raw_esp_in(from, esp);
    let lines = rig.debug_since(at).into_iter().map(String::from).collect();
    (inner, lines)
}

/// The IKE SA the data plane routes an inside packet from `src` to `dst` by (read only:
/// no packet, no policy).
fn route(rig: &Net, src: &str, dst: &str) -> Option<ike_sm::SaId> {
    let gw = &rig.shards[0];
    let spi = gw.data.route(ip(src), ip(dst))?;
    gw.data_plane()
        .children()
        .find(|(s, _)| **s == spi)
        .map(|(_, c)| c.ike_sa)
}

fn b_profile() -> ike_sm::ClientProfile {
    let mut p = presets::vpn_client_11(b"b-site-key", "unused", b"unused");
    p.xauth = None;
    p.mode_config = ike_sm::ClientModeCfg::None;
    p.initial_contact = false;
    p
}

fn b_request(ours: TrafficSelector) -> ike_sm::QuickModeRequest {
    ike_sm::QuickModeRequest {
        local: ours,
        remote: sel("10.89.129.128", "255.255.255.240"),
        offers: presets::seed_qm_offers(),
        pfs: None,
        life_secs: 28_800,
        life_kb: 0,
    }
}

/// A copy of a child SA with other selectors (ours, theirs).
fn with_selectors(c: &ChildSa, local: TrafficSelector, remote: TrafficSelector) -> ChildSa {
    ChildSa {
        ike_sa: c.ike_sa,
        message_id: c.message_id,
        spi_in: c.spi_in,
        spi_out: c.spi_out,
        protocol: c.protocol,
        encryption: c.encryption,
        integrity: c.integrity,
        encapsulation: c.encapsulation,
        enc_key_in: c.enc_key_in.duplicate(),
        auth_key_in: c.auth_key_in.duplicate(),
        enc_key_out: c.enc_key_out.duplicate(),
        auth_key_out: c.auth_key_out.duplicate(),
        local_selector: local,
        remote_selector: remote,
        life_secs: c.life_secs,
        life_kb: c.life_kb,
        local: c.local,
        remote: c.remote,
        natt_ports: c.natt_ports,
        peer_original_addr: c.peer_original_addr,
        assigned_address: c.assigned_address,
    }
}

/// The gateway's half of a client's child SA: directions (SPIs, keys, selectors,
/// addresses) swapped, with the gateway's IKE SA and no owned address (B has none).
fn gateway_side(c: &ChildSa, ike_sa: ike_sm::SaId, remote: TrafficSelector) -> ChildSa {
    ChildSa {
        ike_sa,
        message_id: c.message_id,
        spi_in: c.spi_out,
        spi_out: c.spi_in,
        protocol: c.protocol,
        encryption: c.encryption,
        integrity: c.integrity,
        encapsulation: c.encapsulation,
        enc_key_in: c.enc_key_out.duplicate(),
        auth_key_in: c.auth_key_out.duplicate(),
        enc_key_out: c.enc_key_in.duplicate(),
        auth_key_out: c.auth_key_in.duplicate(),
        local_selector: c.remote_selector,
        remote_selector: remote,
        life_secs: c.life_secs,
        life_kb: c.life_kb,
        local: c.remote,
        remote: c.local,
        natt_ports: c.natt_ports,
        peer_original_addr: None,
        assigned_address: None,
    }
}

fn icmp(src: &str, dst: &str) -> Vec<u8> {
    let mut p = vec![
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1, 0, 1,
    ];
    p[12..16].copy_from_slice(&ip(src).octets());
    p[16..20].copy_from_slice(&ip(dst).octets());
    p
}

#[test]
fn a_no_config_mode_peer_cannot_send_as_a_user_nor_take_its_traffic() {
    let mut rig = rig();
    // A: the seed's 4.x flow, 10.89.129.200 from the pool, a pair for it.
    let (ia, a_sa) = connect(
        &mut rig,
        A,
        presets::vpn_client_4x(
            DhGroup::Modp1024,
            b"cisco1234",
            "cisco_customer",
            b"cisco123",
        ),
    );
    let a_addr = rig.clients[ia].ep.assigned_address(a_sa).unwrap();
    assert_eq!(a_addr, ip("10.89.129.200"));
    quick_mode(&mut rig, ia, a_sa, presets::vpn_client_quick_mode(a_addr));
    let a_gw = gw_sa(&rig, A);
    assert_eq!(rig.shards[0].data_plane().owner_of(a_addr), Some(a_gw));

    // B: Main Mode with its address key, no Xauth, no Mode Config.
    let (ib, b_sa) = connect(&mut rig, B, b_profile());
    let b_gw = gw_sa(&rig, B);
    assert!(rig.shards[0].endpoint().assigned_address(b_gw).is_none());
    // Its claim on the pool's subnet is refused at the IKE level and counted...
    let refused = ike_sm::counters::Refusal::SelectorNotOwned;
    let before = rig.shards[0].endpoint().counters().get(refused);
    quick_mode(
        &mut rig,
        ib,
        b_sa,
        b_request(sel("10.89.129.0", "255.255.255.0")),
    );
    assert!(rig.shards[0].endpoint().counters().get(refused) > before);
    assert!(rig.clients[ib].children.is_empty());
    assert_eq!(rig.shards[0].data_plane().len(), 1);
    // ...its own LAN is accepted.
    quick_mode(
        &mut rig,
        ib,
        b_sa,
        b_request(sel("10.1.2.0", "255.255.255.0")),
    );
    assert_eq!(rig.clients[ib].children.len(), 1, "{:?}", rig.texts());
    assert_eq!(rig.shards[0].data_plane().len(), 2);

    // Forged from here on: B's pair on the gateway is replaced by one whose remote
    // selector is 10.89.129.0/24 (covering A's address), installed after A's, and B's
    // side sends from that whole subnet. No input of the core can do this (the IKE layer
    // refused it above): the test writes the data plane itself, the one place it does.
    let b_child = {
        let c = &rig.clients[ib].children[0];
        with_selectors(c, c.local_selector, c.remote_selector)
    };
    let wide = sel("10.89.129.0", "255.255.255.0");
    let forged = gateway_side(&b_child, b_gw, wide);
    rig.shards[0].data.install(&forged, rig.now).unwrap();
    assert_eq!(rig.shards[0].data_plane().len(), 2);
    let mut b_dp = DataPlane::new();
    b_dp.install(
        &with_selectors(&b_child, wide, b_child.remote_selector),
        rig.now,
    )
    .unwrap();
    let b_from = ip("198.51.100.9");
    let mut buf = vec![0u8; 2048];
    let not_owner = format!(
        "IPSEC(inbound): packet from 198.51.100.9 dropped: {}",
        Drop::NotOwner {
            src: ip("10.89.129.200")
        }
        .word()
    );

    // B sends with A's address: dropped and counted, however B's selector reads.
    let now = rig.now;
    for _ in 0..2 {
        let (n, _, _) = b_dp
            .outbound(
                now,
                &mut rig.rng,
                &icmp("10.89.129.200", "10.89.129.131"),
                &mut buf,
            )
            .unwrap();
        let (inner, lines) = esp_in(&mut rig, b_from, &buf[..n]);
        assert_eq!(inner, None);
        assert_eq!(lines, std::slice::from_ref(&not_owner));
    }
    let s = rig.command(0, "show crypto ipsec sa");
    assert!(
        s.contains("recv errors (source address owned by another tunnel): 2"),
        "{s}"
    );
    // An address of its subnet that nobody owns passes the ESP stage on B's tunnel.
    let decaps = |rig: &Net| {
        rig.shards[0]
            .data_plane()
            .children()
            .filter(|(_, c)| c.ike_sa == b_gw)
            .map(|(_, c)| c.counters.decaps)
            .sum::<u64>()
    };
    let before = decaps(&rig);
    let (n, _, _) = b_dp
        .outbound(
            now,
            &mut rig.rng,
            &icmp("10.89.129.77", "10.89.129.131"),
            &mut buf,
        )
        .unwrap();
    let (_, lines) = esp_in(&mut rig, b_from, &buf[..n]);
    assert!(
        lines
            .iter()
            .all(|l| !l.starts_with("IPSEC(inbound): packet from")),
        "{lines:?}"
    );
    assert_eq!(decaps(&rig), before + 1);

    // The inside answers A: the packet goes to A's pair, never to B's, although B's
    // pair is newer and its selector covers A's address.
    let mut a_dp = DataPlane::new();
    a_dp.install(&rig.clients[ia].children[0], now).unwrap();
    let mut reply = icmp("10.89.129.131", "10.89.129.200");
    reply[20] = 0; // echo reply
    for _ in 0..3 {
        assert_eq!(route(&rig, "10.89.129.131", "10.89.129.200"), Some(a_gw));
        // Through the gateway's policy too.
        let r = rig.encapsulate_at(0, &reply);
        assert!(r.is_some(), "{:?}", rig.debug);
        let (dest, mut esp, sa) = r.unwrap();
        assert_eq!(sa, a_gw);
        assert_eq!(dest, EspDest::Raw(ip("198.51.100.7")));
        let (range, _, _, _) = a_dp
            .inbound(now, ip("192.168.1.1").into(), &mut esp)
            .unwrap();
        assert_eq!(&esp[range], &reply[..]);
    }
    // An address of B's subnet that nobody owns is B's.
    assert_eq!(route(&rig, "10.89.129.131", "10.89.129.77"), Some(b_gw));
    // A pool address nobody holds is nobody's own: B's selector covers it.
    assert_eq!(route(&rig, "10.89.129.131", "10.89.129.203"), Some(b_gw));

    rig.shards[0].data.assert_indexes_consistent();
    // A leaves (cleared by the operator): its address is owned by nobody any more.
    let s = rig.command(0, "clear crypto isakmp sa 198.51.100.7");
    assert_eq!(s, "1 IKE SA(s) with 198.51.100.7 cleared\n");
    assert_eq!(rig.shards[0].data_plane().len(), 1);
    assert_eq!(rig.shards[0].data_plane().owner_of(a_addr), None);
    rig.shards[0].data.assert_indexes_consistent();
    let before = decaps(&rig);
    let (n, _, _) = b_dp
        .outbound(
            now,
            &mut rig.rng,
            &icmp("10.89.129.200", "10.89.129.131"),
            &mut buf,
        )
        .unwrap();
    let (_, lines) = esp_in(&mut rig, b_from, &buf[..n]);
    assert!(!lines.contains(&not_owner), "{lines:?}");
    assert_eq!(decaps(&rig), before + 1);
}

/// A child SA with made-up keys (DES, HMAC-MD5) for the data plane alone.
fn child(ike: u64, spi: u32, remote: TrafficSelector, owner: Option<&str>) -> ChildSa {
    let peer: SocketAddr = SocketAddr::from(([198, 51, 100, u8::try_from(ike).unwrap()], 500));
    ChildSa {
        ike_sa: ike_sm::SaId(ike),
        message_id: spi,
        spi_in: spi,
        spi_out: spi ^ 0xffff,
        protocol: 3,
        encryption: esp::EncryptionAlgorithm::Des,
        integrity: esp::IntegrityAlgorithm::HmacMd5_96,
        encapsulation: 1,
        enc_key_in: Secret::from_slice(&[1; 8]),
        auth_key_in: Secret::from_slice(&[2; 16]),
        enc_key_out: Secret::from_slice(&[3; 8]),
        auth_key_out: Secret::from_slice(&[4; 16]),
        local_selector: sel("0.0.0.0", "0.0.0.0"),
        remote_selector: remote,
        life_secs: 3600,
        life_kb: 0,
        local: GW.parse().unwrap(),
        remote: peer,
        natt_ports: None,
        peer_original_addr: None,
        assigned_address: owner.map(ip),
    }
}

fn route_of(dp: &mut DataPlane, dst: &str) -> Option<ike_sm::SaId> {
    dp.assert_indexes_consistent();
    #[allow(clippy::disallowed_methods)] // lifetimes are not under test
    let now = Instant::now();
    let mut out = vec![0u8; 256];
    dp.outbound(
        now,
        &mut StdRng::seed_from_u64(1),
        &icmp("10.89.129.131", dst),
        &mut out,
    )
    .ok()
    .map(|(_, _, sa)| sa)
}

#[test]
fn routing_prefers_the_owner_then_the_most_specific_then_the_older_tunnel() {
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut dp = DataPlane::new();
    let host = |a: &str| TrafficSelector::new(Selector::Addr(ip(a)));
    // Tunnel 1 (older) and tunnel 2 (newer) name the same /16; tunnel 2 also a /24 in it.
    dp.install(&child(1, 0x101, sel("10.50.0.0", "255.255.0.0"), None), now)
        .unwrap();
    dp.install(&child(2, 0x201, sel("10.50.0.0", "255.255.0.0"), None), now)
        .unwrap();
    dp.install(
        &child(2, 0x202, sel("10.50.7.0", "255.255.255.0"), None),
        now,
    )
    .unwrap();
    // Tunnel 3 owns 10.50.9.9 (its Mode Config address).
    dp.install(&child(3, 0x301, host("10.50.9.9"), Some("10.50.9.9")), now)
        .unwrap();
    // A range, filed as the prefixes that make it up.
    dp.install(
        &child(
            4,
            0x401,
            TrafficSelector::new(Selector::Range(ip("10.60.0.5"), ip("10.60.0.9"))),
            None,
        ),
        now,
    )
    .unwrap();
    let sa = ike_sm::SaId;
    assert_eq!(
        route_of(&mut dp, "10.50.1.1"),
        Some(sa(1)),
        "a tie: the older"
    );
    assert_eq!(
        route_of(&mut dp, "10.50.7.1"),
        Some(sa(2)),
        "the most specific"
    );
    assert_eq!(route_of(&mut dp, "10.50.9.9"), Some(sa(3)), "the owner");
    assert_eq!(route_of(&mut dp, "10.60.0.5"), Some(sa(4)));
    assert_eq!(route_of(&mut dp, "10.60.0.9"), Some(sa(4)));
    assert_eq!(route_of(&mut dp, "10.60.0.10"), None);
    // Within one tunnel the newer pair (a Quick Mode rekey) carries the traffic; the
    // tunnel keeps its age.
    dp.install(&child(1, 0x102, sel("10.50.0.0", "255.255.0.0"), None), now)
        .unwrap();
    let mut out = vec![0u8; 256];
    let r = dp.outbound(
        now,
        &mut StdRng::seed_from_u64(2),
        &icmp("10.89.129.131", "10.50.1.1"),
        &mut out,
    );
    assert!(r.is_ok());
    let counts: Vec<(u32, u64)> = {
        let mut v: Vec<(u32, u64)> = dp
            .children()
            .map(|(s, c)| (*s, c.counters.encaps))
            .collect();
        v.sort_unstable();
        v
    };
    assert!(
        counts.contains(&(0x102, 1)) && counts.contains(&(0x101, 1)),
        "{counts:?}"
    );
    // Tunnel 1 is rekeyed (phase 1) into tunnel 5: still the older of the two.
    assert_eq!(dp.reassign(sa(1), sa(5)), 2);
    assert_eq!(route_of(&mut dp, "10.50.1.1"), Some(sa(5)));
    // The owner's pairs go: its address falls back to the selectors that cover it.
    dp.remove(0x301);
    assert_eq!(dp.owner_of(ip("10.50.9.9")), None);
    assert_eq!(route_of(&mut dp, "10.50.9.9"), Some(sa(5)));
    // Tunnel 5 goes: tunnel 2 has the /16 alone; nothing of tunnel 5 is left.
    assert_eq!(dp.remove_ike(sa(5)).len(), 2);
    assert_eq!(route_of(&mut dp, "10.50.1.1"), Some(sa(2)));
    dp.remove_ike(sa(2));
    dp.remove_ike(sa(4));
    assert!(dp.is_empty());
    dp.assert_indexes_consistent();
    assert_eq!(route_of(&mut dp, "10.50.1.1"), None);
}

/// How specific a selector is for `dst` (a range: the prefix of it that holds `dst`).
fn model_specificity(sel: &TrafficSelector, dst: Ipv4Addr) -> u32 {
    match sel.addr {
        Selector::Addr(_) => 32,
        Selector::Subnet(_, m) => u32::from(m).count_ones(),
        Selector::Range(lo, hi) => ipnet::Ipv4Subnets::new(lo, hi, 0)
            .find(|n| n.contains(&dst))
            .map_or(0, |n| u32::from(n.prefix_len())),
    }
}

fn model_covers(sel: &TrafficSelector, a: Ipv4Addr) -> bool {
    match sel.addr {
        Selector::Addr(x) => x == a,
        Selector::Subnet(n, m) => u32::from(a) & u32::from(m) == u32::from(n) & u32::from(m),
        Selector::Range(lo, hi) => (lo..=hi).contains(&a),
    }
}

/// The route by the rules, from a pass over every pair.
fn model_route(dp: &DataPlane, src: Ipv4Addr, dst: Ipv4Addr) -> Option<u32> {
    let owner = dp
        .children()
        .find(|(_, c)| c.owner == Some(dst))
        .map(|(_, c)| c.ike_sa);
    let covering = dp.children().filter(|(_, c)| {
        model_covers(&c.remote_selector, dst) && model_covers(&c.local_selector, src)
    });
    match owner {
        Some(o) => covering
            .filter(|(_, c)| c.ike_sa == o && c.owner == Some(dst))
            .max_by_key(|(_, c)| (model_specificity(&c.local_selector, src), c.serial))
            .map(|(s, _)| *s),
        None => covering
            .filter(|(_, c)| {
                c.owner
                    .is_none_or(|a| c.remote_selector.addr != Selector::Addr(a))
            })
            .max_by_key(|(_, c)| {
                (
                    model_specificity(&c.remote_selector, dst),
                    model_specificity(&c.local_selector, src),
                    std::cmp::Reverse(c.seniority),
                    c.serial,
                )
            })
            .map(|(s, _)| *s),
    }
}

/// The indexes (owners, prefixes, odd masks, IKE SA ages) under random installs,
/// removals and phase-1 hand-overs route exactly as a pass over every pair would.
#[test]
fn route_index_agrees_with_a_pass_over_every_pair() {
    use rand::RngExt;
    #[allow(clippy::disallowed_methods)]
    let now = Instant::now();
    let mut rng = StdRng::seed_from_u64(0x15);
    let mut dp = DataPlane::new();
    let mut spi = 0x1000u32;
    let addr =
        |rng: &mut StdRng| Ipv4Addr::new(10, 70, rng.random_range(0..4), rng.random_range(0..8));
    let mut routed = 0usize;
    for _ in 0..3000 {
        let live: Vec<u32> = dp.children().map(|(s, _)| *s).collect();
        match rng.random_range(0..10) {
            0..=4 => {
                let ike = rng.random_range(1..=8u64);
                let own = Ipv4Addr::new(10, 70, 0, u8::try_from(ike).unwrap());
                let owner = (ike <= 4
                    && dp
                        .children()
                        .all(|(_, c)| c.owner != Some(own) || c.ike_sa.0 == ike))
                .then_some(own);
                let remote = match (owner, rng.random_range(0..5)) {
                    (Some(a), 0..=2) => TrafficSelector::new(Selector::Addr(a)),
                    (_, 0) => TrafficSelector::new(Selector::Addr(addr(&mut rng))),
                    (_, 1 | 2) => {
                        let len = rng.random_range(20..=32u32);
                        let m = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                        TrafficSelector::new(Selector::Subnet(addr(&mut rng), m.into()))
                    }
                    (_, 3) => {
                        let (a, b) = (addr(&mut rng), addr(&mut rng));
                        TrafficSelector::new(Selector::Range(a.min(b), a.max(b)))
                    }
                    _ => sel("10.70.0.0", "255.255.252.1"),
                };
                let mut c = child(ike, spi, remote, None);
                c.assigned_address = owner;
                if rng.random_bool(0.3) {
                    c.local_selector = sel("10.89.129.128", "255.255.255.240");
                }
                // Now and then a pair is installed again under its SPI.
                if rng.random_bool(0.1) && !live.is_empty() {
                    c.spi_in = live[rng.random_range(0..live.len())];
                } else {
                    spi += 1;
                }
                dp.install(&c, now).unwrap();
            }
            5 | 6 if !live.is_empty() => {
                dp.remove(live[rng.random_range(0..live.len())]);
            }
            7 => {
                dp.remove_ike(ike_sm::SaId(rng.random_range(1..=8)));
            }
            8 => {
                let (old, new) = (rng.random_range(1..=8), rng.random_range(1..=8));
                // Leases are exclusive: a hand-over never gives one IKE SA two owners.
                dp.reassign(ike_sm::SaId(old), ike_sm::SaId(new));
            }
            _ => {}
        }
        dp.assert_indexes_consistent();
        for _ in 0..8 {
            let src = if rng.random_bool(0.5) {
                ip("10.89.129.131")
            } else {
                ip("10.1.1.1")
            };
            let dst = addr(&mut rng);
            let got = dp.route(src, dst);
            assert_eq!(got, model_route(&dp, src, dst), "{src} -> {dst}");
            routed += usize::from(got.is_some());
        }
    }
    assert!(routed > 1000, "{routed}");
}
