#!/usr/bin/env bash
# Documents per second: Lectern's miner vs AdaptLLM's own raw2read.py, side by side, on the
# PubMedQA abstracts and on the same corpus repeated 100 times, in one invocation.
#
# usage: benchmarks/miner/run.sh [ADAPTLLM_DIR]
#   ADAPTLLM_DIR (or env ADAPTLLM_DIR): the adaptllm/ folder of microsoft/LMOps, e.g.
#     git clone https://github.com/microsoft/LMOps && ADAPTLLM_DIR=LMOps/adaptllm
#   or from a bare mirror:  mkdir -p /tmp/lmops && git --git-dir=MIRROR archive HEAD adaptllm | tar -x -C /tmp/lmops
#     (then ADAPTLLM_DIR=/tmp/lmops/adaptllm)
#   env MINER_BENCH_REPEAT (default 100), MINER_BENCH_MODE (default text: each abstract repeated
#   in its file, 1000 long documents; corpus: the corpus repeated, REPEAT x 1000 documents, which
#   takes raw2read.py about 45 min on 2 cores), LECTERN_SHARED_DATA (default ../shared/data beside the checkout).
# Both sides read the same files, use the same two SentencePiece models, use both cores
# (raw2read: its process pool; ours: --threads = cores) and write one output file per input.
# Times are wall-clock of the whole command (start-up, model loading, I/O included).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
ADAPTLLM_DIR="${1:-${ADAPTLLM_DIR:-}}"
[ -n "$ADAPTLLM_DIR" ] && [ -f "$ADAPTLLM_DIR/raw2read.py" ] || {
    echo "need ADAPTLLM_DIR with raw2read.py (see the header of $0)" >&2; exit 2; }
ADAPTLLM_DIR="$(cd "$ADAPTLLM_DIR" && pwd)"
DATA="$LECTERN_SHARED_DATA"
REPEAT="${MINER_BENCH_REPEAT:-100}"
MODE="${MINER_BENCH_MODE:-text}"
SPM="$DATA/adaptllm-samples"
python_requirements benchmarks/miner/requirements.txt
PY="$(python_venv)"
swift build -c release --product lectern-miner-bench >&2
BENCH="$(swift build -c release --show-bin-path)/lectern-miner-bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for rep in 1 "$REPEAT"; do
    "$PY" benchmarks/miner/make_inputs.py "$DATA/pubmedqa/ori_pqal.json" "$work/in-$rep" "$rep" "$MODE" >&2
    n=$(ls "$work/in-$rep" | wc -l)
    mkdir -p "$work/py-$rep" "$work/swift-$rep"
    # /usr/bin/time: wall seconds and CPU seconds (user + system, child processes included),
    # so the ratio can also be read on a machine shared with other jobs.
    (cd "$ADAPTLLM_DIR" && PYTHONHASHSEED=0 /usr/bin/time -f "%e %U %S" -o "$work/py.time" "$PY" raw2read.py \
        --input_dir "$work/in-$rep" --output_dir "$work/py-$rep" \
        --general_spm_path "$SPM/general.spm" --domain_spm_path "$SPM/domain.spm" --domain_name biomedicine >/dev/null 2>"$work/py.err") \
        || { cat "$work/py.err" >&2; exit 1; }
    /usr/bin/time -f "%e %U %S" -o "$work/sw.time" "$BENCH" "$work/in-$rep" "$work/swift-$rep" \
        --general-spm "$SPM/general.spm" --domain-spm "$SPM/domain.spm" >&2
    py_out=$(ls "$work/py-$rep" | wc -l); sw_out=$(ls "$work/swift-$rep" | wc -l)
    read -r pw pu ps < <(tail -1 "$work/py.time"); read -r sw su ss < <(tail -1 "$work/sw.time")
    awk -v n="$n" -v rep="$rep" -v mode="$MODE" -v pw="$pw" -v pu="$pu" -v ps="$ps" -v sw="$sw" -v su="$su" -v ss="$ss" \
        -v po="$py_out" -v so="$sw_out" 'BEGIN {
        pc = pu + ps; sc = su + ss; if (sc < 0.01) sc = 0.01
        printf "PubMedQA x%-4d (%s) %6d docs | wall: raw2read.py %8.2f s %8.1f docs/s, Lectern %6.2f s %8.1f docs/s, ratio %5.1fx | CPU: raw2read.py %8.2f s, Lectern %6.2f s, ratio %5.1fx | outputs %d/%d\n",
            rep, mode, n, pw, n / pw, sw, n / sw, pw / sw, pc, sc, pc / sc, po, so }'
done
