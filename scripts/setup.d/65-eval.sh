#!/usr/bin/env bash
# lm-evaluation-harness (scripts/requirements/eval.txt), the reference the engine's `score`
# subcommand is compared with (benchmarks/eval/parity.sh), installed into the shared cache venv
# and recorded as LECTERN_LMEVAL_PYTHON.
#
# Idempotent and cached: python_requirements stamps the venv with the file's hash, so a warm run
# does no pip work. It only adds packages to the shared venv (lm-eval, evaluate, sacrebleu, ...):
# before a cold install pip is asked what it would do, and the script refuses if that includes
# changing the version of anything already installed (the trainer's torch, transformers, ...).
# A cold install into an empty venv took about 72 s here (no pip cache).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component eval
req="$LECTERN_ROOT/scripts/requirements/eval.txt"
py="$(python_venv)"
python_requirements_additive "$req" lm-eval 0.4.13 eval
# Package metadata only (no heavy imports), so a warm run stays instant; a venv edited by hand
# since the stamp was written is repaired once here.
versions='import importlib.metadata as m; print(" ".join(n + " " + m.version(n) for n in ("lm-eval", "torch", "transformers", "peft", "accelerate", "datasets", "evaluate")))'
if ! "$py" -c "$versions" >/dev/null 2>&1; then
    log "eval: venv at $py is missing packages; reinstalling from $req"
    "$py" -m pip install --quiet -r "$req"
fi
setenv_persist LECTERN_LMEVAL_PYTHON "$py"
log "eval: $("$py" -c "$versions") at $py"
