#!/usr/bin/env bash
# The main job end to end: starts the router on its embedded store and the audit agent, sends the
# providers' real public sample webhooks (Resend via Standard Webhooks, the SendGrid all-events
# batch), signed with keys made for this run, and shows what the agent received.
# --check: quieter, for `make test`. Exits non-zero unless the agent received exactly the event ids
# computed independently from the samples (tools/demo_expected.py).
set -euo pipefail
check=0
[ "${1:-}" = "--check" ] && check=1
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${SWITCHBOARD_BUILD_DIR:-$root/build/release}
work=$root/.demo
fixtures=$root/tests/testdata/fixtures
ctl=$bin/tools/switchboardctl/switchboardctl
router_pid="" agent_pid=""
cleanup() {
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
  [ -n "$router_pid" ] && kill "$router_pid" 2>/dev/null && wait "$router_pid" 2>/dev/null || true
}
trap cleanup EXIT
say() { echo "demo: $*"; }

rm -rf "$work"
mkdir -p "$work"
cd "$work"

say "making this run's keys (switchboardctl dev-keys)"
"$ctl" dev-keys --out keys >/dev/null
agent_token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
echo "$agent_token" > keys/audit.token

cat > switchboard.yaml <<YAML
http:  { listen: "127.0.0.1:0", max_body: 10MiB }
grpc:  { listen: "127.0.0.1:0" }
store: { kind: embedded, path: "./data/switchboard.db", sync: full }
dedupe: { window: 72h }
delivery: { ack_deadline: 30s, max_attempts: 10, max_in_flight: 64 }
sources:
  # switchboardctl signs each sample at send time, so the default timestamp windows hold even
  # though the samples themselves are years old (occurred_at keeps the sample's own time).
  - { name: resend,   provider: standard-webhooks, vendor: resend, secrets_file: keys/standard-webhooks.secret }
  - { name: sendgrid, provider: sendgrid, public_key_file: keys/sendgrid-public.txt }
agents:
  - { name: audit, tokens_file: keys/audit.token }
rules:
  - { name: audit-all, match: {}, agents: [audit] }
YAML

python3 "$root/tools/demo_expected.py" plan "$fixtures" > plan.json
expected=$(python3 -c 'import json; print(sum(len(s["expected"]) for s in json.load(open("plan.json"))))')

say "starting the router (embedded store: $work/data/switchboard.db)"
"$bin/router/switchboard" --config switchboard.yaml --ready-file ready.json > router.log 2>&1 &
router_pid=$!
for _ in $(seq 1 100); do [ -s ready.json ] && break; sleep 0.1; done
[ -s ready.json ] || { cat router.log; echo "demo: router did not start" >&2; exit 1; }
http_port=$(python3 -c 'import json; print(json.load(open("ready.json"))["http"])')
grpc_port=$(python3 -c 'import json; print(json.load(open("ready.json"))["grpc"])')
say "router ready: webhooks on http://127.0.0.1:$http_port/v1/webhooks/{source}, agents on 127.0.0.1:$grpc_port"

say "starting the audit agent (expects $expected events)"
SWITCHBOARD_AGENT_TOKEN=$agent_token "$bin/agents/audit/switchboard-audit" \
  --target "127.0.0.1:$grpc_port" --agent audit > audit.jsonl 2> agent.log &
agent_pid=$!

export SWITCHBOARD_WEBHOOK_URL="http://127.0.0.1:$http_port"
python3 - <<'PY' > sends.txt
import json
for s in json.load(open("plan.json")):
    print(s["source"], s["file"], s["id"] or "-")
PY
while read -r source file id; do
  args=(send --config switchboard.yaml --source "$source" --file "$file")
  [ "$id" != "-" ] && args+=(--id "$id")
  [ "$source" = sendgrid ] && args+=(--private-key keys/sendgrid-private.pem)
  out=$("$ctl" "${args[@]}")
  [ $check -eq 1 ] || say "POST $(basename "$file") -> $out"
done < sends.txt

say "sending the SendGrid batch again (a provider retry): must be answered 200 and dropped as duplicates"
out=$("$ctl" send --config switchboard.yaml --source sendgrid --file "$fixtures/sendgrid/all-events.batch.json" \
  --private-key keys/sendgrid-private.pem)
say "retry -> $out"

received() { grep -c . audit.jsonl 2>/dev/null || true; }
for _ in $(seq 1 300); do [ "$(received)" -ge "$expected" ] && break; sleep 0.1; done
# A moment more, so that an event delivered twice would show up before the agent stops.
sleep 1
kill "$agent_pid" 2>/dev/null || true
wait "$agent_pid" 2>/dev/null || true
agent_pid=""
echo
say "what the audit agent received (one JSON line per event in $work/audit.jsonl):"
python3 "$root/tools/demo_expected.py" check plan.json audit.jsonl
