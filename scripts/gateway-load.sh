#!/bin/bash
# gateway-load.sh - memory per established user and handshake rate of `pix-gateway run`,
# driven by pix-loadgen (our own ike-sm initiator: VPN Client 4.x preset, Aggressive Mode +
# Xauth + Mode Config pull + Quick Mode), with the DH-only bound of this machine beside it.
#
# Two private network namespaces joined by one veth pair (gateway 192.168.1.1/24 <-> clients
# 192.168.1.2/24); nothing leaves the host. The gateway runs the demo configuration
# (examples/data/pix63-demo.cfg) with VPNpool widened to 10.89.130.1-250 (more with USERS
# above 250, or POOL), pinned to CPU
# $GW_CPU; the load generator is pinned to CPU $LG_CPU, so the client's own DH work does not
# compete with the gateway's.
#
# usage:  scripts/gateway-load.sh          (root)
# env:    USERS=100 CONC=8 (hold) RATE_CONC=16 (throughput) RATE_SECS=20 DH_SECS=10 GW_CPU=0 LG_CPU=1 KEEP=1 (keep run dir)
#         LOAD_LIMIT=900 (hard limit in seconds for the whole run)
#         GW_WORKERS=1 (pix-gateway run --workers) GW_CPUS=$GW_CPU (taskset CPU list of the
#         gateway, e.g. 0,1) LG_CPU=all (load generator not pinned) LG_ARGS="" (extra
#         pix-loadgen arguments for the throughput run, e.g. --reuse-client-dh)
#         LG_ADDRS=1 (client addresses 192.168.1.2.. of the hold rounds and the throughput run: a gateway of
#         several workers places a peer's first messages by its address, so give >= 8)
#         GW_ARGS="" (extra pix-gateway run arguments, e.g. "--limit pressure-half-open=0": the
#         gateway always under pressure, so it reuses one DH key pair per group, which
#         pix-loadgen --cache-client-dh turns into no client modexp per handshake)
#         POOL=FIRST-LAST (VPNpool of the run; default 10.89.130.1-10.89.130.250, or with
#         USERS > 250 as many /24s from 10.89.130.0 as USERS needs, e.g. 10,000 users:
#         10.89.130.1-10.89.169.254)
#         HOLD_ONLY=1 (memory rounds only: no throughput run, no DH-only bound)
#         GW_IMPL=strongswan (the hold rounds against strongSwan's charon configured like the
#         PIX by ../shared/interop, kernel-libipsec, instead of pix-gateway: implies
#         HOLD_ONLY=1; its VmRSS per user beside ours)
#         HOLD_SETTLE=S (seconds to wait with the users held before reading VmRSS a second
#         time: the gateway drops what it keeps for retransmissions 62 s after an SA's
#         last exchange; 0 = one reading only)
#         CARGO_TARGET_DIR (default /work/targets/load)
# exit:   0 every step passed, 1 a measurement or check failed, 2 setup failed, 77 not root
set -u
# hard overall limit: re-exec under timeout(1); SIGTERM at the limit runs the cleanup trap
[ -z "${_LOAD_INNER:-}" ] && exec env _LOAD_INNER=1 timeout -k 15 "${LOAD_LIMIT:-900}" "$0" "$@"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/targets/load}
USERS=${USERS:-100}; CONC=${CONC:-8}; RATE_CONC=${RATE_CONC:-16}; RATE_SECS=${RATE_SECS:-20}; DH_SECS=${DH_SECS:-10}
GW_CPU=${GW_CPU:-0}; LG_CPU=${LG_CPU:-1}; KEEP=${KEEP:-0}
GW_WORKERS=${GW_WORKERS:-1}; GW_CPUS=${GW_CPUS:-$GW_CPU}; LG_ARGS=${LG_ARGS:-}; LG_ADDRS=${LG_ADDRS:-1}
GW_ARGS=${GW_ARGS:-}; HOLD_ONLY=${HOLD_ONLY:-0}; HOLD_SETTLE=${HOLD_SETTLE:-0}
GW_IMPL=${GW_IMPL:-pix}; KIT=${PIX_INTEROP_DIR:-$ROOT/../shared/interop}
[ "$GW_IMPL" = strongswan ] && HOLD_ONLY=1
# the gateway's IKE SA limit (default 4096) above the users held
MAX_SAS=; [ "$USERS" -gt 3800 ] && MAX_SAS="--limit max-sas=$(( USERS + 1024 ))"
if [ -z "${POOL:-}" ]; then
  if [ "$USERS" -le 250 ]; then POOL=10.89.130.1-10.89.130.250
  else POOL="10.89.130.1-10.89.$(( 130 + (USERS + 1) / 254 )).254"; fi
