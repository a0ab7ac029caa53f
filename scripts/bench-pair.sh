#!/usr/bin/env bash
# Paired benches of two builds, A (before) and B (after), alternated round by round and
# pinned to CPU 1: the handshake/DH-only summary, pix-nat's lookups and xlate creation
# beside their linear baselines, and ESP at 1,400 B beside OpenSSL.
# Build each side first: CARGO_TARGET_DIR=<dir> cargo bench -p pix-benches \
#   --bench ike_handshake --bench esp --bench pix_nat --no-run   (in a checkout of that side)
# usage: scripts/bench-pair.sh A_TARGET_DIR B_TARGET_DIR OUTDIR [ROUNDS]
set -euo pipefail
A=$(realpath "$1"); B=$(realpath "$2"); OUT=$(realpath -m "$3"); R=${4:-3}
mkdir -p "$OUT"
bin() { ls "$1"/release/deps/$2-* | grep -v '\.d$' | head -1; }
cd "$(dirname "$0")/../benches"
for i in $(seq 1 "$R"); do
  for s in A B; do
    d=$A; [ $s = B ] && d=$B
    taskset -c 1 "$(bin "$d" ike_handshake)" --bench zzz_no_criterion > "$OUT/hs_${s}_$i.txt" 2>&1
    taskset -c 1 "$(bin "$d" pix_nat)" --bench 'xlate_create|nat_lookup|acl_lookup/.*/10000$' --warm-up-time 1 --measurement-time 2 --noplot > "$OUT/nat_${s}_$i.txt" 2>&1
    taskset -c 1 "$(bin "$d" esp)" --bench 'esp-(encap|decap)/.*/1400' --warm-up-time 1 --measurement-time 2 --noplot > "$OUT/esp_${s}_$i.txt" 2>&1
  done
done
echo done > "$OUT/DONE"
