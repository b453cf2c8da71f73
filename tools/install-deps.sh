#!/usr/bin/env bash
# Installs the Debian 12 packages Switchboard builds, tests and demos with. Idempotent: only what is
# missing is installed, so `make` calls it on every run at almost no cost.
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config clang lld
  libclang-rt-14-dev  # clang's sanitizer and libFuzzer runtimes: the fuzz tests, `make test-asan`
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev
  libhiredis-dev libspdlog-dev libgtest-dev libgmock-dev libsqlite3-dev libyaml-cpp-dev libre2-dev
  libxxhash-dev
  libidn2-dev libbenchmark-dev libjemalloc-dev
  libcli11-dev libgmime-3.0-dev redis-server curl ca-certificates openssl python3 python3-venv
  wrk  # the load generator of `make bench-smoke` (LuaJIT, signs through libcrypto)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
