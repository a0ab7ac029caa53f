//! pix-config: parse + resolve a generated 200,000-line configuration (names,
//! object-groups, access-lists, statics, routes), beside a baseline measured in the
//! same run: splitting the same text into lines and whitespace tokens (the least any
//! parser must do).
//!
//! Run: `cargo bench -p pix-benches --bench pix_config -- --warm-up-time 1 --measurement-time 5`

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A deterministic configuration of exactly `total` lines (at least 1,000).
// Line counts and address octets of a generated input: `total` is 200,000 (far from any
// overflow) and the moduli `names`, `groups` and `ports.len()` are positive.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
fn generate(total: usize) -> String {
    assert!(
        total >= 1000,
        "generate: {total} lines leave no room for the ACLs"
    );
    let mut s = String::with_capacity(total * 64);
    let mut n = 0usize;
    let push = |s: &mut String, line: std::fmt::Arguments<'_>| {
        s.write_fmt(line).expect("writing to a String cannot fail");
        s.push('\n');
    };
    push(&mut s, format_args!("PIX Version 6.3(3)"));
    push(&mut s, format_args!("nameif ethernet0 outside security0"));
    push(&mut s, format_args!("nameif ethernet1 inside security100"));
    push(&mut s, format_args!("nameif ethernet2 dmz security50"));
    push(&mut s, format_args!("names"));
    n += 5;
    let names = total / 10;
    for i in 0..names {
        push(
            &mut s,
            format_args!(
                "name 10.{}.{}.{} host{i}",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            ),
        );
    }
    n += names;
    let groups = total / 200;
    for g in 0..groups {
        push(&mut s, format_args!("object-group network grp{g}"));
        for k in 0..4 {
            push(
                &mut s,
                format_args!("  network-object host host{}", (g * 4 + k) % names),
            );
        }
        push(
            &mut s,
            format_args!(
                "  network-object 172.{}.{}.0 255.255.255.0",
                16 + (g >> 8) % 16,
                g & 255
            ),
        );
        n += 6;
    }
    push(&mut s, format_args!("object-group service web tcp"));
    push(&mut s, format_args!("  port-object eq www"));
    push(&mut s, format_args!("  port-object eq https"));
    n += 3;
    let statics = total / 10;
    let routes = total / 10;
    let acls = total - n - statics - routes - 2;
    let ports = [
        "www", "https", "smtp", "domain", "sqlnet", "1521", "8080", "ssh",
    ];
    for i in 0..acls {
        let id = format!("acl{}", i % 50);
        match i % 6 {
            0 => push(&mut s, format_args!("access-list {id} permit tcp any host host{} eq {}", i % names, ports[i % ports.len()])),
            1 => push(&mut s, format_args!("access-list {id} permit ip 10.{}.{}.0 255.255.255.0 object-group grp{}", (i >> 8) & 255, i & 255, i % groups)),
            2 => push(&mut s, format_args!("access-list {id} deny udp host 192.168.{}.{} range 1024 65535 any eq domain log", (i >> 8) & 255, i & 255)),
            3 => push(&mut s, format_args!("access-list {id} permit tcp any object-group grp{} object-group web", i % groups)),
            4 => push(&mut s, format_args!("access-list {id} permit icmp any any echo-reply")),
            _ => push(&mut s, format_args!("access-list {id} remark rule {i} for the generated benchmark")),
        }
    }
    for i in 0..statics {
        push(
            &mut s,
            format_args!(
                "static (inside,outside) 198.{}.{}.{} host{} netmask 255.255.255.255 0 0",
                18 + (i >> 16) % 2,
                (i >> 8) & 255,
                i & 255,
                i % names
            ),
        );
    }
    for i in 0..routes {
        push(
            &mut s,
            format_args!(
                "route inside 10.{}.{}.0 255.255.255.0 10.0.0.{} 1",
                (i >> 8) & 255,
                i & 255,
                1 + i % 250
            ),
        );
    }
    push(
        &mut s,
        format_args!("access-group acl0 in interface outside"),
    );
    push(&mut s, format_args!(": end"));
    s
}

/// Baseline: split into lines and whitespace tokens, touching every token.
fn split_only(text: &str) -> usize {
    let mut n = 0usize;
    for line in text.split('\n') {
        for tok in line.split_ascii_whitespace() {
            n = n.wrapping_add(tok.len());
        }
    }
    n
}

/// On-CPU nanoseconds of this thread so far (Linux `/proc/thread-self/schedstat`),
/// so the per-core rate can be reported even when the machine is oversubscribed and
/// wall time includes waiting for a core.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Median on-CPU time of `runs` calls of `f`, in nanoseconds.
fn median_cpu<F: FnMut() -> usize>(runs: usize, mut f: F) -> Option<u64> {
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = cpu_ns()?;
        black_box(f());
        v.push(cpu_ns()?.saturating_sub(t0));
    }
    v.sort_unstable();
    v.get(runs / 2).copied()
}

fn bench(c: &mut Criterion) {
    let text = generate(200_000);
    let lines = text.lines().count() as u64;
    assert_eq!(lines, 200_000);
    let out = pix_config::parse(&text);
    assert!(
        !out.has_errors(),
        "{:?}",
        out.diagnostics.iter().find(|d| d.is_error())
    );
    assert_eq!(out.warning_count(), 0);

    // per-core CPU time (wall time on a shared machine includes run-queue waits)
    let base = median_cpu(9, || split_only(black_box(&text)));
    let parse = median_cpu(9, || {
        pix_config::parse(black_box(&text)).config.commands.len()
    });
    if let (Some(b), Some(p)) = (base, parse) {
        let rate = |ns: u64| lines as f64 / (ns as f64 / 1e9);
        eprintln!(
            "pix_config cpu-time medians over 9 runs: baseline split {:.1} ms ({:.2} M lines/s), parse+resolve {:.1} ms ({:.2} M lines/s)",
            b as f64 / 1e6,
            rate(b) / 1e6,
            p as f64 / 1e6,
            rate(p) / 1e6
        );
    }

    let mut g = c.benchmark_group("pix_config_200k_lines");
    g.throughput(Throughput::Elements(lines));
    g.sample_size(10);
    g.bench_function("baseline_split_lines_tokens", |b| {
        b.iter(|| split_only(black_box(&text)))
    });
    g.bench_function("parse_and_resolve", |b| {
        b.iter(|| pix_config::parse(black_box(&text)).config.commands.len())
    });
    g.bench_function("print", |b| b.iter(|| out.config.to_pix_string().len()));
    g.bench_function("lint", |b| {
        b.iter(|| pix_config::lint(black_box(&out.config)).len())
    });
    g.finish();
}

/// The largest real dump (sanitized PIX 6.3(3), 4,876 lines; sources in
/// pix-config/tests/configs/real/SOURCES.md): parse + resolve and lint, what
/// `pix-gateway check` does with it.
fn bench_real_dump(c: &mut Criterion) {
    let text = include_str!("../../pix-config/tests/configs/real/06-pix2asa-pix38-6.3.3.cfg");
    let out = pix_config::parse(text);
    assert!(!out.has_errors());
    let mut g = c.benchmark_group("pix_config_real_dump_06");
    g.throughput(Throughput::Elements(text.lines().count() as u64));
    g.bench_function("parse_and_resolve", |b| {
        b.iter(|| pix_config::parse(black_box(text)).config.commands.len())
    });
    g.bench_function("lint", |b| {
        b.iter(|| pix_config::lint(black_box(&out.config)).len())
    });
    g.finish();
}

criterion_group!(benches, bench, bench_real_dump);
criterion_main!(benches);
