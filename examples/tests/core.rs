//! Scenario tests of the whole gateway core in memory, through its public API only
//! (`pix_gateway::{Gateway, Input, Output, Handled}`), on a virtual clock with seeded
//! randomness: one core (`Gateway::new`) driven by `common::Net`, where `ike-sm`
//! initiators play the VPN clients, `testkit::aaa` plays the RADIUS and TACACS+
//! servers, the `esp` crate plays the clients' ESP stacks. Nothing here opens a socket
//! or sleeps.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{
    base, icmp, radius_aaa, radius_acct, radius_auth, radius_plan, radius_server, tcp, vpn_4x,
    with_nat_t, Net, GW_IP,
};
use ike_sm::presets;
use pix_gateway::gateway::setup::Plan;
use pix_gateway::{demo, DebugKind, EspDest, Gateway, Handled, Input, MsgId, Settings};
use testkit::aaa::{MemAaa, MemTacacs, TacacsLoginOutcome};

#[path = "../examples/embed.rs"]
#[allow(dead_code)] // its `main` is the example's, not the test's
mod embed;

/// The TACACS+ server of the edited demo.
const TACACS_IP: &str = "10.89.129.136";

fn tacacs() -> SocketAddr {
    format!("{TACACS_IP}:49").parse().unwrap()
}

/// The demo with Xauth against a TACACS+ group `TACS` (key `tackey`).
fn tacacs_plan() -> Plan {
    demo::plan_with(
        |t| {
            let t = t
                .replace(
                    "crypto map mymap client authentication LOCAL",
                    "crypto map mymap client authentication TACS",
                )
                .replace(
                    "aaa-server LOCAL protocol local\n",
                    &format!(
                        "aaa-server LOCAL protocol local\n\
                         aaa-server TACS protocol tacacs+\n\
                         aaa-server TACS (inside) host {TACACS_IP} tackey timeout 5\n"
                    ),
                );
            assert!(t.contains("TACS (inside)"), "the demo changed");
            t
        },
        &[],
        &[],
    )
    .unwrap()
}

/// One core on `plan` with the demo's outside address.
fn one(plan: Plan, aaa: MemAaa, seed: u64, base: Instant) -> Net {
    Net::one(plan, Settings::new(GW_IP), aaa, seed, base)
}

impl Net {
    /// The one core.
    fn gw(&self) -> &Gateway {
        assert_eq!(self.shards.len(), 1);
        &self.shards[0]
    }

    /// An operator's command through `Input::Command`.
    fn cmd(&mut self, line: &str) -> String {
        self.command(0, line)
    }
}

