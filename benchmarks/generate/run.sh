#!/usr/bin/env bash
# Generation throughput: Lectern's generate stage vs a minimal direct client (Python threads,
# keep-alive), same request bodies, same concurrency, against one llama-server with 4 slots and
# no prompt cache. Prints both and the ratio (generated tokens per second, Lectern / direct).
# Usage: benchmarks/generate/run.sh [DOCS] [MAX_TOKENS] [ROUNDS] [MAX_DOC_CHARS]
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
docs="${1:-32}"; max_tokens="${2:-128}"; rounds="${3:-2}"; doc_chars="${4:-600}"; conc=4
config="${LECTERN_BENCH_CONFIG:-release}"   # debug only for a quick look: the figures are for release
swift build -c "$config" --product lectern-generate-bench > /dev/null
bench="$(swift build -c "$config" --show-bin-path)/lectern-generate-bench"
work="$(mktemp -d)"
eval "$(scripts/llama-server.sh --parallel "$conc" --log "$work/server.log")"
trap 'kill "$LLAMA_PID" 2>/dev/null; rm -rf "$work"' EXIT
"$bench" dump --docs "$docs" --max-tokens "$max_tokens" --max-doc-chars "$doc_chars" "$work/bodies.jsonl"
# Warm-up (page cache, threads), not measured.
head -n 4 "$work/bodies.jsonl" > "$work/warm.jsonl"
python3 benchmarks/generate/direct_client.py "$LLAMA_URL" "$work/warm.jsonl" "$conc" > /dev/null
# Alternate the two so that drift in machine load hits both alike; sum over rounds.
for r in $(seq 1 "$rounds"); do
    python3 benchmarks/generate/direct_client.py "$LLAMA_URL" "$work/bodies.jsonl" "$conc" | tee -a "$work/direct.jsonl" | sed 's/^/direct  /'
    "$bench" run --url "$LLAMA_URL" --docs "$docs" --max-tokens "$max_tokens" --max-doc-chars "$doc_chars" --concurrency "$conc" \
        | tee -a "$work/lectern.jsonl" | sed 's/^/lectern /'
done
python3 - "$work/direct.jsonl" "$work/lectern.jsonl" <<'PY'
import json, sys
def total(p):
    rows = [json.loads(l) for l in open(p)]
    return sum(r["completion_tokens"] for r in rows), sum(r["seconds"] for r in rows)
dt, ds = total(sys.argv[1]); lt, ls = total(sys.argv[2])
d, l = dt / ds, lt / ls
print(f"direct client: {d:.1f} generated tokens/s; lectern: {l:.1f} tokens/s; ratio lectern/direct = {l / d:.3f}")
PY
