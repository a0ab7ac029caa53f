//! Scenario tests of a gateway of N shards in memory (`Gateway::shards`), driven by
//! `common::Net` the way the binary drives its worker threads (`shell/serve.rs`): each
//! datagram to the shard that its responder cookie, its SPI or (a first message) its
//! peer's address names, raw ESP to its SPI's shard, a packet from the inside to the
//! owner of its destination as the shard that read it knows it, AAA replies to the shard
//! that asked. Virtual clock, seeded randomness, nothing opens a socket.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::{
    base, icmp, radius_aaa, radius_acct, radius_auth, radius_plan, radius_server, tcp, vpn_4x,
    with_nat_t, Net, Routed, GW_IP, PEER_KEY,
};
use ike_sm::{SaId, Shard};
use pix_gateway::gateway::route;
use pix_gateway::gateway::setup::Plan;
use pix_gateway::gateway::view;
use pix_gateway::{demo, Gateway, MsgId, Settings, Show, Whole};
use testkit::aaa::{MemAaa, MemTacacs};

/// The demo's `aaa-server AuthInbound (inside) host 10.89.129.134 secretkey`.
const ACCT_IP: &str = "10.89.129.134";
/// The host behind the gateway that the clients talk to.
const HOST: &str = "10.89.129.131";

fn tacacs_acct() -> SocketAddr {
    format!("{ACCT_IP}:49").parse().unwrap()
}

/// The demo with Xauth against RADIUS (key `radkey`) and NAT-T on.
fn nat_t_plan() -> Plan {
    radius_plan(2, with_nat_t)
}

/// `n` shards of [`nat_t_plan`] with the default settings, against [`radius_aaa`].
fn radius_shards(n: u8, seed: u64, t0: Instant) -> Net {
    Net::sharded(
        plans(n, nat_t_plan),
        &Settings::new(GW_IP),
        radius_aaa(),
        seed,
        t0,
    )
}

/// One plan per shard, all from the same configuration.
fn plans(n: u8, plan: impl Fn() -> Plan) -> Vec<Plan> {
    (0..n).map(|_| plan()).collect()
}

/// The `nth` address of `net` (x.y.z.10 upwards) whose first messages go to `shard` of
/// `n` shards.
fn addr_on(net: [u8; 3], n: u8, shard: u8, nth: usize) -> Ipv4Addr {
    (10u8..=250)
        .map(|x| Ipv4Addr::new(net[0], net[1], net[2], x))
        .filter(|a| route::of_peer(n, PEER_KEY, IpAddr::V4(*a)) == shard)
        .nth(nth)
        .unwrap_or_else(|| panic!("no address {nth} of shard {shard}/{n}"))
}

/// A client address (port 500) on `shard` of `n`.
fn client_on(n: u8, shard: u8, nth: usize) -> SocketAddr {
    SocketAddr::new(addr_on([198, 51, 100], n, shard, nth).into(), 500)
}

impl Net {
    /// The shard the binary gives a client's first message: of its public address.
    fn peer_shard(&self, i: usize) -> u8 {
        route::of_peer(self.n(), PEER_KEY, self.clients[i].public_ip())
    }

    /// The whole gateway as the binary's main thread sees it: every shard's snapshot.
    fn whole(&self, show: Option<&Show>) -> Whole {
        Whole {
            info: self.shards[0].info().clone(),
            shards: self
                .shards
                .iter()
                .map(|g| g.snapshot(self.now, show))
                .collect(),
        }
    }

    /// An operator's command for the whole gateway, as the binary's `command` answers
    /// it: a `show` over every shard's snapshot, a `clear` on every shard.
    fn cmd(&mut self, line: &str) -> String {
        let answer = match view::Command::parse(line) {
            view::Command::Show(what) => self.whole(Some(&what)).show(self.now, &what),
            view::Command::Clear(peer) => {
                let mut n = 0;
                for g in &mut self.shards {
                    n += g.clear(self.now, peer, &mut self.rng);
                }
                view::cleared(n, peer)
            }
            view::Command::Invalid(a) => a,
        };
        self.pump();
        answer
    }

    /// The shard whose sessions include client `i`'s (public) address.
    fn holder(&self, i: usize) -> Option<u8> {
        let ip = self.clients[i].public_ip();
        let mut on = self
            .shards
            .iter()
            .filter(|g| g.sessions().any(|s| s.remote.ip() == ip))
            .map(Gateway::shard);
        let first = on.next();
        assert_eq!(on.next(), None, "client {i} has sessions on two shards");
        first
    }
}

