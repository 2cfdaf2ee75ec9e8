-- Lectern schema, migration 0004: what `lectern train` needs to resume from the file alone.
--
-- A run is found again by its fingerprint (set, base model, options), so re-running the same
-- command continues it; it records the stage run that drives it, the base model's fingerprint
-- and its planned steps. A checkpoint keeps, beside its adapter tensors, the engine's probe
-- (the logits hash its weights give on a fixed input, to prove exports exact) and the engine's
-- resume state (optimizer, scheduler, RNG states, data position) in parts of at most 64 MiB, so a
-- rank-256 state (about 1 GB) stays under SQLite's blob limit.
ALTER TABLE training_runs ADD COLUMN base_fingerprint TEXT;
ALTER TABLE training_runs ADD COLUMN total_steps INTEGER;
ALTER TABLE training_runs ADD COLUMN stage_run_id INTEGER REFERENCES stage_runs(id);
CREATE UNIQUE INDEX training_runs_fingerprint ON training_runs(fingerprint);

ALTER TABLE checkpoints ADD COLUMN probe TEXT CHECK (probe IS NULL OR json_valid(probe));
ALTER TABLE checkpoints ADD COLUMN n_bytes INTEGER;

CREATE TABLE checkpoint_state (
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,
    part           INTEGER NOT NULL CHECK (part >= 0),
    data           BLOB NOT NULL,
    PRIMARY KEY (checkpoint_id, part)
) STRICT, WITHOUT ROWID;
