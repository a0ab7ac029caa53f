//! `pix-gateway reload` in memory (issue 19): `Gateway::reload` with a new plan while
//! clients are connected, on one core and on two shards sharing their pools. Users whose
//! group, pool address and keys are still there stay and keep passing traffic; users
//! whose group or key went away, or whose address no pool of its name holds any more,
//! are logged out cleanly (the client hears the DELETEs, `show uauth` drops them, the
//! lease comes back); new logins use the new configuration.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{base, icmp, radius_aaa, radius_auth, radius_plan, vpn_4x, Net, GW_IP};
use ike_sm::Secret;
use pix_gateway::gateway::setup::{self, Plan};
use pix_gateway::{demo, Settings};
use testkit::aaa::MemAaa;

const USER: (&str, &str) = ("cisco_customer", "cisco123");
const INSIDE_HOST: &str = "10.89.129.131";

/// The demo configuration after `edit`, with the demo's secrets after `secrets`: a plan
/// as `pix-gateway run` (and `reload`) maps it.
fn plan(edit: impl Fn(&str) -> String, secrets: impl Fn(&str) -> String) -> Plan {
    let text = edit(demo::CONFIG);
    let (ov, d) = pix_config::SecretsOverlay::parse(&secrets(demo::SECRETS));
    assert!(d.is_empty(), "{d:?}");
    let out = pix_config::parse_with(
        &text,
        &pix_config::ParseOptions {
            strict: false,
            secrets: Some(&ov),
        },
    );
    assert!(
        out.diagnostics
            .iter()
            .all(|d| d.severity != pix_config::Severity::Error),
        "{:?}",
        out.diagnostics
    );
    let mut users: Vec<(String, Secret)> = ov
        .users()
        .into_iter()
        .map(|(n, s)| (n.to_string(), Secret::from_slice(s.expose_secret())))
        .collect();
    users.push(("second".into(), Secret::from_slice(b"second-pw")));
    setup::plan_with(&out.config, users, &[]).unwrap()
}

fn same(t: &str) -> String {
    t.to_string()
}

fn demo_plan() -> Plan {
    plan(same, same)
}

/// Two clients of group vpn3000 connected (10.89.129.200 and .201), each passing a ping.
fn two_users(shards: usize) -> (Net, [Ipv4Addr; 2]) {
    let mut net = if shards == 1 {
        Net::one(demo_plan(), Settings::new(GW_IP), MemAaa::new(), 11, base())
    } else {
        Net::sharded(
            (0..shards).map(|_| demo_plan()).collect(),
            &Settings::new(GW_IP),
            MemAaa::new(),
            11,
            base(),
        )
    };
    // Addresses that spread over the shards (`route::of_peer` with the rig's key).
    let a = net.add_client("198.51.100.7:500".parse().unwrap());
    let b = net.add_client("198.51.100.9:500".parse().unwrap());
    let x = net.connect(a, USER.0, USER.1);
    let y = net.connect(b, "second", "second-pw");
    assert_ne!(x, y);
    for (c, addr) in [(a, x), (b, y)] {
        assert!(passes(&mut net, c, addr), "client {c} before the reload");
    }
    (net, [x, y])
}

/// Whether a ping from client `c` (at `addr`) reaches the inside.
fn passes(net: &mut Net, c: usize, addr: Ipv4Addr) -> bool {
    let ping = icmp(&addr.to_string(), INSIDE_HOST, false);
    net.client_sends(c, &ping).1 == Some(ping)
}

/// Reloads every core of `net` with `plans` the way the binary does: core 0 first
/// (it reconfigures the shared pools), the others with its orphans.
fn reload(net: &mut Net, plans: Vec<Plan>) -> (usize, Vec<String>) {
    assert_eq!(plans.len(), net.shards.len());
    let now = net.now;
    let mut orphans: Option<Vec<Ipv4Addr>> = None;
    let mut kept = 0;
    let mut out = Vec::new();
    for (g, p) in net.shards.iter_mut().zip(plans) {
        let r = g.reload(p, orphans.as_deref(), now, &mut net.rng);
        if orphans.is_none() {
            orphans = Some(r.orphans.clone().expect("the first core did the pools"));
        } else {
            assert_eq!(r.orphans, None);
        }
        kept += r.kept;
        out.extend(r.logged_out);
    }
    net.pump();
    (kept, out)
}

