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
  iproute2 iputils-ping          # network namespaces for interop tests
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

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "deps.sh: installing cargo-fuzz"
  cargo install -q cargo-fuzz || { echo "deps.sh: cargo install cargo-fuzz failed" >&2; exit 1; }
fi
echo "deps.sh: all test dependencies present"
