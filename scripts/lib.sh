# Shared shell helpers for Lectern's scripts. Source it: `. "$(dirname "$0")/lib.sh"`.
# Everything installed goes under $LECTERN_CACHE (default ~/.cache/lectern), so every script
# is idempotent and cached across runs and clones.
export LECTERN_CACHE="${LECTERN_CACHE:-$HOME/.cache/lectern}"
mkdir -p "$LECTERN_CACHE"
LECTERN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export LECTERN_ROOT
# File that setup scripts append `export NAME=VALUE` lines to; scripts/test.sh sources it.
export LECTERN_ENV_FILE="${LECTERN_ENV_FILE:-$LECTERN_CACHE/env.sh}"

log() { printf '[lectern %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Record `export NAME=VALUE` for later scripts and tests (replacing an older value).
setenv_persist() {
    local name="$1" value="$2"
    touch "$LECTERN_ENV_FILE"
    grep -v "^export $name=" "$LECTERN_ENV_FILE" > "$LECTERN_ENV_FILE.tmp" || true
    printf 'export %s=%q\n' "$name" "$value" >> "$LECTERN_ENV_FILE.tmp"
    mv "$LECTERN_ENV_FILE.tmp" "$LECTERN_ENV_FILE"
    export "$name=$value"
}

# The Python used for reference implementations and the trainer: a venv in the cache, made
# from the machine's CPython (pyenv's here; Debian's /usr/bin/python3 is used only where a
# test must load SQLite extensions, which pyenv's Python cannot).
python_venv() {
    local venv="$LECTERN_CACHE/venv"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating Python venv at $venv"
        local base
        base="$(command -v python3.11 || command -v python3)"
        "$base" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    fi
    echo "$venv/bin/python"
}

# pip-install a requirements file into the venv once (re-run only when the file changes).
python_requirements() {
    local req="$1" py stamp
    py="$(python_venv)"
    stamp="$LECTERN_CACHE/venv/.req-$(basename "$req")-$(sha256sum "$req" | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        log "installing Python requirements from $req"
        "$py" -m pip install --quiet -r "$req"
        touch "$stamp"
    fi
}