/// A number from a metrics line `name value`.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

/// The sharded 4.x scenario: four clients (round robin over the shards by their
/// address) and a fifth behind a NAT (its public address on the last shard), each its
/// own user (`user{i}`) against RADIUS, each with an address and an IPsec SA.
fn spread(n: u8, seed: u64, t0: Instant) -> (Net, Vec<Ipv4Addr>) {
    let mut net = radius_shards(n, seed, t0);
    for i in 0..4usize {
        let s = u8::try_from(i % usize::from(n)).unwrap();
        net.add_client(client_on(n, s, i / usize::from(n)));
    }
    let nat = net.add_client_behind_nat(
        "10.0.0.2:500".parse().unwrap(),
        addr_on([203, 0, 113], n, n - 1, 0),
    );
    let mut addrs = Vec::new();
    for i in 0..net.clients.len() {
        let mut profile = vpn_4x(&format!("user{i}"), &format!("pass{i}"));
        profile.nat_t = i == nat;
        let sa = net.login(i, profile);
        assert!(
            net.clients[i].ep.ready_for_quick_mode(sa),
            "client {i}: {:?}",
            net.texts()
        );
        addrs.push(net.quick_mode(i, sa));
    }
    (net, addrs)
}

/// Test 1 for `n` shards: see [`several_clients_spread_over_two_shards`].
fn several_clients_spread_over(n: u8) {
    let (mut net, addrs) = spread(n, u64::from(n), base());
    let count = net.clients.len();
    // The addresses chosen spread the clients' first messages over every shard.
    let want: Vec<u8> = (0..count).map(|i| net.peer_shard(i)).collect();
    for s in 0..n {
        assert!(want.contains(&s), "no client of shard {s}: {want:?}");
    }
    // Every shard holds IKE SAs: exactly those of its clients.
    for (s, g) in net.shards.iter().enumerate() {
        let mine = want.iter().filter(|w| usize::from(**w) == s).count();
        assert!(mine >= 1);
        assert_eq!(g.stats().ike_sas, mine, "shard {s}");
        assert_eq!(g.sessions().count(), mine, "shard {s}");
        assert_eq!(g.data_plane().len(), mine, "shard {s}");
        assert_eq!(
            net.routed[s].first, mine as u64,
            "first messages of shard {s}"
        );
        assert!(net.routed[s].ike > 0, "shard {s} got no IKE by its cookie");
    }
    for (i, w) in want.iter().enumerate() {
        assert_eq!(net.holder(i), Some(*w), "client {i}");
    }
    // Pool addresses unique over the whole gateway.
    assert_eq!(addrs.iter().collect::<BTreeSet<_>>().len(), count);
    // Every responder cookie and inbound SPI a shard chose names it.
    for s in 0..n {
        assert!(
            net.cookies.iter().any(|(o, _)| *o == s),
            "shard {s} sent nothing"
        );
    }
    for (s, c) in &net.cookies {
        assert_ne!(*c, [0; 8]);
        assert_eq!(
            Shard::of_cookie(n, c),
            *s,
            "cookie {c:02x?} sent by shard {s}"
        );
    }
    let whole = net.whole(None);
    for snap in &whole.shards {
        assert!(!snap.ipsec.is_empty(), "shard {}", snap.shard);
        for v in &snap.ipsec {
            assert_eq!(Shard::of_spi(n, v.spi_in), snap.shard, "{:#x}", v.spi_in);
        }
    }
    for (i, c) in net.clients.iter().enumerate() {
        // The client's outbound SPI is the inbound SPI its shard chose.
        let spi = c.children.last().unwrap().spi_out;
        assert_eq!(Shard::of_spi(n, spi), want[i], "client {i} spi {spi:#x}");
    }
    assert!(
        net.clients[count - 1].children[0].natt_ports.is_some(),
        "the NATed client floated to 4500"
    );
    // ESP both ways for every client; the inside's packets as the binary routes them
    // whichever shard's TUN queue reads them, and never through another shard.
    for i in 0..count {
        let a = addrs[i].to_string();
        let ping = icmp(&a, HOST, false);
        assert_eq!(net.client_sends(i, &ping), (want[i], Some(ping)));
        let syn = tcp(&a, 40000, HOST, 23, 0x02);
        assert_eq!(net.client_sends(i, &syn), (want[i], Some(syn)));
        for reader in 0..n {
            assert_eq!(
                net.shards[usize::from(reader)].owner_shard(addrs[i]),
                Some(want[i])
            );
            let pong = icmp(HOST, &a, true);
            assert_eq!(
                net.inside_sends(reader, &pong),
                (want[i], Some((i, pong.clone()))),
                "client {i}, read by shard {reader}"
            );
            if reader != want[i] {
                // Without the hand-off the packet would be lost: the reader has no tunnel.
                assert_eq!(net.inside_at(reader, &pong), None, "client {i} at {reader}");
            }
        }
    }
    for (s, g) in net.shards.iter().enumerate() {
        let st = g.stats();
        let mine = want.iter().filter(|w| usize::from(**w) == s).count() as u64;
        assert_eq!(st.packets_in, 2 * mine, "shard {s}");
        assert_eq!(st.packets_out, u64::from(n) * mine, "shard {s}");
        assert_eq!(net.routed[s].esp, 2 * mine);
    }
    assert!(net
        .aaa
        .radius(radius_auth())
        .unwrap()
        .attempts()
        .iter()
        .all(|a| a.accepted));
}

