//! Many gateways, one AAA tier (issue 18), with real engines in network namespaces:
//! PostgreSQL + FreeRADIUS 3.2 (sql accounting, sqlippool) from `testkit::aaa_tier`,
//! keepalived (VRRP) from `lab::multi`, vpnc clients, our gateways.
//!
//! * Ten vpnc clients over two active gateways share one RADIUS pool: ten distinct
//!   addresses, each reaches the inside host through its own gateway (per-client host
//!   routes and proxy ARP on one inside LAN), the database's open sessions are the
//!   gateways' `show uauth` at every check, and after the clients leave there are ten
//!   Stops with octets and every lease is free.
//! * Failover: SIGKILL of the active unit moves the outside address (keepalived), the
//!   standby's Accounting-On closes the dead unit's session in the database, and the
//!   client, back after DPD, keeps its inside address through RADIUS.
//! * Killing one of two active gateways leaves the other's users alone; its own users'
//!   sessions are closed in the database by the Accounting-On of its restart.
//! * A restarted gateway frees its old leases (Accounting-On); a gateway that loses the
//!   RADIUS server refuses new logins and keeps its users; a clean stop sends every
//!   Stop, then Accounting-Off.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use lab::multi::{MultiLab, Outside, INSIDE_IF, VIP};
use lab::{demo_secrets, require_root_and_tools, serial, wait_for, VpncConf, AAA_HOST};
use testkit::aaa_tier::{AaaTier, AaaTierOpts};

const TOOLS: &[&str] = &[
    "ip",
    "vpnc",
    "ping",
    "freeradius",
    "keepalived",
    "radclient",
];
const KEY: &str = "secretkey";
const POOL_FIRST: &str = "10.89.129.196";
const POOL_LAST: &str = "10.89.129.206";

/// The AAA tier in the lab's inside namespace on the seed's AAA host, PIX ports
/// 1645/1646, users `user1..=user12` (password `passN`), the pool of the inside /28
/// that the gateways do not use.
fn tier(ml: &MultiLab) -> AaaTier {
    let users = (1..=12)
        .map(|n| (format!("user{n}"), format!("pass{n}")))
        .collect();
    tier_with(ml, users, (POOL_FIRST, POOL_LAST))
}

fn tier_with(ml: &MultiLab, users: Vec<(String, String)>, pool: (&str, &str)) -> AaaTier {
    tier_opts(ml, users, pool, true)
}

fn tier_opts(
    ml: &MultiLab,
    users: Vec<(String, String)>,
    pool: (&str, &str),
    debug: bool,
) -> AaaTier {
    let dir = ml.lab.dir.join("aaa");
    std::fs::create_dir_all(&dir).unwrap();
    let mut o = AaaTierOpts::new(&dir);
    o.netns = Some(ml.lab.inside.clone());
    o.listen = AAA_HOST.parse().unwrap();
    o.port = 1645;
    o.clients = vec![
        ("10.89.129.192/28".into(), KEY.into()),
        ("192.168.1.0/24".into(), KEY.into()),
    ];
    o.users = users;
    o.pool_name = "vpn".into();
    o.pool_first = pool.0.parse().unwrap();
    o.pool_last = pool.1.parse().unwrap();
    o.lease_seconds = 600;
    o.debug = debug;
    // The tier lives as long as the lab's processes (a measurement sets them longer).
    o.lifetime_secs = ml.proc_secs.max(o.lifetime_secs);
    AaaTier::start(o)
}

/// Gateway `k`'s configuration: Xauth against RADIUS group `RAD` on the AAA host, no
/// `ip local pool` (addresses come from RADIUS only).
fn radius_config(ml: &MultiLab, k: u8) -> String {
    ml.gateway_config(
        k,
        &[
            (
                "crypto map mymap client authentication LOCAL",
                "crypto map mymap client authentication RAD",
            ),
            ("ip local pool VPNpool 10.89.129.200-10.89.129.204\n", ""),
            (
                "isakmp client configuration address-pool local VPNpool outside\n",
                "",
            ),
            ("vpngroup vpn3000 address-pool VPNpool\n", ""),
        ],
        &[
            "aaa-server RAD protocol radius",
            &format!("aaa-server RAD (inside) host {AAA_HOST} {KEY} timeout 2"),
        ],
    )
}

