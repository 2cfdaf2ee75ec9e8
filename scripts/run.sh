#!/usr/bin/env bash
# The main job, end to end on embedded defaults: builds lectern (release, cached in .build/),
# then runs the pipeline over the PubMedQA abstracts into one file (default out/pubmedqa.lectern).
# Every stage is resumable: run it again after an interruption and it does only what is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LECTERN_ROOT"
FILE="${1:-out/pubmedqa.lectern}"
SHARED="${LECTERN_SHARED_DATA:-$LECTERN_ROOT/../shared/data}"
PUBMEDQA="$SHARED/pubmedqa/ori_pqal.json"
[ -f "$PUBMEDQA" ] || { echo "error: $PUBMEDQA not found (set LECTERN_SHARED_DATA to the shared data folder)" >&2; exit 1; }
# The main job needs only the model files (MiniLM, SmolLM2's GGUF); the other installers are
# for the tests, benchmarks and the LLM path.
log "setup: model files"
LECTERN_MODELS_ONLY=1 bash scripts/setup.d/10-models.sh
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
log "building lectern (release)"
swift build -c release --product lectern >&2
swift build -c release --product LecternVec >&2   # the loadable extension, for the sqlite3 shell and Python
LECTERN="$(swift build -c release --show-bin-path)/lectern"
mkdir -p "$(dirname "$FILE")"
GGUF="${LECTERN_SMOLLM2_GGUF:-$LECTERN_CACHE/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
log "init";     "$LECTERN" init "$FILE" --domain biomedicine
log "ingest";   "$LECTERN" ingest "$FILE" "$PUBMEDQA"
log "embed (MiniLM-L6-v2, in Swift)"
"$LECTERN" embed "$FILE" --embedder minilm
log "tokens (SmolLM2's tokenizer, read from its GGUF)"
"$LECTERN" tokens "$FILE" --tokenizer "$GGUF" --name smollm2
log "mine (AdaptLLM reading comprehension, offline)"
"$LECTERN" mine "$FILE" --tokenizer "$GGUF"
log "cluster (Algorithm 1: Lmax 2048 SmolLM2 tokens, Dmax 16, similarity 0.7)"
"$LECTERN" cluster "$FILE" --embedder minilm --tokenizer smollm2 --report
log "status";   "$LECTERN" status "$FILE"
