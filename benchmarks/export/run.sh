#!/usr/bin/env bash
# Throughput of `lectern export set` (release build): a synthetic set of N examples (default
# 100 000: ~190 MB of text, 512 int32 ids each) exported as text + input-ids, then each format
# alone. Prints the command's own line (seconds, MB/s of JSONL written, fsync included) and
# /usr/bin/time's wall, CPU and peak memory (flat: rows are streamed).
# usage: benchmarks/export/run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-100000}"
swift build -c release --product lectern >&2
LECTERN="$(swift build -c release --show-bin-path)/lectern"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$LECTERN" init "$work/bench.lectern" --domain bench >/dev/null
python3 benchmarks/export/make_set.py "$work/bench.lectern" "$N" >&2
export LECTERN_PROGRESS=off
for formats in "" text input-ids; do
    rm -rf "$work/out"
    echo "== --format ${formats:-default (text,input-ids)}"
    /usr/bin/time -f "wall %e s, user %U s, sys %S s, peak RSS %M kB" \
        "$LECTERN" export set "$work/bench.lectern" "$work/out" --set bench ${formats:+--format "$formats"}
done
