"""The reference: a plain Python loader doing the same work as `lectern ingest` on JSONL
(json.loads per line, whitespace-normalised SHA-256 dedup key, other fields as metadata JSON,
INSERT ... ON CONFLICT DO NOTHING with executemany, one transaction per 1000 documents) into the
same schema (migrations/0001_initial.sql), WAL mode, synchronous=NORMAL."""
import datetime
import hashlib
import json
import sqlite3
import sys

db_path, schema_path, corpus = sys.argv[1], sys.argv[2], sys.argv[3]
db = sqlite3.connect(db_path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("PRAGMA foreign_keys=ON")
db.executescript(open(schema_path).read())
now = datetime.datetime.utcnow().isoformat() + "Z"
db.execute("INSERT INTO sources(path, format, options, size_bytes, mtime, fingerprint, created_at, updated_at) VALUES (?, 'jsonl', '{}', 0, 0, 'x', ?, ?)", (corpus, now, now))
sql = ("INSERT INTO documents(text, title, source, source_id, external_id, metadata, n_chars, content_hash, created_at) "
       "VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?) ON CONFLICT(content_hash) DO NOTHING")
batch = []
def flush():
    db.execute("BEGIN")
    db.executemany(sql, batch)
    db.execute("COMMIT")
    batch.clear()
with open(corpus, encoding="utf-8") as f:
    for line in f:
        obj = json.loads(line)
        text = obj.pop("text")
        title = obj.pop("title", None)
        ext = obj.pop("id", None)
        meta = json.dumps(obj) if obj else None
        key = hashlib.sha256(" ".join(text.split()).encode()).digest()[:16]
        batch.append((text, title, corpus, None if ext is None else str(ext), meta, len(text), key, now))
        if len(batch) >= 1000:
            flush()
if batch:
    flush()
print(db.execute("SELECT count(*) FROM documents").fetchone()[0])
