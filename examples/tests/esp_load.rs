//! The data-plane load generator against `pix-gateway run` (issue 20, item 1): in the
//! lab's namespaces, `pix-loadgen --esp` brings up two real tunnels from a client
//! namespace, each from an address of its own (`--bind-spread 2`: 192.168.1.11 and .12,
//! as two users; our ike-sm initiator: Aggressive Mode, Xauth, Mode Config, Quick Mode)
//! and sends ESP both ways for 2 s at 500 packets/s per direction (a debug-build gateway
//! keeps up with that easily); `pix-loadgen --esp-inside` runs behind the gateway on the
//! inside host's address 10.89.129.131 (the lab's inside namespace, reached through the
//! gateway's TUN device and the kernel's forwarding). Checked: both tunnels up, every
//! packet sent up reached the inside and every packet sent down was decrypted by the
//! clients, bar a small loss; the load generator's numbers agree with the inside
//! counterpart's own; nothing failed to decrypt; the gateway's CPU time was read; the
//! tunnels are deleted afterwards (the pool is free again).
//!
//! The same with `--natt` (ESP in UDP on port 4500, RFC 3948): the gateway has
//! `isakmp nat-traversal 20`, the initiator forces the float without a NAT (a NAT-D
//! hash of a fake address, as strongSwan's `forceencaps`), and at a modest rate nothing
//! is lost either way; the gateway shows its SAs as `Tunnel UDP-Encaps` while they are up.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::Duration;

const LOADGEN: &str = env!("CARGO_BIN_EXE_pix-loadgen");
const SINK: &str = "10.89.129.131:9000";
const RATE: u64 = 500;
const SECS: u64 = 2;
/// The inside counterpart's lifetime: it must outlive the load generator's handshakes,
/// window, drain and queries, and then print its totals.
const SINK_SECS: u64 = 8;

/// The value of the `KEY value` line of `out`.
fn value(out: &str, key: &str) -> Option<f64> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `pix-gateway show WHAT` in the gateway's namespace `ns` (from a thread of its own,
/// while the load generator runs), under `timeout` like every lab process.
fn show_in(ns: &str, control: &std::path::Path, what: &str) -> String {
    let o = std::process::Command::new("ip")
        .args([
            "netns", "exec", ns, "timeout", "-k", "2", "10", GATEWAY, "show",
        ])
        .arg("--control")
        .arg(control)
        .args(what.split_whitespace())
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `key=value` of the `INSIDE ...` line.
fn inside_field(log: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with("INSIDE clients="))
        .unwrap_or_else(|| panic!("no INSIDE totals line in\n{log}"));
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}="))?.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

#[test]
fn esp_both_ways_through_two_tunnels() {
    esp_both_ways(false);
}

#[test]
fn esp_in_udp_both_ways_through_two_tunnels() {
    esp_both_ways(true);
}

/// ESP-in-UDP: the rate per direction (low enough that a debug-build gateway on a busy
/// machine loses nothing).
const NATT_RATE: u64 = 300;

