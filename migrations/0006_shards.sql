-- Lectern schema, migration 0006: files made on several machines and merged into one.
--
-- Every file gets an identity of its own (`lectern_meta.file_id`, random), so a shard file can
-- name the main file it was made for and a merge can refuse a shard of another file. Each shard
-- merged into a file is recorded, by the SHA-256 of its bytes, in the same transaction as its
-- rows: a shard merged twice is found and adds nothing.
INSERT OR IGNORE INTO lectern_meta(key, value) VALUES ('file_id', lower(hex(randomblob(16))));

CREATE TABLE merged_shards (
    id           INTEGER PRIMARY KEY,   -- merge id
    sha256       TEXT NOT NULL UNIQUE,  -- SHA-256 of the shard file's bytes (hex)
    path         TEXT NOT NULL,         -- the shard file as given to `lectern merge`
    shard_index  INTEGER NOT NULL CHECK (shard_index >= 0),  -- shard number (0-based)
    shard_count  INTEGER NOT NULL CHECK (shard_count >= 1),  -- shards in its plan
    plan         TEXT NOT NULL,         -- fingerprint of the sharded configuration (recipe sections and shard count)
    host         TEXT,                  -- machine that made the shard, as its stage runs recorded it
    counts       TEXT NOT NULL CHECK (json_valid(counts)),  -- rows added per table, as JSON
    merged_at    TEXT NOT NULL          -- when it was merged
) STRICT;
