//! IKEv1 Diffie-Hellman cost: `ike-sm`'s constant-time Montgomery exponentiation
//! (`crypto::monty`, fixed width per group) with a full-size and a 256-bit bounded private
//! exponent, beside OpenSSL's `BN_mod_exp` with the constant-time flag
//! (BN_FLG_CONSTTIME -> BN_mod_exp_mont_consttime) on the same inputs, in the same run.
//!
//! Per group (2 = 1024-bit, 14 = 2048-bit MODP):
//! * `ours_keygen_{full,b256}`: `KeyPair::generate` (RNG draw + g^x mod p);
//! * `ours_shared_{full,b256}`: `KeyPair::agree` (peer value check + y^x mod p);
//! * `openssl_ct_{full,b256}`: `BigNum::mod_exp` of the same y^x with the exponent
//!   marked constant-time (same exponent bits as ours);
//! * `openssl_vartime_full`: the same without the flag, for reference.
//!
//! Our key generation computes g^x with a cheaper window step for g = 2 (a product by the
//! word 2^d), OpenSSL's `BN_mod_exp` with base 2 is the matching baseline in the paired
//! summary. The paired summary also runs the previous exponentiation (crypto-bigint,
//! kept as `ike_sm::crypto::dh_baseline`) on the same inputs: `before_*` rows and the
//! `before/after` ratios.
//!
//! `dh_dudect`: a dudect-style constant-time check (Reparaz, Balasch, Verbauwhede 2017):
//! per group and path (general base, generator 2), exponents of two classes (all ones
//! in the low 256 bits vs uniformly random, same 256-bit bound) in random order, each
//! exponentiation timed, then Welch's t statistic of the two classes' times, on all
//! samples and on those below the 50th and 90th percentile (the crops cut scheduler
//! noise). |t| < 4.5 passes; the largest |t| is printed as PASS/FAIL.
//!
//! Before measuring, the bench checks that OpenSSL's built-in RFC 2409/3526 primes equal
//! ours and that both libraries compute the same y^x.
//!
//! Run: `cargo bench -p pix-benches --bench ike_crypto -- --warm-up-time 1 --measurement-time 3`
//! Medians: `target/criterion/dh_group{2,14}/*/new/estimates.json` (`.median.point_estimate`, ns).
//!
//! On a shared, loaded machine criterion's separate runs drift; so the bench also prints a
//! *paired* summary (`dh_paired`): rounds that run ours and OpenSSL back to back on the
//! same inputs, with the medians of each and the median of the per-round ratios.
// Set-up and checking code of a benchmark over fixed, known-good inputs: a failed
// unwrap or index is a broken bench, found on its first run, not a runtime path.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    missing_docs
)]

use criterion::{criterion_group, criterion_main, Criterion};
use ike_sm::crypto::dh::{DhGroup, ExponentSize, KeyPair};
use ike_sm::crypto::dh_baseline;
use openssl::bn::{BigNum, BigNumContext};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::hint::black_box;
use std::time::Instant;

fn openssl_prime(g: DhGroup) -> BigNum {
    match g {
        DhGroup::Modp768 => BigNum::get_rfc2409_prime_768(),
        DhGroup::Modp1024 => BigNum::get_rfc2409_prime_1024(),
        DhGroup::Modp1536 => BigNum::get_rfc3526_prime_1536(),
        DhGroup::Modp2048 => BigNum::get_rfc3526_prime_2048(),
        _ => unreachable!(),
    }
    .unwrap()
}

fn be(n: &BigNum, len: usize) -> Vec<u8> {
    n.to_vec_padded(len as i32).unwrap()
}

