#!/usr/bin/env bash
# The paper's generator distillation, closed in one command (docs/generation.md, "Distilling a
# student generator"):
#   1. the teacher (any OpenAI-compatible endpoint; default SmolLM2 on llama-server) answers a
#      sample of the PubMedQA abstracts, a `distill` set is built from its conversations and a
#      LoRA student is trained on it in the file (lectern run examples/pubmedqa-distill.toml);
#   2. the teacher also answers LECTERN_HELDOUT more documents the student never saw;
#   3. the student's adapter is exported as GGUF and served by llama-server --lora;
#   4. the student answers the sample and the held-out documents (`lectern generate --adapter`:
#      its generator row names the checkpoint) and LECTERN_STUDENT_EXTRA documents more;
#   5. the report compares them (out/pubmedqa-distill.html).
# Usage: scripts/distill.sh [FILE]     (default out/pubmedqa-distill.lectern; resumable: re-run it)
#   LECTERN_TEACHER_URL, LECTERN_TEACHER_MODEL   a teacher endpoint (e.g. a strong hosted model)
#   LECTERN_TEACHER_SAMPLE (24), LECTERN_HELDOUT (8), LECTERN_STUDENT_EXTRA (0), LECTERN_STUDENT_STEPS (8)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LECTERN_ROOT"
FILE="${1:-out/pubmedqa-distill.lectern}"
export LECTERN_TEACHER_SAMPLE="${LECTERN_TEACHER_SAMPLE:-24}"
HELDOUT="${LECTERN_HELDOUT:-8}"
EXTRA="${LECTERN_STUDENT_EXTRA:-0}"
LECTERN_MODELS_ONLY=1 bash scripts/setup.d/10-models.sh
bash scripts/setup.d/30-llama-server.sh
bash scripts/setup.d/60-trainer.sh
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
LECTERN="${LECTERN_BIN:-}"
if [ -z "$LECTERN" ]; then
    log "building lectern (release)"
    swift build -c release --product lectern >&2
    LECTERN="$(swift build -c release --show-bin-path)/lectern"
fi
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
if [ -z "${LECTERN_TEACHER_URL:-}" ]; then
    eval "$(bash scripts/llama-server.sh --parallel 2)"
    pids+=("$LLAMA_PID")
    LECTERN_TEACHER_URL="$LLAMA_URL"
fi
TEACHER_MODEL="${LECTERN_TEACHER_MODEL:-smollm2}"

log "1. teacher pairs on $LECTERN_TEACHER_SAMPLE documents, the distill set, the student's training"
"$LECTERN" run examples/pubmedqa-distill.toml --file "$FILE" --llm-url "$LECTERN_TEACHER_URL" --llm-model "$TEACHER_MODEL"
run="$("$LECTERN" sql "$FILE" --csv "SELECT r.id FROM training_runs r JOIN training_sets s ON s.id = r.training_set_id WHERE s.recipe = 'distill' AND r.status = 'complete' ORDER BY r.id DESC LIMIT 1" | tail -n 1)"
[ -n "$run" ] && [ "$run" != "id" ] || { echo "error: no complete distillation run in $FILE" >&2; exit 1; }
# The same generator (same options) on a larger sample: the seeded sample grows by its order, so
# the first LECTERN_TEACHER_SAMPLE documents are the ones the student learnt from.
total=$((LECTERN_TEACHER_SAMPLE + HELDOUT))
log "2. the teacher on $HELDOUT held-out documents"
"$LECTERN" generate "$FILE" --endpoint "$LECTERN_TEACHER_URL" --model "$TEACHER_MODEL" --name teacher --max-items 3 --sample "$total" --seed 0

log "3. the student (run $run) as a GGUF adapter, served by llama-server --lora"
adapter="$(dirname "$FILE")/student-run-$run"
"$LECTERN" export adapter "$FILE" "$adapter" --run "$run" --format gguf
eval "$(bash scripts/llama-server.sh --parallel 2 -- --lora "$adapter/adapter.gguf")"
pids+=("$LLAMA_PID")

log "4. the student on the same $total documents and $EXTRA more"
"$LECTERN" generate "$FILE" --endpoint "$LLAMA_URL" --model student --name student --adapter "$run" --max-items 3 \
    --sample "$((total + EXTRA))" --seed 0 --min-ok 0

log "5. the report"
"$LECTERN" report "$FILE" -o "$(dirname "$FILE")/pubmedqa-distill.html"
