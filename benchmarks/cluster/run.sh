#!/usr/bin/env bash
# Length-based clustering (Algorithm 1 of arXiv 2401.07284) at scale, ours side by side with the
# reference: exact-neighbour clustering (brute force over every remaining document, the paper's
# loop taken literally). One invocation per size prints wall times, peak memory (getrusage),
# the speed-up, mean intra-cluster similarity of both (and their ratio), how many exact
# clusters the fast path reproduces, and the kNN-graph walk's figures.
#
# usage: benchmarks/cluster/run.sh [N ... | pubmedqa]   (default: 100000 1000000 pubmedqa)
# Vectors: synthetic 384-d with topic structure (SyntheticCorpus); lengths: the real PubMedQA
# abstracts plus their question and long answer, whitespace words x 1.3.
# For N > 100000 the exact reference runs on a random 100000-document sample (exact on 1M would
# take hours: its cost is clusters x remaining documents x 384).
# `pubmedqa`: the real thing, through the CLI: the 1000 PubMedQA abstracts embedded with the
# built-in MiniLM, lengths in SmolLM2 tokens, clustered exact, IVF and kNN-walk, with reports.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
PUBMEDQA="$LECTERN_SHARED_DATA/pubmedqa/ori_pqal.json"
swift build -c release --product lectern-bench-cluster >&2
BIN="$(swift build -c release --show-bin-path)/lectern-bench-cluster"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100000 1000000 pubmedqa)
real_pubmedqa() {
    [ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
    swift build -c release --product lectern >&2
    local lectern work
    lectern="$(swift build -c release --show-bin-path)/lectern"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    local f="$work/pubmedqa.lectern"
    "$lectern" init "$f" --domain biomedicine > /dev/null
    "$lectern" ingest "$f" "$PUBMEDQA" --format pubmedqa > /dev/null
    LECTERN_PROGRESS=off "$lectern" embed "$f" > /dev/null
    "$lectern" tokens "$f" --tokenizer "${LECTERN_SMOLLM2_GGUF:?run scripts/setup.d/30-llama-server.sh}" --name smollm2 > /dev/null
    local common=(--embedder minilm --tokenizer smollm2 --report)
    # 0.7 is the paper's threshold; MiniLM rarely scores two different abstracts that high, so
    # 0.5 shows the same comparison with real groups.
    for variant in "--search exact" "--search ivf --probes 8" "--algorithm knn-walk --search exact" \
                   "--search exact --threshold 0.5" "--search ivf --probes 8 --threshold 0.5"; do
        echo "--- lectern cluster $variant"
        local t0 t1
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086
        LECTERN_PROGRESS=off "$lectern" cluster "$f" "${common[@]}" $variant 2>/dev/null
        t1=$(date +%s.%N)
        echo "wall $(python3 -c "print(f'{$t1 - $t0:.2f}')") s"
    done
}
for n in "${sizes[@]}"; do
    if [ "$n" = pubmedqa ]; then
        echo "=== the 1000 real PubMedQA abstracts (MiniLM vectors, SmolLM2 token lengths)"
        real_pubmedqa
        continue
    fi
    echo "=== n = $n"
    "$BIN" --n "$n" --exact-sample "$(( n < 100000 ? n : 100000 ))" --walk \
        --pubmedqa "$PUBMEDQA"
done