/// Starts gateway `k` with session accounting to `RAD` and per-client routes on the
/// inside LAN; `extra` flags after those.
fn start(ml: &mut MultiLab, k: u8, extra: &[&str]) -> usize {
    let cfg = radius_config(ml, k);
    let nas = format!("gw{k}");
    let mut flags = vec![
        "--session-accounting",
        "RAD",
        "--interim-interval",
        "5",
        "--inside-interface",
        INSIDE_IF,
        "--nas-identifier",
        &nas,
    ];
    flags.extend_from_slice(extra);
    ml.start_gateway(k, &cfg, &demo_secrets(), &flags)
}

fn vpnc_conf(target: &str, n: u8) -> VpncConf {
    VpncConf {
        gateway: target.into(),
        user: format!("user{n}"),
        password: format!("pass{n}"),
        natt: "none".into(),
        ..VpncConf::default()
    }
}

/// Two active gateways (192.168.1.1 and .2, NAS-Identifiers gw1 and gw2) on one AAA
/// tier. The tier is dropped before the lab (its processes run in the lab's
/// namespaces): bind the pair as `let (ml, t)`.
fn two_active_gateways() -> (MultiLab, AaaTier) {
    require_root_and_tools(TOOLS);
    let mut ml = MultiLab::new(2, Outside::ActiveActive);
    let t = tier(&ml);
    for k in [1, 2] {
        start(&mut ml, k, &[]);
    }
    (ml, t)
}

/// A vpnc client of the two active gateways: (n, gateway, namespace, process, TUN).
type Client = (u8, u8, String, usize, String);

/// Starts `count` vpnc clients at once, user`n` on 192.168.1.(10 + n): odd ones on
/// gateway 1, even ones on gateway 2.
fn start_clients(ml: &mut MultiLab, count: u8) -> Vec<Client> {
    (1..=count)
        .map(|n| {
            let k = 2 - n % 2;
            let ns = ml.direct_client(n);
            let conf = vpnc_conf(&ml.client_target(k), n);
            let (p, ifname) = ml.lab.vpnc(&ns, &format!("vpnc{n}"), &conf, 1);
            (n, k, ns, p, ifname)
        })
        .collect()
}

/// The users `show uauth` of gateway `k` lists: (user, address).
fn uauth(ml: &MultiLab, k: u8) -> BTreeSet<(String, Ipv4Addr)> {
    ml.show(k, "uauth")
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("ipsec user '")?;
            let (user, rest) = rest.split_once("' at ")?;
            let addr = rest.split(',').next()?.parse().ok()?;
            Some((user.to_string(), addr))
        })
        .collect()
}

/// Every gateway's `show uauth` as (NAS-IP-Address, NAS-Identifier, user, address).
fn all_uauth(ml: &MultiLab, gateways: &[u8]) -> BTreeSet<(Ipv4Addr, String, String, Ipv4Addr)> {
    let mut all = BTreeSet::new();
    for &k in gateways {
        let nas: Ipv4Addr = ml.client_target(k).parse().unwrap();
        for (u, a) in uauth(ml, k) {
            all.insert((nas, format!("gw{k}"), u, a));
        }
    }
    all
}

/// FreeRADIUS's log lines about accounting and errors (the last 80).
fn radius_digest(t: &AaaTier) -> String {
    let log = t.radius_log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("Acct-Status-Type")
                || l.contains("Acct-Session-Id")
                || l.contains("ERROR")
                || l.contains("WARNING")
                || l.contains("Sent Accounting-Response")
                || l.contains("Received Accounting-Request")
        })
        .collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

/// The database's open sessions in the same shape.
fn db_sessions(t: &AaaTier) -> BTreeSet<(Ipv4Addr, String, String, Ipv4Addr)> {
    t.open_sessions()
        .into_iter()
        .filter_map(|s| Some((s.nas_ip, s.nas_identifier, s.user, s.framed_ip?)))
        .collect()
}

