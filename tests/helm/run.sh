#!/usr/bin/env bash
# Checks charts/switchboard with the real helm binary, the Kubernetes API types and the real router.
#
#   run.sh --install-only              install the pinned helm and build tools/k8s-validate
#   run.sh SWITCHBOARD SWITCHBOARDCTL  everything below, with these two binaries
#
# For each case in tests/helm/values (plus the chart's defaults): `helm lint --strict`,
# `helm template`, strict validation of every manifest (tools/k8s-validate --hardened), then the
# config the router container reads (for redis, after running the render-config init container's
# own command) passes `switchboard --check-config`, with the ConfigMap and Secret laid out as the
# pod mounts them. Each file in tests/helm/invalid must make lint and template fail with the
# message its "# expect:" line names; each file in tests/helm/bad-manifests must be refused by the
# validator the same way. The router starts on the rendered grpc-tls config, with a throwaway
# certificate as the mounted Secret, and its gRPC port must present it. Last, the router runs on
# the rendered embedded config (listen addresses and store path substituted) and the helm test
# pod's own command must get HTTP 200 (and HTTP 401 with a wrong secret); SIGTERM must stop the
# router within the pod's grace period.
#
# Tools are cached under build/tools (helm is built once from the Go module proxy; later runs
# reuse it). Needs Go (PATH or /usr/local/go/bin) and network access to the Go module proxy.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
chart="$repo/charts/switchboard"
here="$repo/tests/helm"
tools="$repo/build/tools"
helm_version=v3.19.0
# Kubernetes minor version of helm's k8s.io modules (v3.19 uses v0.34): helm's own Makefile sets
# these, and `go install` alone would leave helm assuming Kubernetes 1.20.
helm_k8s_minor=34
helm="$tools/helm-$helm_version/helm"
validator="$tools/k8s-validate"

if command -v go >/dev/null; then
  go=go
elif [ -x /usr/local/go/bin/go ]; then
  go=/usr/local/go/bin/go
else
  echo "run.sh: Go is needed to install helm and build tools/k8s-validate; none found" >&2
  exit 1
fi
export GOCACHE="$tools/go/cache" GOMODCACHE="$tools/go/mod" GOFLAGS=-modcacherw GOTOOLCHAIN=local

install_tools() {
  mkdir -p "$tools"
  # One installer at a time (parallel ctest, several build dirs).
  exec 9>"$tools/.helm.lock"
  flock 9
  if [ ! -x "$helm" ] || ! "$helm" version --template '{{.Version}}' | grep -qx "$helm_version"; then
    local start=$SECONDS
    echo "run.sh: installing helm $helm_version from the Go module proxy into $tools"
    local x="-X helm.sh/helm/v3"
    GOBIN="$tools/helm-$helm_version" nice "$go" install -trimpath -ldflags "-s -w \
      $x/internal/version.version=$helm_version \
      $x/pkg/lint/rules.k8sVersionMajor=1 $x/pkg/lint/rules.k8sVersionMinor=$helm_k8s_minor \
      $x/pkg/chartutil.k8sVersionMajor=1 $x/pkg/chartutil.k8sVersionMinor=$helm_k8s_minor" \
      "helm.sh/helm/v3/cmd/helm@$helm_version"
    echo "run.sh: helm installed in $((SECONDS - start)) s"
  fi
  (cd "$repo/tools/k8s-validate" && GOFLAGS="$GOFLAGS -mod=readonly" nice "$go" build -trimpath \
    -o "$validator" .)
  flock -u 9
  "$helm" version --short
}

if [ "${1:-}" = "--install-only" ]; then
  install_tools
  exit 0
