"""Makes a JSONL corpus of at least N MB from the PubMedQA abstracts, repeated and perturbed
(sentence order rotated, a variant marker, every 50th line an exact duplicate), so that
deduplication, JSON escapes and metadata are all exercised at scale."""
import json
import random
import sys

src, out, target_mb = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = json.load(open(src))
docs = [(k, " ".join(v["CONTEXTS"]), v) for k, v in sorted(data.items())]
rng = random.Random(1234)
written = 0
n = 0
with open(out, "w", encoding="utf-8") as f:
    r = 0
    while written < target_mb * 1e6:
        for k, text, v in docs:
            sentences = text.split(". ")
            cut = r % len(sentences)
            body = f"[variant {r}] " + ". ".join(sentences[cut:] + sentences[:cut])
            line = json.dumps({"id": f"{k}-{r}", "title": v["QUESTION"], "text": body,
                               "year": v.get("YEAR"), "meshes": v.get("MESHES", [])[:4]}, ensure_ascii=rng.random() < 0.5)
            f.write(line + "\n")
            written += len(line.encode()) + 1
            n += 1
            if n % 50 == 0:
                f.write(line + "\n")
                written += len(line.encode()) + 1
        r += 1
print(f"{out}: {written / 1e6:.1f} MB, {n} distinct lines", file=sys.stderr)