/// Waits (up to 15 s: the last Start or Stop in flight) until the database's open
/// sessions are the gateways' users, then asserts it: what `show uauth` says is what
/// the AAA tier holds.
fn db_matches_uauth(ml: &MultiLab, t: &AaaTier, gateways: &[u8], what: &str) -> usize {
    let mut pair = (BTreeSet::new(), BTreeSet::new());
    wait_for(Duration::from_secs(15), || {
        pair = (db_sessions(t), all_uauth(ml, gateways));
        pair.0 == pair.1
    });
    assert_eq!(
        pair.0,
        pair.1,
        "{what}: the database's open sessions (left) are not the gateways' show uauth (right)\n{}\n----- FreeRADIUS (accounting, errors) -----\n{}\n----- radacct -----\n{:?}",
        ml.lab.logs(),
        radius_digest(t),
        t.sql("SELECT acctsessionid, username, nasidentifier, acctstarttime, acctstoptime, acctterminatecause FROM radacct ORDER BY radacctid")
    );
    pair.0.len()
}

#[test]
fn ten_clients_over_two_active_gateways_share_one_pool_and_one_accounting() {
    let _g = serial();
    let (mut ml, t) = two_active_gateways();
    // Ten clients, odd ones on gateway 1, even ones on gateway 2, all logging in at once.
    let clients = start_clients(&mut ml, 10);
    let mut addrs = BTreeSet::new();
    for (n, k, ns, p, ifname) in &clients {
        let a = ml.lab.wait_tunnel(ns, ifname, *p, 45);
        let a: Ipv4Addr = a
            .unwrap_or_else(|| panic!("client {n} (gateway {k}): no tunnel\n{}", ml.lab.logs()))
            .parse()
            .unwrap();
        assert!(
            (POOL_FIRST.parse::<Ipv4Addr>().unwrap()..=POOL_LAST.parse().unwrap()).contains(&a),
            "client {n}: {a} is not from the RADIUS pool"
        );
        addrs.insert(a);
    }
    assert_eq!(addrs.len(), 10, "ten distinct addresses: {addrs:?}");
    // Each reaches the inside host, whose replies go back through the client's gateway.
    for (n, k, ns, _, _) in &clients {
        assert!(
            ml.lab.ping(ns, 2) >= 1,
            "client {n} (gateway {k}) cannot reach the inside host\n{}",
            ml.lab.logs()
        );
    }
    for (n, k, ns, _, ifname) in &clients {
        let a = ml.lab.addr_of(ns, ifname).unwrap();
        assert_eq!(
            ml.inside_sends_to(&a),
            Some(*k),
            "the inside host reaches client {n} ({a}) through its own gateway"
        );
    }
    assert_eq!(db_matches_uauth(&ml, &t, &[1, 2], "ten clients up"), 10);
    for s in t.open_sessions() {
        let (n, k, ..) = clients
            .iter()
            .find(|c| format!("user{}", c.0) == s.user)
            .unwrap();
        assert_eq!(s.calling_station_id, format!("192.168.1.{}", 10 + n));
        assert_eq!(s.nas_ip.to_string(), ml.client_target(*k));
    }
    assert_eq!(t.live_leases().len(), 10);
    // Interim-Updates (every 5 s) bring the octets of the pings into the open sessions.
    let q = "SELECT count(*) FROM radacct WHERE acctstoptime IS NULL AND acctinputoctets > 0 AND acctoutputoctets > 0";
    assert!(
        wait_for(Duration::from_secs(12), || t.sql(q)[0][0] == "10"),
        "no Interim-Update with octets for every session: {:?}",
        t.sql("SELECT username, acctinputoctets, acctoutputoctets, acctupdatetime FROM radacct")
    );

    // The clients leave (vpnc deletes its SAs): ten Stops with octets, every lease free.
    for (_, _, _, p, _) in &clients {
        ml.lab.proc(*p).stop(Duration::from_secs(5));
    }
    assert_eq!(db_matches_uauth(&ml, &t, &[1, 2], "clients gone"), 0);
    let stopped = t.stopped_sessions();
    assert_eq!(stopped.len(), 10, "{stopped:?}");
    for s in &stopped {
        assert!(
            s.input_octets > 0 && s.output_octets > 0,
            "a Stop without octets: {s:?}"
        );
        assert_eq!(s.terminate_cause, "User-Request", "{s:?}");
    }
    assert!(
        wait_for(Duration::from_secs(5), || t.live_leases().is_empty()),
        "leases still live after every Stop: {:?}",
        t.live_leases()
    );
}

