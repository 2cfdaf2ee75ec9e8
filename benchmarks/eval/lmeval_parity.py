#!/usr/bin/env python3
"""Score multiple-choice items with lm-evaluation-harness itself, for parity with the engine.

    lmeval_parity.py --model HF_FOLDER --items ITEMS.jsonl [--limit N] [--out PER_ITEM.jsonl]
                     [--threads 1] [--max-length 2048]

Runs lm-eval offline through its Python API: a task built in memory from the items file (the
engine's `score` items format; `choice` lines only, other lines skipped), output type
`multiple_choice`, doc_to_text = the item's `input`, doc_to_choice = its `options`,
target_delimiter = its `delimiter` (one value for the whole file), no few-shot, no chat
template; model `hf` (HFLM) with pretrained=HF_FOLDER, dtype float32, batch size 1, device cpu,
max_length 2048 (the engine's default). A line's optional integer `gold` is the target, so
lm-eval's own acc / acc_norm come out; without it both are null.

--out gets one line per item: {"id", "loglikelihoods": [per option], "greedy": [is_greedy per
option], "acc_pred": argmax ll, "acc_norm_pred": argmax ll / len(option)}. stdout gets one
summary line {"items", "seconds", "items_per_second", "acc", "acc_norm", "load_seconds",
"lm_eval"}: seconds is the evaluation only (simple_evaluate with the model already loaded).
Everything else goes to stderr. Needs the venv of scripts/setup.d/65-eval.sh
($LECTERN_LMEVAL_PYTHON).
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def read_items(path, limit):
    docs, delims = [], set()
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            obj = json.loads(line)
            if obj.get("kind") != "choice":
                continue
            gold = obj.get("gold")
            docs.append({"id": obj["id"], "input": obj["input"], "options": obj["options"],
                         "gold": gold if isinstance(gold, int) and not isinstance(gold, bool) else -1})
            delims.add(obj["delimiter"])
            if limit and len(docs) >= limit:
                break
    if not docs:
        sys.exit(f"lmeval_parity: {path}: no choice items")
    if len(delims) != 1:
        sys.exit(f"lmeval_parity: {path}: one task has one target_delimiter, the items use {sorted(delims)}")
    return docs, delims.pop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--items", required=True)
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the engine's default is 1)")
    ap.add_argument("--max-length", type=int, default=2048)
    args = ap.parse_args()

    # stdout is for the summary line only: lm-eval and transformers print to it.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    docs, delimiter = read_items(args.items, args.limit)
    has_gold = all(d["gold"] >= 0 for d in docs)

    import datasets
    import torch
    import lm_eval
    from lm_eval.models.huggingface import HFLM

    torch.set_num_threads(args.threads)
    t0 = time.monotonic()
    lm = HFLM(pretrained=args.model, dtype="float32", batch_size=1, device="cpu", max_length=args.max_length)
    load_seconds = time.monotonic() - t0

    def dataset(**_kwargs):  # in memory: no datasets cache, no network
        return datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})

    task = {
        "task": "lectern_items",
        "custom_dataset": dataset,
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": lambda d: d["input"],
        "doc_to_choice": lambda d: d["options"],
        "doc_to_target": lambda d: max(d["gold"], 0),
        "target_delimiter": delimiter,
        "num_fewshot": 0,
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                        {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}],
    }
    t0 = time.monotonic()
    res = lm_eval.simple_evaluate(model=lm, tasks=[task], num_fewshot=0, batch_size=1, log_samples=True,
                                  apply_chat_template=False, bootstrap_iters=0)
    seconds = time.monotonic() - t0

    samples = res["samples"]["lectern_items"]
    by_id = {}
    for s in samples:
        doc = s["doc"]
        resps = s["filtered_resps"]
        lls = [float(r[0]) for r in resps]
        greedy = [bool(r[1]) for r in resps]
        # the request lm-eval built must be (input, delimiter + option), as in the engine
        args_seen = s.get("arguments")
        if args_seen:
            for (ctx, cont), opt in zip(args_seen, doc["options"]):
                if ctx != doc["input"] or cont != delimiter + opt:
                    sys.exit(f"lmeval_parity: item {doc['id']}: lm-eval built request {(ctx[-30:], cont)!r}")
        norm = [ll / len(o) for ll, o in zip(lls, doc["options"])]
        by_id[doc["id"]] = {"id": doc["id"], "loglikelihoods": lls, "greedy": greedy,
                            "acc_pred": max(range(len(lls)), key=lls.__getitem__),
                            "acc_norm_pred": max(range(len(norm)), key=norm.__getitem__)}
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(by_id[d["id"]]) + "\n")
    r = res["results"]["lectern_items"]
    summary = {"items": len(docs), "seconds": seconds, "items_per_second": len(docs) / seconds,
               "acc": r.get("acc,none") if has_gold else None,
               "acc_norm": r.get("acc_norm,none") if has_gold else None,
               "load_seconds": load_seconds, "lm_eval": lm_eval.__version__}
    out.write(json.dumps(summary) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