/// (1) Several 4.x clients (Xauth against RADIUS, one behind a NAT on port 4500) over
/// 2 shards: every shard holds the IKE SAs of the clients whose address hashes to it,
/// every responder cookie and inbound SPI names its shard, ESP both ways works for
/// every client (raw and in UDP), and a packet from the inside reaches its client's
/// shard whichever shard reads it.
#[test]
fn several_clients_spread_over_two_shards() {
    several_clients_spread_over(2);
}

/// (1) The same over 3 shards.
#[test]
fn several_clients_spread_over_three_shards() {
    several_clients_spread_over(3);
}

/// (2) The demo's pool (5 addresses) over 2 shards: 5 clients get 5 distinct
/// addresses; a 6th is refused whichever shard it lands on; when a client leaves
/// (`clear crypto isakmp sa PEER`, then a client's own DELETE) the next one gets the
/// freed address, on the other shard, and the inside's packets follow it there.
#[test]
fn the_pool_is_one_over_the_shards() {
    let n = 2;
    let mut net = radius_shards(n, 20, base());
    // Clients 0..7: shards 0, 1, 0, 1, ...
    for i in 0..7usize {
        net.add_client(client_on(n, u8::try_from(i % 2).unwrap(), i / 2));
    }
    let mut sas = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..5 {
        let sa = net.login(i, vpn_4x("cisco_customer", "cisco123"));
        assert!(
            net.clients[i].ep.ready_for_quick_mode(sa),
            "{:?}",
            net.texts()
        );
        addrs.push(net.quick_mode(i, sa));
        sas.push(sa);
    }
    let distinct: BTreeSet<Ipv4Addr> = addrs.iter().copied().collect();
    assert_eq!(distinct.len(), 5, "{addrs:?}");
    let pool: BTreeSet<Ipv4Addr> = (200..=204).map(|x| Ipv4Addr::new(10, 89, 129, x)).collect();
    assert_eq!(distinct, pool);
    assert_eq!(net.shards[0].endpoint().lease_store().total_in_use(), 5);
    assert_eq!(
        (
            net.shards[0].sessions().count(),
            net.shards[1].sessions().count()
        ),
        (3, 2)
    );
    // The 6th, on shard 1 (client 5), and on shard 0 (client 6): both refused.
    for i in [5, 6] {
        let sa = net.login(i, vpn_4x("cisco_customer", "cisco123"));
        assert_eq!(net.holder(i), None, "client {i} kept a session");
        assert_eq!(net.clients[i].ep.assigned_address(sa), None);
        assert!(!net.clients[i].ep.ready_for_quick_mode(sa));
        assert_eq!(net.clients[i].ep.sa_count(), 0, "client {i} was told");
    }
    let failed: u64 = net
        .shards
        .iter()
        .map(|g| g.stats().handshakes_failed.values().sum::<u64>())
        .sum();
    assert_eq!(
        net.shards
            .iter()
            .map(|g| g.stats().handshakes_failed.len())
            .collect::<Vec<_>>(),
        [1, 1],
        "one refusal on each shard"
    );
    assert_eq!(failed, 2);
    assert_eq!(net.shards[1].endpoint().lease_store().total_in_use(), 5);

    // Client 0 (shard 0) is cleared by the operator; client 5 (shard 1) gets its address.
    let freed = addrs[0];
    assert_eq!(net.shards[1].owner_shard(freed), Some(0));
    let peer = net.clients[0].addr.ip();
    let answer = net.cmd(&format!("clear crypto isakmp sa {peer}"));
    assert_eq!(answer, format!("1 IKE SA(s) with {peer} cleared\n"));
    assert_eq!(net.clients[0].ep.sa_count(), 0);
    assert_eq!(net.shards[1].owner_shard(freed), None);
    assert_eq!(net.shards[0].endpoint().lease_store().total_in_use(), 4);
    net.now += Duration::from_secs(1);
    let got = net.connect(5, "cisco_customer", "cisco123");
    assert_eq!(got, freed);
    assert_eq!(net.holder(5), Some(1));
    for reader in 0..n {
        assert_eq!(net.shards[usize::from(reader)].owner_shard(freed), Some(1));
        let pong = icmp(HOST, &freed.to_string(), true);
        assert_eq!(net.inside_sends(reader, &pong), (1, Some((5, pong))));
    }
    // Client 1 (shard 1) leaves with its own DELETE; client 6 (shard 0) gets its address.
    let freed = addrs[1];
    net.clients[1]
        .ep
        .delete(net.now, sas[1], &mut net.rng)
        .unwrap();
    net.pump();
    assert_eq!(net.holder(1), None);
    assert_eq!(net.shards[0].owner_shard(freed), None);
    net.now += Duration::from_secs(1);
    let got = net.connect(6, "cisco_customer", "cisco123");
    assert_eq!(got, freed);
    assert_eq!(net.holder(6), Some(0));
    let pong = icmp(HOST, &freed.to_string(), true);
    assert_eq!(net.inside_sends(1, &pong), (0, Some((6, pong))));
    assert_eq!(net.shards[1].endpoint().lease_store().total_in_use(), 5);
    let s = net.cmd("show local-pool");
    assert!(s.contains("VPNpool"), "{s}");
    assert!(s.lines().any(|l| l.ends_with(" 0     5")), "{s}");
}