#[test]
fn killing_one_active_gateway_leaves_the_others_users_alone() {
    let _g = serial();
    let (mut ml, t) = two_active_gateways();
    // Two clients on each gateway.
    let clients = start_clients(&mut ml, 4);
    for (n, _, ns, p, ifname) in &clients {
        assert!(
            ml.lab.wait_tunnel(ns, ifname, *p, 45).is_some(),
            "client {n}: no tunnel\n{}",
            ml.lab.logs()
        );
    }
    assert_eq!(db_matches_uauth(&ml, &t, &[1, 2], "four clients up"), 4);

    // Gateway 1 dies: gateway 2's users go on, gateway 1's sessions stay open in the
    // database (nobody told it) ...
    ml.kill_gateway(1);
    for (n, k, ns, p, _) in &clients {
        if *k == 2 {
            assert!(
                ml.lab.ping(ns, 2) >= 1,
                "client {n} of gateway 2 lost its tunnel"
            );
        } else {
            ml.lab.proc(*p).stop(Duration::from_secs(2));
        }
    }
    assert_eq!(t.open_sessions().len(), 4);
    // ... until its restart's Accounting-On closes exactly those.
    start(&mut ml, 1, &[]);
    assert!(
        wait_for(Duration::from_secs(10), || t.open_sessions().len() == 2),
        "{:?}",
        t.open_sessions()
    );
    assert_eq!(db_matches_uauth(&ml, &t, &[1, 2], "gateway 1 restarted"), 2);
    let stopped = t.stopped_sessions();
    assert_eq!(stopped.len(), 2);
    for s in &stopped {
        assert_eq!(s.session.nas_identifier, "gw1");
        assert_eq!(s.terminate_cause, "NAS-Reboot");
    }
    assert!(t.open_sessions().iter().all(|s| s.nas_identifier == "gw2"));
    let live: Vec<String> = t.live_leases().iter().map(|l| l.nas_ip.clone()).collect();
    assert_eq!(
        live,
        ["192.168.1.2", "192.168.1.2"],
        "only gateway 2's leases are live"
    );
    for (n, k, ns, _, _) in &clients {
        if *k == 2 {
            assert!(
                ml.lab.ping(ns, 2) >= 1,
                "client {n} of gateway 2 lost its tunnel"
            );
        }
    }
}

