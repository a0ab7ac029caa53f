//! Floods of spoofed IKE first messages (issue 15): while `pix-loadgen --flood KIND`
//! sends, from its own namespace, spoofed first messages from random addresses of
//! 10.99.0.0/16 at a rate above the targets, a real vpnc logs in twice (after
//! ~4 s and ~8 s of flood) and must have its tunnel within 3 s each time, and the
//! gateway's peak RSS (VmHWM) must stay under 64 MB.
//!
//! | kind | asked | the generator must reach (the target) |
//! |---|---|---|
//! | `am1`, `am1-unknown-group` | 2,000/s | 1,000/s |
//! | `mm1` | 10,000/s | 5,000/s |
//! | `header` | 60,000/s | 40,000/s |
//!
//! The gateway runs the demo configuration without `--debug` (a debug line per spoofed
//! packet would measure the log file). The spoofed sources are routed from the gateway's
//! namespace back to the flooder's, which drops the replies (`Lab::flooder`).
//! `scripts/flood-bench.sh` measures the highest rate each kind still allows, beside
//! strongSwan.
//!
//! Optimised builds only (`cargo test --profile flood -p pix-gateway --test flood`, which
//! scripts/test.sh runs): a debug gateway, with its unoptimised DH and its debug-only
//! full-pass index checks, saturates one core at about 300 first messages/s of any kind,
//! so the rates cannot be asked of it. Debug builds list these tests as ignored.
#![allow(clippy::disallowed_methods)] // real processes on the real clock
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

mod lab;

use lab::*;
use std::time::{Duration, Instant};

const LOADGEN: &str = env!("CARGO_BIN_EXE_pix-loadgen");
const FLOOD_CIDR: &str = "10.99.0.0/16";
/// The flood lasts this long; the logins start at `LOGIN_AT` seconds into it.
const FLOOD_SECS: u64 = 12;
const LOGIN_AT: [u64; 2] = [4, 8];
/// vpnc start to its tunnel (address and route on its TUN).
const TUNNEL_WITHIN_SECS: u64 = 3;
/// The gateway's peak RSS bound.
const RSS_BOUND_KB: u64 = 64 * 1024;

