#!/usr/bin/env python3
"""Writes PubMedQA abstracts as raw-text files in AdaptLLM's input format: one file per
document, first line the title (here the question), then the abstract's sections joined by
spaces.

argv: ori_pqal.json OUTPUT_DIR REPEAT [MODE]
  MODE text   (default): each abstract repeated REPEAT times in its one file (long documents;
                         both miners truncate them to their token budget first)
  MODE corpus          : the whole corpus written REPEAT times (REPEAT x 1000 files)
"""
import json
import os
import sys

src, out, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
mode = sys.argv[4] if len(sys.argv) > 4 else "text"
if mode not in ("text", "corpus"):
    sys.exit(f"make_inputs.py: MODE must be text or corpus, not {mode!r}")
data = json.load(open(src, encoding="utf-8"))
os.makedirs(out, exist_ok=True)
n = 0
for r in range(repeat if mode == "corpus" else 1):
    for pid in sorted(data):
        e = data[pid]
        body = " ".join(e["CONTEXTS"])
        if mode == "text":
            body = " ".join([body] * repeat)
        with open(os.path.join(out, f"{r:03d}-{pid}.txt"), "w", encoding="utf-8") as f:
            f.write(e["QUESTION"] + "\n" + body)
        n += 1
print(f"{n} documents in {out}")
