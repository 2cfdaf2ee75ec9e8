#!/usr/bin/env bash
# The Swift MiniLM encoder vs sentence-transformers (torch CPU) on the 1000 PubMedQA abstracts,
# in this one invocation: Swift fp32, then sentence-transformers, then Swift fp32 again (the
# better of the two Swift runs is compared, so a load spike on a shared machine does not decide
# the ratio), then Swift bf16 where the CPU has AVX512_BF16. Prints docs/s of each and the
# ratio, the encoder's GFLOP/s against this CPU's measured fp32 peaks, and the bf16 path's
# speed and min/mean cosine to the fp32 vectors.
# Needs scripts/setup.d/15-embed-reference.sh (the venv with sentence-transformers) and the model.
#
#   benchmarks/embed/run.sh
#   LECTERN_BENCH_BUILD="-c release -Xswiftc -enable-testing --scratch-path .build-test" benchmarks/embed/run.sh
#       (reuse the test build: the kernels are the same machine code)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
PQAL="$LECTERN_SHARED_DATA/pubmedqa/ori_pqal.json"
PY="${LECTERN_EMBED_PYTHON:-$LECTERN_CACHE/venv/bin/python}"
read -r -a BUILD <<< "${LECTERN_BENCH_BUILD:--c ${LECTERN_BENCH_CONFIG:-release}}"
swift build "${BUILD[@]}" --product EmbedBenchmark >&2
BIN="$(swift build "${BUILD[@]}" --show-bin-path)/EmbedBenchmark"
MODEL="${LECTERN_MINILM_DIR:-$LECTERN_CACHE/models/all-minilm-l6-v2}"
echo "machine load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
swift1="$("$BIN" "$PQAL" --fp32-only)"
st_out="$("$PY" benchmarks/embed/st_bench.py "$MODEL" "$PQAL" "$(nproc)" 2>/dev/null)"
swift2="$("$BIN" "$PQAL")"
echo "--- Swift, run 1 (fp32)"; echo "$swift1"
echo "--- sentence-transformers"; echo "$st_out"
echo "--- Swift, run 2 (fp32, then bf16)"; echo "$swift2"
s1=$(echo "$swift1" | sed -n 's/^SWIFT_DOCS_PER_S=//p'); s2=$(echo "$swift2" | sed -n 's/^SWIFT_DOCS_PER_S=//p')
t=$(echo "$st_out" | sed -n 's/^ST_DOCS_PER_S=//p')
b=$(echo "$swift2" | sed -n 's/^SWIFT_BF16_DOCS_PER_S=//p')
echo "--- summary"
python3 - "$s1" "$s2" "$t" "${b:-0}" <<'PY'
import sys
s1, s2, t, b = map(float, sys.argv[1:])
s = max(s1, s2)
print(f"Swift fp32 {s:.1f} docs/s (runs: {s1:.1f}, {s2:.1f}) vs sentence-transformers {t:.1f} docs/s: {s / t:.2f}x")
if b: print(f"Swift bf16 {b:.1f} docs/s: {b / t:.2f}x sentence-transformers, {b / s2:.2f}x Swift fp32 of the same run")
PY
echo "machine load average after: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
