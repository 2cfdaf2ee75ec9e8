#!/usr/bin/env bash
# sqlite-vec's own Python test suite (v0.1.6, tests/*.py, pytest) run twice side by side: against
# sqlite-vec's vec0.so, and against LecternVec's loadable extension with only the .so path, the
# entry point and `vec0` -> `lectern_vec` in SQL mapped. Prints one line per test with both
# outcomes, then the counts. The suite is read from a sqlite-vec checkout (never copied into this
# repository).
#
# usage: benchmarks/sqlite-vec-suite/run.sh SQLITE_VEC_CHECKOUT [PYTEST_ARGS...]
#   SQLITE_VEC_CHECKOUT: a git clone of github.com/asg017/sqlite-vec (tag v0.1.6 is used)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$(cd "${1:?usage: run.sh SQLITE_VEC_CHECKOUT}" && pwd)"; shift
cache="${LECTERN_CACHE:-$HOME/.cache/lectern}"
[ -f "$cache/env.sh" ] && . "$cache/env.sh"
: "${SQLITE_VEC_PATH:?run scripts/setup.d/20-sqlite-vec.sh first (it sets SQLITE_VEC_PATH)}"
ours="${LECTERN_VEC_LIB:-}"
if [ -z "$ours" ]; then
    swift build -c release --product LecternVec >&2
    ours="$(swift build -c release --show-bin-path)/libLecternVec.so"
fi
venv="$cache/venv-sqlite-vec-suite"
if [ ! -x "$venv/bin/pytest" ]; then
    # Debian's python3: its sqlite3 module can load extensions (a pyenv build may not).
    /usr/bin/python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q pytest numpy syrupy >&2
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for side in vec0 ours; do
    mkdir -p "$work/$side"
    git -C "$repo" archive v0.1.6 tests | tar -x -C "$work/$side"
done
# Theirs: their library where the suite expects ./dist/vec0.
mkdir -p "$work/vec0/dist" && cp "$SQLITE_VEC_PATH.so" "$work/vec0/dist/vec0.so"
# Ours: the same files, the library and the module name mapped, nothing else.
mkdir -p "$work/ours/dist" && cp "$ours" "$work/ours/dist/vec0.so"
find "$work/ours/tests" -name '*.py' -exec sed -i -E -e 's/(using|USING) +vec0 *\(/\1 lectern_vec(/g' \
    -e 's/sqlite3_vec_numpy_init/sqlite3_lecternvec_numpy_init/g' {} +   # the NumPy entry point, ours
run() {  # side -> pytest's -rA summary lines "PASSED tests/x.py::name" etc.
    local side="$1"; shift
    (cd "$work/$side" && "$venv/bin/pytest" -q -rA -p no:cacheprovider tests/test-loadable.py tests/test-metadata.py \
        tests/test-auxiliary.py tests/test-partition-keys.py tests/test-general.py "$@" 2>&1 || true) \
        | { grep -E '^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) ' || true; } \
        | sed -E -e 's/^SKIPPED \[[0-9]+\] ([^:]+:[0-9]+).*/SKIPPED \1/' -e 's/ - .*//' | awk '{print $2, $1}' | sort
}
run vec0 "$@" > "$work/vec0.txt"
run ours "$@" > "$work/ours.txt"
join -a1 -a2 -e MISSING -o 0,1.2,2.2 "$work/vec0.txt" "$work/ours.txt" | awk '{printf "%-80s sqlite-vec %-8s lectern_vec %s\n", $1, $2, $3}'
echo
echo "sqlite-vec: $(awk '{print $2}' "$work/vec0.txt" | sort | uniq -c | tr '\n' ' ')"
echo "lectern_vec: $(awk '{print $2}' "$work/ours.txt" | sort | uniq -c | tr '\n' ' ')"
echo "both pass: $(join "$work/vec0.txt" "$work/ours.txt" | awk '$2 == "PASSED" && $3 == "PASSED"' | wc -l) of $(wc -l < "$work/vec0.txt") tests"
