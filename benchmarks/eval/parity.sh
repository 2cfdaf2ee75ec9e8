#!/usr/bin/env bash
# The engine's `score` (trainer/lectern_train.py) against lm-evaluation-harness on the same
# multiple-choice items, one after the other in this one invocation, then the figures:
#
#   benchmarks/eval/parity.sh [N] [MODEL_DIR]     defaults: 200 PubMedQA items, SmolLM2-135M-Instruct
#                                                 (the GGUF of 10-models.sh converted once into the cache)
#   PADDED_ITEMS=20 benchmarks/eval/parity.sh     also check the shared-prefix computation against
#                                                 one right-padded row per option (AdaptLLM's way) on
#                                                 20 PubMedQA-like items with multi-token options,
#                                                 trailing-space inputs and a "\n" delimiter (~3 min)
#
# Items: the first N entries of shared/data/pubmedqa/ori_pqal.json (PQA-L, in file order), lm-eval's
# pubmedqa prompt shape: "Abstract: {CONTEXTS joined by a space}\nQuestion: {QUESTION}\nAnswer:",
# options yes / no / maybe, delimiter " ", gold = final_decision. Both run fp32, one thread, on CPU.
# Printed: share of items with the same acc prediction (argmax log-likelihood), accuracy of both
# (lm-eval's acc and acc_norm; the engine's acc, acc_norm from its option_chars, and AdaptLLM's
# mean-NLL rule), max |ll_engine - ll_lmeval| over all item-options, and items/s of both (engine:
# its ready -> done time; lm-eval: simple_evaluate with the model loaded).
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"
cd "$LECTERN_ROOT"
bash scripts/setup.d/60-trainer.sh >&2
bash scripts/setup.d/65-eval.sh >&2
[ -f "$LECTERN_ENV_FILE" ] && . "$LECTERN_ENV_FILE"
N="${1:-200}"
MODEL="${2:-}"
PADDED_ITEMS="${PADDED_ITEMS:-0}"
PY="$LECTERN_TRAIN_PYTHON"
LMPY="$LECTERN_LMEVAL_PYTHON"
ENGINE="$LECTERN_ROOT/trainer/lectern_train.py"
DATA="$LECTERN_ROOT/../shared/data/pubmedqa/ori_pqal.json"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
if [ -z "$MODEL" ]; then
    GGUF="${LECTERN_SMOLLM2_GGUF:-$LECTERN_CACHE/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
    MODEL="$LECTERN_CACHE/eval/smollm2-hf"
    mkdir -p "$LECTERN_CACHE/eval"
    "$PY" "$ENGINE" convert-gguf "$GGUF" "$MODEL" >/dev/null   # cached after the first run
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$PY" - "$DATA" "$work/items.jsonl" "$N" <<'EOF'
import json, sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = ["yes", "no", "maybe"]
with open(src, encoding="utf-8") as f:
    data = json.load(f)
with open(out, "w", encoding="utf-8") as f:
    for i, (pmid, r) in enumerate(list(data.items())[:n]):
        prompt = f"Abstract: {' '.join(r['CONTEXTS'])}\nQuestion: {r['QUESTION']}\nAnswer:"
        f.write(json.dumps({"id": i, "kind": "choice", "input": prompt, "options": options, "delimiter": " ",
                            "gold": options.index(r["final_decision"]), "pmid": pmid}) + "\n")
EOF

score() {  # score ITEMS OUT: the engine on ITEMS, events to OUT
    printf '{"base": "%s", "adapter": null, "items": "%s", "threads": 1, "dtype": "fp32", "max_length": 2048}\n' \
        "$MODEL" "$1" > "$work/score.json"
    "$PY" "$ENGINE" score --config "$work/score.json" > "$2" 2> "$work/score.err" \
        || { tail -5 "$work/score.err" >&2; exit 1; }
}

echo "engine: $N items ($MODEL)" >&2
score "$work/items.jsonl" "$work/engine.jsonl"
echo "lm-eval: $N items" >&2
"$LMPY" benchmarks/eval/lmeval_parity.py --model "$MODEL" --items "$work/items.jsonl" --threads 1 \
    --out "$work/lmeval.jsonl" > "$work/lmeval.summary" 2> "$work/lmeval.err" \
    || { tail -20 "$work/lmeval.err" >&2; exit 1; }