fi
METRICS=127.0.0.1:9464   # the gateway's Prometheus endpoint, inside its namespace
RUN=$(mktemp -d /tmp/gateway-load.XXXXXX)
GWNS=pixload-gw$$; CLNS=pixload-cl$$; VGW=vlgw$$; VCL=vlcl$$; TUN=pixld$$
CTL=$RUN/control.sock
BIN=$CARGO_TARGET_DIR/release
PIDS=(); FAIL=0; GWPID=
declare -A R   # results for the summary

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { FAIL=1; log "FAILED: $*"; exit "${2:-1}"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_for() { # wait_for SECONDS CMD... : poll every 100 ms, bounded
  local end=$(( $(now_ms) + $1 * 1000 )); shift
  while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done; return 1; }
stop_pid() { # SIGTERM, wait <= 5 s, then SIGKILL; only PIDs this script started
  local p=$1; kill -0 "$p" 2>/dev/null || return 0; kill -TERM "$p" 2>/dev/null
  wait_for 5 sh -c "! kill -0 $p 2>/dev/null" || kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
cleanup() {
  local i; for ((i=${#PIDS[@]}-1; i>=0; i--)); do stop_pid "${PIDS[$i]}"; done
  ip netns del "$GWNS" 2>/dev/null; ip netns del "$CLNS" 2>/dev/null
  if [ "$KEEP" = 1 ] || [ "$FAIL" != 0 ]; then echo "run dir kept: $RUN"; else rm -rf "$RUN"; fi; }
trap cleanup EXIT; trap 'FAIL=1; log "interrupted (time limit?)"; exit 2' INT TERM
# Reaper in its own session: if this script is SIGKILLed, it still stops our jobs (the PIDs
# listed in $RUN/pids, all timeout(1) processes) and deletes the namespaces.
: > "$RUN/pids"
setsid bash -c '
  trap "" TERM INT HUP; end=$(( SECONDS + ${3:-900} + 60 ))
  while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.5; done
  [ -f "$2/pids" ] || exit 0
  for p in $(tac "$2/pids"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = timeout ] && kill -TERM "$p"; done
  sleep 3; ip netns del "$4" 2>/dev/null; ip netns del "$5" 2>/dev/null
' reaper $$ "$RUN" "${LOAD_LIMIT:-900}" "$GWNS" "$CLNS" < /dev/null > /dev/null 2>&1 &
track() { PIDS+=("$1"); echo "$1" >> "$RUN/pids"; }

[ "$(id -u)" = 0 ] || { echo "must run as root"; exit 77; }
for t in ip taskset timeout cargo getconf curl; do command -v $t >/dev/null || { echo "missing $t"; exit 2; }; done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$GWPID/status"; }
cpu_s() { # utime+stime of the gateway in seconds
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$GWPID/stat"; }
lg_pin() { # the taskset prefix of the load generator (none with LG_CPU=all)
  [ "$LG_CPU" = all ] || echo taskset -c "$LG_CPU"; }
shard_handshakes() { # pix_shard_handshakes_total of every shard: "0=N 1=M"
  ip netns exec "$GWNS" timeout 10 curl -s "http://$METRICS/metrics" \
    | awk -F'[" ]' '/^pix_shard_handshakes_total\{/ { printf "%s=%s ", $2, $NF }'; }
show() { ip netns exec "$GWNS" timeout 10 "$BIN/pix-gateway" show --control "$CTL" "$@"; }
swan() { ip netns exec "$GWNS" timeout 10 swanctl "$@" --uri "unix://$RUN/gw-charon.vici" 2>>"$RUN/swanctl.err"; }
isakmp_total() {
  if [ "$GW_IMPL" = strongswan ]; then swan --stats | awk '/^IKE_SAs:/ {print $2}'
  else show crypto isakmp sa | awk '/^Total/ {print $3}'; fi; }
pool_in_use() { # strongSwan: name base online / offline / size
  if [ "$GW_IMPL" = strongswan ]; then swan --list-pools | awk '$1 == "vpnpool" {print $3}'
  else show local-pool | awk '$1 == "VPNpool" {print $5}'; fi; }
no_sas() { [ "$(isakmp_total)" = 0 ]; }

log "machine: $(nproc) CPUs; load: $(uptime)"
R[load_before]=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- build -------------------------------------------------------------------------------
log "building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
( cd "$ROOT" && timeout 1200 cargo build --release -p pix-gateway --bins --offline ) > "$RUN/build.log" 2>&1 \
  || { tail -20 "$RUN/build.log"; die "cargo build" 2; }
[ -x "$BIN/pix-gateway" ] && [ -x "$BIN/pix-loadgen" ] || die "binaries missing in $BIN" 2

# ---- namespaces and configuration --------------------------------------------------------
log "netns $GWNS (192.168.1.1) <-> $CLNS (192.168.1.2), run dir $RUN"
ip netns add "$GWNS" && ip netns add "$CLNS" || die "ip netns add" 2
ip link add "$VGW" type veth peer name "$VCL" || die "ip link add veth" 2
ip link set "$VGW" netns "$GWNS" && ip link set "$VCL" netns "$CLNS" || die "veth move" 2
ip -n "$GWNS" addr add 192.168.1.1/24 dev "$VGW" && ip -n "$CLNS" addr add 192.168.1.2/24 dev "$VCL" \
  || die "addresses" 2
for n in "$GWNS" "$CLNS"; do ip -n "$n" link set lo up || die "lo up" 2; done
ip -n "$GWNS" link set "$VGW" up && ip -n "$CLNS" link set "$VCL" up || die "veth up" 2
[ "$LG_ADDRS" -ge 1 ] && [ "$LG_ADDRS" -le 200 ] || die "LG_ADDRS=$LG_ADDRS: want 1..200" 2
for ((i = 3; i < 2 + LG_ADDRS; i++)); do
  ip -n "$CLNS" addr add "192.168.1.$i/24" dev "$VCL" || die "client address 192.168.1.$i" 2
done
HOLD_BIND=
[ "$LG_ADDRS" -gt 1 ] && HOLD_BIND="--bind 192.168.1.2 --bind-spread $LG_ADDRS" && LG_ARGS="$LG_ARGS $HOLD_BIND"

[[ "$POOL" =~ ^[0-9.]+-[0-9.]+$ ]] || die "POOL=$POOL: want FIRST-LAST" 2
sed "s/^ip local pool VPNpool 10\\.89\\.129\\.200-10\\.89\\.129\\.204\$/ip local pool VPNpool $POOL/" \
  "$ROOT/examples/data/pix63-demo.cfg" > "$RUN/gw.cfg"
grep -qx "ip local pool VPNpool $POOL" "$RUN/gw.cfg" || die "pool not widened" 2
log "VPNpool $POOL"
cp "$ROOT/examples/data/pix63-demo.secrets" "$RUN/gw.secrets"

# ---- gateway -----------------------------------------------------------------------------
log "starting pix-gateway run --workers $GW_WORKERS on CPU $GW_CPUS; the load test lifts the per-peer limits"
log "  (--limit new-sas-per-peer-per-sec=100000 --limit max-half-open-per-peer=100000:"
log "   the defaults, 10/s and 8 half-open, rate-limit one source address, and every"
log "   simulated user comes from 192.168.1.2)${MAX_SAS:+; $MAX_SAS}${GW_ARGS:+; extra: $GW_ARGS}"
if [ "$GW_IMPL" = strongswan ]; then
  [ -x /usr/lib/ipsec/charon ] && command -v swanctl >/dev/null || die "GW_IMPL=strongswan needs charon and swanctl (scripts/deps.sh)" 2
  sed -e "s|RUNDIR|$RUN|g" -e 's/^\(\s*\)\(ike\|chd\) = 4/\1\2 = 1/' \
      -e 's/^\(\s*\)\(cfg\|net\) = 2/\1\2 = 1/' "$KIT/gw-strongswan.conf" > "$RUN/gw-strongswan.conf"
  sed -e 's/192\.0\.2\.1/192.168.1.1/g' -e "s/addrs = 10\.89\.129\.200-10\.89\.129\.204/addrs = $POOL/" \
      "$KIT/gw-swanctl.conf" > "$RUN/swanctl.conf"
  sed -i 's/block_threshold = 100$/block_threshold = 100000/' "$RUN/gw-strongswan.conf"
  grep -q "addrs = $POOL" "$RUN/swanctl.conf" || die "strongSwan pool not widened" 2
  log "starting strongSwan's charon on CPU $GW_CPUS (../shared/interop configuration, pool $POOL)"
  log "  note: kernel-libipsec installs only UDP-encapsulated ESP and pix-loadgen --hold does not"
  log "  float to 4500, so charon refuses its child SAs (\"unable to install ... IPsec SA\"): its"
  log "  figure covers the IKE SA, Xauth and Mode Config of each user, not the ESP SAs ours counts"
  timeout "${LOAD_LIMIT:-900}" taskset -c "$GW_CPUS" ip netns exec "$GWNS" unshare -m sh -c \
    "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF=$RUN/gw-strongswan.conf /usr/lib/ipsec/charon" \
    > "$RUN/gateway.log" 2>&1 &
  track $!
  TPID=$!
  wait_for 15 test -S "$RUN/gw-charon.vici" || { tail -20 "$RUN/gateway.log"; die "charon did not start" 2; }
  swan --load-all --noprompt --file "$RUN/swanctl.conf" > "$RUN/swanctl.log" 2>&1
  grep -q "loaded connection 'pix'" "$RUN/swanctl.log" || { cat "$RUN/swanctl.log"; die "charon did not load its configuration" 2; }
  GWPID=$(awk '{print $1}' "/proc/$TPID/task/$TPID/children")   # timeout's child: exec'ed to charon
  [ "$(cat "/proc/$GWPID/comm" 2>/dev/null)" = charon ] || die "no charon under $TPID (child $GWPID)" 2
else
# shellcheck disable=SC2086  # GW_ARGS is a list of arguments
timeout "${LOAD_LIMIT:-900}" taskset -c "$GW_CPUS" ip netns exec "$GWNS" "$BIN/pix-gateway" run \
  --config "$RUN/gw.cfg" --secrets "$RUN/gw.secrets" --control "$CTL" --inside-tun "$TUN" \
  --workers "$GW_WORKERS" --metrics "$METRICS" \
  --limit new-sas-per-peer-per-sec=100000 --limit max-half-open-per-peer=100000 $MAX_SAS $GW_ARGS \
  > "$RUN/gateway.log" 2>&1 &
track $!
TPID=$!
wait_for 5 sh -c "[ -n \"\$(cat /proc/$TPID/task/$TPID/children 2>/dev/null)\" ]" || die "gateway did not start" 2
GWPID=$(cat "/proc/$TPID/task/$TPID/children" | awk '{print $1}')
wait_for 15 sh -c "ip netns exec $GWNS timeout 5 $BIN/pix-gateway show --control $CTL version >/dev/null 2>&1" \
  || { tail -20 "$RUN/gateway.log"; die "gateway control socket not answering" 2; }
[ "$(cat /proc/$GWPID/comm)" = pix-gateway ] || die "gateway PID $GWPID is $(cat /proc/$GWPID/comm)" 2
fi
log "gateway PID $GWPID, affinity: $(taskset -pc "$GWPID" | sed 's/.*: //')"

loadgen() { # loadgen ARGS... : the load generator in the client namespace, on CPU $LG_CPU
  $(lg_pin) ip netns exec "$CLNS" "$BIN/pix-loadgen" --gateway 192.168.1.1 "$@"; }
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }

# ---- memory: USERS held users, twice ----------------------------------------------------
hold_round() { # hold_round N: connect USERS users, measure while held, release
  local n=$1 out=$RUN/hold$1.out
  mkfifo "$RUN/hold$n.in"
  timeout 300 $(lg_pin) ip netns exec "$CLNS" "$BIN/pix-loadgen" --gateway 192.168.1.1 \
    --hold --users "$USERS" --concurrency "$CONC" $HOLD_BIND < "$RUN/hold$n.in" > "$out" 2>"$RUN/hold$n.err" &
  local lp=$!; track $lp
  exec 7> "$RUN/hold$n.in"
  wait_for 240 grep -q '^HOLDING' "$out" || { exec 7>&-; cat "$out" "$RUN/hold$n.err"; die "hold round $n: users not connected"; }
  sleep 1   # let the gateway finish its last Quick Mode bookkeeping
  R[rss_held$n]=$(rss_kb)
  R[sa_total$n]=$(isakmp_total); R[pool_used$n]=$(pool_in_use)
  if [ "$GW_IMPL" = strongswan ]; then swan --list-sas > "$RUN/isakmp-sa$n.txt"; swan --list-pools --leases > "$RUN/local-pool$n.txt"
    log "round $n: charon: $(grep -c INSTALLED "$RUN/isakmp-sa$n.txt") child SAs installed, $(grep -c 'unable to install' "$RUN/gw-charon.log") refused"
  else show crypto isakmp sa > "$RUN/isakmp-sa$n.txt"; show local-pool > "$RUN/local-pool$n.txt"; fi
  grep '^hold' "$out" | sed 's/^/    /'
  log "round $n: $USERS users held: VmRSS ${R[rss_held$n]} kB, show crypto isakmp sa Total ${R[sa_total$n]}, local-pool in use ${R[pool_used$n]}"
  [ "$GW_WORKERS" -gt 1 ] && log "round $n: phase 1s by shard since start (metrics): $(shard_handshakes)"
  if [ "$HOLD_SETTLE" -gt 0 ]; then
    sleep "$HOLD_SETTLE"; R[rss_settled$n]=$(rss_kb)
    log "round $n: $HOLD_SETTLE s later, still held: VmRSS ${R[rss_settled$n]} kB, Total $(isakmp_total)"
  fi
  exec 7>&-                                   # EOF: the load generator deletes every SA
  wait "$lp"; local rc=$?
  grep -q '^hold: released' "$out" || rc=1
  [ "$rc" = 0 ] || { cat "$out" "$RUN/hold$n.err"; die "hold round $n: load generator exit $rc"; }
  [ "${R[sa_total$n]}" = "$USERS" ] || die "round $n: show crypto isakmp sa says Total ${R[sa_total$n]}, want $USERS"
  [ "${R[pool_used$n]}" = "$USERS" ] || die "round $n: show local-pool says ${R[pool_used$n]} in use, want $USERS"
  if ! wait_for 10 no_sas; then
    # Above a few thousand users the load generator's burst of DELETEs (two datagrams per
    # user at once) overflows the gateway's UDP receive buffer (capped by the host's
    # net.core.rmem_max): the SAs whose DELETE was lost stay. Only one round then.
    # (charon, too, takes longer than that over its DELETEs: not what this script checks)
    [ "$USERS" -gt 4000 ] || [ "$GW_IMPL" = strongswan ] || die "round $n: SAs left after every user sent DELETE: $(isakmp_total)"
    log "round $n: WARNING: $(isakmp_total) SAs left after DELETE (UDP receive errors in the gateway's namespace: $(ip netns exec "$GWNS" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 2; i <= NF; i++) if (n[i] ~ /RcvbufErrors/) print $i }' /proc/net/snmp)): DELETEs lost in the burst"
    R[rss_released$n]=$(rss_kb); return
  fi
  [ "$(pool_in_use)" = 0 ] || die "round $n: pool addresses left in use after DELETE: $(pool_in_use)"
  R[rss_released$n]=$(rss_kb)
  log "round $n: released: Total 0, pool 0 in use, VmRSS ${R[rss_released$n]} kB"
}
R[rss_idle]=$(rss_kb)
log "gateway idle: VmRSS ${R[rss_idle]} kB"
hold_round 1
if [ "$USERS" -le 4000 ] && [ "$GW_IMPL" = pix ]; then hold_round 2; else log "one hold round only (above 4000 users, or strongSwan: see round 1)"; fi

if [ "$HOLD_ONLY" != 1 ]; then
# ---- throughput --------------------------------------------------------------------------
log "throughput: connect-and-delete for $RATE_SECS s, $RATE_CONC handshakes in flight${LG_ARGS:+, loadgen $LG_ARGS}"
R[shards_before]=$(shard_handshakes)
# shellcheck disable=SC2086  # LG_ARGS is a list of arguments
timeout $((RATE_SECS + 120)) $(lg_pin) ip netns exec "$CLNS" "$BIN/pix-loadgen" \
  --gateway 192.168.1.1 --rate-secs "$RATE_SECS" --concurrency "$RATE_CONC" --gateway-pid "$GWPID" $LG_ARGS \
  > "$RUN/rate.out" 2> "$RUN/rate.err" < /dev/null
RC=$?
sed 's/^/    /' "$RUN/rate.out"
[ "$RC" = 0 ] || { cat "$RUN/rate.err"; die "throughput run: load generator exit $RC"; }
R[hs]=$(field RATE_HANDSHAKES_PER_SEC "$RUN/rate.out")
R[gw_cpu]=$(field GATEWAY_CPU_SECS "$RUN/rate.out")
R[gw_util]=$(field GATEWAY_CPU_UTIL_PCT "$RUN/rate.out")
R[hs_cpu]=$(field HANDSHAKES_PER_GATEWAY_CPU_SEC "$RUN/rate.out")
R[rate_line]=$(grep '^rate: completed' "$RUN/rate.out")
R[lg_cpu]=$(sed -n 's/^rate: load generator CPU //p' "$RUN/rate.out")
R[lg_modexps]=$(field CLIENT_MODEXPS_PER_HANDSHAKE "$RUN/rate.out")
R[shards_after]=$(shard_handshakes)
[ -n "${R[hs]}" ] && [ -n "${R[hs_cpu]}" ] || die "throughput run printed no rate"
udp_drops() { # udp_drops NS: UDP receive-buffer and total receive errors in a namespace
  ip netns exec "$1" awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[i] = $i; h = 1 } else for (i = 2; i <= NF; i++) if (n[i] ~ /RcvbufErrors|InErrors/) printf "%s=%s ", n[i], $i }' /proc/net/snmp; }
log "UDP receive errors: gateway ns: $(udp_drops "$GWNS"); client ns: $(udp_drops "$CLNS")"
if ! wait_for 15 sh -c "[ \"\$(ip netns exec $GWNS timeout 5 $BIN/pix-gateway show --control $CTL crypto isakmp sa | awk '/^Total/ {print \$3}')\" = 0 ]"; then
  show crypto isakmp sa; show local-pool
  die "after the throughput run: $(isakmp_total) SAs left 15 s after every client sent DELETE (stuck?)"
fi
[ "$(pool_in_use)" = 0 ] || die "after the throughput run: $(pool_in_use) pool addresses left in use"
R[rss_after_rate]=$(rss_kb)
log "after the throughput run: Total 0, pool 0 in use, VmRSS ${R[rss_after_rate]} kB"
kill -0 "$GWPID" 2>/dev/null || die "the gateway died"

# ---- DH-only bound, on the gateway's CPU (the gateway is idle now) ------------------------
log "DH-only bound: $DH_SECS s on CPU $GW_CPU"
timeout $((DH_SECS + 30)) taskset -c "$GW_CPU" "$BIN/pix-loadgen" --dh-bound "$DH_SECS" > "$RUN/dh.out" 2>&1 \
  || { cat "$RUN/dh.out"; die "dh-bound run"; }
sed 's/^/    /' "$RUN/dh.out"
R[dh]=$(field DH_BOUND_PER_SEC "$RUN/dh.out"); R[dh_cpu]=$(field DH_BOUND_PER_CPU_SEC "$RUN/dh.out")
[ -n "${R[dh_cpu]}" ] || die "dh-bound printed no rate"
fi   # HOLD_ONLY
R[load_after]=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- summary -----------------------------------------------------------------------------
per_user() { awk -v a="$1" -v b="$2" -v n="$USERS" 'BEGIN { printf "%.1f", (b - a) / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }
echo
echo "==== pix-gateway load summary ($(date -u +%FT%TZ), $(nproc) CPUs, gateway ($GW_IMPL, $GW_WORKERS workers) on CPU $GW_CPUS, load generator on CPU $LG_CPU)"
echo "     per-peer limits lifted for this test: new-sas-per-peer-per-sec=100000 max-half-open-per-peer=100000${GW_ARGS:+; gateway args: $GW_ARGS}"
echo "     load generator: concurrency $RATE_CONC, $LG_ADDRS address(es)${LG_ARGS:+, $LG_ARGS}"
printf '%-52s %s\n' \
  "gateway VmRSS idle" "${R[rss_idle]} kB" \
  "VmRSS with $USERS users held (round 1)" "${R[rss_held1]} kB" \
  "RSS growth per established user (round 1)" "$(per_user "${R[rss_idle]}" "${R[rss_held1]}") kB" \
  "RSS growth per user $HOLD_SETTLE s later (round 1)" "$( [ "$HOLD_SETTLE" -gt 0 ] && per_user "${R[rss_idle]}" "${R[rss_settled1]}" || echo -) kB" \
  "VmRSS after round-1 DELETEs" "${R[rss_released1]} kB" \
  "show crypto isakmp sa Total / local-pool in use" "${R[sa_total1]} / ${R[pool_used1]} (round 1)"
[ -n "${R[rss_held2]:-}" ] && printf '%-52s %s\n' \
  "VmRSS with $USERS users held (round 2)" "${R[rss_held2]} kB" \
  "RSS growth per user (round 2, from released)" "$(per_user "${R[rss_released1]}" "${R[rss_held2]}") kB" \
  "VmRSS after round-2 DELETEs" "${R[rss_released2]} kB" \
  "show crypto isakmp sa Total / local-pool in use" "${R[sa_total2]} / ${R[pool_used2]} (round 2)"
[ "$HOLD_ONLY" = 1 ] && { printf '%-52s %s\n' "load average before / after" "${R[load_before]} / ${R[load_after]}"; exit 0; }
printf '%-52s %s\n' \
  "throughput: handshakes/s ($RATE_SECS s, concurrency $RATE_CONC)" "${R[hs]}" \
  "  $(echo "${R[rate_line]}" | sed 's/^rate: //')" "" \
  "gateway CPU over the window" "${R[gw_cpu]} s (${R[gw_util]}% of one CPU)" \
  "handshakes per gateway-CPU-second" "${R[hs_cpu]}" \
  "load generator CPU over the window" "${R[lg_cpu]:-?}" \
  "client phase-1 modexps per handshake" "${R[lg_modexps]:-?}" \
  "phase 1s by shard (metrics) before / after it" "${R[shards_before]:-?}/ ${R[shards_after]:-?}" \
  "DH-only bound (keypair + agree, group 2, 256-bit x)" "${R[dh_cpu]} per CPU-second (${R[dh]}/s wall clock on CPU $GW_CPU)" \
  "handshakes per gateway-CPU-s / DH bound per CPU-s" "$(ratio "${R[hs_cpu]}" "${R[dh_cpu]}")" \
  "VmRSS after the throughput run" "${R[rss_after_rate]} kB" \
  "load average before / after" "${R[load_before]} / ${R[load_after]}"
exit 0
