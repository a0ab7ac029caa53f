//! The lifecycle of a VPN user through `pix-gateway run`, with real vpnc clients: a full
//! pool refuses the next client and keeps the others working; INITIAL-CONTACT from a
//! client that comes back replaces its old SA; DPD (`isakmp keepalive`) removes a client
//! killed with SIGKILL; `vpngroup idle-time` ends an idle client and its address goes to
//! the next one. Each ending deletes the SAs, the uauth entry, and returns the address.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &["ip", "vpnc", "python3", "ping"];

fn raw(user: &str, password: &str) -> VpncConf {
    VpncConf {
        natt: "none".into(),
        // vpnc announces DPD (and answers R-U-THERE) only with its own idle timer on
        dpd_idle: 300,
        user: user.into(),
        password: password.into(),
        ..VpncConf::default()
    }
}

fn users_secrets() -> String {
    let mut s = demo_secrets();
    for i in 1..=6 {
        s.push_str(&format!("username user{i} password pass{i}\n"));
    }
    s.push_str("username alice password wonderland\n");
    s
}

fn connect(lab: &mut Lab, ns: &str, name: &str, conf: &VpncConf) -> (usize, String) {
    let (p, ifname) = lab.vpnc(ns, name, conf, 3);
    let addr = lab.wait_tunnel(ns, &ifname, p, 20);
    assert!(addr.is_some(), "{name}: no tunnel\n{}", lab.logs());
    assert!(lab.ping(ns, 1) >= 1, "{name}: no traffic\n{}", lab.logs());
    (p, addr.unwrap())
}

fn in_use(lab: &Lab) -> String {
    let pool = lab.show("local-pool");
    pool.lines()
        .nth(1)
        .unwrap_or("")
        .split_whitespace()
        .nth(4)
        .unwrap_or("")
        .to_string()
}

#[test]
fn a_sixth_client_on_the_five_address_pool_is_refused_and_the_five_keep_working() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    // Two workers sharing the pool: a key that puts the five clients (192.168.1.11-15)
    // on both, so that the pool is shared for real and every shard is used.
    let placement = |key: u64, clients: u8| -> [u64; 2] {
        let mut n = [0u64; 2];
        for i in 1..=clients {
            let ip = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 10 + i));
            n[usize::from(pix_gateway::gateway::route::of_peer(2, key, ip))] += 1;
        }
        n
    };
    let key = (1u64..)
        .find(|k| placement(*k, 5).iter().all(|n| *n >= 2))
        .unwrap();
    let key_arg = key.to_string();
    let metrics_at = "127.0.0.1:9479";
    let gw = lab.start_gateway(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &users_secrets(),
        &[
            "--workers",
            "2",
            "--shard-key",
            &key_arg,
            "--metrics",
            metrics_at,
        ],
    );
    let mut clients = Vec::new();
    for i in 1..=5u8 {
        let ns = lab.direct_client(i);
        let (_, addr) = connect(
            &mut lab,
            &ns,
            &format!("vpnc{i}"),
            &raw(&format!("user{i}"), &format!("pass{i}")),
        );
        clients.push((ns, addr));
    }
    let mut addrs: Vec<String> = clients.iter().map(|(_, a)| a.clone()).collect();
    addrs.sort();
    assert_eq!(
        addrs,
        [
            "10.89.129.200",
            "10.89.129.201",
            "10.89.129.202",
            "10.89.129.203",
            "10.89.129.204"
        ]
    );
    assert_eq!(in_use(&lab), "5");
    // The sixth is refused at once with a DELETE after Xauth (vpnc, waiting for its
    // Mode Config reply, ignores it and would give up on its own after 30 s).
    let ns6 = lab.direct_client(6);
    let (p6, if6) = lab.vpnc(&ns6, "vpnc6", &raw("user6", "pass6"), 3);
    let refused = wait_for(Duration::from_secs(10), || {
        lab.proc(gw).log_text().contains(
            "%PIX-4-404101: ISAKMP: Failed to allocate address for client from pool VPNpool",
        )
    });
    assert!(refused, "{}", lab.proc(gw).log_text());
    assert!(lab.addr_of(&ns6, &if6).is_none());
    lab.proc(p6).stop(Duration::from_secs(5));
    for (ns, addr) in &clients {
        assert!(
            lab.ping(ns, 1) >= 1,
            "client at {addr} stopped working\n{}",
            lab.logs()
        );
    }
    assert!(lab.show("crypto isakmp sa").contains("Total     : 5"));
    assert_eq!(in_use(&lab), "5");
    // Each worker took the clients whose address hashes to it (the sixth's phase 1 came
    // up too), and the whole gateway's counters are the sum of the workers'.
    let m = metrics(&lab, metrics_at);
    let want = placement(key, 6);
    for (shard, n) in want.iter().enumerate() {
        assert_eq!(
            metric(
                &m,
                &format!("pix_shard_handshakes_total{{shard=\"{shard}\"}}")
            ),
            *n,
            "{m}"
        );
    }
    assert_eq!(metric(&m, "pix_handshakes_total{result=\"ok\"}"), 6, "{m}");
    assert_eq!(metric(&m, "pix_workers"), 2, "{m}");
}

