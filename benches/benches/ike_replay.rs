//! Profiling aid for the IKEv1 responder: records one complete handshake of the
//! `ike_handshake` bench (gateway on its own seeded RNG), then replays only the gateway's
//! side of it, each replay into a fresh gateway seeded the same way and checked to send
//! the very same bytes. So `perf record` or `valgrind --tool=callgrind` see the responder
//! alone, and heap allocations are counted per step (`stats_alloc`; this binary only, so
//! the counting never touches the timed `ike_handshake` runs).
//!
//! Run: `cargo bench -p pix-benches --bench ike_replay -- [<group>:<am|mm>:<rounds>[:aes]]`
//! (default `2:am:400`, DES/MD5; `:aes` for AES-128/SHA-1); prints the median time and
//! the allocations of each step, the sizes of the datagrams, and the DH work alone (one
//! key pair and one shared secret, timed after each replay as in `ike_handshake`), so
//! that the non-DH cost of the handshake reads directly. `scripts/handshake-profile.sh`
//! runs it under `perf` and splits that non-DH cost by what was running.
// Set-up and checking code of a benchmark over fixed, known-good inputs: a failed
// unwrap or index is a broken bench, found on its first run, not a runtime path.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

mod common;

use common::ike::{dh_only, gateway, gw_poll, median, run, Debug, Flow, GwStep, Suite};
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use rand::{rngs::StdRng, SeedableRng};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::time::Instant;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    // `cargo bench` passes `--bench`; the first other argument is the profile.
    let arg = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "2:am:400".to_string());
    let mut it = arg.split(':');
    let group = DhGroup::from_attribute(it.next().unwrap_or("2").parse().unwrap()).unwrap();
    let flow = match it.next() {
        Some("mm") => Flow::MmQm,
        _ => Flow::AmXauthCfgQm,
    };
    let rounds: usize = it.next().and_then(|r| r.parse().ok()).unwrap_or(400).max(1);
    let suite = match it.next() {
        Some("aes") => Suite::Aes128Sha1,
        _ => Suite::DesMd5,
    };
    let seed = 100;
    let recorded = {
        let mut gw = gateway(group, flow, suite, Debug::NoDebug);
        run(
            &mut gw,
            group,
            flow,
            suite,
            &mut StdRng::seed_from_u64(seed),
            &mut StdRng::seed_from_u64(200),
        )
    };
    let mut per_step: Vec<(Vec<f64>, usize)> =
        recorded.steps.iter().map(|_| (Vec::new(), 0)).collect();
    let (mut total, mut allocs) = (Vec::new(), 0);
    // The DH work alone (one key pair, one shared secret), timed after each replay as in
    // the `ike_handshake` paired summary: the first step minus this is its non-DH cost.
    let mut dh_rng = StdRng::seed_from_u64(7);
    let peer = KeyPair::generate(group, ExponentSize::default(), &mut dh_rng).unwrap();
    let mut dh_alone = Vec::new();
    for _ in 0..rounds {
        let mut gw = gateway(group, flow, suite, Debug::NoDebug);
        let mut rng = StdRng::seed_from_u64(seed);
        let now = Instant::now();
        let (mut sent, mut children, mut in_gw) = (Vec::new(), Vec::new(), 0.0);
        for ((step, _), (times, n)) in recorded.steps.iter().zip(per_step.iter_mut()) {
            let region = Region::new(GLOBAL);
            let t0 = Instant::now();
            let out = match step {
                GwStep::Datagram(r, l, b) => {
                    gw.handle_datagram(now, *r, *l, b, &mut rng);
                    Vec::new()
                }
                GwStep::Poll => gw_poll(&mut gw, now, &mut rng, &mut children),
            };
            let dt = t0.elapsed().as_secs_f64();
            let a = region.change().allocations + region.change().reallocations;
            *n += a;
            allocs += a;
            in_gw += dt;
            times.push(dt);
            sent.extend(out.into_iter().map(|t| t.bytes));
        }
        total.push(in_gw);
        dh_alone.push(dh_only(group, peer.public_value(), &mut dh_rng).as_secs_f64());
        assert_eq!(children.len(), 1, "the replayed handshake must complete");
        assert!(
            sent == recorded.sent,
            "the replay must send the recorded bytes"
        );
    }
    println!(
        "ike_replay group {} {} {} ({rounds} rounds): median {:.1} us and {} heap allocations per responder handshake",
        group.attribute(),
        match flow {
            Flow::AmXauthCfgQm => "am_xauth_cfg_qm",
            Flow::MmQm => "mm_qm",
        },
        match suite {
            Suite::DesMd5 => "des-md5",
            Suite::Aes128Sha1 => "aes128-sha1",
        },
        median(&mut total) * 1e6,
        allocs / rounds
    );
    let (hs, dh) = (median(&mut total), median(&mut dh_alone));
    println!(
        "  DH alone                 median {:6.1} us; handshake minus DH {:.1} us; ratio {:.3}",
        dh * 1e6,
        (hs - dh) * 1e6,
        dh / hs
    );
    for ((step, _), (times, n)) in recorded.steps.iter().zip(per_step.iter_mut()) {
        let what = match step {
            GwStep::Datagram(_, _, b) => format!("datagram in, {} bytes", b.len()),
            GwStep::Poll => "poll".to_string(),
        };
        println!(
            "  {what:24} median {:6.1} us, {:4} allocations",
            median(times) * 1e6,
            *n / rounds
        );
    }
    let sizes: Vec<usize> = recorded.sent.iter().map(Vec::len).collect();
    println!("  datagrams out: {sizes:?} bytes");
}
