#!/usr/bin/env bash
# Installs what `make bench` needs beyond tools/install-deps.sh: the peers (nginx, Node.js with the
# npm packages of bench/peers/node, pinned by its package-lock.json), wrk, and perf for profiling.
# Idempotent: only what is missing is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(wrk nginx-light redis-tools linux-perf)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench/install.sh: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Node peer: exactly the versions in package-lock.json, from the npm registry.
if [ ! -d bench/peers/node/node_modules ]; then
  (cd bench/peers/node && npm ci --no-audit --no-fund)
fi