/// Scenario (a): the seed's VPN Client 4.x flow with Xauth against RADIUS, then
/// packets both ways. Returns the net for further checks.
fn vpn_client_4x_flow(seed: u64, base: Instant, plan: Plan) -> Net {
    let mut net = one(plan, radius_aaa(), seed, base);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let addr = net.connect(c, "cisco_customer", "cisco123");
    assert_eq!(addr, "10.89.129.200".parse::<Ipv4Addr>().unwrap());
    // ICMP and TCP from the client arrive on the inside as sent; the replies come back.
    let ping = icmp("10.89.129.200", "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping).1, Some(ping.clone()));
    let pong = icmp("10.89.129.131", "10.89.129.200", true);
    assert_eq!(net.inside_at(0, &pong), Some((c, pong.clone())));
    let syn = tcp("10.89.129.200", 40000, "10.89.129.131", 23, 0x02);
    assert_eq!(net.client_sends(c, &syn).1, Some(syn.clone()));
    let synack = tcp("10.89.129.131", 23, "10.89.129.200", 40000, 0x12);
    assert_eq!(net.inside_at(0, &synack), Some((c, synack.clone())));
    net
}

/// (a) The seed's 4.x flow end to end: Aggressive Mode with the group key, Xauth
/// checked by an in-memory RADIUS server, Mode Config from the pool, Quick Mode, ESP
/// both ways with inner bytes intact.
#[test]
fn vpn_client_4x_with_radius_end_to_end() {
    let net = vpn_client_4x_flow(1, base(), radius_plan(2, |t| t));
    let server = net.aaa.radius(radius_auth()).unwrap();
    let tries: Vec<(String, bool)> = server
        .attempts()
        .iter()
        .map(|a| (String::from_utf8_lossy(&a.user).into_owned(), a.accepted))
        .collect();
    assert_eq!(tries, [("cisco_customer".to_string(), true)]);
    assert!(
        net.logged(
            MsgId::AuthSucceeded,
            "xauth: user 'cisco_customer' accepted by aaa-server RADIUS"
        ) > 0,
        "{:?}",
        net.texts()
    );
    for id in [
        MsgId::Phase1Completed,
        MsgId::AddressAssigned,
        MsgId::IpsecSaCreated,
    ] {
        assert!(net.log.iter().any(|(_, r)| r.id == id), "{id:?}");
    }
    let stats = net.gw().stats();
    assert_eq!((stats.packets_in, stats.packets_out), (2, 2));
    assert_eq!(stats.users, 1);
    assert_eq!(stats.xauth.get("accepted"), Some(&1));
    let s = net.gw().whole(net.now, None).metrics_text();
    assert!(s.contains("pix_ike_half_open 0\n"), "{s}");
    // The session as the API shows it.
    let sess: Vec<_> = net.gw().sessions().collect();
    assert_eq!(sess.len(), 1);
    assert_eq!(sess[0].user.as_deref(), Some("cisco_customer"));
    assert_eq!(sess[0].identity, "vpn3000");
    assert_eq!(sess[0].addr, Some("10.89.129.200".parse().unwrap()));
}

/// Inside packets encapsulated where they lie (`Input::InsideInPlace`, the batched
/// path): the ESP comes back as a range of the caller's buffer and decrypts at the
/// client to the packet; a buffer without the tailroom, or a length past its end, is
/// refused and counted, never a panic, and the next packet goes through.
#[test]
fn inside_packets_are_encapsulated_in_place_and_short_buffers_are_refused() {
    use pix_gateway::gateway::io::{INSIDE_HEADROOM, INSIDE_TAILROOM};
    let mut net = vpn_client_4x_flow(3, base(), radius_plan(2, |t| t));
    let pong = icmp("10.89.129.131", "10.89.129.200", true);
    let place = |room: usize| {
        let mut b = vec![0u8; INSIDE_HEADROOM + pong.len() + room];
        b[INSIDE_HEADROOM..INSIDE_HEADROOM + pong.len()].copy_from_slice(&pong);
        b
    };
    let before = net.gw().stats().packets_out;
    // too little room after the packet for padding and ICV
    let mut short = place(4);
    let h = net.shards[0].handle(
        net.now,
        Input::InsideInPlace {
            buf: &mut short,
            len: pong.len(),
        },
        &mut net.rng,
    );
    assert!(matches!(h, Handled::Done), "{h:?}");
    // a length past the buffer
    let mut b = place(INSIDE_TAILROOM);
    let h = net.shards[0].handle(
        net.now,
        Input::InsideInPlace {
            buf: &mut b,
            len: usize::MAX,
        },
        &mut net.rng,
    );
    assert!(matches!(h, Handled::Done), "{h:?}");
    assert_eq!(net.gw().stats().packets_out, before, "nothing left");
    let sa = net.cmd("show crypto ipsec sa");
    assert!(
        sa.contains("#send errors 1"),
        "the short buffer is counted:\n{sa}"
    );
    // with the room, the ESP is a range of the same buffer
    let mut b = place(INSIDE_TAILROOM);
    let range = match net.shards[0].handle(
        net.now,
        Input::InsideInPlace {
            buf: &mut b,
            len: pong.len(),
        },
        &mut net.rng,
    ) {
        Handled::ToOutsideIn { dest, range, .. } => {
            assert_eq!(dest, EspDest::Raw("198.51.100.7".parse().unwrap()));
            range
        }
        other => panic!("{other:?}"),
    };
    assert!(
        range.start < INSIDE_HEADROOM && range.end <= b.len(),
        "{range:?}"
    );
    let now = net.now;
    let c = net.clients[0].esp.as_mut().unwrap();
    let mut esp = b[range].to_vec();
    let d = c.inb.decapsulate(now, &mut esp).unwrap();
    assert_eq!(&esp[d.payload], &pong[..]);
    assert_eq!(net.gw().stats().packets_out, before + 1);
}

/// (a) Policy verdicts: without `sysopt connection permit-ipsec`, access-list 120
/// decides what the client reaches (10.89.129.131 only); a denied packet is dropped,
/// shown in `show drops` and counted.
#[test]
fn without_permit_ipsec_the_access_list_decides() {
    let plan = radius_plan(2, |t| {
        let t2 = t.replace("sysopt connection permit-ipsec\n", "");
        assert_ne!(t, t2);
        t2
    });
    let mut net = vpn_client_4x_flow(2, base(), plan);
    let denied = icmp("10.89.129.200", "10.89.129.140", false);
    assert_eq!(net.client_sends(0, &denied).1, None);
    assert!(
        net.debug
            .iter()
            .any(|(_, k, l)| *k == DebugKind::Ipsec && l.contains("dropped by policy")),
        "{:?}",
        net.debug
    );
    let drops = net.cmd("show drops");
    assert!(drops.contains("dropped by policy"), "{drops}");
    assert!(!net.gw().stats().policy_drops.is_empty());
    // The permitted host still works.
    let ping = icmp("10.89.129.200", "10.89.129.131", false);
    assert_eq!(net.client_sends(0, &ping).1, Some(ping));
}

/// (b) The 1.1 client: Main Mode with the wildcard key, Xauth (RADIUS), Mode Config
/// pushed by the gateway (`client configuration address initiate`), Quick Mode, ESP.
#[test]
fn vpn_client_11_main_mode_with_pushed_mode_config() {
    let aaa = radius_aaa();
    let mut net = one(radius_plan(2, |t| t), aaa, 11, base());
    let c = net.add_client("198.51.100.11:500".parse().unwrap());
    let sa = net.login(
        c,
        presets::vpn_client_11(b"cisco1234", "cisco_customer", b"cisco123"),
    );
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    // Main Mode, identified by address (no group name).
    let s = net.gw().sessions().next().unwrap().clone();
    assert_eq!(s.identity, "198.51.100.11");
    assert_eq!(s.user.as_deref(), Some("cisco_customer"));
    let isakmp: Vec<&str> = net
        .debug
        .iter()
        .filter(|(_, k, _)| *k == DebugKind::Isakmp)
        .map(|(_, _, l)| l.as_str())
        .collect();
    // The gateway pushes Mode Config (SET) and the client acknowledges (ACK).
    assert!(
        isakmp.contains(&"ISAKMP: Config payload CFG_ACK")
            && isakmp.contains(&"ISAKMP (0:0): peer accepted the address!")
            && !isakmp.iter().any(|l| l.contains("CFG_REQUEST")),
        "{isakmp:?}"
    );
    let addr = net.quick_mode(c, sa);
    assert_eq!(s.addr, Some(addr));
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping).1, Some(ping.clone()));
    let pong = icmp("10.89.129.131", &addr.to_string(), true);
    assert_eq!(net.inside_at(0, &pong), Some((c, pong)));
    assert_eq!(net.aaa.radius(radius_auth()).unwrap().attempts().len(), 1);
}