fn uauth(net: &mut Net) -> String {
    (0..net.n()).map(|s| net.command(s, "show uauth")).collect()
}

#[test]
fn an_unrelated_change_keeps_every_user_and_their_traffic() {
    for shards in [1, 2] {
        let (mut net, [x, y]) = two_users(shards);
        let informational: Vec<usize> = net.clients.iter().map(|c| c.informational).collect();
        // a new ACL line, another idle-time, a new pool for a new group
        let edit = |t: &str| {
            t.replace(
                "vpngroup vpn3000 idle-time 1800",
                "vpngroup vpn3000 idle-time 600\nvpngroup other address-pool Other\nvpngroup other password ********",
            )
            .replace(
                "ip local pool VPNpool 10.89.129.200-10.89.129.204",
                "ip local pool VPNpool 10.89.129.200-10.89.129.204\nip local pool Other 10.89.130.1-10.89.130.9",
            )
            .replace(
                "access-list 120 permit udp any host 10.89.129.131",
                "access-list 120 permit udp any host 10.89.129.131\naccess-list 120 permit tcp any host 10.89.129.132 eq 80",
            )
        };
        let secrets = |s: &str| format!("{s}\nvpngroup other password other-key\n");
        let (kept, out) = reload(&mut net, (0..shards).map(|_| plan(edit, secrets)).collect());
        assert_eq!((kept, out.len()), (2, 0), "{shards} shard(s): {out:?}");
        assert_eq!(
            net.clients
                .iter()
                .map(|c| c.informational)
                .collect::<Vec<_>>(),
            informational,
            "no DELETE to anyone"
        );
        assert!(passes(&mut net, 0, x) && passes(&mut net, 1, y));
        let u = uauth(&mut net);
        assert!(u.contains(USER.0) && u.contains("second"), "{u}");
        assert_eq!(
            net.logged(pix_gateway::MsgId::Lifecycle, "configuration reloaded: "),
            shards
        );
    }
}

#[test]
fn a_changed_group_key_logs_its_users_out_and_new_logins_need_the_new_key() {
    for shards in [1, 2] {
        let (mut net, _) = two_users(shards);
        let secrets = |s: &str| {
            s.replace(
                "vpngroup vpn3000 password cisco1234",
                "vpngroup vpn3000 password n3w-k3y",
            )
        };
        let (kept, out) = reload(&mut net, (0..shards).map(|_| plan(same, secrets)).collect());
        assert_eq!(kept, 0, "{out:?}");
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out.iter()
                .all(|l| l.contains("vpngroup vpn3000 password changed")),
            "{out:?}"
        );
        assert!(out.iter().any(|l| l.contains(USER.0)), "{out:?}");
        assert!(
            net.clients.iter().all(|c| c.informational > 0),
            "each client heard a DELETE"
        );
        let u = uauth(&mut net);
        assert!(!u.contains(USER.0) && !u.contains("second"), "{u}");
        // the leases came back: the next login gets the first address again
        let c = net.add_client("198.51.100.20:500".parse().unwrap());
        let mut profile = common::vpn_4x(USER.0, USER.1);
        profile.psk = Secret::from_slice(b"cisco1234");
        let sa = net.login(c, profile);
        assert!(
            !net.clients[c].ep.ready_for_quick_mode(sa),
            "the old key is refused"
        );
        let c = net.add_client("198.51.100.21:500".parse().unwrap());
        let mut profile = common::vpn_4x(USER.0, USER.1);
        profile.psk = Secret::from_slice(b"n3w-k3y");
        let sa = net.login(c, profile);
        assert!(
            net.clients[c].ep.ready_for_quick_mode(sa),
            "{:?}",
            net.texts()
        );
        assert_eq!(net.quick_mode(c, sa), Ipv4Addr::new(10, 89, 129, 200));
    }
}

