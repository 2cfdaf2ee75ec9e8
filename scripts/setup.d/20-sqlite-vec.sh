#!/usr/bin/env bash
# Installs what LecternVec's tests and benchmark compare against: the sqlite3 shell (Debian) and
# sqlite-vec's vec0.so (from its PyPI wheel, unpacked into the cache; no Python install needed,
# since the tests load it into Debian's /usr/bin/python3 and the sqlite3 shell).
# Idempotent; records SQLITE_VEC_PATH (vec0.so without its suffix, as load_extension takes it).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component sqlite-vec

if ! command -v sqlite3 >/dev/null 2>&1 || [ ! -x /usr/bin/python3 ]; then
    log "installing sqlite3 shell and python3 from apt"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq sqlite3 python3 >/dev/null
fi

req="$LECTERN_ROOT/scripts/requirements/vec.txt"
spec="$(grep -v '^#' "$req" | grep sqlite-vec | head -1)"
dest="$LECTERN_CACHE/sqlite-vec/${spec//=/-}"
if [ ! -f "$dest/vec0.so" ]; then
    log "downloading $spec wheel"
    mkdir -p "$dest/wheel"
    py="$(python_venv)"
    "$py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$dest/wheel" "$spec"
    whl="$(ls "$dest"/wheel/*.whl | head -1)"
    "$py" - "$whl" "$dest" <<'PY'
import sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    name = next(n for n in z.namelist() if n.endswith("vec0.so"))
    open(dest + "/vec0.so", "wb").write(z.read(name))
PY
fi
setenv_persist SQLITE_VEC_PATH "$dest/vec0"
log "sqlite-vec reference at $dest/vec0.so"
