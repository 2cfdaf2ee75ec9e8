#!/usr/bin/env bash
# `lectern merge` throughput: 8 shard files totalling N documents (default 1000000) with 384-d
# embeddings and token counts, merged side by side with plain SQLite INSERT ... SELECT copies of
# the same rows and vector bytes (the floor of moving them through SQLite here). Prints rows/s,
# MB/s and the ratio. Needs about 3x the shards' size of free disk (2.5 GB per 10^6 documents each).
#
# usage: benchmarks/merge/run.sh [DOCS] [SHARDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product lectern-bench-merge >&2
BIN="$(swift build -c release --show-bin-path)/lectern-bench-merge"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$BIN" --docs "${1:-1000000}" --shards "${2:-8}" --dir "$dir/work"
