#!/usr/bin/env bash
# The project's one test command: installs what the tests need, then runs every test.
# Usage: scripts/test.sh            (CI runs exactly this)
#        FUZZ_SECS=60 scripts/test.sh  (longer fuzz smoke)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
echo "== dependencies"
scripts/deps.sh
echo "== format"
cargo fmt --all -- --check || { echo "test.sh: cargo fmt --all would change files" >&2; exit 1; }
echo "== clippy (every target, warnings are errors; clippy.toml bans clocks, OS randomness, threads, files, sockets and std's randomly seeded hasher in the library crates)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== docs (rustdoc warnings are errors: broken links, missing docs of the library crates)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
echo "== cargo package (each library crate as crates.io would get it, built from its .crate; the crates that depend on each other are resolved through cargo's local overlay)"
# --allow-dirty: this checks that the crates package and build, it publishes nothing.
# Cargo takes a registry crate of a given name and version as immutable: it reuses the
# sources it unpacked ($CARGO_HOME/registry/src/-<hash>/, a local registry has no host
# name) and what it built from them. Our crates keep their version while they change,
# so a second run would verify the dependents against the first run's crates: drop both
# (the builds in a target dir of their own, so the workspace's are left alone).
verify_dir=target/package-verify
packages=()
for c in pix-primitives isakmp-wire esp pix-config pix-nat xauth modecfg ike-sm; do
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/"$c"-[0-9]* "$verify_dir"/debug/.fingerprint/"$c"-*
  packages+=(-p "$c")
done
CARGO_TARGET_DIR=$verify_dir cargo package --locked --allow-dirty "${packages[@]}"
echo "== unit, integration, corpus, interop and property tests (benches run once each in test mode)"
cargo test --workspace --all-targets --locked
echo "== flood interop tests (optimised build, profile 'flood': a debug gateway cannot keep up with the issue's flood rates)"
cargo test --profile flood --locked -p pix-gateway --test flood
echo "== doc tests"
cargo test --workspace --doc --locked
echo "== fuzz smoke (${FUZZ_SECS:-15}s per target)"
scripts/fuzz-smoke.sh "${FUZZ_SECS:-15}"
echo "== all tests passed in $(( $(date +%s) - start ))s"
