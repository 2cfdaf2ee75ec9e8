#!/usr/bin/env bash
# `lectern mine --compat adaptllm` against AdaptLLM's own raw2read.py, document by document, on a
# corpus that is not PubMedQA (man pages and Python module docs of this machine,
# benchmarks/miner/make_corpus.sh), with a domain SentencePiece model trained on that corpus
# (unigram, nmt_nfkc, as AdaptLLM's domain.spm) and LLaMA's tokenizer as the general model
# (AdaptLLM's general.spm). Prints, per field, on how many documents the two are identical.
#
# usage: benchmarks/miner/parity.sh ADAPTLLM_DIR [CORPUS_DIR]
#   ADAPTLLM_DIR: the adaptllm/ folder of microsoft/LMOps (see benchmarks/miner/run.sh's header).
#   CORPUS_DIR: an existing corpus (one document per file); default: made here (1000 man pages,
#   up to 500 Python module docs). env MINER_PARITY_SHOW (default 3): differing documents shown per field.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
ADAPTLLM_DIR="${1:-${ADAPTLLM_DIR:-}}"
[ -n "$ADAPTLLM_DIR" ] && [ -f "$ADAPTLLM_DIR/raw2read.py" ] || {
    echo "need ADAPTLLM_DIR with raw2read.py (see the header of $0)" >&2; exit 2; }
ADAPTLLM_DIR="$(cd "$ADAPTLLM_DIR" && pwd)"
SPM="$LECTERN_SHARED_DATA/adaptllm-samples"
python_requirements benchmarks/miner/requirements.txt
PY="$(python_venv)"
swift build -c release --product lectern-miner-bench >&2
BENCH="$(swift build -c release --show-bin-path)/lectern-miner-bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
corpus="${2:-}"
if [ -z "$corpus" ]; then corpus="$work/corpus"; bash benchmarks/miner/make_corpus.sh "$corpus" 1000 500; fi
cat "$corpus"/* > "$work/all.txt"
"$PY" -c "import sentencepiece as s, sys; s.SentencePieceTrainer.train(input=sys.argv[1], model_prefix=sys.argv[2], vocab_size=16000, model_type='unigram', input_sentence_size=2000000, shuffle_input_sentence=True, minloglevel=2)" \
    "$work/all.txt" "$work/domain"
PYTHONHASHSEED=0 "$PY" benchmarks/miner/adaptllm_dump.py "$ADAPTLLM_DIR" "$corpus" "$work/adaptllm.jsonl" \
    --general-spm "$SPM/general.spm" --domain-spm "$work/domain.model" --domain software >&2
"$BENCH" "$corpus" "$work/out" --compat adaptllm --general-spm "$SPM/general.spm" --domain-spm "$work/domain.model" \
    --domain software --dump "$work/lectern.jsonl" >&2
"$PY" benchmarks/miner/compare_dumps.py "$work/adaptllm.jsonl" "$work/lectern.jsonl" --show "${MINER_PARITY_SHOW:-3}"
