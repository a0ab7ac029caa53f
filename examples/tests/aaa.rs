//! Xauth through `pix-gateway run` against real AAA servers on the inside, as the seed
//! has it: a real FreeRADIUS, and the interop kit's TACACS+ server (scapy's codec) on the
//! seed's `aaa-server AuthInbound (inside) host 10.89.129.134`. Clients are real vpnc.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::{Duration, Instant};

const TOOLS: &[&str] = &["ip", "vpnc", "python3", "ping", "freeradius"];

fn raw() -> VpncConf {
    VpncConf {
        natt: "none".into(),
        ..VpncConf::default()
    }
}

fn radius_config(host: &str, key: &str, timeout: u32) -> String {
    config_with(
        &[(
            "crypto map mymap client authentication LOCAL",
            "crypto map mymap client authentication RADIUS",
        )],
        &[&format!(
            "aaa-server RADIUS (inside) host {host} {key} timeout {timeout}"
        )],
    )
}

#[test]
fn xauth_against_freeradius_accept_reject_wrong_key_and_server_down() {
    let _g = serial();
    require_root_and_tools(TOOLS);
    let mut lab = Lab::new();
    let radiusd = lab.freeradius();
    let ns = lab.direct_client(1);

    // accept: the tunnel comes up, traffic flows
    let gw = lab.start_gateway(
        &radius_config(AAA_HOST, "secretkey", 3),
        &demo_secrets(),
        &[],
    );
    let (p, _) = lab.vpnc_tunnel(&ns, "vpnc-radius-ok", &raw(), "10.89.129.200");
    assert!(lab.ping(&ns, 2) >= 1, "{}", lab.logs());
    assert!(lab
        .proc(gw)
        .log_text()
        .contains("xauth: user 'cisco_customer' accepted by aaa-server RADIUS"));
    let rlog = lab.proc(radiusd).log_text();
    assert!(rlog.contains("Sent Access-Accept"), "{rlog}");
    assert!(rlog.contains("NAS-IP-Address = 192.168.1.1"), "{rlog}");
    lab.proc(p).stop(Duration::from_secs(5));

    // Framed-IP-Address: framed_user gets 10.89.129.203 from the server, not .201
    let framed = VpncConf {
        user: "framed_user".into(),
        password: "framed123".into(),
        ..raw()
    };
    let (p, _) = lab.vpnc_tunnel(&ns, "vpnc-radius-framed", &framed, "10.89.129.203");
    assert!(lab.ping(&ns, 2) >= 1, "{}", lab.logs());
    assert!(lab.proc(gw).log_text().contains(
        "aaa-server RADIUS assigns 10.89.129.203 to user 'framed_user' (Framed-IP-Address)"
    ));
    lab.proc(p).stop(Duration::from_secs(5));

    // reject: a wrong password is refused by the server
    lab.vpnc_refused(
        &ns,
        "vpnc-radius-bad",
        &VpncConf {
            password: "nope".into(),
            ..raw()
        },
        30,
    );
    assert!(lab
        .proc(gw)
        .log_text()
        .contains("xauth: user 'cisco_customer' rejected by aaa-server RADIUS"));
    assert!(lab.proc(radiusd).log_text().contains("Sent Access-Reject"));
    lab.proc(gw).stop(Duration::from_secs(5));

    // a wrong shared secret: FreeRADIUS drops what it cannot verify; after the retries
    // the user is refused with a clear line, and no SA is left hanging
    let gw = lab.start_gateway(
        &radius_config(AAA_HOST, "wrongkey", 1),
        &demo_secrets(),
        &[],
    );
    let (_, t) = lab.vpnc_refused(&ns, "vpnc-radius-wrongkey", &raw(), 60);
    let log = lab.proc(gw).log_text();
    assert!(
        log.contains(
            "xauth: user 'cisco_customer' no AAA server answered: rejected by aaa-server RADIUS"
        ),
        "{log}"
    );
    eprintln!("wrong RADIUS key: vpnc refused after {t:.0} ms");
    let clean = wait_for(Duration::from_secs(10), || {
        lab.show("crypto isakmp sa").contains("Total     : 0")
    });
    assert!(clean, "{}", lab.show("crypto isakmp sa"));
    lab.proc(gw).stop(Duration::from_secs(5));

    // the server is down (nothing at that address): the same, never a hung SA
    let gw = lab.start_gateway(
        &radius_config("10.89.129.135", "secretkey", 1),
        &demo_secrets(),
        &[],
    );
    let (_, t) = lab.vpnc_refused(&ns, "vpnc-radius-down", &raw(), 60);
    let log = lab.proc(gw).log_text();
    assert!(
        log.contains("no AAA server answered: rejected by aaa-server RADIUS"),
        "{log}"
    );
    eprintln!("RADIUS down: vpnc refused after {t:.0} ms");
    let clean = wait_for(Duration::from_secs(10), || {
        lab.show("crypto isakmp sa").contains("Total     : 0")
    });
    assert!(clean, "{}", lab.show("crypto isakmp sa"));
    assert!(lab.show("local-pool").contains("VPNpool"));
    lab.proc(gw).stop(Duration::from_secs(5));

    // two servers in the group, the first one dead: tried in order, the second accepts
    let cfg = config_with(
        &[(
            "crypto map mymap client authentication LOCAL",
            "crypto map mymap client authentication RADIUS",
        )],
        &[
            "aaa-server RADIUS (inside) host 10.89.129.135 secretkey timeout 1",
            &format!("aaa-server RADIUS (inside) host {AAA_HOST} secretkey timeout 3"),
        ],
    );
    let gw = lab.start_gateway(&cfg, &demo_secrets(), &[]);
    let t0 = Instant::now();
    let (p, _) = lab.vpnc_tunnel(&ns, "vpnc-radius-failover", &raw(), "10.89.129.200");
    eprintln!(
        "RADIUS failover to the second server: tunnel after {:.0} ms",
        since(t0)
    );
    assert!(lab
        .proc(gw)
        .log_text()
        .contains("xauth: user 'cisco_customer' accepted by aaa-server RADIUS"));
    lab.proc(p).stop(Duration::from_secs(5));
}

