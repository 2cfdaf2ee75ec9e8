"""Reference for AdaptLLMCompatTests: what the `sentencepiece` library, pysbd and CPython's
`random` give on the test's texts, as AdaptLLM's raw2read.py calls them. Needs the venv with
scripts/requirements/text.txt (sentencepiece, pysbd).

usage: compat_reference.py INPUT.json  (keys: general, domain, texts, cut, shuffles)
"""
import json
import random
import sys

import sentencepiece as spm
from pysbd import Segmenter

a = json.load(open(sys.argv[1], encoding="utf-8"))
general = spm.SentencePieceProcessor(model_file=a["general"])
domain = spm.SentencePieceProcessor(model_file=a["domain"])
seg = Segmenter(language="en", clean=False)
# AdaptLLM's specific_token_set (utils/read.py, init_spm), written out here.
gen_pieces = {general.id_to_piece(i) for i in range(len(general))}
dom_pieces = {domain.id_to_piece(i) for i in range(len(domain))}
specific = {t for t in dom_pieces - gen_pieces if t.startswith("\u2581") and len(t) > 10}
out = {"texts": []}
for t in a["texts"]:
    ids = general.encode(t)
    sents = seg.segment(t) if t else []
    shuffled = list(sents)
    random.seed(len(t))
    random.shuffle(shuffled)
    keywords = []
    for s in shuffled:
        if len(keywords) == 2:
            break
        toks = set(domain.encode(s, out_type=str))
        found = list(specific & toks)
        if len(found) >= 3 and len(toks) <= 100:
            keywords.append([sorted(domain.decode(x) for x in found), s.strip()])
    out["texts"].append({
        "general": general.encode(t, out_type=str),
        "domain": domain.encode(t, out_type=str),
        "cut": general.decode(ids[:a["cut"]]),
        "sentences": sents,
        "keywords": keywords,
    })
out["shuffles"] = []
for seed, n in a["shuffles"]:
    x = list(range(n))
    random.seed(seed)
    random.shuffle(x)
    out["shuffles"].append(x)
json.dump(out, sys.stdout, ensure_ascii=False)