#[test]
fn failover_moves_the_address_and_the_client_keeps_its_inside_address() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut ml = MultiLab::new(2, Outside::FailoverPair);
    let t = tier(&ml);
    for k in [1, 2] {
        start(&mut ml, k, &["--failover", "standby"]);
    }
    let (active, _) = ml.start_failover(|ml, k| ml.vrrp_for_gateway(k));
    let standby = 3 - active;
    let gw_log = |ml: &mut MultiLab, k: u8| {
        let i = ml.gateway_proc(k);
        ml.lab.proc(i).log_text()
    };
    assert!(
        wait_for(Duration::from_secs(5), || gw_log(&mut ml, active)
            .contains("this unit is now active")),
        "keepalived did not make gateway {active} active:\n{}",
        ml.keepalived_logs()
    );
    assert!(ml.show(standby, "failover").contains("This host: Standby"));

    let ns = ml.direct_client(1);
    let conf = VpncConf {
        dpd_idle: 10,
        ..vpnc_conf(VIP, 1)
    };
    let (p, ifname) = ml.lab.vpnc(&ns, "vpnc-a", &conf, 1);
    let a = ml
        .lab
        .wait_tunnel(&ns, &ifname, p, 45)
        .unwrap_or_else(|| panic!("no tunnel through the active unit\n{}", ml.lab.logs()));
    assert!(ml.lab.ping(&ns, 2) >= 1, "{}", ml.lab.logs());
    assert_eq!(
        db_matches_uauth(&ml, &t, &[active], "before the failover"),
        1
    );
    assert!(
        uauth(&ml, standby).is_empty(),
        "the standby holds no session"
    );

    // SIGKILL the active unit: the address moves, the standby's Accounting-On closes
    // the dead unit's session and frees its lease.
    let t0 = Instant::now();
    ml.kill_gateway(active);
    let moved = ml.wait_vip(standby, Duration::from_secs(10));
    assert!(
        moved.is_some(),
        "the address did not move:\n{}",
        ml.keepalived_logs()
    );
    assert!(
        wait_for(Duration::from_secs(10), || t.open_sessions().is_empty()),
        "the standby's Accounting-On did not close the old session: {:?}\n{}",
        t.open_sessions(),
        gw_log(&mut ml, standby)
    );
    let old = t.stopped_sessions();
    assert_eq!(old.len(), 1);
    assert_eq!(old[0].session.nas_identifier, format!("gw{active}"));
    assert_eq!(old[0].terminate_cause, "NAS-Reboot", "{old:?}");
    assert!(t.live_leases().is_empty(), "{:?}", t.live_leases());

    // vpnc finds the peer dead (DPD) and exits; started again, it logs in on the new
    // active unit and gets its address back from the pool.
    assert!(
        wait_for(Duration::from_secs(90), || !ml.lab.proc(p).alive()),
        "vpnc did not notice the dead peer\n{}",
        ml.lab.logs()
    );
    let dpd = t0.elapsed();
    let (p2, ifname2) = ml.lab.vpnc(&ns, "vpnc-b", &conf, 1);
    let b = ml.lab.wait_tunnel(&ns, &ifname2, p2, 45);
    assert_eq!(
        b.as_deref(),
        Some(a.as_str()),
        "the client did not keep its inside address\n{}",
        ml.lab.logs()
    );
    assert!(
        wait_for(Duration::from_secs(10), || ml.lab.ping(&ns, 1) >= 1),
        "no reply through the new active unit\n{}",
        ml.lab.logs()
    );
    eprintln!(
        "failover: address moved {:.1} s after SIGKILL, vpnc's DPD gave up after {:.1} s, first ping reply through the standby {:.1} s after SIGKILL",
        moved.unwrap().as_secs_f64(),
        dpd.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(ml.inside_sends_to(&a), Some(standby));
    assert_eq!(
        db_matches_uauth(&ml, &t, &[standby], "after the failover"),
        1
    );
    let now_open = t.open_sessions();
    assert_eq!(now_open[0].nas_identifier, format!("gw{standby}"));
    ml.lab.proc(p2).stop(Duration::from_secs(5));
}

