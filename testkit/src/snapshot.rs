//! Snapshot files of human-facing output: `actual` must equal the committed file;
//! with `UPDATE_SNAPSHOTS=1` the file is (re)written instead, and the rewrite is
//! reviewed by hand.

use std::path::Path;

/// Compares `actual` with the snapshot at `path` (`name` labels the failure).
/// Fails when the file is missing or differs, naming the first differing line.
pub fn check(path: &Path, name: &str, actual: &str) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(path, actual)
            .unwrap_or_else(|e| panic!("writing snapshot {}: {e}", path.display()));
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "snapshot {} missing ({e}); run with UPDATE_SNAPSHOTS=1 and review it",
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
