//! The rest of `../shared` beside the repository clone: the seed fixture and the
//! interop kit. Each helper fails the test (never skips) when its file is absent.

use std::path::{Path, PathBuf};

/// `<workspace>/../shared`.
pub const SHARED_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

/// The interop kit, `../shared/interop`.
pub const INTEROP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/interop");

/// The path of the seed configuration, `../shared/fixtures/pix63-vpnclient.cfg`.
pub fn seed_fixture_path() -> PathBuf {
    let p = Path::new(SHARED_DIR).join("fixtures/pix63-vpnclient.cfg");
    assert!(
        p.exists(),
        "the seed fixture is missing at {}: these tests need ../shared beside the repository",
        p.display()
    );
    p
}

/// The text of the seed configuration.
pub fn seed_fixture() -> String {
    std::fs::read_to_string(Path::new(SHARED_DIR).join("fixtures/pix63-vpnclient.cfg"))
        .expect("the seed fixture ../shared/fixtures/pix63-vpnclient.cfg must be present")
}

/// A file of the interop kit (`../shared/interop/<file>`), which must exist.
pub fn interop(file: &str) -> PathBuf {
    let p = Path::new(INTEROP_DIR).join(file);
    assert!(
        p.exists(),
        "{} is missing: the interop kit (shared/interop) must sit beside the repository",
        p.display()
    );
    p
}