#[test]
fn a_restarted_gateway_frees_its_leases_and_a_lost_radius_server_refuses_only_new_logins() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut ml = MultiLab::new(1, Outside::ActiveActive);
    let mut t = tier(&ml);
    start(&mut ml, 1, &[]);
    let ns1 = ml.direct_client(1);
    let conf1 = vpnc_conf(&ml.client_target(1), 1);
    let (p, ifname) = ml.lab.vpnc(&ns1, "vpnc-1", &conf1, 1);
    let a = ml
        .lab
        .wait_tunnel(&ns1, &ifname, p, 45)
        .unwrap_or_else(|| panic!("no tunnel\n{}", ml.lab.logs()));
    assert_eq!(db_matches_uauth(&ml, &t, &[1], "first login"), 1);

    // SIGKILL: the database still holds the session and the lease ...
    ml.kill_gateway(1);
    ml.lab.proc(p).stop(Duration::from_secs(2));
    assert_eq!(t.open_sessions().len(), 1);
    assert_eq!(t.live_leases().len(), 1);
    // ... until the restarted gateway's Accounting-On.
    start(&mut ml, 1, &[]);
    assert!(
        wait_for(Duration::from_secs(10), || t.open_sessions().is_empty()
            && t.live_leases().is_empty()),
        "Accounting-On did not close the old session and free its lease: {:?} {:?}",
        t.open_sessions(),
        t.live_leases()
    );
    assert_eq!(t.stopped_sessions()[0].terminate_cause, "NAS-Reboot");
    let (p, ifname) = ml.lab.vpnc(&ns1, "vpnc-1b", &conf1, 1);
    let again = ml.lab.wait_tunnel(&ns1, &ifname, p, 45);
    assert_eq!(again.as_deref(), Some(a.as_str()), "the same address again");
    assert!(ml.lab.ping(&ns1, 2) >= 1, "{}", ml.lab.logs());
    assert_eq!(db_matches_uauth(&ml, &t, &[1], "after the restart"), 1);

    // The RADIUS server goes away: a new login is refused (cleanly, in bounded time),
    // the user already in keeps working.
    t.stop_radius();
    let ns2 = ml.direct_client(2);
    let conf2 = vpnc_conf(&ml.client_target(1), 2);
    let (_, ms) = ml.lab.vpnc_refused(&ns2, "vpnc-2", &conf2, 40);
    eprintln!("login refused {ms:.0} ms after vpnc started, with the RADIUS server down");
    let i = ml.gateway_proc(1);
    let log = ml.lab.proc(i).log_text();
    assert!(
        log.contains("xauth: user 'user2' no AAA server answered: rejected by aaa-server RAD"),
        "{log}"
    );
    assert!(
        ml.lab.ping(&ns1, 2) >= 1,
        "the user in lost the tunnel\n{}",
        ml.lab.logs()
    );
    assert_eq!(uauth(&ml, 1).len(), 1);
    // Back: the next login works.
    t.start_radius();
    let (p2, ifname2) = ml.lab.vpnc(&ns2, "vpnc-2b", &conf2, 1);
    assert!(
        ml.lab.wait_tunnel(&ns2, &ifname2, p2, 45).is_some(),
        "no login after the RADIUS server came back\n{}",
        ml.lab.logs()
    );
    assert_eq!(db_matches_uauth(&ml, &t, &[1], "after the outage"), 2);

    // A clean stop: every session's Stop (Admin-Reboot), then Accounting-Off; nothing
    // open, every lease free.
    let i = ml.gateway_proc(1);
    ml.lab.proc(i).stop(Duration::from_secs(15));
    assert!(
        wait_for(Duration::from_secs(10), || t.open_sessions().is_empty()
            && t.live_leases().is_empty()),
        "after a clean stop: {:?} {:?}",
        t.open_sessions(),
        t.live_leases()
    );
    let causes: Vec<String> = t
        .stopped_sessions()
        .into_iter()
        .map(|s| s.terminate_cause)
        .collect();
    assert_eq!(
        causes.iter().filter(|c| *c == "Admin-Reboot").count(),
        2,
        "{causes:?}"
    );
    let rlog = t.radius_log_text();
    assert!(
        rlog.contains("Acct-Status-Type = Accounting-Off"),
        "no Accounting-Off reached FreeRADIUS"
    );
}

/// `RATE_SECS` (default 15) of pix-loadgen logins (Aggressive Mode, Xauth, Mode Config,
/// Quick Mode, then DELETE) against: one gateway with a local pool (Xauth against the
/// same FreeRADIUS), one gateway with the RADIUS pool and session accounting (Start and
/// Stop per login), and two such gateways at once. Prints the rates and latencies the
/// issue note quotes. A measurement, not a check: run it with
/// `cargo test --profile flood -p pix-gateway --test many_gateways -- --ignored --nocapture measure_login_rate`.
/// CPU seconds (user + system) of every FreeRADIUS and PostgreSQL process now.
fn tier_cpu() -> f64 {
    let mut total = 0.0;
    for comm in ["freeradius", "postgres"] {
        let o = lab::run(&["pgrep", "-x", comm]);
        for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 =
                f[11].parse::<f64>().unwrap_or(0.0) + f[12].parse::<f64>().unwrap_or(0.0);
            total += ticks / 100.0;
        }
    }
    total
}

/// The load generator's users all come from one address: the per-peer admission limits
/// (10 new SAs/s, 8 half-open by default) would measure themselves.
const UNLIMITED: &[&str] = &[
    "--limit",
    "new-sas-per-peer-per-sec=100000",
    "--limit",
    "max-half-open-per-peer=100000",
];

