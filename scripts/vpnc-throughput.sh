#!/bin/bash
# vpnc-throughput.sh - tunnel throughput from a real client, our gateway beside strongSwan
# (issue 20): vpnc + iperf3 through (a) `pix-gateway run` and (b) strongSwan's charon as the
# PIX-like responder of ../shared/interop (gw-strongswan.conf, gw-swanctl.conf: its ESP is
# kernel-libipsec, in user space, UDP-encapsulated only), for AES-128/SHA-1 and DES/MD5,
# upload (client -> inside) and download (iperf3 -R), 10 s per run, alternating ours and
# strongSwan, ROUNDS rounds. Per run it prints Mbit/s and the responder's CPU-seconds per
# gigabyte: utime+stime of the responder process (all its threads; for strongSwan the charon
# process) from /proc/PID/stat across the iperf3 run, per 10^9 bytes iperf3 received.
#
# The responder runs pinned to CPU 0 (taskset), vpnc and both iperf3 ends pinned to CPU 1.
# Both responders see the same vpnc with `NAT Traversal Mode force-natt` (kernel-libipsec
# only does ESP in UDP, so our gateway is measured the same way; OUR_ENCAP=esp lets vpnc
# use raw ESP with ours instead). Two private network namespaces joined by one veth pair
# (responder 192.168.1.1/24 <-> client 192.168.1.2/24); the iperf3 server listens on the
# demo's inside host 10.89.129.131, an address on lo in the responder's namespace (our
# gateway writes the decrypted packets to its TUN device, charon to its ipsec0 device, and
# the kernel delivers them locally). Nothing leaves the host.
#
# A measurement script, not run by CI. Measure on a quiet machine (no builds).
# usage:  scripts/vpnc-throughput.sh           (root)
# env:    ROUNDS=2 SECS=10 CIPHERS="aes des" DIRS="up down" RESPONDERS="ours strongswan"
#         BIN=target/release/pix-gateway (our gateway; scripts/esp-load.sh builds one with
#         `cargo build --release -p pix-gateway --bins` into /work/targets/load/release)
#         OUR_ENCAP=natt (or esp) KIT=../shared/interop KEEP=1 (keep the run dir)
#         LIMIT=900 (hard limit in seconds for the whole script)
# exit:   0 every run measured, 1 a run failed, 2 setup failed, 77 not root / tool missing
set -u
[ -z "${_VT_INNER:-}" ] && exec env _VT_INNER=1 timeout -k 15 "${LIMIT:-900}" "$0" "$@"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIT=${KIT:-$ROOT/../shared/interop}; KIT=$(cd "$KIT" 2>/dev/null && pwd) || { echo "no interop kit at ${KIT}"; exit 2; }
BIN=${BIN:-$ROOT/target/release/pix-gateway}
ROUNDS=${ROUNDS:-2}; SECS=${SECS:-10}; CIPHERS=${CIPHERS:-aes des}; DIRS=${DIRS:-up down}
RESPONDERS=${RESPONDERS:-ours strongswan}; OUR_ENCAP=${OUR_ENCAP:-natt}; KEEP=${KEEP:-0}
RUN=$(mktemp -d /tmp/vpnc-throughput.XXXXXX)
GWNS=pixvt-gw$$; CLNS=pixvt-cl$$; VGW=vtgw$$; VCL=vtcl$$; TUN=pixvt$$; VPNCIF=vpnc$$
GW_IP=192.168.1.1; CL_IP=192.168.1.2; INSIDE=10.89.129.131
PIDS=(); FAIL=0; ROWS=()
HZ=$(getconf CLK_TCK)

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
die() { FAIL=1; log "FAILED: $*"; exit "${2:-1}"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_for() { # wait_for SECONDS CMD... : poll every 100 ms, bounded
  local end=$(( $(now_ms) + $1 * 1000 )); shift
  while [ "$(now_ms)" -lt "$end" ]; do "$@" && return 0; sleep 0.1; done; return 1; }
stop_pid() { # SIGTERM, wait <= 5 s, then SIGKILL; only PIDs this script started
  local p=$1; kill -0 "$p" 2>/dev/null || return 0; kill -TERM "$p" 2>/dev/null
  wait_for 5 sh -c "! kill -0 $p 2>/dev/null" || kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; }
track() { PIDS+=("$1"); echo "$1" >> "$RUN/pids"; }
cleanup() {
  local i; for ((i=${#PIDS[@]}-1; i>=0; i--)); do stop_pid "${PIDS[$i]}"; done
  ip netns del "$GWNS" 2>/dev/null; ip netns del "$CLNS" 2>/dev/null
  if [ "$KEEP" = 1 ] || [ "$FAIL" != 0 ]; then echo "run dir kept: $RUN"; else rm -rf "$RUN"; fi; }
trap cleanup EXIT; trap 'FAIL=1; log "interrupted (time limit?)"; exit 2' INT TERM
# Reaper in its own session: if this script is SIGKILLed, it still stops our jobs (the PIDs
# in $RUN/pids whose comm is "timeout": every job runs under timeout(1)) and deletes the
# namespaces.
: > "$RUN/pids"
setsid bash -c '
  trap "" TERM INT HUP; end=$(( SECONDS + ${3:-900} + 60 ))
  while kill -0 "$1" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.5; done
  [ -f "$2/pids" ] || exit 0
  for p in $(tac "$2/pids"); do [ "$(cat /proc/$p/comm 2>/dev/null)" = timeout ] && kill -TERM "$p"; done
  sleep 3; ip netns del "$4" 2>/dev/null; ip netns del "$5" 2>/dev/null
' reaper $$ "$RUN" "${LIMIT:-900}" "$GWNS" "$CLNS" < /dev/null > /dev/null 2>&1 &

[ "$(id -u)" = 0 ] || { echo "must run as root"; exit 77; }
for t in ip ss taskset timeout vpnc iperf3 swanctl python3 getconf; do
  command -v $t >/dev/null || { echo "missing $t (scripts/deps.sh installs it)"; exit 77; }; done
[ -x /usr/lib/ipsec/charon ] || { echo "missing /usr/lib/ipsec/charon"; exit 77; }
[ -x "$BIN" ] || { echo "no gateway binary at $BIN (give BIN=...)"; exit 2; }
[ "$(nproc)" -ge 2 ] || { echo "needs 2 CPUs (responder on 0, client on 1)"; exit 2; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null; }  # utime+stime, all threads
child_of() { awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null; }

log "machine: $(nproc) CPUs; load: $(uptime)"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- namespaces ------------------------------------------------------------------------
log "netns $GWNS ($GW_IP, inside $INSIDE on lo) <-> $CLNS ($CL_IP), run dir $RUN"
ip netns add "$GWNS" && ip netns add "$CLNS" || die "ip netns add" 2
ip link add "$VGW" type veth peer name "$VCL" || die "ip link add veth" 2
ip link set "$VGW" netns "$GWNS" && ip link set "$VCL" netns "$CLNS" || die "veth move" 2
ip -n "$GWNS" addr add $GW_IP/24 dev "$VGW" && ip -n "$CLNS" addr add $CL_IP/24 dev "$VCL" || die "addresses" 2
for n in "$GWNS" "$CLNS"; do ip -n "$n" link set lo up || die "lo up" 2; done
ip -n "$GWNS" link set "$VGW" up && ip -n "$CLNS" link set "$VCL" up || die "veth up" 2
ip -n "$GWNS" addr add $INSIDE/32 dev lo || die "inside address" 2

# iperf3 server on the inside host, client side CPU
timeout "${LIMIT:-900}" taskset -c 1 ip netns exec "$GWNS" iperf3 -s -B $INSIDE > "$RUN/iperf3-server.log" 2>&1 &
track $!
wait_for 5 sh -c "ip netns exec $GWNS ss -ltn | grep -q '$INSIDE:5201'" || die "iperf3 server did not start" 2

# ---- responders ------------------------------------------------------------------------
RESP_TPID=; RESP_PID=
start_ours() { # start_ours CIPHER
  local ts
  case $1 in aes) ts="esp-aes esp-sha-hmac" ;; des) ts="esp-des esp-md5-hmac" ;; esac
  sed -e "s/^crypto ipsec transform-set myset .*/crypto ipsec transform-set myset $ts/" \
    "$ROOT/examples/data/pix63-demo.cfg" > "$RUN/gw.cfg"
  grep -q "^crypto ipsec transform-set myset $ts\$" "$RUN/gw.cfg" || die "transform set not set" 2
  echo "isakmp nat-traversal 20" >> "$RUN/gw.cfg"
  cp "$ROOT/examples/data/pix63-demo.secrets" "$RUN/gw.secrets"
  rm -f "$RUN/control.sock"
  timeout "${LIMIT:-900}" taskset -c 0 ip netns exec "$GWNS" "$BIN" run --config "$RUN/gw.cfg" \
    --secrets "$RUN/gw.secrets" --control "$RUN/control.sock" --inside-tun "$TUN" --workers 1 \
    > "$RUN/gateway-$1.log" 2>&1 &
  RESP_TPID=$!; track $RESP_TPID
  wait_for 5 sh -c "[ -n \"\$(cat /proc/$RESP_TPID/task/$RESP_TPID/children 2>/dev/null)\" ]" || die "gateway did not start" 2
  RESP_PID=$(child_of $RESP_TPID)
  wait_for 15 sh -c "ip netns exec $GWNS timeout 5 $BIN show --control $RUN/control.sock version >/dev/null 2>&1" \
    || { tail -20 "$RUN/gateway-$1.log"; die "gateway control socket not answering" 2; }
  [ "$(cat /proc/$RESP_PID/comm)" = pix-gateway ] || die "gateway PID $RESP_PID is $(cat /proc/$RESP_PID/comm)" 2
}
start_strongswan() { # start_strongswan CIPHER
  local esp
  case $1 in aes) esp=aes128-sha1 ;; des) esp=des-md5 ;; esac
  sed -e "s#RUNDIR#$RUN#g" -e 's/^      default = 1$/      default = 0/' -e 's/^      \(ike\|chd\) = 4$/      \1 = 0/' \
    -e 's/^      \(cfg\|net\|knl\|enc\|esp\) = [0-9]*$/      \1 = 0/' "$KIT/gw-strongswan.conf" > "$RUN/gw-strongswan.conf"
  sed -e "s/192\.0\.2\.1/$GW_IP/g" -e "s/^        esp_proposals = .*/        esp_proposals = $esp/" \
    "$KIT/gw-swanctl.conf" > "$RUN/swanctl.conf"
  grep -q "esp_proposals = $esp\$" "$RUN/swanctl.conf" || die "strongSwan ESP proposal not set" 2
  rm -f "$RUN/gw-charon.vici"
  # private /run (charon insists on /var/run/charon.pid); charon is timeout's child
  ip netns exec "$GWNS" unshare -m sh -c "mount -t tmpfs tmpfs /run && exec env STRONGSWAN_CONF=$RUN/gw-strongswan.conf timeout ${LIMIT:-900} taskset -c 0 /usr/lib/ipsec/charon" \
    > "$RUN/charon-$1.stdout" 2>&1 &
  RESP_TPID=$!; track $RESP_TPID
  wait_for 10 test -S "$RUN/gw-charon.vici" || { tail "$RUN/charon-$1.stdout"; die "charon did not start" 2; }
  RESP_PID=$(child_of $RESP_TPID)
  [ "$(cat /proc/$RESP_PID/comm 2>/dev/null)" = charon ] || die "charon PID '$RESP_PID' is $(cat /proc/$RESP_PID/comm 2>/dev/null)" 2
  ip netns exec "$GWNS" timeout 10 swanctl --load-all --noprompt --file "$RUN/swanctl.conf" \
    --uri "unix://$RUN/gw-charon.vici" > "$RUN/swanctl-load-$1.log" 2>&1
  grep -q "loaded connection 'pix'" "$RUN/swanctl-load-$1.log" || { cat "$RUN/swanctl-load-$1.log"; die "swanctl load" 2; }
}
stop_responder() {
  stop_pid "$RESP_TPID"; RESP_TPID=; RESP_PID=
  ip -n "$GWNS" link del ipsec0 2>/dev/null; ip -n "$GWNS" link del "$TUN" 2>/dev/null; true
}