fi
[ $# -eq 2 ] || { echo "usage: run.sh --install-only | run.sh SWITCHBOARD SWITCHBOARDCTL" >&2; exit 2; }
switchboard="$(realpath "$1")"
switchboardctl="$(realpath "$2")"
install_tools >/dev/null

work="$(mktemp -d)"
router_pid=""
cleanup() {
  if [ -n "$router_pid" ]; then kill -9 "$router_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }

release=rel
fullname="$release-switchboard"

# The text after "# expect: " on a file's first line.
expectation() { sed -n '1s/^# expect: //p' "$1"; }

# Maps a pod's argv to this machine: the image's binaries to the build's, the pod's mounts under
# $2 (a folder that mirrors /), the release's Service URL to the local router ($3, may be empty).
map_argv() {
  local root="$1" url="$2"
  shift 2
  mapped=()
  local a
  for a in "$@"; do
    case "$a" in
      switchboard) a="$switchboard" ;;
      switchboardctl) a="$switchboardctl" ;;
      /etc/switchboard/*) a="$root$a" ;;
      "http://$fullname:"*) [ -n "$url" ] && a="$url" ;;
    esac
    mapped+=("$a")
  done
}

read_argv() { mapfile -d '' argv <"$1"; }

# The value after a flag in argv.
flag_value() {
  local flag="$1"
  shift
  while [ $# -gt 1 ]; do
    [ "$1" = "$flag" ] && { echo "$2"; return; }
    shift
  done
}

# check_case NAME VALUES_FILE|"" [--external-secret NAME]...
check_case() {
  local name="$1" values="$2"
  shift 2
  local dir="$work/$name"
  mkdir -p "$dir"
  local args=()
  [ -n "$values" ] && args=(-f "$values")

  if "$helm" lint --strict "$chart" "${args[@]}" >"$dir/lint.log" 2>&1; then
    pass "$name: helm lint --strict"
  else
    fail "$name: helm lint --strict"; cat "$dir/lint.log"; return
  fi
  if ! "$helm" template "$release" "$chart" --namespace switchboard "${args[@]}" \
      >"$dir/manifests.yaml" 2>"$dir/template.log"; then
    fail "$name: helm template"; cat "$dir/template.log"; return
  fi
  pass "$name: helm template ($(grep -c '^kind:' "$dir/manifests.yaml") manifests)"
  if "$validator" --hardened "$@" --extract "$dir/out" "$dir/manifests.yaml" >"$dir/validate.log" 2>&1; then
    pass "$name: $(cat "$dir/validate.log")"
  else
    fail "$name: k8s-validate"; cat "$dir/validate.log"; return
  fi

  # The pod's mounts: the ConfigMap at /etc/switchboard/config, the Secret at .../secrets.
  local root="$dir/pod"
  mkdir -p "$root/etc/switchboard/rendered" "$root/etc/switchboard/secrets"
  cp -r "$dir/out/configmap/$fullname" "$root/etc/switchboard/config"
  local secret
  secret="$(sed -n 's/^existingSecret: *//p' "${values:-/dev/null}")"
  if [ -n "$secret" ]; then
    # An operator's Secret: the keys NOTES.txt and the config name, with test values.
    write_existing_secret "$root/etc/switchboard/secrets"
  elif [ -d "$dir/out/secret/$fullname" ]; then
    cp "$dir/out/secret/$fullname"/. "$root/etc/switchboard/secrets" -r
  fi

  # router.grpc.tls: the operator's kubernetes.io/tls Secret, with a throwaway certificate.
  if grep -q '"../grpc-tls/' "$root/etc/switchboard/config/switchboard.yaml"; then
    write_grpc_tls_secret "$root/etc/switchboard/grpc-tls" || {
      fail "$name: openssl could not make a test certificate"; return; }
  fi

  local workload="$dir/out/command/$fullname"
  if [ -f "$workload/render-config" ]; then
    local url_file="$dir/out/secret/$fullname-redis-url/redis-url"
    local url
    if [ -f "$url_file" ]; then url="$(cat "$url_file")"; else url="redis://:pw@redis.data.svc:6379/0"; fi
    read_argv "$workload/render-config"
    map_argv "$root" "" "${argv[@]}"
    if SWITCHBOARD_REDIS_URL="$url" "${mapped[@]}" >"$dir/render.log" 2>&1 &&
        grep -qxF "  url: \"$url\"" "$root/etc/switchboard/rendered/switchboard.yaml"; then
      pass "$name: render-config init container wrote store.url"
    else
      fail "$name: render-config init container"; cat "$dir/render.log"; return
    fi
    if SWITCHBOARD_REDIS_URL='redis://:a"b@host:6379/0' "${mapped[@]}" >"$dir/render-bad.log" 2>&1; then
      fail "$name: render-config accepted a URL with a quote"
    else
      pass "$name: render-config refuses a URL with a quote ($(cat "$dir/render-bad.log"))"
    fi
  fi

  read_argv "$workload/switchboard"
  map_argv "$root" "" "${argv[@]}"
  local config
  config="$(flag_value --config "${mapped[@]}")"
  if "$switchboard" --check-config "$config" >"$dir/check.log" 2>&1; then
    pass "$name: switchboard --check-config ${config#"$root"}"
  else
    fail "$name: switchboard --check-config ${config#"$root"}"; cat "$dir/check.log"
  fi
  if [ -f "$root/etc/switchboard/config/helm-test.yaml" ]; then
    if "$switchboard" --check-config "$root/etc/switchboard/config/helm-test.yaml" \
        >"$dir/check-test.log" 2>&1; then
      pass "$name: switchboard --check-config /etc/switchboard/config/helm-test.yaml"
    else
      fail "$name: --check-config helm-test.yaml"; cat "$dir/check-test.log"
    fi
  fi
}

