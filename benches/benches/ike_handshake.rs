//! Complete IKEv1 responder handshakes per second, in memory, beside the cost of the
//! Diffie-Hellman operations alone measured in the same run.
//!
//! A gateway endpoint (the seed's PIX configuration) answers a client endpoint of ours:
//! * `am_xauth_cfg_qm`: Aggressive Mode (VPN Client 4.x offers) + Xauth + Mode Config pull
//!   + one Quick Mode with the seed's eight proposals (proposal 7 chosen);
//! * `mm_qm`: Main Mode (one transform) + Quick Mode, no Xauth or Mode Config.
//!
//! Only the gateway's own calls are timed (`iter_custom` sums the time spent in its
//! `handle_datagram`/`xauth_verdict`/`poll_*`), so one iteration is one responder
//! handshake. The baseline `dh_only` is what the responder must do in any handshake: one
//! key pair generation and one shared secret (`KeyPair::generate` + `agree`, 256-bit
//! exponent as configured), on the same group.
//!
//! Groups 2 (1024-bit) and 14 (2048-bit). The paired summary printed at the end runs
//! handshakes and DH-only rounds back to back and reports handshakes/s, DH-only ops/s and
//! their ratio (target: at least 0.9), with the seed's DES/MD5 phase-1 suite and with
//! AES-128/SHA-1 (every Transaction and Quick Mode message is encrypted with the phase-1
//! cipher; ike-sm runs DES/3DES on `esp::des_table`, the table-driven DES of the ESP
//! transforms, since the `des` crate's DES ran at about 26 MB/s).
//!
//! Each paired pair of lines is followed by the same flow on one long-lived gateway that
//! keeps 256 users up (each handshake from a new client address; the oldest user is
//! deleted, untimed): the ratio must not depend on a fresh, empty gateway. The last line
//! runs the seed's flow on a gateway with 2048 users up: a handshake's cost must not grow
//! with the number of users.
//!
//! The gateway runs with `Limits::debug_events = false` (`no-debug (production)`: the PIX
//! with `no debug`, which is how a gateway runs; no debug event is built) in the criterion
//! groups and in every paired line so marked; the DES/MD5 paired lines are repeated with
//! `debug-on` (every `debug crypto isakmp` event built, queued and drained).
//!
//! Run: `cargo bench -p pix-benches --bench ike_handshake -- --warm-up-time 1 --measurement-time 3`;
//! only the paired summary: `cargo bench -p pix-benches --bench ike_handshake -- zzz_no_criterion`.
//! Under `cargo test` (no `--bench` argument) each summary line runs 2 rounds only.
//! Profiling: `IKE_HANDSHAKE_PROFILE=<group>:<am|mm>:<rounds>[:debug|:long]` runs only that flow's
//! paired rounds (for `perf record -g`; `IKE_HANDSHAKE_USERS=<n>` sets the users the
//! long-lived gateway keeps up); with `IKE_HANDSHAKE_STEPS=1` it also prints the
//! gateway's median time per step (each datagram handled, each batch of polling). The
//! `ike_replay` bench replays one recorded handshake into the gateway alone, with heap
//! allocations counted per step.
// Set-up and checking code of a benchmark over fixed, known-good inputs: a failed
// unwrap or index is a broken bench, found on its first run, not a runtime path.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use common::ike::{
    dh_only, gateway, gateway_with_pool, median, run, run_from, Debug, Flow, GwStep, Suite,
};
use criterion::{criterion_group, criterion_main, Criterion};
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// One responder handshake; returns the time spent inside the gateway.
fn handshake(group: DhGroup, flow: Flow, suite: Suite, debug: Debug, rng: &mut StdRng) -> Duration {
    let mut gw = gateway(group, flow, suite, debug);
    let mut gw_rng = StdRng::seed_from_u64(rng.next_u64());
    run(&mut gw, group, flow, suite, &mut gw_rng, rng).in_gw
}

/// Paired rounds: each responder handshake beside one DH-only round.
#[derive(Default)]
struct Pairs {
    hs: Vec<f64>,
    dh: Vec<f64>,
    ratio: Vec<f64>,
}

impl Pairs {
    fn push(&mut self, handshake: Duration, dh: Duration) {
        let (h, d) = (handshake.as_secs_f64(), dh.as_secs_f64());
        self.hs.push(h);
        self.dh.push(d);
        self.ratio.push(d / h);
    }