/// (3) `show` and metrics of the whole gateway (`Whole` over every shard's snapshot):
/// `show crypto isakmp sa` totals the shards, `show uauth` lists every user whatever
/// its shard, `show local-pool` shows the one shared pool, and the per-shard handshake
/// counters add up to the gateway's.
#[test]
fn whole_gateway_views_add_the_shards_up() {
    let (mut net, addrs) = spread(2, 30, base());
    let per: Vec<usize> = net.shards.iter().map(|g| g.stats().ike_sas).collect();
    assert!(per.iter().all(|p| *p > 0), "{per:?}");
    let total: usize = per.iter().sum();
    assert_eq!(total, 5);

    let s = net.cmd("show crypto isakmp sa");
    assert!(
        s.starts_with(&format!("Total     : {total}\nEmbryonic : 0\n")),
        "{s}"
    );
    for c in &net.clients {
        let ip = c.public_ip().to_string();
        assert_eq!(
            s.lines()
                .filter(|l| l.contains(&ip) && l.contains("QM_IDLE"))
                .count(),
            1,
            "{ip}: {s}"
        );
    }
    // One shard alone knows only its own.
    let alone = net.command(0, "show crypto isakmp sa");
    assert!(
        alone.starts_with(&format!("Total     : {}\n", per[0])),
        "{alone}"
    );

    let u = net.cmd("show uauth");
    assert!(
        u.contains(&format!("Authenticated Users     {:>5}", addrs.len())),
        "{u}"
    );
    for (i, a) in addrs.iter().enumerate() {
        assert!(
            u.contains(&format!("ipsec user 'user{i}' at {a}, authenticated")),
            "{u}"
        );
    }

    let p = net.cmd("show local-pool");
    let line = p.lines().find(|l| l.starts_with("VPNpool")).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cols,
        ["VPNpool", "10.89.129.200", "10.89.129.204", "0", "5"],
        "{p}"
    );
    let p = net.cmd("show local-pool VPNpool");
    let in_use: BTreeSet<Ipv4Addr> = p
        .split("In use addresses:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(in_use, addrs.iter().copied().collect(), "{p}");
    for snap in &net.whole(None).shards {
        assert_eq!(
            snap.pools[0].in_use, 5,
            "shard {} sees the shared pool",
            snap.shard
        );
    }
    let v = net.cmd("show version");
    assert!(v.contains("Workers: 2"), "{v}");

    let m = net.whole(None).metrics_text();
    let ok = metric(&m, "pix_handshakes_total{result=\"ok\"}");
    let s0 = metric(&m, "pix_shard_handshakes_total{shard=\"0\"}");
    let s1 = metric(&m, "pix_shard_handshakes_total{shard=\"1\"}");
    assert!(s0 > 0 && s1 > 0, "{m}");
    assert_eq!(s0 + s1, ok);
    assert_eq!(ok, 5);
    assert_eq!(metric(&m, "pix_pool_addresses_in_use{pool=\"VPNpool\"}"), 5);
    assert_eq!(m.matches("pix_pool_addresses_in_use{").count(), 1, "{m}");
    assert_eq!(metric(&m, "pix_uauth_users"), 5);
    assert_eq!(metric(&m, "pix_ipsec_sa_pairs"), 5);
    assert_eq!(
        metric(&m, "pix_shard_ike_sas{shard=\"0\"}") + metric(&m, "pix_shard_ike_sas{shard=\"1\"}"),
        5
    );
}

