//! Shared test helpers: snapshot comparison and file loading.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // IO in a test: loads the fixture and snapshot files
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use std::path::PathBuf;

pub fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name)
}

/// Compare `actual` with `tests/snapshots/NAME`. With `UPDATE_SNAPSHOTS=1` the file
/// is (re)written instead; committed snapshots are reviewed by hand.
pub fn check_snapshot(name: &str, actual: &str) {
    testkit::snapshot::check(&snapshot_path(name), name, actual);
}

pub fn fixture() -> String {
    testkit::shared::seed_fixture()
}

pub fn config_file(name: &str) -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/configs")
            .join(name),
    )
    .unwrap()
}

/// Render all diagnostics of a parse, one block each.
pub fn render_all(file: &str, src: &str, out: &pix_config::ParseOutcome) -> String {
    pix_config::render_diagnostics(file, src, &out.diagnostics)
}

/// Render all lint findings.
pub fn render_lint(file: &str, findings: &[pix_config::Finding]) -> String {
    findings.iter().map(|f| f.render(file)).collect()
}