    /// The summary line: medians of each column and of the per-round ratio.
    fn report(mut self, group: DhGroup, label: &str) {
        let rounds = self.hs.len();
        let (h, d, r) = (
            median(&mut self.hs),
            median(&mut self.dh),
            median(&mut self.ratio),
        );
        println!(
            "handshake_paired group {} {label} ({rounds} rounds): responder handshake {:.1} us = {:.0}/s, DH only {:.1} us = {:.0}/s, ratio {:.3}",
            group.attribute(),
            h * 1e6,
            1.0 / h,
            d * 1e6,
            1.0 / d,
            r
        );
    }
}

fn paired(group: DhGroup, flow: Flow, suite: Suite, debug: Debug, name: &str, rounds: usize) {
    let mut rng = StdRng::seed_from_u64(7);
    let peer = KeyPair::generate(group, ExponentSize::default(), &mut rng).unwrap();
    let mut pairs = Pairs::default();
    for _ in 0..rounds {
        let h = handshake(group, flow, suite, debug, &mut rng);
        pairs.push(h, dh_only(group, peer.public_value(), &mut rng));
    }
    let setting = match debug {
        Debug::NoDebug => "no-debug (production)",
        Debug::DebugOn => "debug-on",
    };
    pairs.report(group, &format!("{name} {setting}"));
}

/// Users a long-lived gateway keeps up in [`paired_long_lived`] (a few under
/// `cargo test`, see [`quick`]; `IKE_HANDSHAKE_USERS=<n>` overrides it, to see how the
/// handshake's cost grows with the number of users).
fn live_users() -> usize {
    if let Some(n) = std::env::var("IKE_HANDSHAKE_USERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    if quick() {
        4
    } else {
        256
    }
}

/// Under `cargo test` (no `--bench` argument) every paired line runs only a few rounds:
/// the test run checks that the summary works, the numbers come from `cargo bench`.
fn quick() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// Paired rounds per summary line.
fn rounds() -> usize {
    if quick() {
        2
    } else {
        41
    }
}

/// [`paired`] on one long-lived gateway, as a PIX runs: each handshake comes from a new
/// client address, and the gateway keeps the last `live_users` users up (the oldest is
/// deleted, untimed, when a new one is up). The fresh gateway of [`paired`] pays its
/// tables' first allocations in every handshake; this one answers with a populated SA
/// table and warm pools, after a warm-up of `live_users` handshakes.
fn paired_long_lived(
    group: DhGroup,
    flow: Flow,
    suite: Suite,
    name: &str,
    rounds: usize,
    live_users: usize,
) {
    let mut rng = StdRng::seed_from_u64(11);
    let mut gw_rng = StdRng::seed_from_u64(12);
    let peer = KeyPair::generate(group, ExponentSize::default(), &mut rng).unwrap();
    let mut gw = gateway_with_pool(
        group,
        flow,
        suite,
        Debug::NoDebug,
        Ipv4Addr::new(10, 90, 0, 1),
        Ipv4Addr::new(10, 90, 255, 254),
    );
    let mut live = std::collections::VecDeque::new();
    let mut pairs = Pairs::default();
    for i in 0..live_users + rounds {
        let client = Ipv4Addr::from(0xac10_0000u32 + 1 + i as u32); // 172.16.0.0/12
        let r = run_from(&mut gw, group, flow, suite, &mut gw_rng, &mut rng, client);
        live.push_back(r.gw_sa);
        if live.len() > live_users {
            let old = live.pop_front().unwrap();
            gw.delete(Instant::now(), old, &mut gw_rng).unwrap();
            while gw.poll_transmit().is_some() {}
            while gw.poll_event().is_some() {}
        }
        if i >= live_users {
            pairs.push(r.in_gw, dh_only(group, peer.public_value(), &mut rng));
        }
    }
    pairs.report(
        group,
        &format!("{name} no-debug (production), long-lived gateway with {live_users} users up"),
    );
}

/// Median gateway time per step of the handshake (`IKE_HANDSHAKE_STEPS=1` with the
/// profiling switch): which message costs what, beside the DH-only median.
fn steps(group: DhGroup, flow: Flow, debug: Debug, rounds: usize) {
    let mut rng = StdRng::seed_from_u64(9);
    let mut per: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for _ in 0..rounds {
        let mut gw = gateway(group, flow, Suite::DesMd5, debug);
        let mut gw_rng = StdRng::seed_from_u64(rng.next_u64());
        let r = run(&mut gw, group, flow, Suite::DesMd5, &mut gw_rng, &mut rng);
        for (i, (step, d)) in r.steps.into_iter().enumerate() {
            if per.len() <= i {
                let name = match step {
                    GwStep::Datagram(..) => "datagram",
                    GwStep::Poll => "poll",
                };
                per.push((name, Vec::new()));
            }
            per[i].1.push(d.as_secs_f64());
        }
    }
    for (i, (name, v)) in per.iter_mut().enumerate() {
        let n = v.len();
        println!(
            "step {i:2} {name:8} ({n} rounds): median {:.1} us",
            median(v) * 1e6
        );
    }
}

