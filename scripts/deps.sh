#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine (run as root).
# Fails loudly when something cannot be installed; never skips silently.
set -euo pipefail

# Debian packages the tests use (external peers, servers, independent implementations).
APT_PACKAGES=(
  pkg-config libssl-dev          # openssl crate (benchmark baselines)
  tshark                         # independent ISAKMP/ESP dissector
  python3-scapy                  # independent ESP implementation (system python)
  freeradius freeradius-utils    # real RADIUS server for xauth tests
  freeradius-postgresql postgresql   # the shared AAA tier: sql accounting + sqlippool (issue 18)
  keepalived                     # VRRP failover of the outside address (issue 18)
  iproute2 iputils-ping          # network namespaces for interop tests
  iptables                       # the NAT router in front of NAT-T clients
  vpnc ike-scan charon-cmd strongswan-charon strongswan-swanctl   # real IKEv1 peers
  libcharon-extra-plugins libcharon-extauth-plugins libstrongswan-standard-plugins
  libnss3-tools libunbound8 libldns3 libcurl3-nss libevent-pthreads-2.1-7  # libreswan's libraries
  iperf3 curl                    # throughput through the tunnel (scripts/vpnc-throughput.sh, tests/mtu.rs)
  rsyslog                        # a real syslog daemon receiving the PIX messages (issue 19)
)
# Python modules for the python3 on PATH (may differ from Debian's python3).
PIP_MODULES=(scapy)

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "deps.sh: missing Debian packages ${need_apt[*]} and not root: install them and retry" >&2
    exit 1
  fi
  echo "deps.sh: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || { echo "deps.sh: apt-get update failed" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null \
    || { echo "deps.sh: apt-get install ${need_apt[*]} failed" >&2; exit 1; }
fi

for m in "${PIP_MODULES[@]}"; do
  python3 -c "import $m" 2>/dev/null || python3 -m pip install -q "$m" \
    || { echo "deps.sh: pip install $m failed" >&2; exit 1; }
done

# libreswan conflicts with strongSwan in apt: unpacked (not installed) where the interop
# tests look for it.
LSW_ROOT=${LSW_ROOT:-/var/cache/pix-gateway-interop/libreswan/root}
if [ ! -x "$LSW_ROOT/usr/libexec/ipsec/pluto" ]; then
  echo "deps.sh: unpacking libreswan into $LSW_ROOT"
  tmp=$(mktemp -d) && chmod a+rwx "$tmp"
  (cd "$tmp" && apt-get download -qq libreswan >/dev/null) \
    || { echo "deps.sh: apt-get download libreswan failed" >&2; exit 1; }
  mkdir -p "$LSW_ROOT" && dpkg -x "$tmp"/libreswan_*.deb "$LSW_ROOT" \
    || { echo "deps.sh: dpkg -x libreswan failed" >&2; exit 1; }
  rm -rf "$tmp"
fi

# clippy and rustfmt: scripts/test.sh runs `cargo clippy -- -D warnings` and `cargo fmt --check`.
for c in clippy rustfmt; do
  sub=$c; [ "$c" = rustfmt ] && sub=fmt
  if ! cargo "$sub" --version >/dev/null 2>&1; then
    echo "deps.sh: installing the $c component"
    rustup component add "$c" || { echo "deps.sh: rustup component add $c failed" >&2; exit 1; }
  fi
done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "deps.sh: installing cargo-fuzz"
  cargo install -q cargo-fuzz || { echo "deps.sh: cargo install cargo-fuzz failed" >&2; exit 1; }
fi
echo "deps.sh: all test dependencies present"
