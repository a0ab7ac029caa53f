//! VPN-session accounting in memory (issue 18): the gateway core with
//! `Settings::session_accounting` against `testkit::aaa::MemRadius`, on a virtual clock.
//! One Start when the user's tunnel is up, Interim-Updates on time, one Stop per
//! session with its time, octets, packets and the Acct-Terminate-Cause of the way it
//! ended (client delete, DPD, idle time, clear, shutdown); Accounting-On for the NAS;
//! the per-client route outputs the shell turns into host routes and proxy ARP.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::{base, icmp, radius_aaa, radius_auth, radius_plan, vpn_4x, Net, GW_IP};
use pix_gateway::gateway::session_acct::SessionAccounting;
use pix_gateway::gateway::setup::{self, Plan};
use pix_gateway::{Input, Settings};
use testkit::aaa::RadiusAcctRecord;
use xauth::radius::AcctStatus;

const NAS_ID: &str = "pix-a";

fn settings(interim: Option<u64>) -> Settings {
    let mut s = Settings::new(GW_IP);
    s.session_accounting = Some(SessionAccounting {
        tag: "RADIUS".into(),
        interim: interim.map(Duration::from_secs),
    });
    s.nas_identifier = Some(NAS_ID.into());
    s.epoch_at_start = 1_700_000_000;
    s
}

fn net_with(plan: Plan, interim: Option<u64>, seed: u64) -> Net {
    Net::one(plan, settings(interim), radius_aaa(), seed, base())
}

fn records(net: &Net) -> Vec<RadiusAcctRecord> {
    net.aaa.radius(radius_auth()).unwrap().accounting().to_vec()
}

fn of_status(net: &Net, s: AcctStatus) -> Vec<RadiusAcctRecord> {
    records(net)
        .into_iter()
        .filter(|r| r.status() == Some(s))
        .collect()
}

/// Pings the inside host `n` times and gets the replies.
fn traffic(net: &mut Net, c: usize, addr: Ipv4Addr, n: usize) {
    for _ in 0..n {
        let ping = icmp(&addr.to_string(), "10.89.129.131", false);
        assert_eq!(net.client_sends(c, &ping).1, Some(ping));
        let pong = icmp("10.89.129.131", &addr.to_string(), true);
        assert_eq!(net.inside_at(0, &pong), Some((c, pong)));
    }
}

/// Advances the virtual clock by `secs` in one-second steps, running the core's timers.
fn wait(net: &mut Net, secs: u64) {
    for _ in 0..secs {
        net.now += Duration::from_secs(1);
        net.core_timeouts();
    }
}

fn one_stop(net: &Net) -> RadiusAcctRecord {
    let stops = of_status(net, AcctStatus::Stop);
    assert_eq!(stops.len(), 1, "{:?}", net.texts());
    stops[0].clone()
}

