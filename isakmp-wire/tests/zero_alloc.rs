//! The borrowed validating parse (header, then every payload, proposal,
//! transform and attribute) makes no heap allocation. Its own test binary, so
//! the counting global allocator sees only this test (and one test function,
//! since the counter is process-wide and tests run on parallel threads).
#![allow(clippy::unwrap_used)]

mod common;

use common::samples;
use isakmp_wire::{parse_decrypted, Limits, PayloadType};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn borrowed_validating_parse_does_not_allocate() {
    let am1 = samples::am1().to_bytes().unwrap();
    let mm1 = samples::mm1().to_bytes().unwrap();
    let qm = samples::qm_body();
    let corpus = testkit::corpus::read_corpus("ike-scan/pkt-aggr-cert-response.dat");

    // The counter is process-wide, and the test harness's own threads can allocate
    // while this one runs (seen under load: 4 allocations of 900 bytes in total, from
    // outside the parser). The parse is deterministic, so an allocation inside it
    // would show up in every one of 100 iterations of every attempt: one attempt that
    // counts zero proves it allocation-free.
    let mut attempts = Vec::new();
    for _ in 0..5 {
        let region = Region::new(GLOBAL);
        let mut total = 0usize;
        for _ in 0..100 {
            total += samples::walk(&am1).unwrap();
            total += samples::walk(&mm1).unwrap();
            total += samples::walk(&corpus).unwrap();
            let chain = parse_decrypted(PayloadType::Hash, &qm, 28, &Limits::DEFAULT).unwrap();
            assert_eq!(chain.padding, [0, 0, 0, 3]);
            total += samples::walk_chain(&chain).unwrap();
            // Errors are allocation-free too.
            assert!(samples::walk(&am1[..am1.len() - 1]).is_err());
        }
        let stats = region.change();
        assert!(total > 0);
        if stats.allocations == 0 && stats.reallocations == 0 && stats.bytes_allocated == 0 {
            attempts.clear();
            break;
        }
        attempts.push(stats);
    }
    assert!(attempts.is_empty(), "every attempt allocated: {attempts:?}");

    // The counter works: the owned parse does allocate.
    let region = Region::new(GLOBAL);
    let owned = isakmp_wire::OwnedMessage::parse(&am1).unwrap();
    assert!(
        region.change().allocations > 24,
        "one Vec per transform at least"
    );
    assert_eq!(owned.to_bytes().unwrap(), am1);

    // The samples are what they claim (checked after the counting).
    let m = isakmp_wire::Message::parse(&am1).unwrap();
    assert_eq!(
        m.header.exchange_type,
        isakmp_wire::ExchangeType::Aggressive
    );
    let ps: Vec<_> = m.payloads().unwrap().map(Result::unwrap).collect();
    assert_eq!(ps.len(), 12);
    let isakmp_wire::Payload::Sa(sa) = ps[0].body else {
        panic!()
    };
    let p = sa.proposals().next().unwrap().unwrap();
    assert_eq!(p.transforms().count(), 24);
    let vids = ps
        .iter()
        .filter(|p| p.kind == PayloadType::VendorId)
        .count();
    assert_eq!(vids, 8);
    assert!(ps.iter().all(|p| match p.body {
        isakmp_wire::Payload::VendorId(v) => v.known().is_some(),
        _ => true,
    }));
}
