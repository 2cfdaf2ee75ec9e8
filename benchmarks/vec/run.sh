#!/usr/bin/env bash
# Side-by-side benchmark of LecternVec and sqlite-vec (PyPI wheel's vec0.so), one invocation:
#   benchmarks/vec/run.sh                  # 100k and 1M x 384
#   benchmarks/vec/run.sh --sizes 100000   # quicker
#   benchmarks/vec/run.sh --filtered [--rows 100000]   # metadata-filtered KNN and file size after churn (filtered.py)
# Needs: scripts/setup.d/20-sqlite-vec.sh (vec0.so), numpy for Debian's python3 (apt: python3-numpy).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
bash scripts/setup.d/20-sqlite-vec.sh
. "$LECTERN_ENV_FILE"
/usr/bin/python3 -c 'import numpy' 2>/dev/null || { SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo; $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-numpy >/dev/null; }
swift build -c release --product LecternVec
if [ "${1:-}" = "--filtered" ]; then
    shift
    exec /usr/bin/python3 benchmarks/vec/filtered.py --lib "$PWD/.build/release/libLecternVec" --vec0 "$SQLITE_VEC_PATH" --data "$LECTERN_CACHE/bench-vec" "$@"
fi
exec /usr/bin/python3 benchmarks/vec/bench.py --lib "$PWD/.build/release/libLecternVec" --vec0 "$SQLITE_VEC_PATH" --data "$LECTERN_CACHE/bench-vec" "$@"
