#!/bin/bash
# esp-load.sh - tunnel traffic through `pix-gateway run`: packets per second, loss, inner
# Mbit/s and the gateway's CPU-seconds per gigabyte, for inner packets of 64/512/1400
# bytes, up (clients -> inside) and down (inside -> clients), driven by
# `pix-loadgen --esp` (TUNNELS real tunnels from our ike-sm initiator: VPN Client 4.x
# preset, Xauth, Mode Config, Quick Mode; then ESP over a raw socket) against
# `pix-loadgen --esp-inside` (the inside counterpart, a UDP socket on $INSIDE).
#
# Two private network namespaces joined by one veth pair, as in gateway-load.sh (gateway
# 192.168.1.1/24 <-> clients 192.168.1.2/24); nothing leaves the host. The gateway runs
# the demo configuration with VPNpool widened to 10.89.130.1-250 (exempt from NAT like
# the demo's pool: access-list 101 gains 10.89.130.0/24) and, with ESP_TRANSFORM, another
# transform set. The inside counterpart listens in the gateway's namespace on $INSIDE,
# an address of the demo's inside network put on lo there: the gateway
# writes the decrypted packets to its TUN device and the kernel delivers them locally;
# what the counterpart sends to a pool address is routed into the TUN device.
#
# usage:  scripts/esp-load.sh          (root)
# env:    SECS=5 (per point) SIZES="64 512 1400" DIRS="up down" (up, down, both)
#         RATE=0 (packets/s per direction, 0: as fast as the load generator can) TUNNELS=8
#         VERIFY_EVERY=1 (down: decrypt one in K packets back, count the rest by length:
#         with K > 1 the client pays little of the cipher and a down run measures the gateway)
#         CLIENT_ADDRS=$TUNNELS (the tunnels come from 192.168.1.2, .3, ..: the gateway
#         puts every IKE SA of one peer address on one shard, so one address = one shard)
#         GW_WORKERS=1 (pix-gateway run --workers) GW_CPUS=0 (taskset CPU list of the
#         gateway, e.g. 0,1) LG_CPU=1 (load generator and inside counterpart; "all": not
#         pinned) SINK_CPU=$LG_CPU (the inside counterpart alone) ESP_TRANSFORM="esp-des esp-md5-hmac" (e.g. "esp-aes esp-sha-hmac")
#         NATT=1 (ESP in UDP on port 4500, RFC 3948: the gateway gets `isakmp nat-traversal 20`
#         and the load generator --natt, which forces the float without a NAT as strongSwan's
#         forceencaps does; needs CLIENT_ADDRS >= TUNNELS, the default) GSO=1 (with NATT=1: the
#         load generator sends each batch of a tunnel as one UDP GSO send, --esp-gso)
#         INSIDE=10.89.129.131:9000 KEEP=1 (keep the run dir) LOAD_LIMIT=900 (hard limit in
#         seconds for the whole run) CARGO_TARGET_DIR (default /work/targets/load, shared
#         with gateway-load.sh) BIN=DIR (use pix-gateway and pix-loadgen from DIR, no build)
# exit:   0 every point measured, 1 a measurement failed, 2 setup failed, 77 not root
set -u
# hard overall limit: re-exec under timeout(1); SIGTERM at the limit runs the cleanup trap
[ -z "${_ESP_INNER:-}" ] && exec env _ESP_INNER=1 timeout -k 15 "${LOAD_LIMIT:-900}" "$0" "$@"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/targets/load}
SECS=${SECS:-5}; SIZES=${SIZES:-64 512 1400}; DIRS=${DIRS:-up down}; RATE=${RATE:-0}; VERIFY_EVERY=${VERIFY_EVERY:-1}
TUNNELS=${TUNNELS:-8}; CLIENT_ADDRS=${CLIENT_ADDRS:-$TUNNELS}; GW_WORKERS=${GW_WORKERS:-1}; GW_CPUS=${GW_CPUS:-0}; LG_CPU=${LG_CPU:-1}
ESP_TRANSFORM=${ESP_TRANSFORM:-esp-des esp-md5-hmac}; INSIDE=${INSIDE:-10.89.129.131:9000}
KEEP=${KEEP:-0}; SINK_CPU=${SINK_CPU:-$LG_CPU}; NATT=${NATT:-0}
NATT_ARG=; [ "$NATT" = 1 ] && NATT_ARG=--natt
GSO_ARG=; [ "${GSO:-0}" = 1 ] && GSO_ARG=--esp-gso
RUN=$(mktemp -d /tmp/esp-load.XXXXXX)
GWNS=pixesp-gw$$; CLNS=pixesp-cl$$; VGW=vegw$$; VCL=vecl$$; TUN=pixes$$
CTL=$RUN/control.sock
NO_BUILD=0; [ -n "${BIN:-}" ] && NO_BUILD=1
BIN=${BIN:-$CARGO_TARGET_DIR/release}
PIDS=(); FAIL=0; GWPID=

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
pin() { [ "${1:-$LG_CPU}" = all ] || echo taskset -c "${1:-$LG_CPU}"; }
field() { awk -v k="$1" '$1 == k {print $2}' "$2"; }
METRICS=127.0.0.1:9464   # the gateway's Prometheus endpoint, inside its namespace
shard_packets() { # "SHARD DIRECTION COUNT" lines of pix_shard_packets_total
  ip netns exec "$GWNS" timeout 10 curl -s "http://$METRICS/metrics" \
    | awk -F'[" ]' '/^pix_shard_packets_total\{/ { print $2, $4, $NF }'; }