/// (c) `clear crypto isakmp sa` through `Input::Command` ends every session: DELETEs
/// to each client, the addresses back in the pool, `show uauth` empty; a new login
/// works afterwards on the same core.
#[test]
fn clear_ends_every_session_and_a_new_login_works_without_a_restart() {
    let aaa = radius_aaa();
    let mut net = one(radius_plan(2, |t| t), aaa, 3, base());
    let mut addrs = Vec::new();
    for at in ["198.51.100.7:500", "198.51.100.8:500"] {
        let c = net.add_client(at.parse().unwrap());
        let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
        addrs.push(net.quick_mode(c, sa));
    }
    assert_ne!(addrs[0], addrs[1]);
    assert_eq!(net.gw().endpoint().pools().total_in_use(), 2);
    let uauth = net.cmd("show uauth");
    assert!(uauth.contains(&format!("at {}", addrs[1])), "{uauth}");

    let answer = net.cmd("clear crypto isakmp sa");
    assert!(answer.starts_with("2 IKE SA(s)"), "{answer}");
    for c in &net.clients {
        assert_eq!(c.informational, 2, "ISAKMP and IPsec DELETE to {}", c.addr);
        assert_eq!(c.ep.sa_count(), 0, "{} kept its SA", c.addr);
    }
    assert_eq!(net.gw().sessions().count(), 0);
    assert!(net.gw().data_plane().is_empty());
    assert_eq!(net.gw().endpoint().pools().total_in_use(), 0);
    let uauth = net.cmd("show uauth");
    assert!(uauth.contains("Authenticated Users         0"), "{uauth}");
    assert!(!uauth.contains("cisco_customer"), "{uauth}");
    let s = net.cmd("show crypto isakmp sa");
    assert!(s.starts_with("Total     : 0\n"), "{s}");
    assert_eq!(
        net.log
            .iter()
            .filter(|(_, r)| r.id == MsgId::Phase1Deleted)
            .count(),
        2
    );
    // The old tunnel is gone: the inside cannot reach the old address.
    let pong = icmp("10.89.129.131", &addrs[0].to_string(), true);
    assert_eq!(net.inside_at(0, &pong), None);

    // A new login on the same core.
    net.now += Duration::from_secs(1);
    let sa = net.login(0, vpn_4x("cisco_customer", "cisco123"));
    assert!(net.clients[0].ep.ready_for_quick_mode(sa));
    let addr = net.quick_mode(0, sa);
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(0, &ping).1, Some(ping));
    let pong = icmp("10.89.129.131", &addr.to_string(), true);
    assert_eq!(net.inside_at(0, &pong), Some((0, pong)));
    assert_eq!(net.gw().endpoint().pools().total_in_use(), 1);
}

