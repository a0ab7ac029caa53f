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
//! The gateway runs with `Limits::debug_events = false` (`no-debug (production)`: the PIX
//! with `no debug`, which is how a gateway runs; no debug event is built) in the criterion
//! groups and in every paired line so marked; the DES/MD5 paired lines are repeated with
//! `debug-on` (every `debug crypto isakmp` event built, queued and drained).
//!
//! Run: `cargo bench -p pix-benches --bench ike_handshake -- --warm-up-time 1 --measurement-time 3`;
//! only the paired summary: `cargo bench -p pix-benches --bench ike_handshake -- zzz_no_criterion`.
//! Profiling: `IKE_HANDSHAKE_PROFILE=<group>:<am|mm>:<rounds>[:debug]` runs only that flow's
//! paired rounds (for `perf record -g`); with `IKE_HANDSHAKE_STEPS=1` it also prints the
//! gateway's median time per step (each datagram handled, each batch of polling).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]
#![allow(clippy::disallowed_methods)] // benches own the clock

use criterion::{criterion_group, criterion_main, Criterion};
use ike_sm::crypto::cipher::CipherAlg;
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use ike_sm::crypto::hash::HashAlg;
use ike_sm::{presets, Endpoint, Event, IsakmpPolicy, ModeCfgMode, Selector, TrafficSelector};
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Flow {
    AmXauthCfgQm,
    MmQm,
}

/// The phase-1 suite: the seed's DES/MD5, or AES-128/SHA-1 (to show what DES costs: the
/// Transaction and Quick Mode messages are encrypted with it).
#[derive(Clone, Copy, PartialEq)]
enum Suite {
    DesMd5,
    Aes128Sha1,
}

impl Suite {
    fn algs(self) -> (CipherAlg, HashAlg) {
        match self {
            Suite::DesMd5 => (CipherAlg::Des, HashAlg::Md5),
            Suite::Aes128Sha1 => (CipherAlg::Aes128, HashAlg::Sha1),
        }
    }
}

/// The gateway's debug setting: `NoDebug` is the production one (the PIX with
/// `no debug`, `Limits::debug_events = false`: no debug events are built);
/// `DebugOn` is `debug crypto isakmp`/`ipsec` on (every debug event queued and drained).
#[derive(Clone, Copy, PartialEq)]
enum Debug {
    NoDebug,
    DebugOn,
}

fn gateway(group: DhGroup, flow: Flow, suite: Suite, debug: Debug) -> Endpoint {
    let (mut cfg, pools) = presets::seed_gateway(
        b"cisco1234",
        Ipv4Addr::new(10, 89, 129, 200),
        Ipv4Addr::new(10, 89, 129, 204),
    )
    .unwrap();
    cfg.limits.debug_events = debug == Debug::DebugOn;
    let gw = cfg.gateway.as_mut().unwrap();
    let (encryption, hash) = suite.algs();
    gw.policies = vec![IsakmpPolicy {
        priority: 10,
        encryption,
        hash,
        group,
        lifetime_secs: 86_400,
    }];
    if flow == Flow::MmQm {
        gw.client_authentication = false;
        gw.mode_config = ModeCfgMode::default();
    }
    Endpoint::new(cfg, pools)
}

/// One responder handshake; returns the time spent inside the gateway.
fn handshake(group: DhGroup, flow: Flow, suite: Suite, debug: Debug, rng: &mut StdRng) -> Duration {
    handshake_steps(group, flow, suite, debug, rng, &mut Vec::new())
}

