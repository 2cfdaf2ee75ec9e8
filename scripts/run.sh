#!/usr/bin/env bash
# The main job, end to end on embedded defaults: builds lectern (release, cached in .build/),
# then `lectern run examples/pubmedqa.toml`: the PubMedQA abstracts ingested, general
# instructions imported, MiniLM embeddings, SmolLM2 token counts, AdaptLLM's miner for the
# reading-comprehension tasks, Algorithm 1 clusters, the readcompre+cluster training set
# (1:1 with instructions, knapsack-packed into 2048-token sequences) and its JSONL export, a short
# LoRA run of SmolLM2, the base and the adapter scored on 20 held-out PubMedQA items, and the
# HTML report (out/pubmedqa-report.html).
#
#   scripts/run.sh [FILE]          offline (default file: out/pubmedqa.lectern)
#   scripts/run.sh --llm [FILE]    QA pairs from an LLM instead (llm-qa+cluster, the paper's method):
#                                  starts llama-server with SmolLM2 (installing it if needed), or uses
#                                  LECTERN_LLM_URL / LECTERN_LLM_MODEL when set; LECTERN_LLM_LIMIT=N
#                                  asks only N documents (SmolLM2 on 2 CPU cores takes ~10 s a document)
# Every step is resumable: run it again after an interruption and it does only what is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LECTERN_ROOT"
LLM=0
if [ "${1:-}" = "--llm" ]; then LLM=1; shift; fi
FILE="${1:-out/pubmedqa.lectern}"
[ -f "$LECTERN_SHARED_DATA/pubmedqa/ori_pqal.json" ] || {
    echo "error: $LECTERN_SHARED_DATA/pubmedqa/ori_pqal.json not found (set LECTERN_SHARED_DATA to the shared data folder)" >&2; exit 1; }
# The main job needs the model files (MiniLM, SmolLM2's GGUF) and, for its [train] and [eval]
# steps, the training engine's venv (torch CPU, transformers, PEFT: a few minutes cold, instant
# warm); the other installers are for the tests, benchmarks and the LLM path.
log "setup: model files and the training engine"
LECTERN_MODELS_ONLY=1 bash scripts/setup.d/10-models.sh
bash scripts/setup.d/60-trainer.sh
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
log "building lectern (release)"
swift build -c release --product lectern >&2
swift build -c release --product LecternVec >&2   # the loadable extension, for the sqlite3 shell and Python
LECTERN="$(swift build -c release --show-bin-path)/lectern"
args=(run examples/pubmedqa.toml --file "$FILE")
if [ "$LLM" = 1 ]; then
    if [ -z "${LECTERN_LLM_URL:-}" ]; then
        bash scripts/setup.d/30-llama-server.sh
        [ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
        eval "$(bash scripts/llama-server.sh --parallel 2)"
        trap 'kill "$LLAMA_PID" 2>/dev/null || true' EXIT
        LECTERN_LLM_URL="$LLAMA_URL"
    fi
    args+=(--llm-url "$LECTERN_LLM_URL" --llm-model "${LECTERN_LLM_MODEL:-smollm2}")
    [ -n "${LECTERN_LLM_LIMIT:-}" ] && args+=(--llm-limit "$LECTERN_LLM_LIMIT")
fi
log "lectern ${args[*]}"
"$LECTERN" "${args[@]}"