shard_delta() { # shard_delta BEFORE AFTER: "0=from/to 1=from/to" packets during the point
  awk 'NR == FNR { b[$1 " " $2] = $3; next } { d[$1] = d[$1] ($2 == "from_clients" ? "" : "/") ($3 - b[$1 " " $2]) }
       END { for (s in d) printf "%s=%s ", s, d[s] }' "$1" "$2"; }

log "machine: $(nproc) CPUs; load: $(uptime)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- build -------------------------------------------------------------------------------
if [ "$NO_BUILD" = 1 ]; then
  log "using the binaries in $BIN (no build)"
else
  log "building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  ( cd "$ROOT" && timeout 1200 cargo build --release -p pix-gateway --bins --offline ) > "$RUN/build.log" 2>&1 \
    || { tail -20 "$RUN/build.log"; die "cargo build" 2; }
fi
[ -x "$BIN/pix-gateway" ] && [ -x "$BIN/pix-loadgen" ] || die "binaries missing in $BIN" 2

# ---- namespaces and configuration --------------------------------------------------------
log "netns $GWNS (192.168.1.1, inside counterpart $INSIDE) <-> $CLNS (192.168.1.2), run dir $RUN"
ip netns add "$GWNS" && ip netns add "$CLNS" || die "ip netns add" 2
ip link add "$VGW" type veth peer name "$VCL" || die "ip link add veth" 2
ip link set "$VGW" netns "$GWNS" && ip link set "$VCL" netns "$CLNS" || die "veth move" 2
ip -n "$GWNS" addr add 192.168.1.1/24 dev "$VGW" && ip -n "$CLNS" addr add 192.168.1.2/24 dev "$VCL" \
  || die "addresses" 2
for n in "$GWNS" "$CLNS"; do ip -n "$n" link set lo up || die "lo up" 2; done
if [ "$NATT" = 1 ]; then
  # The gateway sends runs of ESP in UDP with UDP GSO. A veth hands such a super-packet
  # to the other namespace whole, where the load generator's raw receive socket would
  # see one 64 KB "datagram"; a wire never carries one. The gateway's veth therefore
  # segments in software before it transmits, as a NIC without UDP segmentation
  # offload would (the gateway pays for the segmentation: the conservative figure).
  command -v ethtool >/dev/null || die "ethtool missing (apt-get install ethtool)" 77
  ip netns exec "$GWNS" ethtool -K "$VGW" tx-udp-segmentation off >/dev/null \
    || die "ethtool -K $VGW tx-udp-segmentation off" 2
fi
ip -n "$GWNS" link set "$VGW" up && ip -n "$CLNS" link set "$VCL" up || die "veth up" 2
[ "$CLIENT_ADDRS" -ge 1 ] && [ "$CLIENT_ADDRS" -le 200 ] || die "CLIENT_ADDRS=$CLIENT_ADDRS: give 1..200" 2
for ((i = 3; i < CLIENT_ADDRS + 2; i++)); do
  ip -n "$CLNS" addr add "192.168.1.$i/24" dev "$VCL" || die "client address 192.168.1.$i" 2
done
ip -n "$GWNS" addr add "${INSIDE%:*}/32" dev lo || die "inside address ${INSIDE%:*} on lo" 2

sed -e 's/^ip local pool VPNpool 10\.89\.129\.200-10\.89\.129\.204$/ip local pool VPNpool 10.89.130.1-10.89.130.250/' \
    -e 's/^\(access-list 101 permit ip 10\.89\.129\.128 255\.255\.255\.240 10\.89\.129\.192 255\.255\.255\.240\)$/\1\naccess-list 101 permit ip 10.89.129.128 255.255.255.240 10.89.130.0 255.255.255.0/' \
    -e "s/^crypto ipsec transform-set myset .*/crypto ipsec transform-set myset $ESP_TRANSFORM/" \
  "$ROOT/examples/data/pix63-demo.cfg" > "$RUN/gw.cfg"
grep -q '^ip local pool VPNpool 10.89.130.1-10.89.130.250$' "$RUN/gw.cfg" || die "pool not widened" 2
grep -q '^access-list 101 permit ip 10.89.129.128 255.255.255.240 10.89.130.0 255.255.255.0$' "$RUN/gw.cfg" \
  || die "pool not exempted from NAT" 2
grep -q "^crypto ipsec transform-set myset $ESP_TRANSFORM\$" "$RUN/gw.cfg" || die "transform set not set" 2
if [ "$NATT" = 1 ]; then
  [ "$CLIENT_ADDRS" -ge "$TUNNELS" ] || die "NATT=1: give CLIENT_ADDRS >= TUNNELS (one tunnel per address)" 2
  echo "isakmp nat-traversal 20" >> "$RUN/gw.cfg"
fi
cp "$ROOT/examples/data/pix63-demo.secrets" "$RUN/gw.secrets"

# ---- gateway and inside counterpart ------------------------------------------------------
log "starting pix-gateway run --workers $GW_WORKERS on CPU $GW_CPUS (transform set: $ESP_TRANSFORM)"
timeout "${LOAD_LIMIT:-900}" taskset -c "$GW_CPUS" ip netns exec "$GWNS" "$BIN/pix-gateway" run \
  --config "$RUN/gw.cfg" --secrets "$RUN/gw.secrets" --control "$CTL" --inside-tun "$TUN" \
  --workers "$GW_WORKERS" --metrics "$METRICS" > "$RUN/gateway.log" 2>&1 &
track $!
TPID=$!
wait_for 5 sh -c "[ -n \"\$(cat /proc/$TPID/task/$TPID/children 2>/dev/null)\" ]" || die "gateway did not start" 2
GWPID=$(awk '{print $1}' "/proc/$TPID/task/$TPID/children")
wait_for 15 sh -c "ip netns exec $GWNS timeout 5 $BIN/pix-gateway show --control $CTL version >/dev/null 2>&1" \
  || { tail -20 "$RUN/gateway.log"; die "gateway control socket not answering" 2; }
[ "$(cat /proc/$GWPID/comm)" = pix-gateway ] || die "gateway PID $GWPID is $(cat /proc/$GWPID/comm)" 2
log "gateway PID $GWPID, affinity: $(taskset -pc "$GWPID" | sed 's/.*: //')"

set -f; POINTS=$(( $(echo $SIZES | wc -w) * $(echo $DIRS | wc -w) )); set +f
SINK_SECS=$(( POINTS * (SECS + 20) + 30 ))
# shellcheck disable=SC2046  # pin is a command prefix or nothing
timeout $((SINK_SECS + 10)) $(pin "$SINK_CPU") ip netns exec "$GWNS" "$BIN/pix-loadgen" --esp-inside \
  --listen "$INSIDE" --secs "$SINK_SECS" > "$RUN/inside.log" 2>&1 &
track $!
wait_for 5 grep -q '^INSIDE listening' "$RUN/inside.log" || { cat "$RUN/inside.log"; die "inside counterpart did not start" 2; }

# ---- the points --------------------------------------------------------------------------
ROWS=()
for dir in $DIRS; do
  for size in $SIZES; do
    out=$RUN/$dir-$size.out
    log "$dir, $size-byte inner packets, $TUNNELS tunnels from $CLIENT_ADDRS addresses, ${SECS} s, rate $RATE/s (0: as fast as possible)"
    shard_packets > "$RUN/$dir-$size.shards0"
    # shellcheck disable=SC2046
    timeout $((SECS + 60)) $(pin) ip netns exec "$CLNS" "$BIN/pix-loadgen" --esp --gateway 192.168.1.1 \
      --bind 192.168.1.2 --bind-spread "$CLIENT_ADDRS" --tunnels "$TUNNELS" --esp-secs "$SECS" --esp-rate "$RATE" --esp-size "$size" --direction "$dir" \
      --esp-verify-every "$VERIFY_EVERY" --inside "$INSIDE" --gateway-pid "$GWPID" ${NATT_ARG:+"$NATT_ARG"} ${GSO_ARG:+"$GSO_ARG"} > "$out" 2> "$RUN/$dir-$size.err" < /dev/null
    rc=$?
    grep '^esp:' "$out" | sed 's/^/    /'
    [ "$rc" = 0 ] || { cat "$RUN/$dir-$size.err"; die "$dir $size: load generator exit $rc"; }
    shard_packets > "$RUN/$dir-$size.shards1"
    SHARDS=$(shard_delta "$RUN/$dir-$size.shards0" "$RUN/$dir-$size.shards1")
    log "packets by shard (from clients/to clients, metrics): $SHARDS"
    ROWS+=("$(printf '%-5s %5s %10s %10s %7s %9s %8s %6s %9s %7s' "$dir" "$size" \
      "$(field ESP_PPS_SENT "$out")" "$(field ESP_PPS_RECEIVED "$out")" "$(field LOSS_PCT "$out")" \
      "$(field MBIT_PER_S "$out")" "$(field GATEWAY_CPU_SECS "$out")" "$(field GATEWAY_CPU_UTIL_PCT "$out")" \
      "$(field GATEWAY_CPU_SECS_PER_GB "$out")" "$(field GATEWAY_RUNQUEUE_WAIT_SECS "$out")")  $SHARDS")
    kill -0 "$GWPID" 2>/dev/null || die "the gateway died"
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- summary -----------------------------------------------------------------------------
echo
echo "==== pix-gateway ESP load summary ($(date -u +%FT%TZ), $(nproc) CPUs, gateway ($GW_WORKERS workers) on CPU $GW_CPUS, load generator on CPU $LG_CPU, inside counterpart on CPU $SINK_CPU)"
echo "     $TUNNELS tunnels from $CLIENT_ADDRS addresses, $ESP_TRANSFORM$([ "$NATT" = 1 ] && echo ', ESP in UDP (NAT-T)'), $SECS s per point, asked rate $RATE packets/s per direction (0: as fast as possible), inside $INSIDE"
printf '%-5s %5s %10s %10s %7s %9s %8s %6s %9s %7s  %s\n' dir bytes pps_sent pps_recv loss% Mbit/s gw_cpu_s gw_cpu% cpu_s/GB gw_wait "by shard: from/to clients"
for r in "${ROWS[@]}"; do echo "$r"; done
echo "(pps and Mbit/s: inner packets received at the far end per second of the window; gw_cpu: the gateway's utime+stime over the window and a 0.5 s drain;"
echo " gw_wait: the seconds its threads were runnable but waiting for a CPU over the same time, i.e. the machine's other load)"
echo "load average before / after: $LOAD_BEFORE / $LOAD_AFTER"
exit 0