/// The gateway's process: the child of the `timeout` the lab started it under.
fn gateway_pid(lab: &mut Lab, i: usize) -> u32 {
    child_pid(lab, i, "pix-gateway")
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = &s[s.rfind(')').map_or(0, |i| i + 2)..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// Packets received on `dev` in `ns`.
fn rx_packets(ns: &str, dev: &str) -> u64 {
    let p = format!("/sys/class/net/{dev}/statistics/rx_packets");
    let o = run(&["ip", "netns", "exec", ns, "cat", &p]);
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Our gateway on the demo configuration, without debug; waits until it listens.
fn start_quiet_gateway(lab: &mut Lab) -> usize {
    lab.start_gateway_quiet(
        &std::fs::read_to_string(DEMO_CFG).unwrap(),
        &demo_secrets(),
        &[],
    )
}

/// The count on the line of `show crypto isakmp stats` that ends with `words`.
fn stat(stats: &str, words: &str) -> u64 {
    stats
        .lines()
        .find(|l| l.contains(words))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no `{words}` line in\n{stats}"))
}

/// The `FLOOD ...` line of pix-loadgen: (packets sent, achieved rate).
fn flood_result(log: &str) -> Option<(u64, f64)> {
    let line = log.lines().rev().find(|l| l.starts_with("FLOOD "))?;
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")).map(str::to_string))
    };
    Some((field("sent")?.parse().ok()?, field("rate")?.parse().ok()?))
}

/// One flood kind at `rate` packets/s; the generator must reach `floor`.
fn under_flood(kind: &str, rate: u32, floor: u32) {
    let _g = serial();
    require_root_and_tools(&["ip", "vpnc", "pgrep"]);
    let mut lab = Lab::new();
    let client = lab.direct_client(1);
    let flooder = lab.flooder(FLOOD_CIDR);
    let gw_i = start_quiet_gateway(&mut lab);
    let pid = gateway_pid(&mut lab, gw_i);
    let gw_ns = lab.gw.clone();
    let rss0 = status_kb(pid, "VmRSS:");
    let rx0 = rx_packets(&gw_ns, "va1");
    let cpu0 = cpu_ticks(pid);

    let secs = FLOOD_SECS.to_string();
    let rate_s = rate.to_string();
    let t0 = Instant::now();
    let fl = lab.spawn(
        &flooder,
        "flood",
        &[
            LOADGEN,
            "--flood",
            kind,
            "--rate",
            &rate_s,
            "--sources",
            FLOOD_CIDR,
            "--secs",
            &secs,
            "--gateway",
            GW_IP,
            "--port",
            "500",
        ],
        (FLOOD_SECS + 20) as u32,
    );

    let mut times = Vec::new();
    let mut peak_rss = rss0;
    for (n, at) in LOGIN_AT.iter().enumerate() {
        while t0.elapsed() < Duration::from_secs(*at) {
            peak_rss = peak_rss.max(status_kb(pid, "VmRSS:"));
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            lab.proc(fl).alive(),
            "the flood ended early:\n{}",
            lab.proc(fl).log_text()
        );
        let name = format!("vpnc{n}");
        let start = Instant::now();
        let (p, ifname) = lab.vpnc(&client, &name, &VpncConf::default(), 1);
        let got = lab.wait_tunnel(&client, &ifname, p, TUNNEL_WITHIN_SECS);
        let ms = since(start);
        peak_rss = peak_rss.max(status_kb(pid, "VmRSS:"));
        assert!(
            got.as_deref()
                .is_some_and(|a| a.starts_with("10.89.129.2")),
            "{kind} flood at {rate}/s: vpnc login {n} ({at} s into the flood) got no tunnel within {TUNNEL_WITHIN_SECS} s (got {got:?} after {ms:.0} ms)\n{}",
            lab.logs()
        );
        if n == 0 {
            assert!(
                lab.ping(&client, 1) >= 1,
                "{kind} flood: the tunnel carries no ping\n{}",
                lab.logs()
            );
        }
        times.push(ms);
        lab.proc(p).stop(Duration::from_secs(5));
    }

    let ended = wait_for(Duration::from_secs(FLOOD_SECS + 10), || {
        !lab.proc(fl).alive()
    });
    assert!(ended, "the flood did not stop by itself");
    let wall = t0.elapsed().as_secs_f64();
    let delivered = rx_packets(&gw_ns, "va1").saturating_sub(rx0);
    let cpu = (cpu_ticks(pid) - cpu0) as f64 / 100.0;
    let hwm = status_kb(pid, "VmHWM:");
    let rss = status_kb(pid, "VmRSS:");
    let log = lab.proc(fl).log_text();
    let (sent, achieved) =
        flood_result(&log).unwrap_or_else(|| panic!("pix-loadgen said no FLOOD line:\n{log}"));
    let stats = lab.show("crypto isakmp stats");
    eprintln!(
        "flood {kind}: asked {rate}/s, sent {sent} ({achieved:.0}/s), {delivered} packets reached the gateway's interface; \
         tunnels in {times:.0?} ms; gateway CPU {:.0}% over {wall:.1} s, RSS {rss0} kB -> {rss} kB, peak {hwm} kB (sampled {peak_rss} kB)\n\
         show crypto isakmp stats:\n{stats}",
        cpu * 100.0 / wall
    );
    assert!(
        lab.proc(gw_i).alive(),
        "the gateway died under the {kind} flood:\n{}",
        lab.logs()
    );
    // Visible without debug: the refusals are counted by reason, and the log says so in
    // a bounded number of lines (one per reason per 10 s interval), not one per packet.
    let (counted, words) = match kind {
        "header" => (
            stat(&stats, "first message unusable"),
            "first message unusable",
        ),
        _ => (stat(&stats, "evicted to make room"), "evicted to make room"),
    };
    assert!(
        counted >= u64::from(floor) * FLOOD_SECS / 2,
        "{kind} flood: `show crypto isakmp stats` counts only {counted} ({words})\n{stats}"
    );
    let gw_log = lab.proc(gw_i).log_text();
    let summaries: Vec<&str> = gw_log
        .lines()
        .filter(|l| l.contains("isakmp: ") && l.contains("dropped or refused"))
        .collect();
    assert!(
        !summaries.is_empty() && summaries.len() <= 3 * (FLOOD_SECS as usize / 10 + 2),
        "{kind} flood: {} summary lines in the gateway's log\n{gw_log}",
        summaries.len()
    );
    assert!(
        gw_log.lines().count() < 200,
        "{kind} flood: the gateway's log grew with the flood ({} lines)",
        gw_log.lines().count()
    );
    assert!(
        hwm < RSS_BOUND_KB,
        "{kind} flood at {rate}/s: the gateway's peak RSS {hwm} kB is not under {RSS_BOUND_KB} kB"
    );
    // the test proves nothing unless the flood was as strong as the issue asks
    assert!(
        achieved >= f64::from(floor),
        "the generator reached only {achieved:.0}/s of {kind} (asked {rate}/s; the issue's target is {floor}/s): this machine is too loaded for the test"
    );
    assert!(
        delivered >= u64::from(floor) * FLOOD_SECS * 9 / 10,
        "only {delivered} packets reached the gateway's interface in {FLOOD_SECS} s of a {rate}/s {kind} flood"
    );
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "optimised builds only: scripts/test.sh runs `cargo test --profile flood -p pix-gateway --test flood`"
)]
fn vpnc_logs_in_under_an_aggressive_mode_flood() {
    under_flood("am1", 2_000, 1_000);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "optimised builds only: scripts/test.sh runs `cargo test --profile flood -p pix-gateway --test flood`"
)]
fn vpnc_logs_in_under_an_unknown_group_aggressive_mode_flood() {
    under_flood("am1-unknown-group", 2_000, 1_000);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "optimised builds only: scripts/test.sh runs `cargo test --profile flood -p pix-gateway --test flood`"
)]
fn vpnc_logs_in_under_a_main_mode_flood() {
    under_flood("mm1", 10_000, 5_000);
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "optimised builds only: scripts/test.sh runs `cargo test --profile flood -p pix-gateway --test flood`"
)]
fn vpnc_logs_in_under_a_header_only_flood() {
    under_flood("header", 60_000, 40_000);
}