#[test]
#[ignore = "a measurement (minutes): run with --ignored, see the README"]
fn measure_login_rate() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let secs: u64 = std::env::var("RATE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let users: Vec<(String, String)> = (0..64)
        .map(|n| (format!("load{n}"), "loadpass".to_string()))
        .collect();
    let pool = ("10.89.130.1", "10.89.130.250");
    let loadgen = env!("CARGO_BIN_EXE_pix-loadgen");
    let run = |ml: &MultiLab, gateways: &[(u8, String)], conc: u32| -> Vec<(f64, String)> {
        let cpu0 = tier_cpu();
        let handles: Vec<_> = gateways
            .iter()
            .map(|(k, ns)| {
                let (k, ns) = (*k, ns.clone());
                let target = ml.client_target(k);
                let secs = secs.to_string();
                let conc = conc.to_string();
                let loadgen = loadgen.to_string();
                std::thread::spawn(move || {
                    let o = std::process::Command::new("ip")
                        .args(["netns", "exec", &ns, "timeout", "300", &loadgen])
                        .args([
                            "--gateway",
                            &target,
                            "--rate-secs",
                            &secs,
                            "--concurrency",
                            &conc,
                        ])
                        .args([
                            "--user",
                            "load",
                            "--user-count",
                            "64",
                            "--password",
                            "loadpass",
                        ])
                        .args(["--reuse-client-dh", "--timeout-secs", "20"])
                        .output()
                        .unwrap();
                    String::from_utf8_lossy(&o.stdout).into_owned()
                })
            })
            .collect();
        let r: Vec<(f64, String)> = handles
            .into_iter()
            .map(|h| {
                let out = h.join().unwrap();
                let rate = out
                    .lines()
                    .find_map(|l| l.strip_prefix("RATE_HANDSHAKES_PER_SEC "))
                    .and_then(|r| r.trim().parse().ok())
                    .unwrap_or_else(|| panic!("no rate from pix-loadgen:\n{out}"));
                let lat = out
                    .lines()
                    .filter(|l| l.starts_with("rate: completed") || l.starts_with("rate: failed"))
                    .collect::<Vec<_>>()
                    .join("; ");
                (rate, lat)
            })
            .collect();
        let cpu = tier_cpu() - cpu0;
        let logins: f64 = r.iter().map(|(x, _)| x).sum::<f64>() * secs as f64;
        eprintln!(
            "    FreeRADIUS + PostgreSQL CPU: {cpu:.2} s, {:.2} ms per login",
            cpu * 1e3 / logins.max(1.0)
        );
        r
    };
    let report = |what: &str, r: &[(f64, String)]| {
        let total: f64 = r.iter().map(|(x, _)| x).sum();
        eprintln!("LOGIN_RATE {what}: {total:.1} logins/s");
        for (x, l) in r {
            eprintln!("    {x:.1}/s  {l}");
        }
    };
    // One gateway, local pool (Xauth still asks FreeRADIUS; no session accounting).
    {
        let mut ml = MultiLab::new(1, Outside::ActiveActive);
        let _t = tier_opts(&ml, users.clone(), pool, false);
        let cfg = ml.gateway_config(
            1,
            &[
                (
                    "crypto map mymap client authentication LOCAL",
                    "crypto map mymap client authentication RAD",
                ),
                (
                    "ip local pool VPNpool 10.89.129.200-10.89.129.204",
                    "ip local pool VPNpool 10.89.130.1-10.89.130.250",
                ),
            ],
            &[
                "aaa-server RAD protocol radius",
                &format!("aaa-server RAD (inside) host {AAA_HOST} {KEY} timeout 2"),
            ],
        );
        ml.start_gateway(1, &cfg, &demo_secrets(), UNLIMITED);
        let ns = ml.direct_client(1);
        for conc in [1, 8] {
            report(
                &format!("one gateway, local pool, {conc} in flight"),
                &run(&ml, &[(1, ns.clone())], conc),
            );
        }
    }
    // One, then two gateways with the RADIUS pool and session accounting.
    for n in [1u8, 2] {
        let mut ml = MultiLab::new(n, Outside::ActiveActive);
        let _t = tier_opts(&ml, users.clone(), pool, false);
        let mut ks = Vec::new();
        for k in 1..=n {
            start(&mut ml, k, UNLIMITED);
            ks.push((k, ml.direct_client(k)));
        }
        for conc in if n == 1 { vec![1, 8] } else { vec![8] } {
            report(
                &format!(
                    "{n} gateway(s), RADIUS pool (sqlippool on PostgreSQL) + session accounting, {conc} in flight per gateway"
                ),
                &run(&ml, &ks, conc),
            );
        }
    }
}

