#!/usr/bin/env bash
# ctest entry point: prepares the venv (setup_venv.sh) and runs pytest on tests/python with the
# built binaries. usage: run_tests.sh VENV_DIR SWITCHBOARD SWITCHBOARDCTL [pytest args...]
# pytest's exit 5 (no tests collected) is a failure here like any other non-zero exit.
set -euo pipefail
venv=$1 router=$2 ctl=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
"$here/setup_venv.sh" "$venv"
set +e
"$venv/bin/python" -m pytest -p no:cacheprovider -q "$here" \
  --switchboard "$router" --switchboardctl "$ctl" "$@"
code=$?
set -e
[ $code -eq 5 ] && echo "run_tests.sh: pytest collected no tests" >&2
exit $code
