#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for a bounded time (default 15 s),
# starting from the checked-in seed corpus. Any crash fails the run.
set -euo pipefail
secs=${1:-15}
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
if [ -z "$targets" ]; then
  echo "fuzz-smoke: no fuzz targets found" >&2
  exit 1
fi
cargo fuzz build -O
n=0
for t in $targets; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  echo "fuzz-smoke: $t for ${secs}s"
  log=$(mktemp)
  if ! timeout $((secs + 300)) cargo fuzz run -O "$t" "corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 \
      -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz-smoke: target $t FAILED (crash, leak, timeout or build error); artifacts in fuzz/artifacts/$t" >&2
    exit 1
  fi
  grep -E "stat::(number_of_executed_units|average_exec_per_sec)" "$log" | sed "s/^/  $t: /" || true
  rm -f "$log"
  n=$((n + 1))
done
echo "fuzz-smoke: $n passed, 0 failed"