fn bench(c: &mut Criterion) {
    // Profiling aid: `IKE_HANDSHAKE_PROFILE=<group>:<am|mm>:<rounds>` runs only that flow's
    // paired rounds (DES/MD5) and skips everything else, e.g. under `perf record`.
    if let Ok(p) = std::env::var("IKE_HANDSHAKE_PROFILE") {
        let mut it = p.split(':');
        let group = DhGroup::from_attribute(it.next().unwrap_or("2").parse().unwrap()).unwrap();
        let flow = match it.next() {
            Some("mm") => Flow::MmQm,
            _ => Flow::AmXauthCfgQm,
        };
        let rounds = it.next().and_then(|r| r.parse().ok()).unwrap_or(1000);
        let (debug, long_lived) = match it.next() {
            Some("debug") => (Debug::DebugOn, false),
            Some("long") => (Debug::NoDebug, true),
            _ => (Debug::NoDebug, false),
        };
        if long_lived {
            paired_long_lived(
                group,
                flow,
                Suite::DesMd5,
                "profile des-md5",
                rounds,
                live_users(),
            );
            return;
        }
        paired(group, flow, Suite::DesMd5, debug, "profile des-md5", rounds);
        if std::env::var_os("IKE_HANDSHAKE_STEPS").is_some() {
            steps(group, flow, debug, rounds);
        }
        return;
    }
    for group in [DhGroup::Modp1024, DhGroup::Modp2048] {
        let mut grp = c.benchmark_group(format!("ike_handshake_group{}", group.attribute()));
        let mut rng = StdRng::seed_from_u64(1);
        let peer = KeyPair::generate(group, ExponentSize::default(), &mut rng).unwrap();
        grp.bench_function("dh_only", |b| {
            b.iter_custom(|n| {
                (0..n)
                    .map(|_| dh_only(group, peer.public_value(), &mut rng))
                    .sum()
            })
        });
        grp.bench_function("am_xauth_cfg_qm", |b| {
            b.iter_custom(|n| {
                (0..n)
                    .map(|_| {
                        handshake(
                            group,
                            Flow::AmXauthCfgQm,
                            Suite::DesMd5,
                            Debug::NoDebug,
                            &mut rng,
                        )
                    })
                    .sum()
            })
        });
        grp.bench_function("mm_qm", |b| {
            b.iter_custom(|n| {
                (0..n)
                    .map(|_| handshake(group, Flow::MmQm, Suite::DesMd5, Debug::NoDebug, &mut rng))
                    .sum()
            })
        });
        grp.finish();
    }
    for group in [DhGroup::Modp1024, DhGroup::Modp2048] {
        for (flow, name) in [
            (Flow::AmXauthCfgQm, "am_xauth_cfg_qm"),
            (Flow::MmQm, "mm_qm"),
        ] {
            for debug in [Debug::NoDebug, Debug::DebugOn] {
                paired(
                    group,
                    flow,
                    Suite::DesMd5,
                    debug,
                    &format!("{name} des-md5"),
                    rounds(),
                );
            }
            paired(
                group,
                flow,
                Suite::Aes128Sha1,
                Debug::NoDebug,
                &format!("{name} aes128-sha1"),
                rounds(),
            );
            for (suite, s) in [
                (Suite::DesMd5, "des-md5"),
                (Suite::Aes128Sha1, "aes128-sha1"),
            ] {
                paired_long_lived(
                    group,
                    flow,
                    suite,
                    &format!("{name} {s}"),
                    rounds(),
                    live_users(),
                );
            }
        }
    }
    // The seed's flow on a gateway with thousands of users up: a handshake's cost must not
    // grow with the users (INITIAL-CONTACT and the hand-over on logout once passed over
    // every SA).
    paired_long_lived(
        DhGroup::Modp1024,
        Flow::AmXauthCfgQm,
        Suite::DesMd5,
        "am_xauth_cfg_qm des-md5",
        rounds(),
        if quick() { 8 } else { 2048 },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
