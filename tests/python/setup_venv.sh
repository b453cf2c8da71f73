#!/usr/bin/env bash
# Prepares the Python test environment: a venv at $1 (under the build dir) with the pinned
# packages of requirements.txt from PyPI (installed again only when that file changes), then
# builds and installs the SDK (sdk/python: stubs generated from proto/ by its build hook) and the
# example agents (agents/suppression, agents/reply) from this checkout. Idempotent.
set -euo pipefail
venv=${1:?usage: setup_venv.sh VENV_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
requirements=$root/tests/python/requirements.txt
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
stamp=$venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  echo "$want" > "$stamp"
fi
# Built from a copy (same relative layout, so the SDK's hook finds proto/): setuptools builds in
# the source folder, and the checkout stays clean. The hook needs grpcio-tools, which the venv
# has; --no-build-isolation keeps the build offline.
stage=$venv/stage
rm -rf "$stage"
mkdir -p "$stage/sdk" "$stage/agents"
cp -r "$root/proto" "$stage/proto"
cp -r "$root/sdk/python" "$stage/sdk/python"
cp -r "$root/agents/suppression" "$root/agents/reply" "$stage/agents/"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
  --no-build-isolation --force-reinstall \
  "$stage/sdk/python" "$stage/agents/suppression" "$stage/agents/reply"
