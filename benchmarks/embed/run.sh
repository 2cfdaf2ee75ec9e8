#!/usr/bin/env bash
# The Swift MiniLM encoder vs sentence-transformers (torch CPU) on the 1000 PubMedQA abstracts,
# one after the other in this one invocation; prints docs/s of each, the ratio, and the FLOP floor.
# Needs scripts/setup.d/15-embed-reference.sh (the venv with sentence-transformers) and the model.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
PQAL="$LECTERN_SHARED_DATA/pubmedqa/ori_pqal.json"
PY="${LECTERN_EMBED_PYTHON:-$LECTERN_CACHE/venv/bin/python}"
# LecternEmbed is compiled -O -target-cpu haswell in every configuration, so the encoder runs the
# same machine code either way; LECTERN_BENCH_CONFIG=debug skips a release build of GRDB/Crypto.
CONFIG="${LECTERN_BENCH_CONFIG:-release}"
swift build -c "$CONFIG" --product EmbedBenchmark >&2
BIN="$(swift build -c "$CONFIG" --show-bin-path)/EmbedBenchmark"
MODEL="${LECTERN_MINILM_DIR:-$LECTERN_CACHE/models/all-minilm-l6-v2}"
swift_out="$("$BIN" "$PQAL")"
echo "$swift_out"
st_out="$("$PY" benchmarks/embed/st_bench.py "$MODEL" "$PQAL" "$(nproc)" 2>/dev/null)"
echo "$st_out"
s=$(echo "$swift_out" | sed -n 's/^SWIFT_DOCS_PER_S=//p'); t=$(echo "$st_out" | sed -n 's/^ST_DOCS_PER_S=//p')
python3 -c "print(f'ratio swift/sentence-transformers: {$s/$t:.2f}x')"
echo "machine load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