#[test]
fn a_removed_group_or_a_shrunk_pool_logs_out_only_those_users() {
    // the pool shrinks to its first address: the second user's address is orphaned
    for shards in [1, 2] {
        let (mut net, [x, y]) = two_users(shards);
        let edit = |t: &str| {
            t.replace(
                "ip local pool VPNpool 10.89.129.200-10.89.129.204",
                "ip local pool VPNpool 10.89.129.200-10.89.129.200",
            )
        };
        let (kept, out) = reload(&mut net, (0..shards).map(|_| plan(edit, same)).collect());
        assert_eq!(kept, 1, "{out:?}");
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(
            out[0].contains("user 'second'")
                && out[0].contains(&format!("address {y} is in no pool")),
            "{out:?}"
        );
        assert!(passes(&mut net, 0, x), "the first user stays");
        assert!(!passes(&mut net, 1, y), "the second one is gone");
        let u = uauth(&mut net);
        assert!(u.contains(USER.0) && !u.contains("second"), "{u}");
        // the pool is full with the first user: a new login gets no address
        let c = net.add_client("198.51.100.30:500".parse().unwrap());
        let sa = net.login(c, common::vpn_4x("second", "second-pw"));
        assert!(net.clients[c].ep.assigned_address(sa).is_none());
    }
    // the group goes (renamed): its users go, with why
    let (mut net, _) = two_users(1);
    let edit = |t: &str| t.replace("vpngroup vpn3000 ", "vpngroup vpn4000 ");
    let secrets = |s: &str| s.replace("vpngroup vpn3000 ", "vpngroup vpn4000 ");
    let (kept, out) = reload(&mut net, vec![plan(edit, secrets)]);
    assert_eq!(kept, 0);
    assert!(
        out.len() == 2 && out.iter().all(|l| l.contains("vpngroup vpn3000 removed")),
        "{out:?}"
    );
}

#[test]
fn a_login_in_flight_on_a_changed_aaa_group_finishes_on_the_old_client() {
    let mut net = Net::one(
        radius_plan(2, |t| t),
        Settings::new(GW_IP),
        radius_aaa(),
        5,
        base(),
    );
    net.aaa.radius_mut(radius_auth()).unwrap().set_silent(true);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let sa = net.login(c, vpn_4x(USER.0, USER.1));
    assert!(!net.clients[c].ep.ready_for_quick_mode(sa));
    assert_eq!(
        net.shards[0].aaa_pending(),
        1,
        "the Access-Request is in flight"
    );
    // the RADIUS group's timeout changes: the group gets a new client
    let now = net.now;
    let r = net.shards[0].reload(radius_plan(3, |t| t), None, now, &mut net.rng);
    net.pump();
    assert_eq!(r.aaa_replaced, vec!["RADIUS".to_string()]);
    assert!(r.logged_out.is_empty(), "{r:?}");
    assert_eq!(
        net.shards[0].aaa_pending(),
        1,
        "the old client still has it"
    );
    // the server answers the old client's next try: the login finishes
    net.aaa.radius_mut(radius_auth()).unwrap().set_silent(false);
    net.run_until(Duration::from_secs(30), |n| {
        n.clients[c].ep.ready_for_quick_mode(sa)
    });
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    net.core_timeouts();
    assert_eq!(net.shards[0].aaa_pending(), 0);
    // and the next login goes through the new client
    let c2 = net.add_client("198.51.100.9:500".parse().unwrap());
    let sa2 = net.login(c2, vpn_4x("user1", "pass1"));
    assert!(
        net.clients[c2].ep.ready_for_quick_mode(sa2),
        "{:?}",
        net.texts()
    );
}
