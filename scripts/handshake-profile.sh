#!/usr/bin/env bash
# handshake-profile.sh - where the IKEv1 responder's non-DH time goes.
#
# Builds the `ike_replay` bench with frame pointers (own target directory, release profile
# with its LTO), replays one recorded handshake into fresh gateways under `perf record -g`,
# keeps the samples taken inside the gateway's own calls but outside the Diffie-Hellman
# work, and splits them by what was running: the phase-1 cipher (DES/3DES tables, AES), the
# hashes (MD5, SHA-1 compressions and the HMAC glue around them), the allocator, memory
# copies, and everything else (parsing, policy, building replies, state). The last line
# converts the shares into microseconds with the bench's own "handshake minus DH" median.
#
# usage:  scripts/handshake-profile.sh [<group>:<am|mm>:<rounds>[:aes]]   (default 2:am:3000, DES/MD5)
# env:    CARGO_TARGET_DIR (default target/handshake-profile), PERF_FREQ (default 10000)
# needs:  perf (linux-perf) with permission to sample this process, python3
set -euo pipefail
cd "$(dirname "$0")/.."
arg=${1:-2:am:3000}
command -v perf >/dev/null || { echo "handshake-profile: perf not found (apt-get install linux-perf)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "handshake-profile: python3 not found" >&2; exit 2; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target/handshake-profile}
export RUSTFLAGS="${RUSTFLAGS:-} -C force-frame-pointers=yes"
run=$(mktemp -d /tmp/handshake-profile.XXXXXX)
trap 'rm -rf "$run"' EXIT
echo "handshake-profile: building ike_replay with frame pointers in $CARGO_TARGET_DIR"
bin=$(cargo bench -p pix-benches --bench ike_replay --no-run --message-format=json 2>"$run/build.log" \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="ike_replay":
        print(m["executable"])') || { tail -30 "$run/build.log" >&2; exit 1; }
[ -x "$bin" ] || { echo "handshake-profile: no ike_replay executable" >&2; tail -30 "$run/build.log" >&2; exit 1; }
echo "handshake-profile: perf record of $bin --bench $arg"
timeout 900 perf record -q -F "${PERF_FREQ:-10000}" -g -o "$run/perf.data" "$bin" --bench "$arg" >"$run/replay.txt" 2>"$run/perf.log" \
  || { cat "$run/perf.log" >&2; exit 1; }
cat "$run/replay.txt"
perf script -i "$run/perf.data" -F ip,sym >"$run/stacks.txt" 2>/dev/null
python3 - "$run/stacks.txt" "$run/replay.txt" <<'EOF'
import re, sys
stacks, replay = sys.argv[1], open(sys.argv[2]).read()
samples, cur = [], []
for line in open(stacks):
    line = line.strip()
    if not line:
        if cur:
            samples.append(cur)
        cur = []
        continue
    cur.append(line.split(' ', 1)[1] if ' ' in line else '?')
if cur:
    samples.append(cur)
in_gw = [s for s in samples if any('Endpoint::handle_datagram' in f or 'Endpoint::datagram' in f or 'gw_poll' in f for f in s)]
dh = ('DhGroup::modexp', 'KeyPair::', 'in_open_range', 'validate_public_value', 'crypto_bigint::')
rest = [s for s in in_gw if not any(any(d in f for d in dh) for f in s)]
if len(rest) < 500:
    sys.exit(f"handshake-profile: only {len(rest)} non-DH samples in the gateway; raise the rounds or PERF_FREQ")
classes = [
    ('phase-1 cipher: DES/3DES', ('DesKeys', 'des_table', 'des::')),
    ('phase-1 cipher: AES', ('aes::', 'cbc::')),
    ('hash: MD5 compression', ('md5::',)),
    ('hash: SHA-1 compression (incl. retransmission digests)', ('sha1::',)),
    ('hash: SHA-256 compression', ('sha2::',)),
    ('HMAC/digest glue (padding, finalize, copies)', ('hash::finish', 'hash::keyed', 'hmac::', 'block_buffer', 'HashAlg::digest')),
    ('allocator', ('malloc', 'free', '_int_', '__rust_alloc', '__rust_dealloc', '__rust_realloc', 'finish_grow', 'grow_one', 'realloc')),
    ('memcpy/memmove/memset', ('memmove', 'memcpy', 'memset')),
]
counts = {name: 0 for name, _ in classes}
other = 0
for s in rest:
    leaf = s[0]
    for name, keys in classes:
        if any(k in leaf for k in keys):
            counts[name] += 1
            break
    else:
        other += 1
m = re.search(r'handshake minus DH ([0-9.]+) us', replay)
us = float(m.group(1)) if m else None
print(f"\nnon-DH samples inside the gateway: {len(rest)} (of {len(in_gw)} in the gateway, {len(samples)} in all)")
for name, _ in classes:
    c = counts[name]
    if c:
        line = f"  {100*c/len(rest):5.1f} %  {name}"
        print(line + (f"  (~{us*c/len(rest):.1f} us)" if us else ""))
print(f"  {100*other/len(rest):5.1f} %  everything else (parsing, policy, replies, state, events)" + (f"  (~{us*other/len(rest):.1f} us)" if us else ""))
if us:
    print(f"  (microseconds from the replay's median 'handshake minus DH' of {us:.1f} us)")
EOF