#[test]
fn initial_contact_dpd_and_idle_time_each_end_a_user_cleanly() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let cfg = config_with(
        &[(
            "vpngroup vpn3000 idle-time 1800",
            "vpngroup vpn3000 idle-time 60",
        )],
        &["isakmp keepalive 10 2"],
    );
    let gw = lab.start_gateway(&cfg, &users_secrets(), &[]);
    let t_start = Instant::now();
    // A: alice, connects and then stays idle
    let a = lab.direct_client(1);
    let (_pa, addr_a) = connect(&mut lab, &a, "vpnc-alice", &raw("alice", "wonderland"));
    assert_eq!(addr_a, "10.89.129.200");
    // B: killed with SIGKILL, comes straight back: INITIAL-CONTACT replaces the old SA
    let b = lab.direct_client(2);
    let (pb, addr_b) = connect(&mut lab, &b, "vpnc-b1", &raw(USER, PASS));
    lab.proc(pb).kill9();
    let (pb2, addr_b2) = connect(&mut lab, &b, "vpnc-b2", &raw(USER, PASS));
    assert_eq!(addr_b2, addr_b, "the same user gets its address back");
    let replaced = wait_for(Duration::from_secs(5), || {
        lab.show("crypto isakmp sa").contains("Total     : 2")
    });
    assert!(
        replaced,
        "INITIAL-CONTACT did not replace the old SA:\n{}",
        lab.show("crypto isakmp sa")
    );
    assert!(
        lab.proc(gw).log_text().contains("INITIAL"),
        "{}",
        lab.proc(gw).log_text()
    );
    // B again killed: nobody answers DPD; gone within keepalive + 3 retries (+ slack)
    lab.proc(pb2).kill9();
    let t_kill = Instant::now();
    let gone = wait_for(Duration::from_secs(30), || {
        lab.show("crypto isakmp sa").contains("Total     : 1")
    });
    assert!(gone, "DPD did not remove the dead client\n{}", lab.logs());
    let dpd_ms = since(t_kill);
    eprintln!("DPD removed the killed client after {dpd_ms:.0} ms (keepalive 10 s, retry 2 s)");
    assert!(dpd_ms < 25_000.0, "{dpd_ms}");
    let uauth = lab.show("uauth");
    assert!(!uauth.contains(&format!("at {addr_b},")), "{uauth}");
    assert!(
        uauth.contains("ipsec user 'alice' at 10.89.129.200"),
        "{uauth}"
    );
    assert_eq!(in_use(&lab), "1");
    // A is idle: idle-time 60 ends it (DPD answers do not count as activity)
    let idle_end = t_start + Duration::from_secs(75);
    let left = wait_for(idle_end.saturating_duration_since(Instant::now()), || {
        lab.show("crypto isakmp sa").contains("Total     : 0")
    });
    assert!(
        left,
        "idle-time did not end alice\n{}",
        lab.show("crypto isakmp sa")
    );
    assert!(lab
        .proc(gw)
        .log_text()
        .contains("vpngroup idle-time reached"));
    assert_eq!(in_use(&lab), "0");
    assert!(lab.show("uauth").contains("Authenticated Users         0"));
    // the address goes to the next client (alice again, from elsewhere)
    let c = lab.direct_client(3);
    let (_, addr_c) = connect(
        &mut lab,
        &c,
        "vpnc-alice-again",
        &raw("alice", "wonderland"),
    );
    assert_eq!(addr_c, "10.89.129.200");
}