/// (d) A silent RADIUS server: the AAA client's retries run out on the virtual clock,
/// the login is refused and logged; with the server answering again, the next login
/// works.
#[test]
fn aaa_timeout_refuses_the_login_and_the_next_one_works() {
    let aaa = MemAaa::new().with_radius(radius_auth(), radius_acct(), radius_server().silent(true));
    let t0 = base();
    let mut net = one(radius_plan(1, |t| t), aaa, 4, t0);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(!net.clients[c].ep.ready_for_quick_mode(sa));
    assert_eq!(
        net.gw().stats().in_progress,
        1,
        "Xauth waits for the server"
    );
    net.run_until(Duration::from_secs(120), |n| {
        n.log.iter().any(|(_, r)| r.id == MsgId::AuthServersFailed)
    });
    let refused = net
        .log
        .iter()
        .find(|(_, r)| r.id == MsgId::AuthServersFailed)
        .map(|(_, r)| r)
        .unwrap_or_else(|| panic!("no refusal: {:?}", net.texts()));
    // the PIX's 109003 (all servers failed), then the gateway's own words
    assert!(
        refused.text.starts_with("Auth from ")
            && refused.text.ends_with(
                "failed (all servers failed) on interface outside; xauth: user 'cisco_customer' no AAA server answered: rejected by aaa-server RADIUS"
            ),
        "{}",
        refused.text
    );
    let waited = net.now.saturating_duration_since(t0);
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(60),
        "{waited:?}"
    );
    let server = net.aaa.radius(radius_auth()).unwrap();
    assert!(server.received() >= 2, "the request was retried");
    // Let the client give up too.
    net.run_until(Duration::from_secs(120), |n| n.gw().sessions().count() == 0);
    assert!(!net.clients[c].ep.ready_for_quick_mode(sa));
    assert_eq!(net.gw().endpoint().pools().total_in_use(), 0);
    assert_eq!(net.gw().stats().in_progress, 0);

    // The server is back: the next login works.
    net.aaa.radius_mut(radius_auth()).unwrap().set_silent(false);
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    net.quick_mode(c, sa);
    assert!(
        net.logged(
            MsgId::AuthSucceeded,
            "xauth: user 'cisco_customer' accepted by aaa-server RADIUS"
        ) > 0
    );
}

/// (e) Xauth against an in-memory TACACS+ server: accepted, and a wrong password is
/// rejected by the same server.
#[test]
fn tacacs_login_is_accepted_and_a_wrong_password_rejected() {
    let aaa = MemAaa::new().with_tacacs(
        tacacs(),
        MemTacacs::new("tackey").user("cisco_customer", "cisco123"),
    );
    let mut net = one(tacacs_plan(), aaa, 5, base());
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    assert!(
        net.logged(
            MsgId::AuthSucceeded,
            "xauth: user 'cisco_customer' accepted by aaa-server TACS"
        ) > 0,
        "{:?}",
        net.texts()
    );
    let addr = net.quick_mode(c, sa);
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping).1, Some(ping));
    let server = net.aaa.tacacs(tacacs()).unwrap();
    assert_eq!(server.logins().len(), 1, "{:?}", server.logins());
    assert!(server.errors().is_empty(), "{:?}", server.errors());

    let d = net.add_client("198.51.100.8:500".parse().unwrap());
    let sa = net.login(d, vpn_4x("cisco_customer", "nope"));
    assert!(!net.clients[d].ep.ready_for_quick_mode(sa));
    assert!(
        net.logged(
            MsgId::AuthFailed,
            "xauth: user 'cisco_customer' rejected by aaa-server TACS"
        ) > 0,
        "{:?}",
        net.texts()
    );
    // The first login passed; every later one (the client's Xauth retries) failed, and
    // each carried the client's address.
    let logins = net.aaa.tacacs(tacacs()).unwrap().logins();
    assert!(logins.len() >= 2, "{logins:?}");
    assert_eq!(logins[0].outcome, TacacsLoginOutcome::Pass);
    assert!(logins[1..]
        .iter()
        .all(|l| l.outcome == TacacsLoginOutcome::Fail && l.user == b"cisco_customer"));
    assert_eq!(logins[0].rem_addr, b"198.51.100.7");
    assert_eq!(logins[1].rem_addr, b"198.51.100.8");
}

