#!/usr/bin/env python3
"""sentence-transformers on torch CPU, same 1000 abstracts, same text (CONTEXTS joined by one space)."""
import json, sys, time
import torch
from sentence_transformers import SentenceTransformer
model_dir, pqal = sys.argv[1], sys.argv[2]
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else torch.get_num_threads())
data = json.load(open(pqal))
texts = [" ".join(v["CONTEXTS"]) for v in data.values()]
model = SentenceTransformer(model_dir, device="cpu")
model.encode(texts[:16], batch_size=32)  # warm-up
t0 = time.time()
model.encode(texts, batch_size=32)
dt = time.time() - t0
print(f"sentence-transformers: {len(texts)} docs in {dt:.2f} s = {len(texts)/dt:.1f} docs/s "
      f"(torch {torch.__version__}, {torch.get_num_threads()} threads, batch 32)")
print(f"ST_DOCS_PER_S={len(texts)/dt:.3f}")
