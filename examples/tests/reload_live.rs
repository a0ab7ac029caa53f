//! `pix-gateway reload`, SIGHUP and `show running-config` through `pix-gateway run`
//! with real vpnc clients (issue 19): a reload that changes the policy keeps both users
//! connected and prints what changed; a broken configuration changes nothing and says
//! why; a reload (by SIGHUP) that removes one group logs its user out and leaves the
//! other one alone; `show running-config` prints the running configuration in PIX order
//! with every secret masked.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::Duration;

const TOOLS: &[&str] = &["ip", "vpnc", "python3", "ping"];

fn client(group: &str, secret: &str, user: &str, password: &str) -> VpncConf {
    VpncConf {
        natt: "none".into(),
        group: group.into(),
        secret: secret.into(),
        user: user.into(),
        password: password.into(),
        ..VpncConf::default()
    }
}

/// The demo with a second group `sales` on its own pool.
fn config(hostname: &str, sales: bool, extra: &[&str]) -> String {
    let mut append: Vec<&str> = extra.to_vec();
    if sales {
        append.extend([
            "ip local pool SALES 10.89.129.205-10.89.129.207",
            "vpngroup sales address-pool SALES",
            "vpngroup sales password ********",
        ]);
    }
    let host = format!("hostname {hostname}");
    config_with(&[("hostname pixfirewall", host.as_str())], &append)
}

fn secrets(sales: bool) -> String {
    let mut s = demo_secrets();
    s.push_str("username bob password b0bs-pw\n");
    if sales {
        s.push_str("vpngroup sales password s4les-k3y\n");
    }
    s
}

fn reload(lab: &Lab) -> String {
    let o = lab.exec(
        &lab.gw,
        30,
        &[
            GATEWAY,
            "reload",
            "--control",
            lab.control.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn reload_keeps_users_refuses_a_broken_configuration_and_logs_out_a_removed_group() {
    require_root_and_tools(TOOLS);
    let _serial = serial();
    let mut lab = Lab::new();
    let gw = lab.start_gateway_quiet(&config("pixfirewall", true, &[]), &secrets(true), &[]);
    let c1 = lab.direct_client(1);
    let c2 = lab.direct_client(2);
    let a = client("vpn3000", "cisco1234", "cisco_customer", "cisco123");
    let b = client("sales", "s4les-k3y", "bob", "b0bs-pw");
    let (pa, _) = lab.vpnc_tunnel(&c1, "vpnc-a", &a, "10.89.129.200");
    let (pb, _) = lab.vpnc_tunnel(&c2, "vpnc-b", &b, "10.89.129.205");
    assert!(
        lab.ping(&c1, 2) >= 1 && lab.ping(&c2, 2) >= 1,
        "{}",
        lab.logs()
    );

    // show running-config: PIX order, secrets masked
    let shown = lab.show("running-config");
    assert!(shown.contains("hostname pixfirewall\n"), "{shown}");
    assert!(
        shown.contains("vpngroup sales password ********"),
        "{shown}"
    );
    assert!(
        !shown.contains("s4les-k3y") && !shown.contains("cisco1234"),
        "{shown}"
    );
    let pos = |l: &str| shown.find(l).unwrap_or_else(|| panic!("{l} in\n{shown}"));
    assert!(pos("hostname ") < pos("access-list ") && pos("access-list ") < pos("ip local pool "));
    assert!(pos("ip local pool ") < pos("crypto map ") && pos("crypto map ") < pos("vpngroup "));

    // 1. a new hostname and ACL line: both users stay
    let cfg = lab.dir.join("gw.cfg");
    std::fs::write(
        &cfg,
        config(
            "pix2",
            true,
            &["access-list 120 permit tcp any host 10.89.129.132 eq www"],
        ),
    )
    .unwrap();
    let out = reload(&lab);
    eprintln!("pix-gateway reload:\n{out}");
    assert!(
        out.contains("- hostname pixfirewall") && out.contains("+ hostname pix2"),
        "{out}"
    );
    assert!(
        out.contains("+ access-list 120 permit tcp any host 10.89.129.132 eq www"),
        "{out}"
    );
    assert!(out.contains("2 session(s) kept, 0 logged out"), "{out}");
    assert!(
        lab.ping(&c1, 2) >= 1 && lab.ping(&c2, 2) >= 1,
        "after reload 1\n{}",
        lab.logs()
    );
    assert!(lab.show("running-config").contains("hostname pix2\n"));
    let uauth = lab.show("uauth");
    assert!(
        uauth.contains("cisco_customer") && uauth.contains("bob"),
        "{uauth}"
    );

    // 2. a broken configuration: refused, nothing changes
    std::fs::write(
        &cfg,
        config("pix3", true, &["ip local pool BAD 10.89.130.9-10.89.130.1"]),
    )
    .unwrap();
    let out = reload(&lab);
    eprintln!("pix-gateway reload (broken):\n{out}");
    assert!(
        out.contains("Reload refused") && out.contains("unchanged"),
        "{out}"
    );
    assert!(out.contains("gw.cfg:"), "the error is located: {out}");
    assert!(lab.show("running-config").contains("hostname pix2\n"));
    assert!(
        lab.ping(&c1, 2) >= 1 && lab.ping(&c2, 2) >= 1,
        "after the refused reload"
    );

    // 3. SIGHUP with the sales group gone: bob is logged out, the other user stays
    std::fs::write(&cfg, config("pix2", false, &[])).unwrap();
    std::fs::write(lab.dir.join("gw.secrets"), secrets(false)).unwrap();
    let pid = lab.proc(gw).child.id().to_string();
    run(&["kill", "-HUP", &pid]);
    let gone = wait_for(Duration::from_secs(15), || {
        lab.proc(gw)
            .log_text()
            .contains("reload: 1 session(s) kept, 1 logged out")
    });
    assert!(gone, "{}", lab.logs());
    let log = lab.proc(gw).log_text();
    assert!(
        log.contains("logged out user 'bob'") && log.contains("vpngroup sales removed"),
        "{log}"
    );
    let uauth = lab.show("uauth");
    assert!(
        uauth.contains("cisco_customer") && !uauth.contains("bob"),
        "{uauth}"
    );
    assert!(
        lab.ping(&c1, 2) >= 1,
        "the vpn3000 user stays\n{}",
        lab.logs()
    );
    // vpnc hears the DELETE and ends its tunnel
    let ended = wait_for(Duration::from_secs(20), || !lab.proc(pb).alive());
    assert!(ended, "vpnc of bob still running\n{}", lab.logs());
    assert!(lab.proc(pa).alive());
    assert!(!lab.show("running-config").contains("vpngroup sales"));
    // and sales can no longer log in
    let again = b.clone();
    lab.vpnc_refused(&c2, "vpnc-b2", &again, 30);
}