/// NAT traversal: a 4.x client behind a NAT floats to port 4500 (IKE behind the non-ESP
/// marker both ways), its IPsec SA is UDP-encapsulated, ESP in UDP goes both ways
/// through `Input::Udp` and `EspDest::Udp` to the NAT's mapping, and the client's
/// keepalives are taken without a drop.
#[test]
fn nat_t_client_floats_to_4500_and_esp_goes_in_udp() {
    let aaa = radius_aaa();
    let plan = radius_plan(2, with_nat_t);
    let mut net = one(plan, aaa, 6, base());
    let c = net.add_client_behind_nat(
        "10.0.0.2:500".parse().unwrap(),
        "203.0.113.50".parse().unwrap(),
    );
    let mut profile = vpn_4x("cisco_customer", "cisco123");
    profile.nat_t = true;
    let sa = net.login(c, profile);
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    assert!(
        net.ike_in_4500 > 0 && net.ike_out_4500 > 0,
        "floated to 4500"
    );
    let s = net.gw().sessions().next().unwrap().clone();
    assert_eq!(
        s.remote,
        "203.0.113.50:34500".parse().unwrap(),
        "the NAT's mapping"
    );
    let addr = net.quick_mode(c, sa);
    assert_eq!(
        net.clients[c].children[0].natt_ports,
        Some((4500, 4500)),
        "UDP-encapsulated on the client"
    );
    let show = net.cmd("show crypto ipsec sa");
    assert!(show.contains("UDP-Encaps"), "{show}");
    let ping = icmp(&addr.to_string(), "10.89.129.131", false);
    assert_eq!(net.client_sends(c, &ping).1, Some(ping.clone()));
    let pong = icmp("10.89.129.131", &addr.to_string(), true);
    let mut p = pong.clone();
    match net.shards[0].handle(net.now, Input::Inside { packet: &mut p }, &mut net.rng) {
        Handled::ToOutside { dest, .. } => assert_eq!(
            dest,
            EspDest::Udp("203.0.113.50:34500".parse().unwrap()),
            "to the NAT's mapping of the client's 4500"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.inside_at(0, &pong), Some((c, pong)));
    // The client keeps its NAT mapping open; the core takes the keepalives silently.
    let t = net.now;
    net.run_until(Duration::from_secs(45), |n| {
        n.now.saturating_duration_since(t) >= Duration::from_secs(41)
    });
    assert!(net.keepalives_in >= 2, "{}", net.keepalives_in);
    assert_eq!(net.gw().stats().esp_drops.get("truncated"), None);
    assert_eq!(net.gw().sessions().count(), 1);
}

/// (f) The same seed and clock give the same bytes: every IKE datagram and every ESP
/// packet the core sent in scenario (a), byte for byte; another seed differs.
#[test]
fn same_seed_same_bytes() {
    let t0 = base();
    let a = vpn_client_4x_flow(42, t0, radius_plan(2, |t| t));
    let b = vpn_client_4x_flow(42, t0, radius_plan(2, |t| t));
    // IKE (Aggressive Mode, Xauth, Mode Config, Quick Mode) and two ESP packets.
    assert!(a.wire.len() >= 6, "{} datagrams", a.wire.len());
    assert_eq!(a.wire.len(), b.wire.len());
    for (i, (x, y)) in a.wire.iter().zip(&b.wire).enumerate() {
        assert_eq!(x, y, "datagram {i} differs");
    }
    assert_eq!(a.texts(), b.texts(), "the same log");
    assert_eq!(a.debug, b.debug, "the same debug lines");
    let c = vpn_client_4x_flow(43, t0, radius_plan(2, |t| t));
    assert_eq!(a.wire.len(), c.wire.len());
    assert_ne!(
        a.wire[0], c.wire[0],
        "another seed, other cookies and nonces"
    );
    assert!(a.wire.iter().zip(&c.wire).all(|(x, y)| x != y));
}

/// The embedding example runs and prints what it promises.
#[test]
fn the_embedding_example_brings_a_tunnel_up() {
    let out = embed::run().unwrap();
    assert!(out.contains("QM_IDLE"), "{out}");
    assert!(
        out.contains("ipsec user 'cisco_customer' at 10.89.129.200, authenticated"),
        "{out}"
    );
    assert!(
        out.contains("ping 10.89.129.200 -> 10.89.129.131: through"),
        "{out}"
    );
    assert!(
        out.contains("reply 10.89.129.131 -> 10.89.129.200: through"),
        "{out}"
    );
    assert!(
        out.contains("reply 10.89.129.131 -> 10.89.129.200: encapsulated in place, through"),
        "{out}"
    );
}
