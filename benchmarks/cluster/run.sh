#!/usr/bin/env bash
# Length-based clustering (Algorithm 1 of arXiv 2401.07284) at scale, ours side by side with the
# reference: exact-neighbour clustering (brute force over every remaining document, the paper's
# loop taken literally). One invocation per size prints wall times, peak memory (getrusage),
# the speed-up, mean intra-cluster similarity of both (and their ratio), how many exact
# clusters the fast path reproduces, and the kNN-graph walk's figures.
#
# usage: benchmarks/cluster/run.sh [N ...]        (default: 100000 1000000)
# Vectors: synthetic 384-d with topic structure (SyntheticCorpus); lengths: the real PubMedQA
# abstracts plus their question and long answer, whitespace words x 1.3.
# For N > 100000 the exact reference runs on a random 100000-document sample (exact on 1M would
# take hours: its cost is clusters x remaining documents x 384).
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product lectern-bench-cluster >&2
BIN="$(swift build -c release --show-bin-path)/lectern-bench-cluster"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(100000 1000000)
for n in "${sizes[@]}"; do
    echo "=== n = $n"
    "$BIN" --n "$n" --exact-sample "$(( n < 100000 ? n : 100000 ))" --walk \
        --pubmedqa "${PUBMEDQA:-/work/shared/data/pubmedqa/ori_pqal.json}"
done
