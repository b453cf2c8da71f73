#!/usr/bin/env bash
# The C++ SDK as an outside project uses it: installs the `sdk` component of this build into a
# fresh prefix, builds tests/sdk_consumer/project there with find_package(Switchboard), then runs
# that agent against a real router and checks it received the bounce switchboardctl sent.
# usage: run.sh BUILD_DIR WORK_DIR SWITCHBOARD SWITCHBOARDCTL CXX_COMPILER
set -euo pipefail
build=$1 work=$2 router=$3 ctl=$4 cxx=$5
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cd "$work"
router_pid=""
cleanup() { [ -n "$router_pid" ] && kill -9 "$router_pid" 2>/dev/null || true; }
trap cleanup EXIT

cmake --install "$build" --component sdk --prefix "$work/prefix" > install.log
# Only the SDK: no router code, no test code in the prefix.
if find prefix -name '*.a' | grep -v -e libswitchboard_sdk.a -e libswitchboard_proto.a; then
  echo "sdk_consumer: unexpected libraries in the sdk component" >&2; exit 1
fi
cmake -S "$here/project" -B consumer -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" > configure.log
cmake --build consumer > build.log

"$ctl" dev-keys --out keys > /dev/null
token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
echo "$token" > keys/first.token
cat > switchboard.yaml <<YAML
http:  { listen: "127.0.0.1:0" }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db" }
sources:
  - { name: resend, provider: standard-webhooks, vendor: resend, secrets_file: keys/standard-webhooks.secret }
agents:
  - { name: first, tokens_file: keys/first.token }
rules:
  - { name: bounces, match: { types: [bounced] }, agents: [first] }
YAML
"$router" --config switchboard.yaml --ready-file ready.json > router.log 2>&1 &
router_pid=$!
for _ in $(seq 1 200); do [ -s ready.json ] && break; sleep 0.1; done
http=$(sed -n 's/.*"http" *: *\([0-9]*\).*/\1/p' ready.json)
grpc=$(sed -n 's/.*"grpc" *: *\([0-9]*\).*/\1/p' ready.json)
[ -n "$http" ] && [ -n "$grpc" ] || { cat router.log; echo "sdk_consumer: no router" >&2; exit 1; }

"$ctl" send --config switchboard.yaml --url "http://127.0.0.1:$http" --source resend \
  --event bounced --to First.Bounce@Example.com --id msg_sdk_consumer
SWITCHBOARD_AGENT_TOKEN=$token timeout 30 consumer/first_agent "127.0.0.1:$grpc" first > agent.out
# The id is the README's idempotency key, computed here independently of the router.
want=$(printf 'resend\0msg_sdk_consumer\0first.bounce@example.com' | sha256sum | cut -d' ' -f1)
expected="received $want first.bounce@example.com attempt 1"
if [ "$(cat agent.out)" != "$expected" ]; then
  echo "sdk_consumer: got '$(cat agent.out)', want '$expected'" >&2
  exit 1
fi
echo "sdk_consumer: OK ($expected)"