/// (4) One Xauth throttle for all shards: wrong passwords of one user from three
/// addresses, two of them on shard 0 and one on shard 1, lock the user out everywhere
/// (neither shard alone saw enough sources and failures); afterwards even the right
/// password, from new addresses on either shard, is refused without asking RADIUS.
#[test]
fn one_xauth_throttle_for_every_shard() {
    let n = 2;
    let mut settings = Settings::new(GW_IP);
    // 2 failures lock a (user, address); 5 failures from at least 3 addresses lock the
    // user: shard 0 alone sees at most 4 (2 addresses), shard 1 at most 2 (1 address).
    settings.guard.xauth.max_failures = 2;
    settings.guard.xauth.user_max_failures = 5;
    settings.guard.xauth.user_min_sources = 3;
    let mut net = Net::sharded(plans(n, nat_t_plan), &settings, radius_aaa(), 40, base());
    let guessers = [client_on(n, 0, 0), client_on(n, 1, 0), client_on(n, 0, 1)];
    for g in guessers {
        net.add_client(g);
    }
    for i in 0..guessers.len() {
        let mut p = vpn_4x("user3", "wrong");
        p.initial_contact = false;
        net.login(i, p);
        net.run_until(Duration::from_secs(60), |net| {
            net.clients[i].ep.sa_count() == 0 && net.shards.iter().all(|g| g.stats().held == 0)
        });
        assert_eq!(net.clients[i].ep.sa_count(), 0, "guesser {i} still in");
    }
    let shard_of: Vec<u8> = (0..3).map(|i| net.peer_shard(i)).collect();
    assert_eq!(shard_of, [0, 1, 0]);
    let t = net.shards[0].stats().throttle;
    assert_eq!(t, net.shards[1].stats().throttle, "one throttle");
    assert_eq!(t.lockouts_user, 1, "{t:?}");
    let radius = net.aaa.radius(radius_auth()).unwrap();
    let asked = radius.attempts().len();
    assert!(radius
        .attempts()
        .iter()
        .all(|a| !a.accepted && a.user == b"user3"));
    assert_eq!(
        asked as u64, t.failures,
        "every failure was a RADIUS verdict"
    );
    assert!(t.failures >= 5, "{t:?}");
    // Both shards took wrong passwords: the lockout needed both.
    for (s, g) in net.shards.iter().enumerate() {
        assert!(
            g.stats().xauth.get("rejected").copied().unwrap_or(0) > 0,
            "shard {s}"
        );
    }

    // The right password from two new addresses, one on each shard: refused by the
    // throttle, RADIUS never asked.
    for s in 0..n {
        let i = net.add_client(client_on(n, s, 2));
        assert_eq!(net.peer_shard(i), s);
        let refused_before = net.shards[0].stats().throttle.refused_user;
        let mut p = vpn_4x("user3", "pass3");
        p.initial_contact = false;
        let sa = net.login(i, p);
        net.run_until(Duration::from_secs(30), |net| {
            net.clients[i].ep.sa_count() == 0 && net.shards.iter().all(|g| g.stats().held == 0)
        });
        assert!(!net.clients[i].ep.ready_for_quick_mode(sa));
        assert_eq!(net.clients[i].ep.sa_count(), 0);
        let after = net.shards[usize::from(1 - s)].stats().throttle.refused_user;
        assert!(
            after > refused_before,
            "shard {s}: {refused_before} -> {after}"
        );
        assert!(
            net.debug.iter().any(|(o, _, l)| *o == s
                && l.contains("xauth: user 'user3' from")
                && l.contains("locked out: refused without asking AAA")),
            "shard {s}"
        );
    }
    assert_eq!(
        net.aaa.radius(radius_auth()).unwrap().attempts().len(),
        asked
    );
    let stats = net.shards[1].stats().throttle;
    let m = net.whole(None).metrics_text();
    assert_eq!(
        metric(&m, "pix_xauth_throttle_total{event=\"lockout_user\"}"),
        1
    );
    assert_eq!(
        metric(&m, "pix_xauth_throttle_total{event=\"refused_user\"}"),
        stats.refused_user,
        "the shared throttle counted once, not per shard"
    );
}

