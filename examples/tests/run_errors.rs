//! The errors an operator meets when starting `pix-gateway run` are one clear line each
//! that says what to do, with exit status 1, never a panic or a backtrace; and the control
//! commands (`show`, `debug`) against a live gateway.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::Duration;

fn gateway_in(lab: &Lab, ns: &str, args: &[&str]) -> (i32, String) {
    let mut v = vec![GATEWAY, "run"];
    v.extend_from_slice(args);
    let o = lab.exec(ns, 20, &v);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    (o.status.code().unwrap_or(-1), err)
}

#[test]
fn startup_errors_are_one_line_with_what_to_do() {
    let _g = serial();
    require_root_and_tools(&["ip", "python3", "setpriv"]);
    let lab = Lab::new();
    let gw = lab.gw.clone();
    let ctl = lab.dir.join("ctl.sock");
    let ctl = ctl.to_str().unwrap();
    let secrets = lab.file("s", &demo_secrets());
    let secrets = secrets.to_str().unwrap();

    // a configuration error: compiler-style diagnostics, then the summary line
    let bad = config_with(
        &[(
            "ip address outside 192.168.1.1 255.255.255.0",
            "ip address outside 192.168.1.1 255.255.255.3x",
        )],
        &[],
    );
    let bad = lab.file("bad.cfg", &bad);
    let (code, err) = gateway_in(
        &lab,
        &gw,
        &[
            "--config",
            bad.to_str().unwrap(),
            "--secrets",
            secrets,
            "--control",
            ctl,
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("error") && err.contains("255.255.255.3x"),
        "{err}"
    );
    assert!(err.contains("`pix-gateway check` shows them all"), "{err}");

    // a masked secret with no secrets file
    let cfg = lab.file("ok.cfg", &std::fs::read_to_string(DEMO_CFG).unwrap());
    let cfg = cfg.to_str().unwrap();
    let (code, err) = gateway_in(&lab, &gw, &["--config", cfg, "--control", ctl]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("vpngroup vpn3000 password is masked")
                && l.contains("`vpngroup vpn3000 password <secret>`")),
        "{err}"
    );

    // the outside address is not on this host
    let (code, err) = gateway_in(
        &lab,
        &gw,
        &[
            "--config",
            cfg,
            "--secrets",
            secrets,
            "--control",
            ctl,
            "--outside-addr",
            "192.0.2.99",
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot listen on UDP 192.0.2.99:500") && err.contains("--outside-addr"),
        "{err}"
    );

    // UDP 500 held by another process
    let holder = std::process::Command::new("ip")
        .args(["netns", "exec", &gw, "timeout", "15", "python3", "-c",
            "import socket,time;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(('192.168.1.1',500));print('bound',flush=True);time.sleep(14)"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut holder = holder;
    {
        use std::io::Read;
        let mut b = [0u8; 6];
        holder.stdout.as_mut().unwrap().read_exact(&mut b).unwrap();
    }
    let (code, err) = gateway_in(
        &lab,
        &gw,
        &["--config", cfg, "--secrets", secrets, "--control", ctl],
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot listen on UDP 192.168.1.1:500") && err.contains("stop it"),
        "{err}"
    );

    // an aaa-server host without a key: one line naming it and both ways out; the
    // explicit --allow-keyless-aaa TAG is for RADIUS only, TACACS+ stays an error
    let keyless = lab.file(
        "keyless.cfg",
        &config_with(
            &[],
            &["aaa-server RADIUS (inside) host 10.89.129.140 timeout 3"],
        ),
    );
    let keyless = keyless.to_str().unwrap();
    let base = ["--config", keyless, "--secrets", secrets, "--control", ctl];
    let (code, err) = gateway_in(&lab, &gw, &base);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.lines().any(
            |l| l.contains("aaa-server RADIUS host 10.89.129.140 has no key")
                && l.contains("`aaa-server RADIUS (inside) host 10.89.129.140 KEY`")
                && l.contains("--allow-keyless-aaa RADIUS")
        ),
        "{err}"
    );
    let tacacs = lab.file(
        "keyless-tacacs.cfg",
        &config_with(
            &[],
            &["aaa-server AuthInbound (inside) host 10.89.129.141 timeout 3"],
        ),
    );
    let tacacs = tacacs.to_str().unwrap();
    let mut args = vec!["--config", tacacs, "--secrets", secrets, "--control", ctl];
    args.extend(["--allow-keyless-aaa", "AuthInbound"]);
    let (code, err) = gateway_in(&lab, &gw, &args);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.lines().any(|l| l
            .contains("aaa-server AuthInbound host 10.89.129.141 has no key: TACACS+")
            && l.contains("--allow-keyless-aaa is for RADIUS only")),
        "{err}"
    );

    // not root: the first privileged step says so
    let o = lab.exec(
        &gw,
        20,
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            GATEWAY,
            "run",
            "--config",
            cfg,
            "--secrets",
            secrets,
            "--control",
            "/tmp/pgt-nobody.sock",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("run as root"), "{err}");
    assert_eq!(
        err.lines().filter(|l| !l.contains("lint:")).count(),
        1,
        "one line: {err}"
    );
}

/// `pix-gateway run` with no options: the bundled demo, on 127.0.0.1 only (its
/// credentials are published), saying so; SIGINT deletes nothing (no SAs) and exits 0.
#[test]
fn run_without_options_is_the_demo_and_stops_on_sigint() {
    let _g = serial();
    require_root_and_tools(&["ip"]);
    let mut lab = Lab::new();
    let ns = lab.inside.clone();
    let p = lab.spawn(&ns, "demo", &[GATEWAY, "run"], 30);
    let up = wait_for(Duration::from_secs(15), || {
        lab.proc(p).log_text().contains(" up: IKE on 127.0.0.1:500")
    });
    let log = lab.proc(p).log_text();
    assert!(up, "{log}");
    assert!(log.contains("demo: listening on 127.0.0.1 only; the configuration's ip address outside is 192.168.1.1"), "{log}");
    assert!(
        log.contains(
            "WARNING: the bundled DEMO configuration runs with its PUBLISHED credentials LIVE"
        ),
        "{log}"
    );
    let o = lab.exec(&ns, 10, &[GATEWAY, "show", "crypto", "isakmp", "sa"]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Total     : 0"),
        "{o:?}"
    );
    let pid = lab.proc(p).child.id();
    // the gateway runs under `ip netns exec` and `timeout`: signal the gateway itself
    let _ = run(&["pkill", "-INT", "-P", &pid.to_string()]);
    let done = wait_for(Duration::from_secs(10), || !lab.proc(p).alive());
    let log = lab.proc(p).log_text();
    assert!(done, "{log}");
    assert!(log.contains("SIGINT: stopping"), "{log}");
    assert!(log.contains("deleting 0 IKE SA(s)"), "{log}");
    assert!(log.contains("stopped; 0 address(es) still leased"), "{log}");
    assert!(
        !std::path::Path::new("/run/pix-gateway.sock").exists(),
        "control socket left behind"
    );
}
