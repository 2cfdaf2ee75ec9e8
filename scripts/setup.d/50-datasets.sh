#!/usr/bin/env bash
# The reference reader for training-set exports (`lectern export set`): Hugging Face `datasets`
# in the cache venv, recorded as LECTERN_DATASETS_PYTHON. The export tests load every file they
# write with `datasets.load_dataset("json", ...)`, the call LLaMA-Factory, axolotl and TRL make,
# so "the engines can read it" is tested, not assumed. Idempotent, cached under $LECTERN_CACHE.
#
# It goes into the shared venv because it only adds packages there (datasets, pyarrow, pandas,
# dill, multiprocess, xxhash, ...): the pins of the other requirement files (torch, transformers,
# numpy, tokenizers, ...) stay as they are. Before installing, pip is asked what it would do, and
# the script refuses if that includes changing the version of anything already installed.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component datasets
req="$LECTERN_ROOT/scripts/requirements/build.txt"
py="$(python_venv)"
if ! "$py" -c 'import sys; from importlib.metadata import version; sys.exit(version("datasets") != "5.2.0")' 2>/dev/null; then
    report="$(mktemp)"
    trap 'rm -f "$report"' EXIT
    "$py" -m pip install --quiet --dry-run --report "$report" -r "$req"
    "$py" -c '
import json, sys
from importlib.metadata import PackageNotFoundError, version
changed = []
for item in json.load(open(sys.argv[1]))["install"]:
    name, new = item["metadata"]["name"], item["metadata"]["version"]
    try:
        old = version(name)
    except PackageNotFoundError:
        continue
    if old != new:
        changed.append(f"{name} {old} -> {new}")
if changed:
    sys.exit("datasets: installing scripts/requirements/build.txt would change the shared venv: "
             + ", ".join(changed) + "; give it a venv of its own instead")
' "$report"
fi
python_requirements "$req"
versions="$("$py" -c 'import datasets, pyarrow; print(f"datasets {datasets.__version__}, pyarrow {pyarrow.__version__}")')" \
    || { log "datasets: cannot import datasets in $py"; exit 1; }
setenv_persist LECTERN_DATASETS_PYTHON "$py"
log "datasets: reference reader is $py ($versions)"