/// (5) TACACS+ accounting (the demo's `aaa accounting include any inbound ...
/// AuthInbound`, a server at its host) of TCP connections through both shards: each
/// shard's policy numbers its connections from 1, yet no task id reaches the server
/// twice, and every start has its stop under the same task id.
#[test]
fn accounting_task_ids_never_collide_across_shards() {
    let n = 2;
    let aaa = MemAaa::new().with_tacacs(tacacs_acct(), MemTacacs::new("secretkey"));
    let mut net = Net::sharded(
        plans(n, || demo::plan().unwrap()),
        &Settings::new(GW_IP),
        aaa,
        50,
        base(),
    );
    for i in 0..4usize {
        net.add_client(client_on(n, u8::try_from(i % 2).unwrap(), i / 2));
    }
    let mut addrs = Vec::new();
    for i in 0..4 {
        addrs.push(net.connect(i, "cisco_customer", "cisco123"));
    }
    // Two telnet connections per client, answered from the inside.
    for (i, a) in addrs.iter().enumerate() {
        let a = a.to_string();
        for port in [40000u16, 40001] {
            let syn = tcp(&a, port, HOST, 23, 0x02);
            let (s, got) = net.client_sends(i, &syn);
            assert_eq!((s, got), (net.peer_shard(i), Some(syn)));
            let synack = tcp(HOST, 23, &a, port, 0x12);
            assert_eq!(net.inside_sends(0, &synack).1, Some((i, synack)));
        }
    }
    let starts: Vec<u8> = net
        .log
        .iter()
        .filter(|(_, r)| r.id == MsgId::Accounting && r.text.starts_with("accounting start"))
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(starts.len(), 8, "{:?}", net.texts());
    assert!(starts.contains(&0) && starts.contains(&1), "{starts:?}");
    // Everyone leaves: the stops.
    let answer = net.cmd("clear crypto isakmp sa");
    assert_eq!(answer, "4 IKE SA(s) cleared\n");
    assert_eq!(net.logged(MsgId::Accounting, "accounting stop"), 8);

    let server = net.aaa.tacacs(tacacs_acct()).unwrap();
    assert!(server.errors().is_empty(), "{:?}", server.errors());
    assert!(
        !net.log.iter().any(|(_, r)| r.id == MsgId::AaaProblem),
        "{:?}",
        net.texts()
    );
    let seen = server.accounting();
    assert_eq!(seen.len(), 16, "{seen:?}");
    // task id -> (starts, stops, client addresses)
    let mut tasks: BTreeMap<u64, (u32, u32, BTreeSet<Vec<u8>>)> = BTreeMap::new();
    for r in seen {
        let id = r.arg_u64("task_id").unwrap();
        let e = tasks.entry(id).or_default();
        match r.request.flags {
            xauth::tacacs::acct_flag::START => e.0 += 1,
            xauth::tacacs::acct_flag::STOP => e.1 += 1,
            f => panic!("flags {f:#x}"),
        }
        e.2.insert(r.request.rem_addr.clone());
    }
    assert_eq!(tasks.len(), 8, "{tasks:?}");
    for (id, (starts, stops, who)) in &tasks {
        assert_eq!((*starts, *stops), (1, 1), "task {id}");
        assert_eq!(who.len(), 1, "task {id} names one client: {who:?}");
    }
    // The task ids name their shard (task * count + shard): which shard each client's
    // records came from.
    for (id, (_, _, who)) in &tasks {
        let rem = String::from_utf8(who.iter().next().unwrap().clone()).unwrap();
        let i = (0..4)
            .find(|i| rem == addrs[*i].to_string() || rem == net.clients[*i].addr.ip().to_string())
            .unwrap_or_else(|| panic!("task {id} from {rem}"));
        assert_eq!(
            id % u64::from(n),
            u64::from(net.peer_shard(i)),
            "task {id} of {rem}"
        );
    }
}

