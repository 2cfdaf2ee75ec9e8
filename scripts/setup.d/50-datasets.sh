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
python_requirements_additive "$req" datasets 5.2.0 datasets
versions="$("$py" -c 'import datasets, pyarrow; print(f"datasets {datasets.__version__}, pyarrow {pyarrow.__version__}")')" \
    || { log "datasets: cannot import datasets in $py"; exit 1; }
setenv_persist LECTERN_DATASETS_PYTHON "$py"
log "datasets: reference reader is $py ($versions)"
