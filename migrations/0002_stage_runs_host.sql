-- Lectern schema, migration 0002: the host a stage run ran on.
--
-- A run is marked `interrupted` when it is found `running` with its process gone. A pid names a
-- process only on one machine: with files built on several hosts (a shared filesystem, shards),
-- a run started elsewhere must never be judged from here, nor the reverse. Runs recorded before
-- this migration have no host and are judged as before (as runs of this machine).
ALTER TABLE stage_runs ADD COLUMN host TEXT;