fn bench_group(c: &mut Criterion, g: DhGroup) {
    let len = g.modulus_len();
    let p = openssl_prime(g);
    assert_eq!(
        p.to_vec(),
        g.prime_be(),
        "OpenSSL's prime for group {}",
        g.attribute()
    );

    let mut rng = StdRng::seed_from_u64(0x1ce_5eed);
    // Our key pairs (full and bounded) and a peer public value.
    let peer = KeyPair::generate(g, ExponentSize::Full, &mut rng).unwrap();
    let mut x_full = vec![0u8; len];
    rng.fill_bytes(&mut x_full[1..]);
    let mut x_b256 = vec![0u8; len];
    rng.fill_bytes(&mut x_b256[len - 32..]);
    let full = KeyPair::from_private_exponent(g, &x_full, ExponentSize::Full).unwrap();
    let b256 = KeyPair::from_private_exponent(g, &x_b256, ExponentSize::Bits(256)).unwrap();

    // OpenSSL on the same numbers.
    let y = BigNum::from_slice(peer.public_value()).unwrap();
    let mut e_full = BigNum::from_slice(&x_full).unwrap();
    e_full.set_const_time();
    let mut e_b256 = BigNum::from_slice(&x_b256).unwrap();
    e_b256.set_const_time();
    let e_var = BigNum::from_slice(&x_full).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let mut r = BigNum::new().unwrap();
    for (ours, e) in [(&full, &e_full), (&b256, &e_b256)] {
        r.mod_exp(&y, e, &p, &mut ctx).unwrap();
        let s = ours.agree(peer.public_value()).unwrap();
        assert_eq!(
            s.expose_secret(),
            &be(&r, len)[..],
            "OpenSSL and ours agree"
        );
    }

    let mut grp = c.benchmark_group(format!("dh_group{}", g.attribute()));
    grp.sample_size(20);
    grp.bench_function("ours_keygen_full", |b| {
        b.iter(|| KeyPair::generate(g, ExponentSize::Full, &mut rng).unwrap())
    });
    grp.bench_function("ours_keygen_b256", |b| {
        b.iter(|| KeyPair::generate(g, ExponentSize::Bits(256), &mut rng).unwrap())
    });
    grp.bench_function("ours_shared_full", |b| {
        b.iter(|| full.agree(black_box(peer.public_value())).unwrap())
    });
    grp.bench_function("ours_shared_b256", |b| {
        b.iter(|| b256.agree(black_box(peer.public_value())).unwrap())
    });
    grp.bench_function("openssl_ct_full", |b| {
        b.iter(|| r.mod_exp(black_box(&y), &e_full, &p, &mut ctx).unwrap())
    });
    grp.bench_function("openssl_ct_b256", |b| {
        b.iter(|| r.mod_exp(black_box(&y), &e_b256, &p, &mut ctx).unwrap())
    });
    grp.bench_function("openssl_vartime_full", |b| {
        b.iter(|| r.mod_exp(black_box(&y), &e_var, &p, &mut ctx).unwrap())
    });
    grp.finish();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Ours and OpenSSL back to back, `rounds` times, on the same inputs.
fn paired(g: DhGroup, rounds: usize) {
    let len = g.modulus_len();
    let p = openssl_prime(g);
    let mut rng = StdRng::seed_from_u64(0x00ba_1ace);
    let peer = KeyPair::generate(g, ExponentSize::Full, &mut rng).unwrap();
    let y = BigNum::from_slice(peer.public_value()).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let mut r = BigNum::new().unwrap();
    // name -> per-round times (s)
    let names = [
        "ours_full",
        "ossl_ct_full",
        "ours_b256",
        "ossl_ct_b256",
        "ours_keygen_b256",
        "ours_keygen_full",
        "ossl_ct_g_full",
        "ossl_ct_g_b256",
        "before_full",
        "before_b256",
        "before_keygen_b256",
    ];
    let g2 = BigNum::from_u32(2).unwrap();
    let mut t: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); names.len()];
    for _ in 0..rounds {
        let mut x_full = vec![0u8; len];
        rng.fill_bytes(&mut x_full[1..]);
        let mut x_b = vec![0u8; len];
        rng.fill_bytes(&mut x_b[len - 32..]);
        let full = KeyPair::from_private_exponent(g, &x_full, ExponentSize::Full).unwrap();
        let b256 = KeyPair::from_private_exponent(g, &x_b, ExponentSize::Bits(256)).unwrap();
        let mut e_full = BigNum::from_slice(&x_full).unwrap();
        e_full.set_const_time();
        let mut e_b = BigNum::from_slice(&x_b).unwrap();
        e_b.set_const_time();

        let s = Instant::now();
        black_box(full.agree(black_box(peer.public_value())).unwrap());
        t[0].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        r.mod_exp(black_box(&y), &e_full, &p, &mut ctx).unwrap();
        t[1].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        black_box(b256.agree(black_box(peer.public_value())).unwrap());
        t[2].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        r.mod_exp(black_box(&y), &e_b, &p, &mut ctx).unwrap();
        t[3].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        black_box(KeyPair::generate(g, ExponentSize::Bits(256), &mut rng).unwrap());
        t[4].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        black_box(KeyPair::generate(g, ExponentSize::Full, &mut rng).unwrap());
        t[5].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        r.mod_exp(black_box(&g2), &e_full, &p, &mut ctx).unwrap();
        t[6].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        r.mod_exp(black_box(&g2), &e_b, &p, &mut ctx).unwrap();
        t[7].push(s.elapsed().as_secs_f64());
        // The previous exponentiation (crypto-bigint), same inputs, same peer check.
        let s = Instant::now();
        g.validate_public_value(peer.public_value()).unwrap();
        black_box(
            dh_baseline::modexp(g, black_box(peer.public_value()), &x_full, g.modulus_bits())
                .unwrap(),
        );
        t[8].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        g.validate_public_value(peer.public_value()).unwrap();
        black_box(dh_baseline::modexp(g, black_box(peer.public_value()), &x_b, 256).unwrap());
        t[9].push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        black_box(dh_baseline::modexp(g, black_box(&[2]), &x_b, 256).unwrap());
        t[10].push(s.elapsed().as_secs_f64());
    }
    let ratio = |a: usize, b: usize, t: &[Vec<f64>]| {
        let mut v: Vec<f64> = t[a].iter().zip(&t[b]).map(|(x, y)| x / y).collect();
        median(&mut v)
    };
    let r_full = ratio(0, 1, &t);
    let r_b = ratio(2, 3, &t);
    let r_b_vs_ossl_full = ratio(2, 1, &t);
    let r_full_vs_b = ratio(0, 2, &t);
    println!("dh_paired group {} ({} rounds):", g.attribute(), rounds);
    for (i, n) in names.iter().enumerate() {
        let m = median(&mut t[i].clone());
        println!(
            "  {n:<18} median {:>9.1} us  ({:>7.0} ops/s)",
            m * 1e6,
            1.0 / m
        );
    }
    println!("  ours/openssl (full, both constant-time)      = {r_full:.2}x time");
    println!("  ours/openssl (256-bit exponent, both ct)     = {r_b:.2}x time");
    println!("  ours b256 / openssl full (deployable ratio)  = {r_b_vs_ossl_full:.2}x time");
    println!("  ours full / ours b256 (bounded speed-up)     = {r_full_vs_b:.2}x");
    let r_kg_full = ratio(5, 6, &t);
    let r_kg_b = ratio(4, 7, &t);
    println!("  keygen g^x ours/openssl (full, ct)           = {r_kg_full:.2}x time");
    println!("  keygen g^x ours/openssl (256-bit, ct)        = {r_kg_b:.2}x time");
    // A responder handshake needs one keygen and one shared secret (no PFS).
    let hs = |a: usize, b: usize, t: &[Vec<f64>]| {
        let mut v: Vec<f64> = t[a].iter().zip(&t[b]).map(|(x, y)| x + y).collect();
        median(&mut v)
    };
    println!(
        "  before/after (crypto-bigint / ours): shared full {:.2}x, shared b256 {:.2}x, keygen b256 {:.2}x",
        ratio(8, 0, &t),
        ratio(9, 2, &t),
        ratio(10, 4, &t)
    );
    println!(
        "  before ours/openssl: shared full {:.2}x, shared b256 {:.2}x, keygen b256 {:.2}x time",
        ratio(8, 1, &t),
        ratio(9, 3, &t),
        ratio(10, 7, &t)
    );
    println!(
        "  DH per handshake before (keygen+shared, b256): {:.0}/s",
        1.0 / hs(10, 9, &t)
    );
    println!(
        "  DH per handshake (keygen+shared): ours b256 {:.0}/s, ours full {:.0}/s, openssl ct full {:.0}/s, openssl ct b256 {:.0}/s",
        1.0 / hs(4, 2, &t),
        1.0 / hs(5, 0, &t),
        1.0 / hs(6, 1, &t),
        1.0 / hs(7, 3, &t)
    );
}

