//! The shared corpus: `../shared/corpus/<rel>`, beside the repository clone.
//! Files are read where they are (several are GPL: they are never copied into the
//! tree); a missing file fails the test with its path.

use std::path::PathBuf;

/// The corpus directory (`<workspace>/../shared/corpus`).
pub const CORPUS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus");

/// The corpus directory itself, for tests that walk it; fails the test when the
/// corpus is not there (no `SOURCES.md`).
pub fn corpus_dir() -> PathBuf {
    let p = PathBuf::from(CORPUS_DIR);
    assert!(
        p.join("SOURCES.md").exists(),
        "the shared corpus is missing at {}: these tests need ../shared beside the repository",
        p.display()
    );
    p
}

/// `../shared/corpus/<rel>`.
pub fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(CORPUS_DIR).join(rel)
}

/// Reads a corpus file or fails saying where it should be; files are small, but
/// anything absurdly large (over 16 MiB) is refused.
pub fn read_corpus(rel: &str) -> Vec<u8> {
    let p = corpus(rel);
    let data = std::fs::read(&p)
        .unwrap_or_else(|e| panic!("cannot read corpus file {}: {e}", p.display()));
    assert!(data.len() < 16 << 20, "{} is over 16 MiB", p.display());
    data
}

/// A corpus file as UTF-8 text.
pub fn read_corpus_text(rel: &str) -> String {
    String::from_utf8(read_corpus(rel)).unwrap_or_else(|e| panic!("{rel} is not UTF-8: {e}"))
}
