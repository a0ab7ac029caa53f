//! isakmp-wire: parse and emit of a Cisco-client Aggressive Mode message 1, a
//! Main Mode message 1 and a Quick Mode body, beside a baseline over the same
//! bytes in the same run (a copy, and a byte checksum).
//!
//! Run: `cargo bench -p pix-benches --bench isakmp_wire`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use isakmp_wire::{parse_decrypted, Limits, Message, OwnedMessage, Packet, PayloadType};

#[path = "../../isakmp-wire/tests/common/samples.rs"]
mod samples;

/// The samples are valid messages (the isakmp-wire tests parse each one).
const SAMPLE: &str = "a sample message parses";
/// Emitting a model parsed from valid bytes, into a Vec, cannot fail.
const EMITS: &str = "a valid model emits";

fn checksum(b: &[u8]) -> u64 {
    b.iter()
        .fold(0u64, |a, x| a.wrapping_mul(31).wrapping_add(u64::from(*x)))
}

fn bench_message(c: &mut Criterion, name: &str, bytes: &[u8]) {
    let mut g = c.benchmark_group(format!("isakmp_wire/{name}"));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    let mut buf = Vec::with_capacity(bytes.len());
    g.bench_function("baseline_memcpy", |b| {
        b.iter(|| {
            buf.clear();
            buf.extend_from_slice(black_box(bytes));
            black_box(&buf);
        })
    });
    g.bench_function("baseline_checksum", |b| {
        b.iter(|| checksum(black_box(bytes)))
    });
    g.bench_function("header_view_cookies", |b| {
        b.iter(|| Packet::new_checked(black_box(bytes)).map(|p| p.cookies()))
    });
    g.bench_function("borrowed_validating_parse", |b| {
        b.iter(|| Message::parse(black_box(bytes)).expect(SAMPLE))
    });
    g.bench_function("borrowed_validating_walk", |b| {
        b.iter(|| samples::walk(black_box(bytes)).expect(SAMPLE))
    });
    g.bench_function("owned_parse", |b| {
        b.iter(|| OwnedMessage::parse(black_box(bytes)).expect(SAMPLE))
    });
    let owned = OwnedMessage::parse(bytes).expect(SAMPLE);
    let mut out = Vec::with_capacity(bytes.len());
    g.bench_function("owned_emit", |b| {
        b.iter(|| {
            out.clear();
            black_box(&owned).emit(&mut out).expect(EMITS);
            black_box(&out);
        })
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    let am1 = samples::am1().to_bytes().expect(EMITS);
    let mm1 = samples::mm1().to_bytes().expect(EMITS);
    assert!(Message::parse(&am1).is_ok() && Message::parse(&mm1).is_ok());
    bench_message(c, "am1", &am1);
    bench_message(c, "mm1", &mm1);

    let qm = samples::qm_body();
    let mut g = c.benchmark_group("isakmp_wire/qm_body");
    g.throughput(Throughput::Bytes(qm.len() as u64));
    g.bench_function("baseline_checksum", |b| b.iter(|| checksum(black_box(&qm))));
    g.bench_function("borrowed_validating_walk", |b| {
        b.iter(|| {
            let chain = parse_decrypted(PayloadType::Hash, black_box(&qm), 28, &Limits::DEFAULT)
                .expect(SAMPLE);
            samples::walk_chain(&chain).expect(SAMPLE)
        })
    });
    g.bench_function(BenchmarkId::new("owned_parse", qm.len()), |b| {
        b.iter(|| {
            parse_decrypted(PayloadType::Hash, black_box(&qm), 28, &Limits::DEFAULT)
                .expect(SAMPLE)
                .to_owned_payloads()
                .expect(SAMPLE)
        })
    });
    let payloads = parse_decrypted(PayloadType::Hash, &qm, 28, &Limits::DEFAULT)
        .expect(SAMPLE)
        .to_owned_payloads()
        .expect(SAMPLE);
    let mut out = Vec::with_capacity(qm.len());
    g.bench_function("owned_emit", |b| {
        b.iter(|| {
            out.clear();
            isakmp_wire::payload::emit_chain(black_box(&payloads), &mut out).expect(EMITS);
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(isakmp, benches);
criterion_main!(isakmp);
