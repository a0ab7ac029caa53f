//! Shared test helpers: the seed fixture, a fixed clock, snapshot comparison.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // test code
#![allow(dead_code, clippy::disallowed_methods)]

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pix_nat::Firewall;

/// The seed configuration (`../shared/fixtures/pix63-vpnclient.cfg`).
pub fn seed_text() -> String {
    testkit::shared::seed_fixture()
}

pub fn seed() -> Firewall {
    build(&seed_text())
}

pub fn build(text: &str) -> Firewall {
    let out = pix_config::parse(text);
    assert!(!out.has_errors(), "{:?}", out.diagnostics);
    Firewall::new(&out.config).expect("firewall builds")
}

/// The seed with `from` replaced by `to` (one occurrence must exist).
pub fn seed_with(from: &str, to: &str) -> String {
    let seed = seed_text();
    assert!(seed.contains(from), "seed lacks {from:?}");
    seed.replacen(from, to, 1)
}

pub fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// One fixed origin for every test clock.
pub fn t0() -> Instant {
    Instant::now()
}

pub fn secs(t: Instant, s: u64) -> Instant {
    t + Duration::from_secs(s)
}

/// Compare with `tests/snapshots/NAME`; `UPDATE_SNAPSHOTS=1` rewrites it.
pub fn snapshot(name: &str, actual: &str) {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "snapshots", name]
        .iter()
        .collect();
    testkit::snapshot::check(&path, name, actual);
}
