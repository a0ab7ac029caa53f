#!/usr/bin/env bash
# Flood benchmark (issue 15; not part of scripts/test.sh). Run as root.
#
# For each flood kind of `pix-loadgen --flood` (am1, am1-unknown-group, mm1, header:
# spoofed first messages from random addresses of 10.99.0.0/16, from a namespace of its
# own), the highest rate at which N of N vpnc logins, started after 8 s of flood and one
# after the other while it goes on, each get their tunnel within 3 s; with the gateway's
# CPU% over the flood and its peak RSS (VmHWM) at that rate. Measured for our gateway
# (`pix-gateway run`, the demo configuration, no --debug) and for strongSwan's charon
# configured like the PIX by ../shared/interop (gw-swanctl.conf, gw-strongswan.conf with
# its file log turned down to level 1, as our gateway runs without debug), with the same
# flood and the same client in the same run. Each rate starts a fresh gateway; a kind
# stops stepping at its first failing rate.
#
#   scripts/flood-bench.sh [--quick] [--only ours|strongswan] [--kinds "am1 mm1"]
#                          [--logins N] [--rates "250 500 ..."] [--no-build]
#                          [--gateway-bin PATH]
#
# --quick: three rates per kind around the issue's targets, 3 logins (4-8 minutes);
# the full run steps 250 500 1000 2000 5000 10000 20000 40000 80000/s with 10 logins
# (10-20 minutes). Namespaces are fb<pid>*, removed on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIT=${PIX_INTEROP_DIR:-$ROOT/../shared/interop}
GWBIN=$ROOT/target/release/pix-gateway
LOADGEN=$ROOT/target/release/pix-loadgen
DEMO_CFG=$ROOT/examples/data/pix63-demo.cfg
DEMO_SECRETS=$ROOT/examples/data/pix63-demo.secrets
QUICK=0 BUILD=1 ONLY="" KINDS="am1 am1-unknown-group mm1 header" LOGINS="" RATES=""
WARMUP=8 WITHIN_MS=3000 CIDR=10.99.0.0/16

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --no-build) BUILD=0 ;;
    --only) ONLY=$2; shift ;;
    --kinds) KINDS=$2; shift ;;
    --logins) LOGINS=$2; shift ;;
    --rates) RATES=$2; shift ;;
    --gateway-bin) GWBIN=$2; BUILD=0; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "flood-bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || { echo "flood-bench: needs root (namespaces, raw sockets)" >&2; exit 1; }
for t in ip vpnc pgrep swanctl timeout unshare; do
  command -v "$t" >/dev/null || { echo "flood-bench: needs $t (scripts/deps.sh installs it)" >&2; exit 1; }
done
[ -x /usr/lib/ipsec/charon ] || { echo "flood-bench: needs /usr/lib/ipsec/charon (scripts/deps.sh)" >&2; exit 1; }
[ -f "$KIT/vpnc-script.sh" ] || { echo "flood-bench: the interop kit is missing at $KIT" >&2; exit 1; }
if [ -z "$LOGINS" ]; then if [ $QUICK = 1 ]; then LOGINS=3; else LOGINS=10; fi; fi
if [ $BUILD = 1 ]; then
  (cd "$ROOT" && cargo build --release -q -p pix-gateway --bins)
fi

rates_for() { # kind -> the rates to step through
  if [ -n "$RATES" ]; then echo "$RATES"; return; fi
  if [ $QUICK = 0 ]; then echo "250 500 1000 2000 5000 10000 20000 40000 80000"; return; fi
  case "$1" in
    am1|am1-unknown-group) echo "300 1000 2000" ;;
    mm1) echo "1000 5000 10000" ;;
    header) echo "10000 40000 80000" ;;
  esac
}

