#!/usr/bin/env bash
# Ingest throughput: `lectern ingest` vs a plain Python loader (json + sqlite3.executemany) into
# the same schema, on the same >= 200 MB JSONL corpus, side by side in one invocation.
# Usage: benchmarks/ingest/run.sh [MB]   (default 220)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
MB="${1:-220}"
SHARED="${LECTERN_SHARED_DATA:-$LECTERN_ROOT/../shared/data}"
DATA="$LECTERN_ROOT/benchmarks/data"; mkdir -p "$DATA"
CORPUS="$DATA/pubmed-${MB}mb.jsonl"
[ -f "$CORPUS" ] || /usr/bin/python3 benchmarks/ingest/make_corpus.py "$SHARED/pubmedqa/ori_pqal.json" "$CORPUS" "$MB"
if [ -z "${LECTERN_BIN:-}" ]; then
    swift build -c release --product lectern >&2
    LECTERN_BIN="$(swift build -c release --show-bin-path)/lectern"
fi
LECTERN="$LECTERN_BIN"
BYTES=$(stat -c %s "$CORPUS")
rm -f "$DATA"/bench-*.lectern* "$DATA"/bench-py.sqlite*
sync
now() { date +%s.%N; }
t0=$(now)
"$LECTERN" init "$DATA/bench-swift.lectern" --domain biomedicine >/dev/null
LECTERN_PROGRESS=off "$LECTERN" ingest "$DATA/bench-swift.lectern" "$CORPUS" >&2
t1=$(now)
/usr/bin/python3 benchmarks/ingest/python_loader.py "$DATA/bench-py.sqlite" migrations/0001_initial.sql "$CORPUS" >&2
t2=$(now)
python3 - "$BYTES" "$t0" "$t1" "$t2" <<'PY'
import sys
b, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
swift, py = b / 1e6 / (t1 - t0), b / 1e6 / (t2 - t1)
print(f"corpus: {b/1e6:.1f} MB")
print(f"lectern ingest : {t1-t0:6.2f} s  {swift:7.1f} MB/s")
print(f"python loader  : {t2-t1:6.2f} s  {py:7.1f} MB/s")
print(f"ratio (lectern / python): {swift/py:.2f}x")
PY
