//! Shared test helpers: snapshot comparison and file loading.
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
    let path = snapshot_path(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} missing ({e}); run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        for (i, (a, b)) in expected.lines().zip(actual.lines()).enumerate() {
            if a != b {
                panic!(
                    "snapshot {name} differs at line {}:\n expected: {a}\n   actual: {b}",
                    i + 1
                );
            }
        }
        panic!(
            "snapshot {name} differs in length: expected {} lines, got {}",
            expected.lines().count(),
            actual.lines().count()
        );
    }
}

pub fn fixture() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/pix63-vpnclient.cfg"
    ))
    .expect("the seed fixture ../shared/fixtures/pix63-vpnclient.cfg must be present")
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