# tests/helm/values/existing-secret.yaml: what the operator's Secrets hold.
write_existing_secret() {
  local to="$1"
  printf '%s\n' whsec_hyi3jZWbAqhtl9SMlleChjqtk33SbJp7+LIXxVpqD4Q= >"$to/source-resend.secrets"
  printf '%s\n' MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnuIRriSZUhibsWZbAG+LDA/DpaJvBequGGKOIssbH2yDTWG7GBrmOs1PDRbmww07VBwjhPoVL8G8rhMTZ2qE0Q== \
    >"$to/source-sendgrid.public_key"
  printf '%s\n' audit-token-0123456789abcdef >"$to/agent-audit.tokens"
  printf '%s\n' ops-token-0123456789abcdef >"$to/admin-ops.token"
}

# A self-signed certificate as tls.crt and tls.key, and itself as ca.crt (openssl, Debian).
write_grpc_tls_secret() {
  local to="$1"
  mkdir -p "$to"
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=$fullname-grpc" \
    -keyout "$to/tls.key" -out "$to/tls.crt" >"$to.log" 2>&1 &&
    cp "$to/tls.crt" "$to/ca.crt"
}

# Starts the router on CONFIG in the background (router_pid; log and ready file in DIR) and waits
# up to 30 s for its ready file: fails if it exits or never gets ready.
start_router() {
  local config="$1" dir="$2"
  "$switchboard" --config "$config" --ready-file "$dir/ready.json" >"$dir/router.log" 2>&1 &
  router_pid=$!
  local i
  for i in $(seq 1 300); do
    [ -f "$dir/ready.json" ] && return 0
    kill -0 "$router_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Starts the router on case NAME's rendered config (loopback ports, a temp store) and stops it:
# what --check-config does not open (the gRPC key and certificate as a pair) must work too.
start_rendered() {
  local name="$1" dir="$work/$1"
  local config="$dir/pod/etc/switchboard/config/local.yaml"
  sed -e 's|listen: "0.0.0.0:[0-9]*"|listen: "127.0.0.1:0"|' \
      -e "s|path: /var/lib/switchboard/switchboard.db|path: $dir/data/switchboard.db|" \
      "$dir/pod/etc/switchboard/config/switchboard.yaml" >"$config"
  if start_router "$config" "$dir"; then
    pass "$name: the router started on the rendered config"
    local grpc_port subject
    grpc_port="$(sed -n 's/.*"grpc": *\([0-9]*\).*/\1/p' "$dir/ready.json")"
    # The client presents the same certificate, which the case's ca.crt (itself) signed, so the
    # mutual handshake completes; s_client's exit status is not what is checked (it may end on
    # the closed stdin first). -nameopt fixes the subject's spelling across OpenSSL versions.
    local secret="$dir/pod/etc/switchboard/grpc-tls"
    subject="$({ openssl s_client -connect "127.0.0.1:$grpc_port" -alpn h2 \
      -cert "$secret/tls.crt" -key "$secret/tls.key" -nameopt RFC2253 </dev/null 2>/dev/null ||
      true; } | sed -n 's/^subject=//p')"
    if [[ "$subject" == *"CN=$fullname-grpc"* ]]; then
      pass "$name: the gRPC port presents the mounted certificate ($subject)"
    else
      fail "$name: the gRPC port presented \"$subject\", not the mounted certificate"
    fi
  else
    fail "$name: the router did not start on the rendered config"; cat "$dir/router.log"
  fi
  kill -TERM "$router_pid" 2>/dev/null || true
  wait "$router_pid" 2>/dev/null || true
  router_pid=""
}