"$PY" - "$work/items.jsonl" "$work/engine.jsonl" "$work/lmeval.jsonl" "$work/lmeval.summary" <<'EOF'
import json, sys
items = {d["id"]: d for d in map(json.loads, open(sys.argv[1]))}
events = [json.loads(l) for l in open(sys.argv[2])]
eng = {e["id"]: e for e in events if e["event"] == "item"}
done = events[-1]
lm = {d["id"]: d for d in map(json.loads, open(sys.argv[3]))}
summary = json.loads(open(sys.argv[4]).read())
argmax = lambda v: max(range(len(v)), key=v.__getitem__)
same = max_diff = 0.0
acc = {"engine_acc": 0, "engine_acc_norm": 0, "engine_adaptllm_mean_nll": 0, "lmeval_acc_recomputed": 0}
for i, it in items.items():
    e, l = eng[i], lm[i]
    ll = [-x for x in e["nll_sum"]]
    pred = argmax(ll)
    same += pred == l["acc_pred"]
    max_diff = max(max_diff, max(abs(a - b) for a, b in zip(ll, l["loglikelihoods"])))
    acc["engine_acc"] += pred == it["gold"]
    acc["engine_acc_norm"] += argmax([x / c for x, c in zip(ll, e["option_chars"])]) == it["gold"]
    acc["engine_adaptllm_mean_nll"] += argmax([-x for x in e["nll_mean"]]) == it["gold"]
    acc["lmeval_acc_recomputed"] += l["acc_pred"] == it["gold"]
n = len(items)
print(json.dumps({
    "items": n, "same_acc_prediction": same / n, "max_abs_ll_diff": max_diff,
    **{k: v / n for k, v in acc.items()},
    "lmeval_acc": summary["acc"], "lmeval_acc_norm": summary["acc_norm"],
    "engine_items_per_second": n / done["scoring_seconds"], "engine_seconds": done["scoring_seconds"],
    "lmeval_items_per_second": summary["items_per_second"], "lmeval_seconds": summary["seconds"],
    "lm_eval": summary["lm_eval"],
}, indent=1))
EOF

if [ "$PADDED_ITEMS" -gt 0 ]; then
    echo "padded-row reference: $PADDED_ITEMS items" >&2
    "$PY" - "$work/items.jsonl" "$work/var.jsonl" "$PADDED_ITEMS" <<'EOF'
import json, sys
opts = [["yes", "no", "maybe"], ["yes, definitely", "no, it does not", "the evidence is unclear"],
        ["Yes.", "No.", "Maybe."], ["mitochondria", "programmed cell death", "a ring structure around the nucleus", "x"]]
src = [json.loads(l) for l in open(sys.argv[1])][:int(sys.argv[3])]
with open(sys.argv[2], "w") as f:
    for i, it in enumerate(src):
        it = dict(it, options=opts[i % 4])
        if i % 5 == 2:
            it["input"] += " "          # lm-eval moves it into the continuation, AdaptLLM does not
        if i % 7 == 3:
            it["delimiter"] = "\n"
        f.write(json.dumps(it) + "\n")
EOF
    score "$work/var.jsonl" "$work/var.out"
    "$PY" - "$MODEL" "$work/var.jsonl" "$work/var.out" <<'EOF'
# Every option as its own right-padded row (EOS as pad, attention mask), AdaptLLM's rows (the
# model reads tokenize(input + delimiter + option), loss after len(tokenize(input))) and lm-eval's
# (tokenize(input.rstrip()) + the rest), compared with the engine's shared-prefix events.
import json, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(1)
model_dir, items_path, out_path = sys.argv[1:4]
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
enc = lambda s: tok(s)["input_ids"]
ev = {e["id"]: e for e in map(json.loads, open(out_path)) if e.get("event") == "item"}
worst = {"nll_mean": 0.0, "nll_sum": 0.0}
greedy_bad = tokens_bad = n = 0
for it in map(json.loads, open(items_path)):
    ctx_a, ctx_l = enc(it["input"]), enc(it["input"].rstrip())
    rows, starts = [], []
    for o in it["options"]:
        whole = enc(it["input"] + it["delimiter"] + o)
        rows += [whole, ctx_l + whole[len(ctx_l):]]
        starts += [len(ctx_a), len(ctx_l)]
    L = max(map(len, rows))
    ids = torch.full((len(rows), L), tok.eos_token_id)
    att = torch.zeros((len(rows), L), dtype=torch.long)
    for r, x in enumerate(rows):
        ids[r, :len(x)] = torch.tensor(x)
        att[r, :len(x)] = 1
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=att).logits.float(), -1)
    e = ev[it["id"]]
    for j in range(len(it["options"])):
        res = []
        for r in (2 * j, 2 * j + 1):
            s, x = starts[r], rows[r]
            tgt = torch.tensor(x[s:])
            lp = logp[r, s - 1:len(x) - 1]
            res.append((-lp.gather(1, tgt[:, None]).sum().item(), len(x) - s, bool((lp.argmax(-1) == tgt).all())))
        worst["nll_mean"] = max(worst["nll_mean"], abs(res[0][0] / res[0][1] - e["nll_mean"][j]))
        worst["nll_sum"] = max(worst["nll_sum"], abs(res[1][0] - e["nll_sum"][j]))
        greedy_bad += res[1][2] != e["greedy"][j]
        tokens_bad += res[0][1] != e["option_tokens"][j]
        n += 1
print(json.dumps({"padded_check_options": n, "max_abs_diff": worst, "greedy_mismatches": greedy_bad,
                  "option_tokens_mismatches": tokens_bad}))
EOF
fi
