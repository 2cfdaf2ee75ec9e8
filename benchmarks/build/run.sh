#!/usr/bin/env bash
# Benchmark of the build stage and of the whole pipeline, in one invocation:
#  1. packing fill ratio at a 2048-token context, the 0/1-knapsack packer against first-fit
#     decreasing (the named reference), on the same items of the PubMedQA-based corpus, for
#     several recipes and mixing ratios; printed with the lower bound on the number of
#     sequences (tokens / context, rounded up), so "how far from perfect" is visible;
#  2. `lectern run examples/pubmedqa.toml` from an empty file: wall time with its stage breakdown.
# Usage: benchmarks/build/run.sh [WORKDIR]   (default: a temp dir; needs scripts/setup.d/10-models.sh)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
LECTERN_MODELS_ONLY=1 bash scripts/setup.d/10-models.sh
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
swift build -c release --product lectern >&2
LECTERN="${LECTERN_BIN:-$(swift build -c release --show-bin-path)/lectern}"
WORK="${1:-$(mktemp -d)}"
mkdir -p "$WORK"
FILE="$WORK/bench.lectern"
rm -f "$FILE" "$FILE"-wal "$FILE"-shm

echo "== lectern run examples/pubmedqa.toml (empty file, release build, $(nproc) cores)"
/usr/bin/time -f "lectern run: %e s wall, %U s user, %S s sys, %M KB max RSS" \
    "$LECTERN" run examples/pubmedqa.toml --file "$FILE" 2> >(grep -v '^\[' >&2) | sed -n '/^lectern run:/,$p'

echo
echo "== packing fill ratio at 2048 tokens: knapsack vs first-fit decreasing (same items)"
printf '%-22s %-6s %9s %9s %9s %9s %9s %8s\n' recipe ratio tokens seqs_knap seqs_ffd fill_knap fill_ffd ratio
for recipe in readcompre+cluster dapt dapt+cluster readcompre; do
  for ratio in 1:0 1:1 1:2; do
    for packer in knapsack ffd; do
      "$LECTERN" build "$FILE" --recipe "$recipe" --ratio "$ratio" --packer "$packer" --seed 1 --name "bench-$packer" >/dev/null 2>&1
    done
    "$LECTERN" sql "$FILE" --csv "SELECT json_extract(k.stats, '\$.tokens'), json_extract(k.stats, '\$.examples'), json_extract(f.stats, '\$.examples'),
        json_extract(k.stats, '\$.fillRatio'), json_extract(f.stats, '\$.fillRatio')
      FROM training_sets k, training_sets f
      WHERE k.name = 'bench-knapsack' AND f.name = 'bench-ffd' AND k.recipe = '$recipe' AND f.recipe = '$recipe'
        AND json_extract(k.params, '\$.ratio.general') = json_extract(f.params, '\$.ratio.general')
        AND json_extract(k.params, '\$.ratio.general') = ${ratio#*:}
      ORDER BY k.id DESC LIMIT 1" | tail -1 | \
    awk -F, -v r="$recipe" -v m="$ratio" '{ printf "%-22s %-6s %9d %9d %9d %9.4f %9.4f %7.4fx   (fewest possible: %d)\n", r, m, $1, $2, $3, $4, $5, $4/$5, int(($1+2047)/2048) }'
  done
done
echo
echo "== packing time on the largest item list (readcompre+cluster, 1:2), seconds of the whole build"
for packer in knapsack ffd; do
  /usr/bin/time -f "$packer: %e s wall" "$LECTERN" build "$FILE" --recipe readcompre+cluster --ratio 1:2 --packer "$packer" --seed 1 --name "time-$packer" >/dev/null
done