# ---- vpnc ------------------------------------------------------------------------------
VPNC_TPID=; VPNC_PID=
start_vpnc() { # start_vpnc NAME ENCAP(natt|esp): returns 1 if the tunnel did not come up
  local mode=force-natt; [ "$2" = esp ] && mode=none
  cat > "$RUN/vpnc-$1.conf" <<EOF
IPSec gateway $GW_IP
IPSec ID vpn3000
IPSec secret cisco1234
Xauth username cisco_customer
Xauth password cisco123
IKE DH Group dh2
Perfect Forward Secrecy nopfs
Enable weak encryption
Enable weak authentication
NAT Traversal Mode $mode
Local Port 0
DPD idle timeout (our side) 0
Interface name $VPNCIF
Noninteractive
No Detach
EOF
  VPNC_SCRIPT_LOG="$RUN/vpnc-$1-script.log" timeout "${LIMIT:-900}" taskset -c 1 ip netns exec "$CLNS" \
    vpnc --pid-file "$RUN/vpnc.pid" --script "$KIT/vpnc-script.sh" - < "$RUN/vpnc-$1.conf" \
    > "$RUN/vpnc-$1.log" 2>&1 &
  VPNC_TPID=$!; track $VPNC_TPID
  wait_for 15 sh -c "ip -n $CLNS -4 addr show dev $VPNCIF 2>/dev/null | grep -q 'inet 10.89.129.' || ! kill -0 $VPNC_TPID 2>/dev/null"
  VPNC_PID=$(child_of $VPNC_TPID)
  ip -n "$CLNS" -4 addr show dev "$VPNCIF" 2>/dev/null | grep -q 'inet 10.89.129.'
}
stop_vpnc() { stop_pid "$VPNC_TPID"; VPNC_TPID=; VPNC_PID=; ip -n "$CLNS" link del "$VPNCIF" 2>/dev/null; true; }

