# A synthetic complete training set for benchmarks/export/run.sh: N packed examples of ~1.9 kB of
# text (words with quotes, tabs, newlines, Greek, CJK and emoji, so the JSON escaper works) and
# 512 token ids each, like a packed continued-pretraining set. Seeded: the same file every run.
# usage: make_set.py FILE.lectern N   (FILE made by `lectern init`; Debian's python3 is enough)
import random, sqlite3, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(0)
words = ["protein", "cell", "the", "of", "patients", "were", "treated", "with", "\"dose\"", "mg/kg",
         "α-synuclein", "细胞", "p<0.05", "and", "in", "a", "study", "línea", "tab\there", "line\nbreak", "🧬"]
db = sqlite3.connect(path)
db.execute("INSERT INTO tokenizers(name, kind, fingerprint, path, vocab_size, created_at) VALUES ('bench', 'bytelevel-bpe', 'tokbench', NULL, 49152, '2026-01-01T00:00:00.000Z')")
tok = db.execute("SELECT id FROM tokenizers WHERE fingerprint = 'tokbench'").fetchone()[0]
db.execute("INSERT INTO training_sets(name, recipe, tokenizer_id, params, fingerprint, status, created_at) VALUES ('bench', 'dapt', ?, '{}', ?, 'complete', '2026-01-01T00:00:00.000Z')", (tok, "be" * 32))
sid = db.execute("SELECT id FROM training_sets WHERE name = 'bench'").fetchone()[0]
def rows():
    for p in range(n):
        text = " ".join(rng.choice(words) for _ in range(300))
        ids = [rng.randrange(49152) for _ in range(512)]
        yield (sid, p, text, struct.pack("<512i", *ids), 512)
db.executemany("INSERT INTO training_examples(training_set_id, position, text, input_ids, n_tokens) VALUES (?, ?, ?, ?, ?)", rows())
db.commit()
print(db.execute("SELECT count(*), sum(length(CAST(text AS BLOB))), sum(length(input_ids)) FROM training_examples").fetchone())