#[test]
fn xauth_against_tacacs_with_the_seed_configuration() {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "python3", "ping"]);
    let mut lab = Lab::new();
    let tac = lab.tacacs();
    let ns = lab.direct_client(1);
    // the seed's configuration itself: client authentication AuthInbound, TACACS+ at
    // 10.89.129.134 with key secretkey
    let seed = std::fs::read_to_string(kit("../fixtures/pix63-vpnclient.cfg")).unwrap();
    let gw = lab.start_gateway(&seed, &demo_secrets(), &[]);
    let (p, _) = lab.vpnc_tunnel(&ns, "vpnc-tacacs", &raw(), "10.89.129.200");
    assert!(lab.ping(&ns, 2) >= 1, "{}", lab.logs());
    let log = lab.proc(gw).log_text();
    assert!(
        log.contains("xauth: user 'cisco_customer' accepted by aaa-server AuthInbound"),
        "{log}"
    );
    let tlog = lab.proc(tac).log_text();
    assert!(tlog.contains("PAP user='cisco_customer' -> PASS"), "{tlog}");
    lab.proc(p).stop(Duration::from_secs(5));
    lab.vpnc_refused(
        &ns,
        "vpnc-tacacs-bad",
        &VpncConf {
            password: "nope".into(),
            ..raw()
        },
        30,
    );
    assert!(lab
        .proc(tac)
        .log_text()
        .contains("PAP user='cisco_customer' -> FAIL"));
    assert!(lab
        .proc(gw)
        .log_text()
        .contains("xauth: user 'cisco_customer' rejected by aaa-server AuthInbound"));
}