#[test]
fn start_interim_and_stop_on_client_delete_carry_the_session() {
    let mut net = net_with(radius_plan(2, |t| t), Some(30), 1);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    let addr = net.quick_mode(c, sa);

    // The Access-Request named the NAS and the client.
    let server = net.aaa.radius(radius_auth()).unwrap();
    let a = &server.attempts()[0];
    assert_eq!(a.nas_identifier.as_deref(), Some(NAS_ID.as_bytes()));
    assert_eq!(a.calling_station_id.as_deref(), Some(&b"198.51.100.7"[..]));
    assert_eq!(a.nas_ip, Some(GW_IP));

    // One Start: user, address, client, NAS, a session id; no counters yet.
    let starts = of_status(&net, AcctStatus::Start);
    assert_eq!(starts.len(), 1, "{:?}", net.texts());
    let s = &starts[0];
    assert_eq!(s.user.as_deref(), Some(&b"cisco_customer"[..]));
    assert_eq!(s.framed_ip, Some(addr));
    assert_eq!(s.calling_station_id.as_deref(), Some(&b"198.51.100.7"[..]));
    assert_eq!(s.nas_ip, Some(GW_IP));
    assert_eq!(s.nas_identifier.as_deref(), Some(NAS_ID.as_bytes()));
    assert_eq!(s.input_octets, None);
    let id = s.session_id.clone().unwrap();
    assert!(
        id.starts_with(format!("{:08X}", 1_700_000_000u32).as_bytes()),
        "{id:?}"
    );
    // The route for the shell's host route and proxy ARP.
    assert_eq!(net.routes, [(0, addr, true)]);

    traffic(&mut net, c, addr, 3);
    // No interim before its time, one after it, with what went through so far.
    wait(&mut net, 29);
    assert!(of_status(&net, AcctStatus::InterimUpdate).is_empty());
    wait(&mut net, 1);
    let interims = of_status(&net, AcctStatus::InterimUpdate);
    assert_eq!(interims.len(), 1, "{:?}", net.texts());
    let i = &interims[0];
    assert_eq!(i.session_id.as_deref(), Some(&id[..]));
    assert_eq!((i.input_packets, i.output_packets), (Some(3), Some(3)));
    let (in1, out1) = (i.input_octets.unwrap(), i.output_octets.unwrap());
    assert!(in1 >= 3 * 28 && out1 >= 3 * 28, "{in1} {out1}");
    assert_eq!(i.session_time, Some(30));
    wait(&mut net, 30);
    assert_eq!(of_status(&net, AcctStatus::InterimUpdate).len(), 2);

    // The client deletes its SA: one Stop, User-Request, with the whole session.
    traffic(&mut net, c, addr, 2);
    let now = net.now;
    net.clients[c].ep.delete(now, sa, &mut net.rng).unwrap();
    net.pump();
    let stop = one_stop(&net);
    assert_eq!(stop.session_id.as_deref(), Some(&id[..]));
    assert_eq!(stop.terminate_cause, Some(1), "User-Request");
    assert_eq!(
        (stop.input_packets, stop.output_packets),
        (Some(5), Some(5))
    );
    assert!(stop.input_octets.unwrap() > in1);
    assert_eq!(stop.session_time, Some(60));
    assert_eq!(stop.framed_ip, Some(addr));
    assert_eq!(
        stop.calling_station_id.as_deref(),
        Some(&b"198.51.100.7"[..])
    );
    assert_eq!(net.routes, [(0, addr, true), (0, addr, false)]);
    // Nothing after the Stop.
    wait(&mut net, 90);
    assert_eq!(records(&net).len(), 4);
    // Counted without debug: four session records, each acknowledged by the server.
    let m = net.shards[0].whole(net.now, None).metrics_text();
    assert!(
        m.contains("pix_aaa_accounting_total{result=\"session_records_sent\"} 4\n"),
        "{m}"
    );
    let acked: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("pix_aaa_accounting_total{result=\"acknowledged\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(acked >= 4, "{m}");
}

#[test]
fn every_way_a_session_ends_has_its_terminate_cause() {
    // clear crypto isakmp sa: Admin-Reset.
    let mut net = net_with(radius_plan(2, |t| t), None, 2);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    net.connect(c, "cisco_customer", "cisco123");
    net.command(0, "clear crypto isakmp sa");
    assert_eq!(one_stop(&net).terminate_cause, Some(6), "Admin-Reset");
    assert!(of_status(&net, AcctStatus::InterimUpdate).is_empty());

    // Shutdown: Admin-Reboot.
    let mut net = net_with(radius_plan(2, |t| t), None, 3);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    net.connect(c, "cisco_customer", "cisco123");
    let now = net.now;
    net.shards[0].handle(now, Input::Shutdown, &mut net.rng);
    net.pump();
    assert_eq!(one_stop(&net).terminate_cause, Some(7), "Admin-Reboot");

    // vpngroup idle-time: Idle-Timeout.
    let mut net = net_with(
        radius_plan(2, |t| format!("{t}vpngroup vpn3000 idle-time 60\n")),
        None,
        4,
    );
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    net.connect(c, "cisco_customer", "cisco123");
    wait(&mut net, 61);
    let stop = one_stop(&net);
    assert_eq!(stop.terminate_cause, Some(4), "Idle-Timeout");
    assert!(stop.session_time.unwrap() >= 60);

    // vpngroup max-time: Session-Timeout.
    let mut net = net_with(
        radius_plan(2, |t| format!("{t}vpngroup vpn3000 max-time 90\n")),
        None,
        9,
    );
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let addr = net.connect(c, "cisco_customer", "cisco123");
    for _ in 0..8 {
        traffic(&mut net, c, addr, 1);
        wait(&mut net, 10);
    }
    assert!(
        of_status(&net, AcctStatus::Stop).is_empty(),
        "{:?}",
        net.texts()
    );
    traffic(&mut net, c, addr, 1);
    wait(&mut net, 10);
    let stop = one_stop(&net);
    assert_eq!(stop.terminate_cause, Some(5), "Session-Timeout");

    // A client that goes silent: DPD finds it dead, Lost-Carrier.
    let mut plan = radius_plan(2, |t| t);
    setup::apply_limit(&mut plan.ike.limits, "dpd-idle=10").unwrap();
    let mut net = net_with(plan, None, 5);
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    net.connect(c, "cisco_customer", "cisco123");
    net.clients.remove(c);
    wait(&mut net, 120);
    let stop = one_stop(&net);
    assert_eq!(
        stop.terminate_cause,
        Some(2),
        "Lost-Carrier: {:?}",
        net.texts()
    );
}

#[test]
fn accounting_on_names_the_nas_and_a_server_without_session_accounting_gets_nothing() {
    let mut net = net_with(radius_plan(2, |t| t), None, 6);
    let now = net.now;
    net.shards[0]
        .account_nas(now, AcctStatus::AccountingOn, &mut net.rng)
        .unwrap();
    net.pump();
    let on = of_status(&net, AcctStatus::AccountingOn);
    assert_eq!(on.len(), 1);
    assert_eq!(on[0].user, None);
    assert_eq!(on[0].nas_ip, Some(GW_IP));
    assert_eq!(on[0].nas_identifier.as_deref(), Some(NAS_ID.as_bytes()));
    assert_eq!(on[0].calling_station_id, None);

    // Without session accounting: no session records, and account_nas says why.
    let mut net = Net::one(
        radius_plan(2, |t| t),
        Settings::new(GW_IP),
        radius_aaa(),
        7,
        base(),
    );
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    net.connect(c, "cisco_customer", "cisco123");
    net.command(0, "clear crypto isakmp sa");
    assert!(records(&net).is_empty());
    let now = net.now;
    let e = net.shards[0]
        .account_nas(now, AcctStatus::AccountingOn, &mut net.rng)
        .unwrap_err();
    assert!(e.contains("--session-accounting"), "{e}");
}

/// The demo without any `ip local pool`: addresses come from RADIUS only.
fn radius_only_plan() -> Plan {
    radius_plan(2, |t| {
        let t2: String = t
            .lines()
            .filter(|l| !l.starts_with("ip local pool") && !l.contains("address-pool"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(t, t2, "the demo changed");
        t2
    })
}

#[test]
fn without_a_local_pool_addresses_come_from_radius_only() {
    let framed: Ipv4Addr = "10.89.129.197".parse().unwrap();
    let mut server = common::radius_server();
    server.add_user("framed_user", "framed123", Some(framed));
    let aaa = testkit::aaa::MemAaa::new().with_radius(
        common::radius_auth(),
        common::radius_acct(),
        server,
    );
    let mut net = Net::one(radius_only_plan(), settings(None), aaa, 8, base());
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let sa = net.login(c, vpn_4x("framed_user", "framed123"));
    assert_eq!(net.quick_mode(c, sa), framed);
    traffic(&mut net, c, framed, 1);
    assert_eq!(net.routes, [(0, framed, true)]);
    let start = &of_status(&net, AcctStatus::Start)[0];
    assert_eq!(start.framed_ip, Some(framed));

    // A user the server gives no address: refused, nothing accounted, no route.
    let d = net.add_client("198.51.100.8:500".parse().unwrap());
    let sa = net.login(d, vpn_4x("cisco_customer", "cisco123"));
    assert!(
        !net.clients[d].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    assert_eq!(of_status(&net, AcctStatus::Start).len(), 1);
    assert_eq!(net.routes.len(), 1);
    assert_eq!(
        net.shards[0]
            .sessions()
            .filter(|s| s.user.is_some())
            .count(),
        1
    );
}

/// Logins wait for the Accounting-On's answer: the server closes this NAS's old
/// sessions and frees their leases when it handles it, and would sweep a new login's
/// lease and Start away with them.
#[test]
fn logins_wait_for_the_accounting_on_answer() {
    let mut net = net_with(radius_plan(2, |t| t), None, 10);
    net.aaa.radius_mut(radius_auth()).unwrap().set_silent(true);
    let now = net.now;
    net.shards[0]
        .account_nas(now, AcctStatus::AccountingOn, &mut net.rng)
        .unwrap();
    net.pump();
    let c = net.add_client("198.51.100.7:500".parse().unwrap());
    let sa = net.login(c, vpn_4x("cisco_customer", "cisco123"));
    assert!(!net.clients[c].ep.ready_for_quick_mode(sa));
    let server = net.aaa.radius(radius_auth()).unwrap();
    // The silent server saw the On only: no Access-Request before the On's answer.
    assert_eq!(server.drops().len(), 1, "{:?}", server.drops());
    assert!(server.attempts().is_empty());
    // The server answers the On's resend; then the held login goes on.
    net.aaa.radius_mut(radius_auth()).unwrap().set_silent(false);
    wait(&mut net, 3);
    assert_eq!(of_status(&net, AcctStatus::AccountingOn).len(), 1);
    assert!(
        net.clients[c].ep.ready_for_quick_mode(sa),
        "{:?}",
        net.texts()
    );
    let addr = net.quick_mode(c, sa);
    assert_eq!(of_status(&net, AcctStatus::Start)[0].framed_ip, Some(addr));
}

/// A gateway restarted within the same second numbers its sessions from 0 again: the
/// Acct-Session-Id still differs (an old one, with the same user and NAS, would name
/// the old, stopped radacct row and the new session would never show as open).
#[test]
fn a_gateway_restarted_within_the_same_second_never_reuses_a_session_id() {
    let ids: Vec<Vec<u8>> = [11u64, 12]
        .into_iter()
        .map(|seed| {
            let mut net = net_with(radius_plan(2, |t| t), None, seed);
            let c = net.add_client("198.51.100.7:500".parse().unwrap());
            net.connect(c, "cisco_customer", "cisco123");
            of_status(&net, AcctStatus::Start)[0]
                .session_id
                .clone()
                .unwrap()
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[0][..8], ids[1][..8], "both start with the same second");
}