# ---- one run ---------------------------------------------------------------------------
measure() { # measure RESPONDER CIPHER DIR ROUND
  local r=$1 c=$2 d=$3 n=$4 rev= out t0 t1 v0 v1 mbit bytes cpu vcpu perg
  [ "$d" = down ] && rev=-R
  out=$RUN/iperf-$r-$c-$d-$n.json
  t0=$(cpu_ticks "$RESP_PID"); v0=$(cpu_ticks "$VPNC_PID")
  timeout $((SECS + 30)) taskset -c 1 ip netns exec "$CLNS" iperf3 -c $INSIDE -t "$SECS" $rev -J > "$out" 2> "$out.err"
  local rc=$?
  t1=$(cpu_ticks "$RESP_PID"); v1=$(cpu_ticks "$VPNC_PID")
  if [ "$rc" != 0 ] || [ -z "$t0" ] || [ -z "$t1" ]; then
    log "  $r $c $d: FAILED (iperf3 exit $rc; responder alive: $(kill -0 "$RESP_PID" 2>/dev/null && echo yes || echo no))"
    FAIL=1; ROWS+=("$(printf '%-10s %-4s %-4s %5s %9s %8s %9s %8s' "$r" "$c" "$d" "$n" failed - - -)"); return 1
  fi
  read -r mbit bytes < <(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["end"]["sum_received"]; print("%.1f %d" % (e["bits_per_second"]/1e6, e["bytes"]))' "$out")
  cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}')
  vcpu=$(awk -v a="${v0:-0}" -v b="${v1:-0}" -v hz="$HZ" 'BEGIN{printf "%.2f", (b-a)/hz}')
  perg=$(awk -v c="$cpu" -v by="$bytes" 'BEGIN{ if (by > 0) printf "%.2f", c/(by/1e9); else print "-" }')
  log "  $r $c $d round $n: $mbit Mbit/s, responder CPU $cpu s, $perg CPU-s/GB (vpnc CPU $vcpu s)"
  ROWS+=("$(printf '%-10s %-4s %-4s %5s %9s %8s %9s %8s' "$r" "$c" "$d" "$n" "$mbit" "$cpu" "$perg" "$vcpu")")
}

