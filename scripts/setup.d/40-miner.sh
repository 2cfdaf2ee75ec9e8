#!/usr/bin/env bash
# The miner's tests drive CPython's own `re` (stdlib only) as the reference for the regex
# matcher: make sure a python3 exists and record it as LECTERN_STDLIB_PYTHON. Idempotent.
# (benchmarks/miner/run.sh installs its own extra packages; the tests need none.)
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component miner-python
py=""
for c in /usr/bin/python3 "$(command -v python3 || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import re, json' 2>/dev/null; then py="$c"; break; fi
done
if [ -z "$py" ]; then
    log "miner: installing python3 (apt) for the regex reference tests"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3 >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq python3 >/dev/null; fi
    py=/usr/bin/python3
fi
setenv_persist LECTERN_STDLIB_PYTHON "$py"
log "miner: reference Python is $py"
