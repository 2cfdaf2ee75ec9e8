#!/usr/bin/env python3
"""Reference MiniLM-L6-v2 embeddings of the 1000 PubMedQA abstracts, by sentence-transformers.

Document text = the abstract's CONTEXTS joined with a single space (what the ingest stage stores).
Writes OUT.f32 (N x 384 little-endian float32, row i = ids[i]) and OUT.json (ids, token counts
after truncation, model folder, library versions). Run by scripts/setup.d/15-embed-reference.sh's
venv:  python embed_minilm.py MODEL_DIR PUBMEDQA_JSON OUT_PREFIX
"""
import json, sys
import numpy as np
import sentence_transformers, torch, transformers
from sentence_transformers import SentenceTransformer

model_dir, pqal, out = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.load(open(pqal))
ids = list(data.keys())
texts = [" ".join(data[i]["CONTEXTS"]) for i in ids]
model = SentenceTransformer(model_dir, device="cpu")
assert model.max_seq_length == 256, model.max_seq_length
emb = model.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
assert emb.shape == (len(ids), 384)
n_tokens = [min(len(x), 256) for x in model.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]]
emb.astype("<f4").tofile(out + ".f32")
json.dump({"ids": ids, "n_tokens": n_tokens, "text": "CONTEXTS joined with a single space",
           "versions": {"sentence_transformers": sentence_transformers.__version__,
                        "transformers": transformers.__version__, "torch": torch.__version__}},
          open(out + ".json", "w"))
print(f"wrote {out}.f32 ({emb.shape}) and {out}.json")
