#!/usr/bin/env bash
# `lectern train` against the same PEFT training loop run directly (benchmarks/train/peft_loop.py),
# on the same examples and the same engine configuration, side by side in this one invocation:
# lectern, direct, direct, lectern (the better of each pair is compared, so a load spike on a
# shared 2-core machine does not decide the ratio). Then the time and file growth of one
# checkpoint at rank 256.
#
#   benchmarks/train/run.sh [STEPS] [CONTEXT]      defaults: 5 steps of SmolLM2-135M, rank 256
#                                                 all-linear, fp32, one thread, 512-token sequences
#
# tokens/s are over steps 2..STEPS (step 1 warms up), from the engine's per-step timings for
# lectern (stored in training_metrics) and from the loop's own for the direct run. Lectern's
# per-step work (a metrics transaction per step) runs beside the engine, so its cost shows as a
# slower engine; its fixed costs (start-up, base-model check, writing the examples) are printed
# apart as the wall time outside the steps.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
bash scripts/setup.d/60-trainer.sh >&2
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
STEPS="${1:-5}"
CONTEXT="${2:-512}"
PY="$LECTERN_TRAIN_PYTHON"
GGUF="${LECTERN_SMOLLM2_GGUF:-$LECTERN_CACHE/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
swift build -c release --product lectern >&2
L="$(swift build -c release --show-bin-path)/lectern"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LECTERN_PROGRESS=off
F="$work/bench.lectern"
"$L" init "$F" --domain biomedicine >/dev/null
"$L" ingest "$F" "$LECTERN_SHARED_DATA/pubmedqa/ori_pqal.json" >/dev/null
"$L" tokens "$F" --tokenizer "$GGUF" >/dev/null
"$L" build "$F" --recipe dapt --context "$CONTEXT" --ratio 1:0 --name bench --tokenizer "$GGUF" >/dev/null 2>&1
echo "machine load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "SmolLM2-135M, LoRA rank 256 all-linear, fp32, 1 thread, $CONTEXT-token sequences, $STEPS steps (2..$STEPS timed)"

lectern_run() {  # $1: copy name; prints tokens/s over steps 2..STEPS and the wall time
    local f="$work/$1.lectern"
    cp "$F" "$f"
    local t0 t1
    t0=$(date +%s.%N)
    "$L" train "$f" --set bench --base "$GGUF" --rank 256 --steps "$STEPS" --checkpoint-every "$STEPS" --threads 1 --keep-work \
        > /dev/null 2> "$work/$1.err" || { cat "$work/$1.err" >&2; exit 1; }
    t1=$(date +%s.%N)
    "$L" sql "$f" "SELECT sum(CASE WHEN name='tokens' THEN value END) / sum(CASE WHEN name='seconds' THEN value END),
                         sum(CASE WHEN name='seconds' THEN value END)
                  FROM training_metrics WHERE step >= 2" --csv | tail -1 | tr ',' ' ' | { read -r tps secs; echo "$tps $(echo "$t1 - $t0 - $secs" | bc)"; }
}
direct_run() {  # the engine configuration lectern wrote, run by the plain loop
    local cfg
    cfg="$(ls "$work"/l1.lectern.train/*/config.json | head -1)"
    "$PY" benchmarks/train/peft_loop.py --config "$cfg" 2>/dev/null | tail -1 | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])'
}
read -r l1 l1wall <<< "$(lectern_run l1)"
d1="$(direct_run)"
d2="$(direct_run)"
read -r l2 l2wall <<< "$(lectern_run l2)"
best() { "$PY" -c "import sys; print(max(float(x) for x in sys.argv[1:]))" "$@"; }
lb="$(best "$l1" "$l2")"; db="$(best "$d1" "$d2")"
printf 'lectern train      %8.1f tokens/s (runs: %.1f, %.1f); wall time outside the steps: %.0f s, %.0f s\n' "$lb" "$l1" "$l2" "$l1wall" "$l2wall"
printf 'PEFT loop directly %8.1f tokens/s (runs: %.1f, %.1f)\n' "$db" "$d1" "$d2"
"$PY" -c "import sys; l, d = float(sys.argv[1]), float(sys.argv[2]); print(f'ratio lectern / direct: {l / d:.3f} (overhead {100 * (1 - l / d):+.1f}%)')" "$lb" "$db"

# One checkpoint at rank 256: the time to read the engine's folder and store it, and the file's growth.
c="$work/ckpt.lectern"
cp "$F" "$c"
before=$(stat -c %s "$c")
"$L" train "$c" --set bench --base "$GGUF" --rank 256 --steps 2 --checkpoint-every 1 --threads 1 2> "$work/ckpt.err" >/dev/null
after=$(stat -c %s "$c")
grep -o 'checkpoint at step [0-9]* stored ([^)]*)' "$work/ckpt.err" | sed 's/^/  /'
echo "file growth for 2 checkpoints (adapters kept, resume state of the last dropped when the run completed): $(( (after - before) / 1000000 )) MB"