/// `ROUNDS` (default 10) failovers of a pair: SIGKILL of the active unit, the address
/// moving (keepalived), the standby's Accounting-On, vpnc's DPD giving up, vpnc started
/// again, first ping reply through the new active unit; the killed unit comes back as
/// the standby for the next round. Prints each round and the medians. A measurement:
/// `cargo test --profile flood -p pix-gateway --test many_gateways -- --ignored --nocapture measure_failover`.
#[test]
#[ignore = "a measurement (minutes): run with --ignored, see the README"]
fn measure_failover() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let mut ml = MultiLab::new(2, Outside::FailoverPair);
    ml.proc_secs = 3600;
    let t = tier(&ml);
    for k in [1, 2] {
        start(&mut ml, k, &["--failover", "standby"]);
    }
    let (mut active, _) = ml.start_failover(|ml, k| ml.vrrp_for_gateway(k));
    let ns = ml.direct_client(1);
    let conf = VpncConf {
        dpd_idle: 10,
        ..vpnc_conf(VIP, 1)
    };
    let (mut p, ifname) = ml.lab.vpnc(&ns, "vpnc-0", &conf, 1);
    let a = ml
        .lab
        .wait_tunnel(&ns, &ifname, p, 45)
        .expect("first tunnel");
    let mut rows: Vec<[f64; 4]> = Vec::new();
    for round in 1..=rounds {
        assert!(
            ml.lab.ping(&ns, 1) >= 1,
            "round {round}: no tunnel before\n{}",
            ml.lab.logs()
        );
        let standby = 3 - active;
        let t0 = Instant::now();
        ml.kill_gateway(active);
        let moved = ml
            .wait_vip(standby, Duration::from_secs(10))
            .expect("address moved");
        wait_for(Duration::from_secs(10), || {
            t.open_sessions()
                .iter()
                .all(|s| s.nas_identifier != format!("gw{active}"))
        });
        let closed = t0.elapsed();
        assert!(
            wait_for(Duration::from_secs(120), || !ml.lab.proc(p).alive()),
            "vpnc kept running"
        );
        let dpd = t0.elapsed();
        let (p2, ifname2) = ml.lab.vpnc(&ns, &format!("vpnc-{round}"), &conf, 1);
        p = p2;
        let b = ml.lab.wait_tunnel(&ns, &ifname2, p, 45);
        assert_eq!(
            b.as_deref(),
            Some(a.as_str()),
            "round {round}: another address\n{}\n{}\n----- FreeRADIUS -----\n{}",
            ml.lab.logs(),
            ml.keepalived_logs(),
            radius_digest(&t)
        );
        assert!(wait_for(Duration::from_secs(20), || ml.lab.ping(&ns, 1) >= 1));
        let ping = t0.elapsed();
        let row = [
            moved.as_secs_f64(),
            closed.as_secs_f64(),
            dpd.as_secs_f64(),
            ping.as_secs_f64(),
        ];
        eprintln!(
            "round {round}: address moved {:.2} s, old session closed {:.2} s, vpnc DPD gave up {:.2} s, first ping reply {:.2} s after SIGKILL",
            row[0], row[1], row[2], row[3]
        );
        rows.push(row);
        // The killed unit comes back as the standby (keepalived does not preempt); the
        // next round starts once its keepalived is BACKUP again (its check passing), as a
        // standby that has been up for a while is.
        start(&mut ml, active, &["--failover", "standby"]);
        assert!(
            wait_for(Duration::from_secs(10), || ml.vrrp_state(active).as_deref()
                == Some("BACKUP")),
            "unit {active} did not return to BACKUP:\n{}",
            ml.keepalived_logs()
        );
        active = standby;
    }
    let median = |i: usize| {
        let mut v: Vec<f64> = rows.iter().map(|r| r[i]).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "FAILOVER medians over {rounds}: address moved {:.2} s, old session closed {:.2} s, vpnc DPD {:.2} s, first ping reply {:.2} s after SIGKILL",
        median(0), median(1), median(2), median(3)
    );
}
