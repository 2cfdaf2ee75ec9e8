"""What AdaptLLM's raw2read.py mines from each document, as JSON lines, for the parity check.

Runs raw2read.py's own `search()` on every file of INPUT_DIR (read as raw2read.py reads them:
sorted paths, `open(...).read().strip()`), with the type classes, SentencePiece models and pysbd
segmenter set up as its `__main__` sets them up. A thin proxy around its `overall` class records
what `search()` computes: the truncated title-less text (the return of `truncate_sentence`) and the
mined entry of every task type (the argument of `format_recomprehension`). Nothing of AdaptLLM is
copied: the code is imported from ADAPTLLM_DIR. Run with PYTHONHASHSEED=0.

usage: adaptllm_dump.py ADAPTLLM_DIR INPUT_DIR OUT.jsonl --general-spm F --domain-spm F [--domain D]
"""
import argparse
import glob
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("adaptllm_dir")
    ap.add_argument("input_dir")
    ap.add_argument("out")
    ap.add_argument("--general-spm", required=True)
    ap.add_argument("--domain-spm", required=True)
    ap.add_argument("--domain", default="biomedicine")
    a = ap.parse_args()
    sys.path.insert(0, a.adaptllm_dir)
    import raw2read  # noqa: E402  (AdaptLLM's script; its __main__ block does not run on import)
    from utils.read import TYPES, type_map
    from pysbd import Segmenter

    inited = {}
    for t in TYPES:
        c = type_map.cls_dic[t]()
        c.init_spm(a.general_spm, a.domain_spm)
        inited[t] = c
    overall = type_map.cls_dic["overall"]()
    overall.init_spm(a.general_spm, a.domain_spm)

    class Recorder:
        """Delegates to AdaptLLM's overall class, keeping what search() hands it."""
        def __init__(self, inner):
            self.inner = inner
            self.max_seq_len = inner.max_seq_len
            self.truncated = None
            self.entry = None

        def truncate_sentence(self, text, max_len):
            self.truncated = self.inner.truncate_sentence(text, max_len=max_len)
            return self.truncated

        def format_recomprehension(self, entry):
            self.entry = entry
            return "", {}

    rec = Recorder(overall)
    segmenter = Segmenter(language="en", clean=False)
    args = argparse.Namespace(domain_name=a.domain)
    paths = sorted(glob.glob(f"{a.input_dir}/*"))
    with open(a.out, "w", encoding="utf-8") as out:
        for i, path in enumerate(paths):
            with open(path, "r", encoding="utf8") as f:
                text = f.read().strip()
            raw2read.search({"text": text, "text_id": i, "file_name": os.path.basename(path)}, rec, segmenter, inited, args)
            e = rec.entry
            row = {"file": os.path.basename(path), "truncated": rec.truncated,
                   "title": e["summarize"]["title"], "sentences": e["text_completion"]["sents"]}
            for t in ("nli", "common_reason", "paraphrase"):
                for sub, found in e[t].items():
                    row[sub] = [[x.get("premise", x.get("sentence1")), x["verbalizer"],
                                 x.get("hypothesis", x.get("sentence2"))] for x in found]
            w = e["word2text"]
            row["definition"] = [[x["word"], x["verbalizer"], x["definition"]] for x in w["definition"]]
            row["topic"] = [[x["sentence"], x["verbalizer"], x["topic"]] for x in w["topic"]]
            # The keyword sentences, each with its domain words as a sorted list: AdaptLLM lists them
            # in the iteration order of a Python set, which says nothing about the text.
            row["keywords"] = [[sorted(x["token_set"]), x["sent"]] for x in w["word2text"]]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            if (i + 1) % 200 == 0:
                print(f"{i + 1}/{len(paths)}", file=sys.stderr)


if __name__ == "__main__":
    main()
