//! ike-sm admission: what one spoofed first message costs a gateway that is already
//! under a sustained flood (half-open table full, every new first message evicting one),
//! per flood kind of `pix-loadgen --flood`, beside baselines measured in the same run:
//! parsing the same bytes alone (the least any responder must do), and, for Aggressive
//! Mode, one group-2 key pair + agreement (what a responder that does a DH per first
//! message pays; ours reuses a key pair under pressure and computes g^xy only at AM3).
//!
//! Each iteration feeds the next datagram with a fresh initiator cookie and a fresh
//! source address (a /16 walked in order), drains what the endpoint queued, and keeps
//! its state bounded: the measurement is the steady state of a flood, not an empty
//! table.
//!
//! Run: `cargo bench -p pix-benches --bench admission`

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use ike_sm::{presets, Endpoint};
use isakmp_wire::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;

const GW: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1)), 500);

/// A first message of our own initiator (`aggressive`: the VPN Client 4.x preset with
/// `group_name`; otherwise the same offers in Main Mode).
fn first_message(aggressive: bool, group_name: &str) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(1);
    let mut cl = Endpoint::new(presets::client(), modecfg::Pools::new());
    let mut profile = presets::vpn_client_4x(DhGroup::Modp1024, b"cisco1234", "u", b"p");
    profile.group_name = Some(group_name.to_string());
    let from = SocketAddr::from(([10, 99, 0, 1], 500));
    let now = Instant::now();
    if aggressive {
        cl.initiate_aggressive(now, from, GW, profile, &mut rng)
            .expect("the VPN Client 4.x preset initiates");
    } else {
        cl.initiate_main(now, from, GW, profile, &mut rng)
            .expect("the VPN Client 4.x preset initiates");
    }
    cl.poll_transmit()
        .expect("an initiator sends its first message at once")
        .bytes
}

/// The seed's gateway with the debug events off, as in production.
fn gateway() -> Endpoint {
    let (mut cfg, pools) = presets::seed_gateway(
        b"cisco1234",
        Ipv4Addr::new(10, 89, 129, 200),
        Ipv4Addr::new(10, 89, 129, 204),
    )
    .expect("the seed's gateway configuration is valid");
    cfg.limits.debug_events = false;
    Endpoint::new(cfg, pools)
}

/// Feeds `bytes` as the `n`th spoofed datagram (cookie and source from `n`) and drains.
fn spoof(gw: &mut Endpoint, now: Instant, bytes: &mut [u8], n: u32, rng: &mut StdRng) {
    let cookie = bytes
        .first_chunk_mut::<8>()
        .expect("an ISAKMP message has a cookie");
    cookie[..4].copy_from_slice(&n.to_be_bytes());
    cookie[4..].copy_from_slice(&0x5a5a_5a5a_u32.to_be_bytes());
    let src = Ipv4Addr::from(0x0a63_0000 | (n & 0xffff));
    let from = SocketAddr::new(src.into(), 500);
    gw.handle_datagram(now, GW, from, bytes, rng);
    while let Some(t) = gw.poll_transmit() {
        black_box(t);
    }
    while let Some(e) = gw.poll_event() {
        black_box(e);
    }
}

fn bench_kind(c: &mut Criterion, kind: &str, template: &[u8]) {
    let mut g = c.benchmark_group(format!("admission/{kind}"));
    let mut bytes = template.to_vec();
    g.bench_function("baseline_parse_only", |b| {
        b.iter(|| Message::parse(black_box(&bytes)).map(|m| m.header.message_id))
    });
    let mut gw = gateway();
    let mut rng = StdRng::seed_from_u64(7);
    let now = Instant::now();
    // Fill the table first: the flood's steady state (every first message evicts one).
    let mut n = 0u32;
    for _ in 0..2500 {
        n = n.wrapping_add(1);
        spoof(&mut gw, now, &mut bytes, n, &mut rng);
    }
    g.bench_function("responder_under_flood", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            spoof(&mut gw, now, &mut bytes, n, &mut rng);
        })
    });
    g.finish();
    eprintln!(
        "admission/{kind}: {} half-open SAs, {} phase-1 modexps after {n} first messages",
        gw.half_open_count(),
        gw.phase1_modexps()
    );
}

fn benches(c: &mut Criterion) {
    let am1 = first_message(true, "vpn3000");
    let am1_unknown = first_message(true, "flood-unknown-group");
    let mm1 = first_message(false, "vpn3000");
    let header = {
        let mut h: [u8; 28] = *mm1
            .first_chunk()
            .expect("a Main Mode message 1 has an ISAKMP header");
        h[16] = 0; // next payload NONE
        h[24..28].copy_from_slice(&28u32.to_be_bytes());
        h.to_vec()
    };
    {
        let mut g = c.benchmark_group("admission/am1");
        let mut rng = StdRng::seed_from_u64(3);
        let peer = KeyPair::generate(DhGroup::Modp1024, ExponentSize::default(), &mut rng)
            .expect("group 2 key pair");
        g.bench_function("baseline_dh_per_first_message", |b| {
            b.iter(|| {
                let kp = KeyPair::generate(DhGroup::Modp1024, ExponentSize::default(), &mut rng)
                    .expect("group 2 key pair");
                black_box(
                    kp.agree(peer.public_value())
                        .expect("a generated public value is in range"),
                );
            })
        });
        g.finish();
    }
    bench_kind(c, "am1", &am1);
    bench_kind(c, "am1-unknown-group", &am1_unknown);
    bench_kind(c, "mm1", &mm1);
    bench_kind(c, "header", &header);
}

criterion_group!(admission, benches);
criterion_main!(admission);