fn dh_paired(_c: &mut Criterion) {
    paired(DhGroup::Modp1024, 101);
    paired(DhGroup::Modp2048, 61);
}

/// Welch's t statistic of two samples.
fn welch_t(a: &[f64], b: &[f64]) -> f64 {
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (n, mean, var)
    };
    let (na, ma, va) = stats(a);
    let (nb, mb, vb) = stats(b);
    (ma - mb) / (va / na + vb / nb).sqrt()
}

/// dudect-style check of one path: `samples` exponentiations, class 0 = all ones in the
/// low 256 bits, class 1 = random 256-bit exponents, classes drawn at random; returns the
/// largest |t| over the raw and the cropped samples.
fn dudect_one(g: DhGroup, base: &[u8], samples: usize, label: &str) -> f64 {
    let len = g.modulus_len();
    let mut rng = StdRng::seed_from_u64(0x00d0_d0c7);
    let mut ones = vec![0u8; len];
    ones[len - 32..].fill(0xff);
    let mut times: [Vec<f64>; 2] = [Vec::with_capacity(samples), Vec::with_capacity(samples)];
    let mut all = Vec::with_capacity(samples);
    let mut x = vec![0u8; len];
    // Warm-up (caches, the lazily built Montgomery constants).
    for _ in 0..20 {
        black_box(g.modexp(base, &ones, 256).unwrap());
    }
    for _ in 0..samples {
        let class = (rng.next_u32() & 1) as usize;
        if class == 0 {
            x.copy_from_slice(&ones);
        } else {
            rng.fill_bytes(&mut x[len - 32..]);
        }
        let s = Instant::now();
        black_box(g.modexp(black_box(base), black_box(&x), 256).unwrap());
        let dt = s.elapsed().as_secs_f64();
        times[class].push(dt);
        all.push(dt);
    }
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |q: f64| sorted[((sorted.len() - 1) as f64 * q) as usize];
    let mut worst: f64 = 0.0;
    let mut line = format!(
        "  group {:>2} {label:<14} n={}/{} medians {:.1}/{:.1} us  t:",
        g.attribute(),
        times[0].len(),
        times[1].len(),
        median(&mut times[0].clone()) * 1e6,
        median(&mut times[1].clone()) * 1e6
    );
    for (name, cut) in [("all", f64::INFINITY), ("p90", pct(0.9)), ("p50", pct(0.5))] {
        let a: Vec<f64> = times[0].iter().copied().filter(|&v| v <= cut).collect();
        let b: Vec<f64> = times[1].iter().copied().filter(|&v| v <= cut).collect();
        let t = welch_t(&a, &b);
        worst = worst.max(t.abs());
        line.push_str(&format!(" {name} {t:+.2}"));
    }
    println!("{line}  -> {}", if worst < 4.5 { "PASS" } else { "FAIL" });
    worst
}

fn dh_dudect(_c: &mut Criterion) {
    println!("dh_dudect (Welch t, all-ones vs random 256-bit exponents; |t| < 4.5 passes):");
    for (g, samples) in [(DhGroup::Modp1024, 6000), (DhGroup::Modp2048, 2000)] {
        let mut rng = StdRng::seed_from_u64(0x5eed_d0d0);
        let peer = KeyPair::generate(g, ExponentSize::Full, &mut rng).unwrap();
        dudect_one(g, peer.public_value(), samples, "general base");
        dudect_one(g, &[2], samples, "generator 2");
    }
}

fn dh(c: &mut Criterion) {
    bench_group(c, DhGroup::Modp1024);
    bench_group(c, DhGroup::Modp2048);
}

criterion_group!(benches, dh_paired, dh_dudect, dh);
criterion_main!(benches);