for ((round = 1; round <= ROUNDS; round++)); do
  for c in $CIPHERS; do
    for r in $RESPONDERS; do
      case $r in
        ours) start_ours "$c"; enc=$OUR_ENCAP ;;
        strongswan) start_strongswan "$c"; enc=natt ;;
        *) die "RESPONDERS: unknown $r" 2 ;;
      esac
      log "round $round, $c, $r (PID $RESP_PID, CPU $(taskset -pc "$RESP_PID" | sed 's/.*: //')), vpnc $enc"
      if start_vpnc "$r-$c-$round" "$enc"; then
        if [ "$r" = ours ]; then
          log "  gateway: $(ip netns exec "$GWNS" timeout 5 "$BIN" show --control "$RUN/control.sock" crypto ipsec sa \
            | grep -m1 -o 'in use settings.*\|transform: .*' | tr -s ' ' | head -1); $(ip netns exec "$GWNS" timeout 5 "$BIN" show \
            --control "$RUN/control.sock" crypto ipsec sa | grep -m1 'in use settings' | tr -s ' ')"
        else
          log "  charon: $(ip netns exec "$GWNS" timeout 5 swanctl --list-sas --uri "unix://$RUN/gw-charon.vici" 2>/dev/null \
            | grep -m1 -o 'INSTALLED, TUNNEL.*' )"
        fi
        for d in $DIRS; do measure "$r" "$c" "$d" "$round"; done
      else
        log "  $r $c: FAILED: vpnc did not bring the tunnel up: $(grep -m2 -i 'vpnc:\|error' "$RUN/vpnc-$r-$c-$round.log" | tr '\n' ' ')"
        FAIL=1
      fi
      stop_vpnc; stop_responder
    done
  done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "==== vpnc + iperf3 through the responder ($(date -u +%FT%TZ), $(nproc) CPUs: responder on CPU 0, vpnc and iperf3 on CPU 1, $SECS s per run)"
echo "     ours: $BIN (vpnc $OUR_ENCAP); strongswan: charon $(dpkg-query -W -f='${Version}' strongswan-charon 2>/dev/null) kernel-libipsec (ESP in UDP)"
printf '%-10s %-4s %-4s %5s %9s %8s %9s %8s\n' responder ciph dir round Mbit/s cpu_s cpu_s/GB vpnc_cpu
for row in "${ROWS[@]}"; do echo "$row"; done
echo "(aes: AES-128/SHA-1, des: DES/MD5; up: client -> inside, down: iperf3 -R; Mbit/s and bytes: iperf3's receiver;"
echo " cpu_s: the responder's utime+stime over the run; cpu_s/GB: per 10^9 bytes iperf3 received)"
echo "load average before / after: $LOAD_BEFORE / $LOAD_AFTER"
exit $FAIL
