//! A fixed-work probe for `perf stat` (ignored by default): N borrowed
//! validating parses / walks of the AM1 sample, so cycles per message can be read
//! from CPU counters, independent of how loaded the machine is.
//!
//! `cargo test --release -p isakmp-wire --test perf_probe -- --ignored --nocapture`
//! under `perf stat -e cycles:u,instructions:u`.
#![allow(clippy::unwrap_used)]

mod common;

use common::samples;

const N: usize = 1_000_000;

#[test]
#[ignore]
fn am1_parse_probe() {
    let am1 = samples::am1().to_bytes().unwrap();
    let mode = std::env::var("PROBE").unwrap_or_default();
    let mut acc = 0usize;
    for _ in 0..N {
        let b = std::hint::black_box(&am1[..]);
        acc += if mode == "walk" {
            samples::walk(b).unwrap()
        } else {
            isakmp_wire::Message::parse(b).unwrap().wire_len()
        };
    }
    // Time it from outside (`perf stat -e task-clock`): the libraries'
    // clippy policy keeps clocks out of code, tests included.
    eprintln!("{mode}: {N} AM1 messages, acc {acc}");
}