/// [`handshake`], also recording the gateway's time per step (each datagram it handles,
/// then each batch of event polling, verdicts and transmits).
fn handshake_steps(
    group: DhGroup,
    flow: Flow,
    suite: Suite,
    debug: Debug,
    rng: &mut StdRng,
    steps: &mut Vec<(&'static str, Duration)>,
) -> Duration {
    let mut gw = gateway(group, flow, suite, debug);
    let mut cl = Endpoint::new(presets::client(), modecfg::Pools::new());
    let g: SocketAddr = "192.168.1.1:500".parse().unwrap();
    let c: SocketAddr = "192.168.1.2:500".parse().unwrap();
    let now = Instant::now();
    let mut profile = match flow {
        Flow::AmXauthCfgQm => {
            presets::vpn_client_4x(group, b"cisco1234", "cisco_customer", b"cisco123")
        }
        Flow::MmQm => presets::vpn_client_11(b"cisco1234", "u", b"p"),
    };
    if flow == Flow::MmQm {
        profile.offers[0].group = group;
        (profile.offers[0].encryption, profile.offers[0].hash) = suite.algs();
        profile.xauth = None;
        profile.mode_config = ike_sm::ClientModeCfg::None;
    }
    let sa = cl.initiate(now, c, g, profile, rng).unwrap();
    let mut in_gw = Duration::ZERO;
    let mut qm_sent = false;
    let mut children = 0;
    for _ in 0..64 {
        let mut moved = false;
        while let Some(t) = cl.poll_transmit() {
            moved = true;
            let t0 = Instant::now();
            gw.handle_datagram(now, t.remote, t.local, &t.bytes, rng);
            let dt = t0.elapsed();
            steps.push(("datagram", dt));
            in_gw += dt;
        }
        let t0 = Instant::now();
        let mut verdicts = Vec::new();
        while let Some(e) = gw.poll_event() {
            match e {
                Event::XauthCredentials { sa, .. } => verdicts.push(sa),
                Event::ChildSa(_) => children += 1,
                _ => {}
            }
        }
        for v in verdicts {
            gw.xauth_verdict(now, v, true, rng).unwrap();
            moved = true;
        }
        let out: Vec<_> = std::iter::from_fn(|| gw.poll_transmit()).collect();
        let dt = t0.elapsed();
        steps.push(("poll", dt));
        in_gw += dt;
        for t in out {
            moved = true;
            cl.handle_datagram(now, t.remote, t.local, &t.bytes, rng);
        }
        while cl.poll_event().is_some() {}
        if !qm_sent && cl.ready_for_quick_mode(sa) {
            qm_sent = true;
            moved = true;
            let local = cl
                .assigned_address(sa)
                .unwrap_or(Ipv4Addr::new(192, 168, 1, 2));
            let req = ike_sm::QuickModeRequest {
                local: TrafficSelector::new(Selector::Addr(local)),
                remote: TrafficSelector::new(Selector::Addr(Ipv4Addr::new(192, 168, 1, 1))),
                offers: presets::seed_qm_offers(),
                pfs: None,
                life_secs: 28_800,
                life_kb: 0,
            };
            cl.initiate_quick_mode(now, sa, req, rng).unwrap();
        }
        if !moved {
            break;
        }
    }
    assert_eq!(children, 1, "the handshake must complete");
    in_gw
}

/// The responder's DH work alone: one key pair and one shared secret.
fn dh_only(group: DhGroup, peer: &[u8], rng: &mut StdRng) -> Duration {
    let t0 = Instant::now();
    let kp = KeyPair::generate(group, ExponentSize::default(), rng).unwrap();
    black_box(kp.agree(peer).unwrap());
    t0.elapsed()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn paired(group: DhGroup, flow: Flow, suite: Suite, debug: Debug, name: &str, rounds: usize) {
    let mut rng = StdRng::seed_from_u64(7);
    let peer = KeyPair::generate(group, ExponentSize::default(), &mut rng).unwrap();
    let (mut hs, mut dh, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let h = handshake(group, flow, suite, debug, &mut rng).as_secs_f64();
        let d = dh_only(group, peer.public_value(), &mut rng).as_secs_f64();
        hs.push(h);
        dh.push(d);
        ratio.push(d / h);
    }
    let (h, d, r) = (median(&mut hs), median(&mut dh), median(&mut ratio));
    println!(
        "handshake_paired group {} {name}{} ({rounds} rounds): responder handshake {:.1} us = {:.0}/s, DH only {:.1} us = {:.0}/s, ratio {:.3}",
        group.attribute(),
        match debug {
            Debug::NoDebug => " no-debug (production)",
            Debug::DebugOn => " debug-on",
        },
        h * 1e6,
        1.0 / h,
        d * 1e6,
        1.0 / d,
        r
    );
}

/// Median gateway time per step of the handshake (`IKE_HANDSHAKE_STEPS=1` with the
/// profiling switch): which message costs what, beside the DH-only median.
fn steps(group: DhGroup, flow: Flow, debug: Debug, rounds: usize) {
    let mut rng = StdRng::seed_from_u64(9);
    let mut per: Vec<(&'static str, Vec<f64>)> = Vec::new();
    for _ in 0..rounds {
        let mut s = Vec::new();
        handshake_steps(group, flow, Suite::DesMd5, debug, &mut rng, &mut s);
        for (i, (name, d)) in s.into_iter().enumerate() {
            if per.len() <= i {
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
        let debug = match it.next() {
            Some("debug") => Debug::DebugOn,
            _ => Debug::NoDebug,
        };
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
                    41,
                );
            }
            paired(
                group,
                flow,
                Suite::Aes128Sha1,
                Debug::NoDebug,
                &format!("{name} aes128-sha1"),
                41,
            );
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