check_case default ""
for values in "$here"/values/*.yaml; do
  name="$(basename "$values" .yaml)"
  externals=()
  if [ "$name" = existing-secret ]; then
    externals=(--external-secret switchboard-credentials --external-secret redis-credentials)
  elif [ "$name" = grpc-tls ]; then
    externals=(--external-secret agents-tls)
  fi
  check_case "$name" "$values" "${externals[@]}"
done
start_rendered grpc-tls

# Values that must be refused, by values.schema.json or by a `fail` in the templates.
for values in "$here"/invalid/*.yaml; do
  name="invalid/$(basename "$values" .yaml)"
  want="$(expectation "$values")"
  if "$helm" template "$release" "$chart" -f "$values" >"$work/out.log" 2>&1; then
    fail "$name: helm template accepted it"
  elif ! grep -qF -- "$want" "$work/out.log"; then
    fail "$name: refused, but without \"$want\""; cat "$work/out.log"
  elif "$helm" lint --strict "$chart" -f "$values" >"$work/lint.log" 2>&1 &&
      ! grep -qF -- "[INFO] Fail: $want" "$work/lint.log"; then
    # helm lint renders in lint mode, where a template's `fail` is reported as "[INFO] Fail:"
    # rather than failing the lint (schema violations do fail it).
    fail "$name: helm lint --strict neither failed nor reported it"
  else
    pass "$name: refused: $want"
  fi
  want="$(sed -n 's/^# expect-without-schema: //p' "$values")"
  if [ -n "$want" ]; then
    if ! "$helm" template "$release" "$chart" -f "$values" --skip-schema-validation \
        >"$work/out.log" 2>&1 && grep -qF -- "$want" "$work/out.log"; then
      pass "$name: refused without the schema: $want"
    else
      fail "$name: without the schema, not refused with \"$want\""; cat "$work/out.log"
    fi
  fi
done

# Manifests the validator must refuse: it is what makes "valid" above mean something.
for manifest in "$here"/bad-manifests/*.yaml; do
  name="bad-manifests/$(basename "$manifest" .yaml)"
  want="$(expectation "$manifest")"
  if "$validator" --hardened "$manifest" >"$work/out.log" 2>&1; then
    fail "$name: k8s-validate accepted it"
  elif ! grep -qF -- "$want" "$work/out.log"; then
    fail "$name: refused, but without \"$want\""; cat "$work/out.log"
  else
    pass "$name: refused: $want"
  fi
done

# The helm test pod's command against the real router on the rendered embedded config.
run_helm_test() {
  local dir="$work/embedded"
  local root="$dir/pod"
  [ -f "$dir/out/command/$fullname-test-webhook/send-webhook" ] || {
    fail "helm test: no test pod was rendered for the embedded case"; return; }
  # The container's config with what differs outside a cluster: free loopback ports and a store
  # path in the temp dir. Same folder as the original, so ../secrets resolves the same way.
  local config="$root/etc/switchboard/config/local.yaml"
  sed -e 's|listen: "0.0.0.0:[0-9]*"|listen: "127.0.0.1:0"|' \
      -e "s|path: /var/lib/switchboard/switchboard.db|path: $dir/data/switchboard.db|" \
      "$root/etc/switchboard/config/switchboard.yaml" >"$config"
  mkdir -p "$dir/data"
  if ! start_router "$config" "$dir"; then
    fail "helm test: the router did not start on the rendered config"; cat "$dir/router.log"; return
  fi
  local port
  port="$(sed -n 's/.*"http": *\([0-9]*\).*/\1/p' "$dir/ready.json")"
  pass "helm test: router started on the rendered config (http port $port)"

  read_argv "$dir/out/command/$fullname-test-webhook/send-webhook"
  echo "      test pod command: ${argv[*]}"
  map_argv "$root" "http://127.0.0.1:$port" "${argv[@]}"
  local out
  if out="$("${mapped[@]}" 2>&1)" && [[ "$out" == "HTTP 200"* ]]; then
    pass "helm test: the test pod's command got $out"
  else
    fail "helm test: the test pod's command got: $out"
  fi

  # The same command with a secret the router does not hold must be refused (401, exit != 0).
  local wrong="$work/wrong"
  mkdir -p "$wrong/etc/switchboard"
  cp -r "$root/etc/switchboard/config" "$wrong/etc/switchboard/config"
  mkdir -p "$wrong/etc/switchboard/secrets"
  printf '%s\n' whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    >"$wrong/etc/switchboard/secrets/source-resend.secrets"
  map_argv "$wrong" "http://127.0.0.1:$port" "${argv[@]}"
  if out="$("${mapped[@]}" 2>&1)"; then
    fail "helm test: a wrongly signed webhook passed: $out"
  elif [[ "$out" == "HTTP 401"* ]]; then
    pass "helm test: a wrong secret gets $out"
  else
    fail "helm test: a wrong secret got: $out"
  fi

  # SIGTERM (after preStop) must end the router within the rest of the grace period.
  local grace prestop
  grace="$(sed -n 's/^ *terminationGracePeriodSeconds: *//p' "$dir/manifests.yaml" | head -1)"
  prestop="$(grep -A3 'preStop:' "$dir/manifests.yaml" | sed -n 's/.*command: \[sleep, "\([0-9]*\)"\]/\1/p')"
  local start=$SECONDS
  kill -TERM "$router_pid"
  local status=0
  timeout $((grace - prestop)) tail --pid="$router_pid" -f /dev/null || status=$?
  if [ "$status" -eq 0 ] && wait "$router_pid"; then
    pass "helm test: SIGTERM stopped the router in $((SECONDS - start)) s (budget $((grace - prestop)) s)"
  else
    fail "helm test: the router did not stop cleanly within $((grace - prestop)) s"
    cat "$dir/router.log"
  fi
  router_pid=""
}
run_helm_test

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