fn esp_both_ways(natt: bool) {
    let _g = serial();
    require_root_and_tools(&["ip"]);
    let mut lab = Lab::new();
    let client = lab.direct_client(1);
    // A second user's address on the client's wan port (192.168.1.11/24).
    let addrs = lab.exec(&client, 10, &["ip", "-o", "-4", "addr", "show"]);
    let addrs = String::from_utf8_lossy(&addrs.stdout).into_owned();
    let dev = addrs
        .lines()
        .find(|l| l.contains("192.168.1.11/24"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no 192.168.1.11 in\n{addrs}"))
        .to_string();
    let o = lab.exec(
        &client,
        10,
        &["ip", "addr", "add", "192.168.1.12/24", "dev", &dev],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut cfg = std::fs::read_to_string(DEMO_CFG).unwrap();
    if natt {
        cfg.push_str("\nisakmp nat-traversal 20\n");
    }
    let gw_i = lab.start_gateway_quiet(&cfg, &demo_secrets(), &[]);
    let pid = child_pid(&mut lab, gw_i, "pix-gateway").to_string();
    let inside = lab.inside.clone();
    let sink_secs = SINK_SECS.to_string();
    let sink = lab.spawn(
        &inside,
        "inside",
        &[
            LOADGEN,
            "--esp-inside",
            "--listen",
            SINK,
            "--secs",
            &sink_secs,
        ],
        (SINK_SECS + 10) as u32,
    );
    assert!(
        wait_for(Duration::from_secs(5), || lab
            .proc(sink)
            .log_text()
            .contains("INSIDE listening")),
        "the inside counterpart did not start:\n{}",
        lab.proc(sink).log_text()
    );
    let rate_pps = if natt { NATT_RATE } else { RATE };
    let (rate, secs) = (rate_pps.to_string(), SECS.to_string());
    // While the load runs: the gateway's view of the SAs (UDP-encapsulated or not).
    let ctl = lab.control.clone();
    let gw_ns = lab.gw.clone();
    let during = std::thread::spawn(move || {
        // Polled until both tunnels' SAs are there (the handshakes take a fraction of a
        // second, the window SECS), bounded; the last answer otherwise.
        let end = std::time::Instant::now() + Duration::from_secs(SECS + 20);
        loop {
            let out = show_in(&gw_ns, &ctl, "crypto ipsec sa");
            if out.matches("in use settings").count() >= 4 || std::time::Instant::now() > end {
                return out;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let natt_arg = if natt { "--natt" } else { "--esp-verify-every" };
    let natt_val: &[&str] = if natt { &[] } else { &["4"] };
    let mut args = vec![
        LOADGEN,
        "--esp",
        "--gateway",
        GW_IP,
        "--bind",
        "192.168.1.11",
        "--bind-spread",
        "2",
        "--tunnels",
        "2",
        "--esp-secs",
        &secs,
        "--esp-rate",
        &rate,
        "--esp-size",
        "512",
        "--direction",
        "both",
        "--inside",
        SINK,
        "--gateway-pid",
        &pid,
    ];
    // Raw ESP: open one in four packets coming back, count the rest by their length;
    // ESP in UDP: open them all.
    args.push(natt_arg);
    args.extend_from_slice(natt_val);
    let o = lab.exec(&client, 60, &args);
    let sas_during = during.join().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    eprintln!("pix-loadgen --esp:\n{out}{err}");
    let ctx = format!("stdout:\n{out}\nstderr:\n{err}\n{}", lab.logs());
    assert!(o.status.success(), "pix-loadgen --esp failed: {ctx}");
    let v = |k: &str| value(&out, k).unwrap_or_else(|| panic!("no {k} line: {ctx}"));
    assert_eq!(v("ESP_TUNNELS"), 2.0, "{ctx}");
    // The schedule: the rate per direction for SECS seconds.
    let expect = (rate_pps * SECS) as f64;
    for dir in ["UP", "DOWN"] {
        let sent = v(&format!("ESP_{dir}_SENT"));
        let got = v(&format!("ESP_{dir}_RECEIVED"));
        assert!(
            sent >= 0.9 * expect && sent <= 1.1 * expect,
            "{dir}: {sent} sent, the schedule says {expect}: {ctx}"
        );
        assert!(
            got >= 0.97 * sent && got <= sent,
            "{dir}: {got} of {sent} received: {ctx}"
        );
        assert!(v(&format!("ESP_{dir}_LOSS_PCT")) <= 3.0, "{ctx}");
        if natt {
            assert_eq!(
                got, sent,
                "{dir}: ESP in UDP at a modest rate loses nothing: {ctx}"
            );
        }
    }
    assert_eq!(v("ESP_DECRYPT_ERRORS"), 0.0, "{ctx}");
    let (verified, down) = (v("ESP_DOWN_VERIFIED"), v("ESP_DOWN_RECEIVED"));
    if natt {
        assert_eq!(verified, down, "every packet back opened: {ctx}");
    } else {
        // One in four data packets back was decrypted and verified (the first ones all).
        assert!(
            verified >= down / 4.0 - 1.0 && verified <= down / 4.0 + 2.0,
            "{verified} of {down} verified: {ctx}"
        );
    }
    // The gateway's SAs as it showed them during the load.
    let settings = if natt {
        "in use settings ={Tunnel UDP-Encaps, }"
    } else {
        "in use settings ={Tunnel, }"
    };
    assert_eq!(
        sas_during.matches(settings).count(),
        4,
        "two tunnels, an inbound and an outbound SA each, with {settings}:\n{sas_during}\n{ctx}"
    );
    // 512-byte inner packets: the inner rate follows from the packet rate.
    let mbit = v("MBIT_PER_S");
    let from_pps = v("ESP_PPS_RECEIVED") * 512.0 * 8.0 / 1e6;
    assert!((mbit - from_pps).abs() <= 0.05 * from_pps + 0.1, "{ctx}");
    assert!(v("GATEWAY_CPU_SECS") > 0.0, "{ctx}");
    assert!(v("GATEWAY_CPU_SECS_PER_GB") > 0.0, "{ctx}");

    // The inside counterpart's own totals agree with what the load generator printed.
    assert!(
        wait_for(Duration::from_secs(SINK_SECS + 5), || !lab
            .proc(sink)
            .alive()),
        "the inside counterpart did not stop after --secs"
    );
    let log = lab.proc(sink).log_text();
    assert_eq!(inside_field(&log, "clients"), 2, "{log}");
    assert_eq!(
        inside_field(&log, "rx_packets") as f64,
        v("ESP_UP_RECEIVED"),
        "{log}\n{ctx}"
    );
    assert_eq!(
        inside_field(&log, "tx_packets") as f64,
        v("ESP_DOWN_SENT"),
        "{log}\n{ctx}"
    );
    assert_eq!(
        inside_field(&log, "rx_bytes"),
        inside_field(&log, "rx_packets") * 512
    );

    // The load generator deleted its tunnels: no SA left, the pool is free.
    let gone = wait_for(Duration::from_secs(5), || {
        lab.show("crypto isakmp sa")
            .lines()
            .any(|l| l.starts_with("Total") && l.split_whitespace().nth(2) == Some("0"))
    });
    let pool = lab.show("local-pool");
    assert!(
        gone,
        "SAs left after the load generator deleted its tunnels:\n{}",
        lab.show("crypto isakmp sa")
    );
    assert!(
        pool.lines()
            .any(|l| l.split_whitespace().next() == Some("VPNpool")
                && l.split_whitespace().nth(4) == Some("0")),
        "pool addresses left in use:\n{pool}"
    );
}
