# Shared shell helpers for Lectern's scripts. Source it: `. "$(dirname "$0")/lib.sh"`.
# Everything installed goes under $LECTERN_CACHE (default ~/.cache/lectern), so every script
# is idempotent and cached across runs and clones.
export LECTERN_CACHE="${LECTERN_CACHE:-$HOME/.cache/lectern}"
mkdir -p "$LECTERN_CACHE"
LECTERN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LECTERN_ROOT
# The shared data folder (PubMedQA, AdaptLLM samples, general instructions): one resolver for
# every script, benchmark and test: $LECTERN_SHARED_DATA, else ../shared/data beside the checkout.
export LECTERN_SHARED_DATA="${LECTERN_SHARED_DATA:-$(dirname "$LECTERN_ROOT")/shared/data}"
# File that setup scripts append `export NAME=VALUE` lines to; scripts/test.sh sources it.
export LECTERN_ENV_FILE="${LECTERN_ENV_FILE:-$LECTERN_CACHE/env.sh}"

log() { printf '[lectern %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Serialises the installers of one component across processes: the rest of the calling script
# runs holding $LECTERN_CACHE/locks/NAME.lock (flock on fd 9, released when the script exits), so
# a CI run and a benchmark started on one machine share the cache instead of removing each other's
# build trees. Every scripts/setup.d/*.sh takes one first.
lock_component() {
    local name="$1"
    mkdir -p "$LECTERN_CACHE/locks"
    exec 9>"$LECTERN_CACHE/locks/$name.lock"
    if ! flock -n 9; then
        log "waiting for another process installing $name ($LECTERN_CACHE/locks/$name.lock)"
        flock 9
    fi
}

# Runs a command holding $LECTERN_CACHE/locks/NAME.lock (for short shared steps: the venv, env.sh).
with_lock() {
    local name="$1"; shift
    mkdir -p "$LECTERN_CACHE/locks"
    ( flock 8; "$@" ) 8>"$LECTERN_CACHE/locks/$name.lock"
}

# Record `export NAME=VALUE` for later scripts and tests (replacing an older value).
setenv_persist() {
    local name="$1" value="$2"
    with_lock env-file _setenv_persist_locked "$name" "$value"
    export "$name=$value"
}
_setenv_persist_locked() {
    local name="$1" value="$2"
    touch "$LECTERN_ENV_FILE"
    grep -v "^export $name=" "$LECTERN_ENV_FILE" > "$LECTERN_ENV_FILE.tmp.$$" || true
    printf 'export %s=%q\n' "$name" "$value" >> "$LECTERN_ENV_FILE.tmp.$$"
    mv "$LECTERN_ENV_FILE.tmp.$$" "$LECTERN_ENV_FILE"
}

# The Python used for reference implementations and the trainer: a venv in the cache, made
# from the machine's CPython (pyenv's here; Debian's /usr/bin/python3 is used only where a
# test must load SQLite extensions, which pyenv's Python cannot).
python_venv() {
    local venv="$LECTERN_CACHE/venv"
    [ -x "$venv/bin/python" ] || with_lock venv _python_venv_create "$venv" >&2
    echo "$venv/bin/python"
}
_python_venv_create() {
    local venv="$1"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating Python venv at $venv"
        local base
        base="$(command -v python3.11 || command -v python3)"
        "$base" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    fi
}

# pip-install a requirements file that must only ADD packages to the shared venv (the references
# of 50-datasets.sh and 65-eval.sh): unless PACKAGE==VERSION is already installed, pip is first
# asked what it would do (--dry-run --report), and the install is refused, naming the packages,
# if it would change the version of anything already there (the trainer's torch, transformers...).
#   python_requirements_additive REQUIREMENTS PACKAGE VERSION LABEL
python_requirements_additive() {
    local req="$1" package="$2" want="$3" label="$4" py report
    py="$(python_venv)"
    if ! "$py" -c 'import sys; from importlib.metadata import version; sys.exit(version(sys.argv[1]) != sys.argv[2])' \
            "$package" "$want" 2>/dev/null; then
        report="$(mktemp)"
        "$py" -m pip install --quiet --dry-run --report "$report" -r "$req"
        "$py" - "$report" "$label" "$req" <<'PY' || { rm -f "$report"; return 1; }
import json, sys
from importlib.metadata import PackageNotFoundError, version
report, label, req = sys.argv[1:4]
changed = []
for item in json.load(open(report))["install"]:
    name, new = item["metadata"]["name"], item["metadata"]["version"]
    try:
        old = version(name)
    except PackageNotFoundError:
        continue
    if old != new:
        changed.append(f"{name} {old} -> {new}")
if changed:
    sys.exit(f"{label}: installing {req} would change the shared venv: " + ", ".join(changed)
             + "; align the pins or give it a venv of its own")
PY
        rm -f "$report"
    fi
    python_requirements "$req"
}

# pip-install a requirements file into the venv once (re-run only when the file changes).
python_requirements() {
    local req="$1" py stamp
    py="$(python_venv)"
    stamp="$LECTERN_CACHE/venv/.req-$(basename "$req")-$(sha256sum "$req" | cut -c1-16)"
    [ -f "$stamp" ] || with_lock venv _python_requirements_locked "$py" "$req" "$stamp"
}
_python_requirements_locked() {
    local py="$1" req="$2" stamp="$3"
    if [ ! -f "$stamp" ]; then
        log "installing Python requirements from $req"
        "$py" -m pip install --quiet -r "$req"
        touch "$stamp"
    fi
}