/// (6) The same seed and clock give the same bytes for the whole sharded run: every IKE
/// datagram and ESP packet of every shard, in order and by shard, and the same log and
/// debug lines; another seed differs.
#[test]
fn same_seed_same_bytes_over_the_shards() {
    let t0 = base();
    let run = |seed| {
        let (mut net, addrs) = spread(2, seed, t0);
        for (i, a) in addrs.iter().enumerate() {
            let ping = icmp(&a.to_string(), HOST, false);
            net.client_sends(i, &ping);
            let pong = icmp(HOST, &a.to_string(), true);
            net.inside_sends(0, &pong);
        }
        net.cmd("clear crypto isakmp sa");
        net
    };
    let a = run(7);
    let b = run(7);
    // Per client: Aggressive Mode 2, Xauth REQUEST and SET, Mode Config REPLY, Quick
    // Mode 2, one ESP packet, two DELETEs.
    assert_eq!(a.wire.len(), 5 * 8, "{}", a.wire.len());
    assert!(a.wire.iter().any(|(s, _)| *s == 0) && a.wire.iter().any(|(s, _)| *s == 1));
    assert_eq!(a.wire.len(), b.wire.len());
    for (k, (x, y)) in a.wire.iter().zip(&b.wire).enumerate() {
        assert_eq!(x, y, "datagram {k} differs");
    }
    assert_eq!(a.texts(), b.texts(), "the same log");
    assert_eq!(a.debug, b.debug, "the same debug lines");
    assert_eq!(a.routed, b.routed);
    let c = run(8);
    assert_ne!(
        a.wire[0], c.wire[0],
        "another seed, other cookies and nonces"
    );
}

/// A phase-1 rekey by the client (a new Aggressive Mode without a responder cookie)
/// lands on the shard of the client's first SA, by the hash of its address: the new SA
/// takes over the IPsec SA there and traffic goes on both ways, the inside's packets
/// still handed to that shard.
#[test]
fn a_phase_1_rekey_stays_on_its_shard() {
    let n = 2;
    let mut net = radius_shards(n, 70, base());
    let c = net.add_client(client_on(n, 1, 0));
    let sa = net.login(c, vpn_4x("user1", "pass1"));
    let addr = net.quick_mode(c, sa);
    assert_eq!(net.routed[1].first, 1);
    net.now += Duration::from_secs(5);
    let new = net.clients[c]
        .ep
        .rekey_phase1(net.now, sa, &mut net.rng)
        .unwrap();
    net.pump();
    net.run_until(Duration::from_secs(30), |net| {
        net.clients[c].ep.sa_count() == 1 && net.shards[1].sessions().count() == 1
    });
    assert!(net.clients[c].ep.ready_for_quick_mode(new));
    assert_eq!(
        net.routed[1].first, 2,
        "the rekey's first message went to shard 1"
    );
    assert_eq!(net.routed[0], Routed::default(), "shard 0 saw nothing");
    assert!(
        net.logged(
            MsgId::Phase1Completed,
            "(phase 1 rekey): 1 IPsec SA(s) moved"
        ) == 1
    );
    assert_eq!(net.holder(c), Some(1));
    let s = net.shards[1].sessions().next().unwrap().sa;
    assert_ne!(s, SaId(1), "the new IKE SA");
    let a = addr.to_string();
    let ping = icmp(&a, HOST, false);
    assert_eq!(net.client_sends(c, &ping), (1, Some(ping)));
    let pong = icmp(HOST, &a, true);
    assert_eq!(net.inside_sends(0, &pong), (1, Some((c, pong))));
    // One user, one address, one lease: the new IKE SA kept the client's address.
    let u = net.cmd("show uauth");
    assert!(u.contains("Authenticated Users         1"), "{u}");
    assert_eq!(
        u.matches(&format!("ipsec user 'user1' at {a}, authenticated"))
            .count(),
        1,
        "{u}"
    );
    let p = net.cmd("show local-pool");
    let line = p.lines().find(|l| l.starts_with("VPNpool")).unwrap();
    assert!(line.ends_with(" 1"), "{p}");
}

