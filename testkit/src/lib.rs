//! Helpers shared by the workspace's test suites (a dev-dependency only; never a
//! dependency of library code).
//!
//! - [`corpus`]: files of the shared corpus in `../shared/corpus` beside the
//!   repository clone, read in place (GPL files are never copied into the tree);
//!   a missing file is a loud test failure, never a skip.
//! - [`pcap`]: the UDP datagrams (or, strictly, the Ethernet frames) of the
//!   corpus captures.
//! - [`shared`]: the seed fixture and the interop kit in `../shared`.
//! - [`snapshot`]: committed snapshots of human-facing output.
//! - [`aaa`]: in-memory RADIUS and TACACS+ servers (and a router between them
//!   and an `xauth::aaa::AaaClient`) for deterministic scenario tests.
//! - [`freeradius`]: a private copy of the Debian FreeRADIUS configuration,
//!   moved to a temp dir and to our own addresses and ports.
//! - [`aaa_tier`]: the shared AAA tier of many gateways: PostgreSQL and
//!   FreeRADIUS with `sql` accounting and the `sqlippool` address pool.
//!
//! ```
//! let p = testkit::corpus::corpus("SOURCES.md");
//! assert!(p.ends_with("shared/corpus/SOURCES.md"));
//! ```
// Test support: a panic is the way to fail a test, and every index is checked by
// the assertion before it.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

pub mod aaa;
pub mod aaa_tier;
pub mod corpus;
pub mod freeradius;
pub mod pcap;
pub mod shared;
pub mod snapshot;

/// Polls `f` every 20 ms until it holds or `limit` passes (then asks once more).
#[allow(clippy::disallowed_methods)] // test support on the real clock
pub fn wait_for(limit: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    f()
}