P=fb$$
W=${P}w G=${P}g I=${P}i C=${P}c F=${P}f
DIR=$(mktemp -d /tmp/flood-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 1
  for p in "${PIDS[@]}"; do pkill -KILL -P "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  for ns in $F $C $I $G $W; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

# ---- the lab: wan bridge, gateway (outside 192.168.1.1, inside 10.89.129.194/28 to an
# inside namespace), vpnc client 192.168.1.11, flooder 192.168.1.99 (the spoofed CIDR is
# routed to it from the gateway's namespace; it does not forward, so replies end there)
for ns in $W $G $I $C $F; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip -n $W link add br0 type bridge && ip -n $W link set br0 up
n=0
port() { # ns cidr: a veth from ns to the bridge
  n=$((n + 1))
  ip link add "$P"a$n type veth peer name "$P"b$n
  ip link set "$P"a$n netns "$1" name wan0
  ip link set "$P"b$n netns $W name p$n
  ip -n "$1" addr add "$2" dev wan0 && ip -n "$1" link set wan0 up
  ip -n $W link set p$n master br0 && ip -n $W link set p$n up
}
port $G 192.168.1.1/24
port $C 192.168.1.11/24
port $F 192.168.1.99/24
ip link add "$P"in type veth peer name "$P"ip
ip link set "$P"in netns $G name in0 && ip link set "$P"ip netns $I name in0
ip -n $G addr add 10.89.129.194/28 dev in0 && ip -n $G link set in0 up
ip -n $I addr add 10.89.129.193/28 dev in0 && ip -n $I link set in0 up
ip -n $G route add 10.89.129.128/25 via 10.89.129.193
ip -n $G route add $CIDR via 192.168.1.99
ip netns exec $G sysctl -qw net.ipv4.ip_forward=1
ip netns exec $F sysctl -qw net.ipv4.ip_forward=0

sed -e "s|RUNDIR|$DIR|g" -e 's/^\(\s*\)\(ike\|chd\) = 4/\1\2 = 1/' \
    -e 's/^\(\s*\)\(cfg\|net\) = 2/\1\2 = 1/' "$KIT/gw-strongswan.conf" > "$DIR/gw-strongswan.conf"
sed -e 's/192\.0\.2\.1/192.168.1.1/g' "$KIT/gw-swanctl.conf" > "$DIR/swanctl.conf"

TPID="" GPID=""
start_gateway() { # ours|strongswan -> TPID (timeout), GPID (the daemon)
  rm -f "$DIR/gw.log" "$DIR/ctl.sock" "$DIR/gw-charon.vici"
  if [ "$1" = ours ]; then
    ip netns exec $G timeout -k 3 600 "$GWBIN" run --config "$DEMO_CFG" --secrets "$DEMO_SECRETS" \
      --control "$DIR/ctl.sock" >"$DIR/gw.log" 2>&1 &
    TPID=$!
    for _ in $(seq 100); do grep -q " up: IKE on" "$DIR/gw.log" 2>/dev/null && break; sleep 0.1; done
    grep -q " up: IKE on" "$DIR/gw.log" || { echo "flood-bench: our gateway did not start:" >&2; cat "$DIR/gw.log" >&2; exit 1; }
  else
    ip netns exec $G timeout -k 3 600 unshare -m sh -c \
      "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF=$DIR/gw-strongswan.conf /usr/lib/ipsec/charon" \
      >"$DIR/gw.log" 2>&1 &
    TPID=$!
    for _ in $(seq 150); do [ -S "$DIR/gw-charon.vici" ] && break; sleep 0.1; done
    ip netns exec $G timeout 20 swanctl --load-all --noprompt --file "$DIR/swanctl.conf" \
      --uri "unix://$DIR/gw-charon.vici" >"$DIR/swanctl.log" 2>&1 || true
    grep -q "loaded connection 'pix'" "$DIR/swanctl.log" \
      || { echo "flood-bench: strongSwan did not load its configuration:" >&2; cat "$DIR/swanctl.log" "$DIR/gw.log" >&2; exit 1; }
  fi
  PIDS+=("$TPID")
  GPID=$(pgrep -P "$TPID" | head -1 || true)
  [ -n "$GPID" ] || { echo "flood-bench: no gateway process under $TPID" >&2; exit 1; }
}
stop_pid() { # a timeout pid: TERM (forwarded to its child), then KILL after 5 s
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  pkill -KILL -P "$1" 2>/dev/null || true
  # timeout exits by itself once its child is gone (killing it too makes bash say "Killed")
  for _ in $(seq 20); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$1" 2>/dev/null || true
  { wait "$1"; } 2>/dev/null || true
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
rx() { ip netns exec $G cat /sys/class/net/wan0/statistics/rx_packets; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

login() { # n -> prints the ms to the tunnel, or "fail"
  local ifn=vpnc$1 t0 t ok=0 vp
  printf 'IPSec gateway 192.168.1.1\nIPSec ID vpn3000\nIPSec secret cisco1234\nXauth username cisco_customer\nXauth password cisco123\nIKE DH Group dh2\nPerfect Forward Secrecy nopfs\nEnable weak encryption\nEnable weak authentication\nNAT Traversal Mode natt\nLocal Port 0\nDPD idle timeout (our side) 0\nInterface name %s\nNoninteractive\nNo Detach\n' "$ifn" >"$DIR/vpnc.conf"
  t0=$(now_ms)
  ip netns exec $C timeout -k 2 30 env VPNC_SCRIPT_LOG="$DIR/script.log" vpnc --debug 1 \
    --pid-file "$DIR/vpnc.pid" --script "$KIT/vpnc-script.sh" - <"$DIR/vpnc.conf" >"$DIR/vpnc$1.log" 2>&1 &
  vp=$!
  while [ $(($(now_ms) - t0)) -le $WITHIN_MS ]; do
    if ip -n $C -4 -o addr show dev "$ifn" 2>/dev/null | grep -q inet \
      && ip -n $C route show 10.89.129.128/25 | grep -q "$ifn"; then ok=1; break; fi
    kill -0 $vp 2>/dev/null || break
    sleep 0.02
  done
  t=$(($(now_ms) - t0))
  stop_pid $vp
  if [ $ok = 1 ]; then echo "$t"; else echo fail; fi
}

# one measurement: gateway, kind, rate -> R_VERDICT (ok|fail), R_K (k/N), R_SENT (the
# generator's rate), R_DELIVERED (packets/s on the gateway's wan interface), R_CPU (% of
# one core), R_RSS (peak, MB), R_TIMES (ms to each tunnel)
point() {
  local gw=$1 kind=$2 rate=$3 fp c0 r0 t0 ok=0 times="" ms wall hwm
  start_gateway "$gw"
  c0=$(cpu_ticks "$GPID"); r0=$(rx); t0=$(now_ms)
  ip netns exec $F timeout -k 2 300 "$LOADGEN" --flood "$kind" --rate "$rate" --sources $CIDR \
    --secs 240 --gateway 192.168.1.1 --port 500 >"$DIR/flood.log" 2>&1 &
  fp=$!
  PIDS+=("$fp")
  sleep $WARMUP
  for i in $(seq "$LOGINS"); do
    ms=$(login "$i")
    times="$times${times:+,}$ms"
    [ "$ms" != fail ] && ok=$((ok + 1))
  done
  wall=$(($(now_ms) - t0))
  # clock ticks are 1/100 s: % of one core = ticks * 100 / 100 / (wall / 1000)
  R_CPU=$(( ($(cpu_ticks "$GPID") - c0) * 1000 / wall ))
  hwm=$(hwm_kb "$GPID")
  R_RSS=$((${hwm:-0} / 1024))
  R_DELIVERED=$(( ($(rx) - r0) * 1000 / wall ))
  stop_pid $fp
  R_SENT=$(sed -n 's/^FLOOD .* rate=\([0-9]*\) .*/\1/p' "$DIR/flood.log")
  R_SENT=${R_SENT:-?}
  stop_pid "$TPID"
  R_VERDICT=fail
  [ $ok = "$LOGINS" ] && R_VERDICT=ok
  R_K=$ok/$LOGINS R_TIMES=$times
}

declare -A BEST FIRSTFAIL
echo "flood-bench: $LOGINS logins per rate after ${WARMUP} s of flood, tunnel within ${WITHIN_MS} ms; logs in $DIR" >&2
printf '%-11s %-18s %7s  %-6s %9s %11s %5s %6s  %s\n' gateway kind rate logins "sent/s" "delivered/s" "cpu%" "rssMB" "ms to tunnel" >&2
for gw in ours strongswan; do
  [ -n "$ONLY" ] && [ "$ONLY" != "$gw" ] && continue
  for kind in $KINDS; do
    BEST[$gw.$kind]="none"
    FIRSTFAIL[$gw.$kind]="-"
    for rate in $(rates_for "$kind"); do
      point "$gw" "$kind" "$rate"
      printf '%-11s %-18s %7s  %-6s %9s %11s %5s %6s  %s\n' "$gw" "$kind" "$rate" "$R_K" "$R_SENT" \
        "$R_DELIVERED" "$R_CPU" "$R_RSS" "$R_TIMES" >&2
      if [ "$R_VERDICT" = ok ]; then
        BEST[$gw.$kind]="$rate $R_SENT $R_CPU $R_RSS"
      else
        FIRSTFAIL[$gw.$kind]="$rate ($R_K, ${R_RSS} MB)"
        break
      fi
    done
  done
done

echo
echo "Highest flood rate with $LOGINS/$LOGINS vpnc tunnels within ${WITHIN_MS} ms (after ${WARMUP} s of flood from $CIDR)"
printf '| %-10s | %-17s | %10s | %10s | %5s | %8s | %-22s |\n' gateway kind "rate/s" "sent/s" "cpu%" "peak RSS" "first failing rate"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' ------------ ------------------- ------------ ------------ ------- ---------- ------------------------
for gw in ours strongswan; do
  [ -n "$ONLY" ] && [ "$ONLY" != "$gw" ] && continue
  for kind in $KINDS; do
    read -r rate sent cpu rss _ <<<"${BEST[$gw.$kind]} - - -"
    if [ "$rate" = none ]; then rate="< lowest" sent=- cpu=- rss=-; else rss="$rss MB"; fi
    printf '| %-10s | %-17s | %10s | %10s | %5s | %8s | %-22s |\n' "$gw" "$kind" "$rate" "$sent" "$cpu" "$rss" "${FIRSTFAIL[$gw.$kind]}"
  done
done