/// While a client's old and new IKE SA both live (a phase-1 rekey in progress), they
/// share its address: clearing the new one leaves the address, its uauth entry and the
/// traffic with the old one.
#[test]
fn the_sa_of_a_rekey_that_goes_first_leaves_the_address_to_the_other() {
    let n = 2;
    let mut net = radius_shards(n, 71, base());
    let c = net.add_client(client_on(n, 0, 0));
    let sa = net.login(c, vpn_4x("user2", "pass2"));
    let addr = net.quick_mode(c, sa);
    net.now += Duration::from_secs(5);
    // A second phase 1 of the same client and user, as a rekey starts one (without
    // INITIAL-CONTACT, so that the old SA stays); both live.
    let mut again = vpn_4x("user2", "pass2");
    again.initial_contact = false;
    let new = net.login(c, again);
    assert_ne!(new, sa);
    assert_eq!(net.shards[0].sessions().count(), 2);
    let addrs: Vec<_> = net.shards[0].sessions().map(|s| s.addr).collect();
    assert_eq!(addrs, [Some(addr), Some(addr)], "one address for both");
    // The client deletes its new IKE SA (DELETE); the old one stays.
    let now = net.now;
    net.clients[c].ep.delete(now, new, &mut net.rng).unwrap();
    net.pump();
    assert_eq!(net.shards[0].sessions().count(), 1);
    assert_eq!(
        net.logged(MsgId::Phase1Deleted, &format!("{addr} stays with SA")),
        1,
        "{:?}",
        net.texts()
    );
    assert_eq!(net.logged(MsgId::Phase1Deleted, "back to the pool"), 0);
    let a = addr.to_string();
    let u = net.cmd("show uauth");
    assert!(
        u.contains(&format!("ipsec user 'user2' at {a}, authenticated")),
        "{u}"
    );
    let ping = icmp(&a, HOST, false);
    assert_eq!(net.client_sends(c, &ping), (0, Some(ping)));
    let pong = icmp(HOST, &a, true);
    assert_eq!(net.inside_sends(1, &pong), (0, Some((c, pong))));
    let p = net.cmd("show local-pool");
    let line = p.lines().find(|l| l.starts_with("VPNpool")).unwrap();
    assert!(line.ends_with(" 1"), "{p}");
}

/// An address the RADIUS server assigns (Framed-IP-Address) outside every pool is
/// owned by the shard that holds the tunnel too: the inside's packets for it are handed
/// there, and it is free again when the client leaves.
#[test]
fn an_aaa_address_outside_the_pool_routes_to_its_shard() {
    let n = 2;
    let framed: Ipv4Addr = "10.89.129.77".parse().unwrap();
    let aaa = MemAaa::new().with_radius(
        radius_auth(),
        radius_acct(),
        radius_server().user_with_ip("framed", "fpw", framed),
    );
    let mut net = Net::sharded(plans(n, nat_t_plan), &Settings::new(GW_IP), aaa, 71, base());
    let c = net.add_client(client_on(n, 1, 0));
    assert_eq!(net.connect(c, "framed", "fpw"), framed);
    for reader in 0..n {
        assert_eq!(net.shards[usize::from(reader)].owner_shard(framed), Some(1));
        let pong = icmp(HOST, "10.89.129.77", true);
        let (s, got) = net.inside_sends(reader, &pong);
        let (to, inner) = got.unwrap();
        assert_eq!((s, to), (1, c), "read by shard {reader}");
        // `nat 0 access-list 101` does not cover 10.89.129.77: the host's static
        // translation applies (192.168.1.11); the rest arrives as sent.
        assert_eq!(inner[12..16], [192, 168, 1, 11]);
        assert_eq!(inner[16..20], framed.octets());
        assert_eq!(inner[20..], pong[20..]);
    }
    let peer = net.clients[c].addr.ip();
    assert!(net
        .cmd(&format!("clear crypto isakmp sa {peer}"))
        .starts_with("1 IKE"));
    assert_eq!(net.shards[0].owner_shard(framed), None);
    let pong = icmp(HOST, "10.89.129.77", true);
    assert_eq!(net.inside_sends(1, &pong), (1, None));
}

/// `show uauth` "Most Seen" is the whole gateway's peak: one user at a time, first on
/// shard 0 then on shard 1, is a peak of one, not one per shard.
#[test]
fn most_seen_users_is_the_whole_gateways_peak() {
    let mut net = radius_shards(2, 5, base());
    let a = net.add_client(client_on(2, 0, 0));
    let b = net.add_client(client_on(2, 1, 0));
    assert_eq!((net.peer_shard(a), net.peer_shard(b)), (0, 1));
    net.connect(a, "user0", "pass0");
    let peer = net.clients[a].public_ip();
    net.cmd(&format!("clear crypto isakmp sa {peer}"));
    net.connect(b, "user1", "pass1");
    let u = net.cmd("show uauth");
    assert!(
        u.contains("Authenticated Users         1          1"),
        "{u}"
    );
    assert!(
        u.contains("Authen In Progress          0          1"),
        "{u}"
    );
    net.connect(a, "user0", "pass0");
    let u = net.cmd("show uauth");
    assert!(
        u.contains("Authenticated Users         2          2"),
        "{u}"
    );
}
