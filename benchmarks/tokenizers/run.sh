#!/usr/bin/env bash
# Swift tokenizers (LecternText) vs Rust `tokenizers` (Python bindings), single-threaded, on the
# same 1000 PubMedQA abstracts (CONTEXTS joined by one space), tokens per second and the ratio.
#   benchmarks/tokenizers/run.sh [REPEATS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
bash scripts/setup.d/10-models.sh >/dev/null 2>&1 || bash scripts/setup.d/10-models.sh
. "$LECTERN_ENV_FILE"
repeats="${1:-5}"
py="$(python_venv)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
"$py" - "$work/texts.json" <<'PY'
import json, os, sys
root = os.environ["LECTERN_SHARED_DATA"]
d = json.load(open(os.path.join(root, "pubmedqa/ori_pqal.json")))
json.dump([" ".join(d[k]["CONTEXTS"]) for k in sorted(d)], open(sys.argv[1], "w"))
PY
log "building lectern-bench-tokenizers (release)"
swift build -c release --product lectern-bench-tokenizers >/dev/null
bench="$(swift build -c release --show-bin-path)/lectern-bench-tokenizers"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
printf '%-28s %14s %14s %8s %14s\n' tokenizer "rust tok/s" "swift tok/s" ratio "swift count/s"
row() {
    local name="$1" swiftarg="$2"; shift 2
    local r s
    r="$("$py" "$here/reference.py" bench "$@" --input "$work/texts.json" --repeat "$repeats")"
    s="$("$bench" --tokenizer "$swiftarg" --input "$work/texts.json" --repeat "$repeats")"
    "$py" - "$name" "$r" "$s" <<'PY'
import json, sys
name, r, s = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
assert r["tokens"] == s["tokens"], f"token totals differ: rust {r['tokens']} swift {s['tokens']}"
print(f"{name:<28} {r['tokens_per_second']:14,.0f} {s['tokens_per_second']:14,.0f} {s['tokens_per_second']/r['tokens_per_second']:7.2f}x {s['count_tokens_per_second']:14,.0f}")
PY
}
row "MiniLM WordPiece" "$LECTERN_MINILM_DIR/tokenizer.json" --tokenizer-json "$LECTERN_MINILM_DIR/tokenizer.json"
row "SmolLM2 byte-level BPE" "$LECTERN_SMOLLM2_GGUF" --gguf "$LECTERN_SMOLLM2_GGUF"
"$py" "$here/reference.py" train-bytefallback --input "$work/texts.json" --output "$work/spm.json" --vocab-size 8000
row "SentencePiece BPE (8k)" "$work/spm.json" --tokenizer-json "$work/spm.json"
