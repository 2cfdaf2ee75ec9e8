#!/usr/bin/env bash
# Ingest throughput: `lectern ingest` vs a plain Python loader (json + sqlite3.executemany) into
# the same schema, on the same >= 200 MB JSONL corpus, side by side in one invocation.
# Usage: benchmarks/ingest/run.sh [MB]   (default 220)
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
MB="${1:-220}"
SHARED="$LECTERN_SHARED_DATA"
DATA="$LECTERN_ROOT/benchmarks/data"; mkdir -p "$DATA"
CORPUS="$DATA/pubmed-${MB}mb.jsonl"
[ -f "$CORPUS" ] || /usr/bin/python3 benchmarks/ingest/make_corpus.py "$SHARED/pubmedqa/ori_pqal.json" "$CORPUS" "$MB"
if [ -z "${LECTERN_BIN:-}" ]; then
    swift build -c release --product lectern >&2
    LECTERN_BIN="$(swift build -c release --show-bin-path)/lectern"
fi
LECTERN="$LECTERN_BIN"
rm -f "$DATA"/bench-*.lectern* "$DATA"/bench-py.sqlite*
sync
# Wall time and CPU time (user + system) of each, measured by the same Python driver.
/usr/bin/python3 - "$CORPUS" "$LECTERN" "$DATA" <<'PY'
import os, resource, subprocess, sys, time
corpus, lectern, data = sys.argv[1:]
size = os.path.getsize(corpus)
def measure(cmds):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); t0 = time.perf_counter()
    for c in cmds:
        subprocess.run(c, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "LECTERN_PROGRESS": "off"})
    t1 = time.perf_counter(); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t1 - t0, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
swift = measure([[lectern, "init", f"{data}/bench-swift.lectern", "--domain", "biomedicine"],
                 [lectern, "ingest", f"{data}/bench-swift.lectern", corpus]])
py = measure([["/usr/bin/python3", "benchmarks/ingest/python_loader.py", f"{data}/bench-py.sqlite", "migrations/0001_initial.sql", corpus]])
mb = size / 1e6
print(f"corpus: {mb:.1f} MB")
for name, (wall, cpu) in (("lectern ingest", swift), ("python loader", py)):
    print(f"{name:15s}: wall {wall:6.2f} s = {mb / wall:6.1f} MB/s   cpu {cpu:6.2f} s")
print(f"ratio (lectern / python): wall {py[0] / swift[0]:.2f}x, cpu {py[1] / swift[1]:.2f}x")
PY
