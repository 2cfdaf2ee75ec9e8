-- The current full schema of a Lectern file, documented: the cumulative result of every
-- migration in migrations/ (a test checks that both give the same tables, columns, types,
-- constraints, indexes and foreign keys, and that every column here has a comment).
-- Schema version: 6 (PRAGMA user_version; lectern_meta.schema_version).
--
-- Conventions (see schema/README.md):
--   * every derived row names its inputs (foreign keys) and the fingerprint of the
--     configuration that made it (a hex SHA-256 of the canonical JSON of that configuration);
--   * JSON columns hold valid JSON (CHECK json_valid); times are ISO-8601 UTC text;
--   * STRICT tables, so a wrong type is an error instead of a silent conversion.

-- Key/value facts about the file itself.
CREATE TABLE lectern_meta (
    key   TEXT PRIMARY KEY,   -- 'domain', 'created_at', 'created_by', 'last_written_by', 'file_id' (0006); a shard file: 'shard_of', 'shard_index', 'shard_count', 'shard_plan'
    value TEXT NOT NULL       -- the value, as text
) STRICT;

-- One row per input file given to `lectern ingest`; the resume point of its reader.
CREATE TABLE sources (
    id            INTEGER PRIMARY KEY,  -- source id
    path          TEXT NOT NULL,        -- absolute path of the file as read
    format        TEXT NOT NULL,        -- reader: jsonl | text | csv | tsv | pubmedqa
    options       TEXT NOT NULL CHECK (json_valid(options)),  -- reader options (field names, ...) as JSON
    size_bytes    INTEGER NOT NULL,     -- file size when first read
    mtime         REAL NOT NULL,        -- modification time (seconds since 1970) when first read
    fingerprint   TEXT NOT NULL,        -- hash of path, size, mtime and options: a changed file is a new source
    records_done  INTEGER NOT NULL DEFAULT 0,  -- records consumed so far (resume point)
    n_added       INTEGER NOT NULL DEFAULT 0,  -- documents added from this source
    n_duplicates  INTEGER NOT NULL DEFAULT 0,  -- records whose text was already in the file
    n_skipped     INTEGER NOT NULL DEFAULT 0,  -- records rejected as bad input (see stage_runs.error)
    status        TEXT NOT NULL DEFAULT 'partial' CHECK (status IN ('partial', 'complete')),  -- complete once the reader reached the end
    created_at    TEXT NOT NULL,        -- first ingest
    updated_at    TEXT NOT NULL,        -- last progress
    UNIQUE (path, fingerprint)
) STRICT;

-- The corpus: one row per distinct document (exact duplicates removed by content_hash).
CREATE TABLE documents (
    id            INTEGER PRIMARY KEY,  -- document id, dense and in ingest order
    text          TEXT NOT NULL,        -- the document body (title excluded when it was split off)
    title         TEXT,                 -- title, if the source has one (or its first line with --title-first-line)
    source        TEXT NOT NULL,        -- label of the input it came from (file path, or path:member)
    source_id     INTEGER REFERENCES sources(id),  -- the input file row
    external_id   TEXT,                 -- the id the source gave it, if any
    metadata      TEXT CHECK (metadata IS NULL OR json_valid(metadata)),  -- other source fields, as a JSON object
    n_chars       INTEGER NOT NULL,     -- length of text in Unicode scalars
    content_hash  BLOB NOT NULL UNIQUE, -- SHA-256 (first 16 bytes) of the normalised text: the dedup key
    created_at    TEXT NOT NULL         -- when it was ingested
) STRICT;
CREATE INDEX documents_source ON documents(source_id);

-- Tokenizers of target models, for lengths counted in tokens.
CREATE TABLE tokenizers (
    id           INTEGER PRIMARY KEY,   -- tokenizer id
    name         TEXT NOT NULL,         -- user-facing name (file name or model name)
    kind         TEXT NOT NULL,         -- wordpiece | bpe | bytelevel-bpe | sentencepiece-bpe | gguf
    fingerprint  TEXT NOT NULL UNIQUE,  -- hash of the tokenizer definition
    path         TEXT,                  -- where it was loaded from
    vocab_size   INTEGER,               -- vocabulary size
    created_at   TEXT NOT NULL          -- first use
) STRICT;

-- Token count of each document under each tokenizer.
CREATE TABLE token_counts (
    tokenizer_id  INTEGER NOT NULL REFERENCES tokenizers(id) ON DELETE CASCADE,  -- which tokenizer
    document_id   INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,   -- which document
    n_tokens      INTEGER NOT NULL,     -- tokens in title + text, no special tokens
    PRIMARY KEY (tokenizer_id, document_id)
) STRICT, WITHOUT ROWID;

-- Embedding models; their vectors live in a lectern_vec virtual table named by vector_table.
CREATE TABLE embedders (
    id            INTEGER PRIMARY KEY,  -- embedder id (the partition key in the vector table)
    name          TEXT NOT NULL,        -- user-facing name, e.g. 'minilm' or the served model name
    kind          TEXT NOT NULL,        -- builtin | openai
    model         TEXT NOT NULL,        -- model identifier
    endpoint      TEXT,                 -- base URL for remote embedders (never a secret)
    dim           INTEGER NOT NULL CHECK (dim > 0),  -- vector dimension
    metric        TEXT NOT NULL DEFAULT 'cosine',    -- distance the vectors are meant for
    vector_table  TEXT NOT NULL,        -- the lectern_vec virtual table holding the vectors
    fingerprint   TEXT NOT NULL UNIQUE, -- hash of the embedder configuration (model, max tokens, pooling, ...)
    config        TEXT NOT NULL CHECK (json_valid(config)),  -- that configuration, as JSON
    created_at    TEXT NOT NULL         -- first use
) STRICT;

-- Which documents have an embedding under which embedder (the vector itself is in vector_table).
CREATE TABLE embeddings (
    embedder_id  INTEGER NOT NULL REFERENCES embedders(id) ON DELETE CASCADE,  -- which embedder
    document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,  -- which document
    vector_rowid INTEGER NOT NULL,      -- rowid of the vector in the embedder's vector_table
    n_tokens     INTEGER,               -- encoder tokens seen (after truncation)
    PRIMARY KEY (embedder_id, document_id)
) STRICT, WITHOUT ROWID;

-- Question-answer generators: an LLM endpoint with a prompt template, or a fine-tuned student.
CREATE TABLE generators (
    id               INTEGER PRIMARY KEY,  -- generator id
    name             TEXT NOT NULL,        -- user-facing name, e.g. 'teacher' or the model name
    model            TEXT NOT NULL,        -- served model name
    endpoint         TEXT,                 -- base URL (never a secret)
    template_version TEXT NOT NULL,        -- prompt template version, e.g. 'paper-v1'
    template         TEXT NOT NULL,        -- the template with {DOCUMENT} and {DOMAIN}
    params           TEXT NOT NULL CHECK (json_valid(params)),  -- sampling parameters and schema options
    fingerprint      TEXT NOT NULL UNIQUE, -- hash of model, template and params (endpoint excluded)
    created_at       TEXT NOT NULL         -- first use
) STRICT;

-- The LLM request cache: one row per (document, template version, model, sampling params).
CREATE TABLE llm_requests (
    key               TEXT PRIMARY KEY,    -- hash of generator fingerprint and document
    generator_id      INTEGER NOT NULL REFERENCES generators(id) ON DELETE CASCADE,  -- who answers
    document_id       INTEGER REFERENCES documents(id) ON DELETE CASCADE,            -- the input
    status            TEXT NOT NULL CHECK (status IN ('pending', 'ok', 'failed', 'invalid')),  -- ok: parsed; invalid: answered but unusable
    attempts          INTEGER NOT NULL DEFAULT 0,  -- requests sent for this key
    endpoint          TEXT,                -- base URL that answered last (never a secret)
    raw_response      TEXT,                -- the response body as received
    parsed            TEXT CHECK (parsed IS NULL OR json_valid(parsed)),  -- the accepted pairs, as JSON
    error             TEXT,                -- last error, if any
    prompt_tokens     INTEGER,             -- usage reported by the server
    completion_tokens INTEGER,             -- usage reported by the server
    latency_ms        REAL,                -- wall time of the last attempt
    created_at        TEXT NOT NULL,       -- first attempt
    updated_at        TEXT NOT NULL        -- last attempt
) STRICT;
CREATE INDEX llm_requests_generator ON llm_requests(generator_id, status);

-- Question-answer pairs about a document, by generator.
CREATE TABLE qa_pairs (
    id           INTEGER PRIMARY KEY,   -- pair id
    document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,    -- the passage
    generator_id INTEGER NOT NULL REFERENCES generators(id) ON DELETE CASCADE,   -- who wrote it
    request_key  TEXT REFERENCES llm_requests(key) ON DELETE CASCADE,            -- the request it came from
    position     INTEGER NOT NULL,      -- order within the response
    question     TEXT NOT NULL,         -- the question
    answer       TEXT NOT NULL,         -- the answer
    UNIQUE (generator_id, document_id, position)
) STRICT;

-- Token counts of each QA pair under each tokenizer (migration 0003): question and answer, each
-- counted on its own without special tokens, so clustering can add any QA template's own tokens.
CREATE TABLE qa_token_counts (
    qa_pair_id   INTEGER NOT NULL REFERENCES qa_pairs(id) ON DELETE CASCADE,   -- which pair
    tokenizer_id INTEGER NOT NULL REFERENCES tokenizers(id) ON DELETE CASCADE, -- which tokenizer
    n_question   INTEGER NOT NULL CHECK (n_question >= 0),  -- tokens of the question
    n_answer     INTEGER NOT NULL CHECK (n_answer >= 0),    -- tokens of the answer
    PRIMARY KEY (qa_pair_id, tokenizer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX qa_token_counts_tokenizer ON qa_token_counts(tokenizer_id);

-- AdaptLLM-style reading-comprehension texts mined with regexes, one per document and miner config.
CREATE TABLE rc_texts (
    id           INTEGER PRIMARY KEY,   -- text id
    document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,  -- the source document
    fingerprint  TEXT NOT NULL,         -- miner configuration (seed, token budget, templates, keywords)
    text         TEXT NOT NULL,         -- the full reading-comprehension text
    n_tasks      INTEGER NOT NULL,      -- task blocks appended to the document
    UNIQUE (fingerprint, document_id)
) STRICT;

-- The mined tuples behind each reading-comprehension text.
CREATE TABLE rc_tasks (
    rc_text_id   INTEGER NOT NULL REFERENCES rc_texts(id) ON DELETE CASCADE,  -- the text they belong to
    position     INTEGER NOT NULL,      -- order in the text
    task_type    TEXT NOT NULL,         -- summarize | word2text | nli | commonsense | paraphrase | completion
    subcategory  TEXT,                  -- e.g. Entail, Contradict, Cause-effect, definition, topic
    premise      TEXT,                  -- first sentence / keywords / title
    verbalizer   TEXT,                  -- the connective that matched (e.g. 'Therefore')
    hypothesis   TEXT,                  -- second sentence / answer
    prompt       TEXT NOT NULL,         -- rendered question
    answer       TEXT NOT NULL,         -- rendered answer
    PRIMARY KEY (rc_text_id, position)
) STRICT, WITHOUT ROWID;

-- Clusterings of documents (Algorithm 1 of 2401.07284, the kNN walk, or a random baseline).
CREATE TABLE clusterings (
    id            INTEGER PRIMARY KEY,  -- clustering id
    algorithm     TEXT NOT NULL,        -- length | knn-walk | random
    embedder_id   INTEGER REFERENCES embedders(id),    -- vectors used
    tokenizer_id  INTEGER REFERENCES tokenizers(id),   -- lengths counted with
    generator_id  INTEGER REFERENCES generators(id),   -- QA pairs counted in the lengths, if any
    params        TEXT NOT NULL CHECK (json_valid(params)),  -- Lmax, Dmax, threshold, seed, ...
    fingerprint   TEXT NOT NULL UNIQUE, -- hash of algorithm, inputs and params
    status        TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete')),  -- complete when every document is placed
    report        TEXT CHECK (report IS NULL OR json_valid(report)),  -- quality report (similarity, fill, histogram, baseline)
    created_at    TEXT NOT NULL         -- start
) STRICT;

-- Clusters of a clustering.
CREATE TABLE clusters (
    id             INTEGER PRIMARY KEY, -- cluster id (global)
    clustering_id  INTEGER NOT NULL REFERENCES clusterings(id) ON DELETE CASCADE,  -- owner
    ordinal        INTEGER NOT NULL,    -- 0-based order of emission
    n_documents    INTEGER NOT NULL,    -- members
    n_tokens       INTEGER NOT NULL,    -- documents plus their QA pairs, in tokenizer tokens
    mean_similarity REAL,               -- mean pairwise cosine similarity of members
    UNIQUE (clustering_id, ordinal)
) STRICT;

-- Members of each cluster, in order.
CREATE TABLE cluster_members (
    clustering_id INTEGER NOT NULL REFERENCES clusterings(id) ON DELETE CASCADE,  -- owner
    cluster_id    INTEGER NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,     -- the cluster
    position      INTEGER NOT NULL,     -- 0-based position within the cluster
    document_id   INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,    -- the document
    similarity    REAL,                 -- similarity to the seed/centroid when it joined
    PRIMARY KEY (clustering_id, document_id),
    UNIQUE (cluster_id, position)
) STRICT;

-- General instructions mixed into training sets (alpaca, ShareGPT or OpenAI-messages input).
CREATE TABLE instructions (
    id            INTEGER PRIMARY KEY,  -- instruction id
    source        TEXT NOT NULL,        -- input file
    format        TEXT NOT NULL,        -- alpaca | sharegpt | messages
    external_id   TEXT,                 -- id in the source, if any
    messages      TEXT NOT NULL CHECK (json_valid(messages)),  -- normalised OpenAI-style messages array
    n_chars       INTEGER NOT NULL,     -- characters of all message contents
    content_hash  BLOB NOT NULL UNIQUE, -- dedup key
    created_at    TEXT NOT NULL         -- import time
) STRICT;

-- Training sets made by `lectern build` from a recipe.
CREATE TABLE training_sets (
    id             INTEGER PRIMARY KEY, -- set id
    name           TEXT NOT NULL,       -- user-facing name
    recipe         TEXT NOT NULL,       -- recipe preset, e.g. 'llm-qa+cluster', 'readcompre', 'dapt'
    clustering_id  INTEGER REFERENCES clusterings(id),  -- clusters used, if any
    generator_id   INTEGER REFERENCES generators(id),   -- QA pairs used, if any
    tokenizer_id   INTEGER REFERENCES tokenizers(id),   -- tokenizer for lengths and input_ids
    params         TEXT NOT NULL CHECK (json_valid(params)),  -- ratio, context length, seed, serialisation
    fingerprint    TEXT NOT NULL UNIQUE,  -- hash of recipe, inputs and params
    status         TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'complete')),  -- complete when all examples are written
    stats          TEXT CHECK (stats IS NULL OR json_valid(stats)),  -- tokens per source, fill ratio
    created_at     TEXT NOT NULL        -- start
) STRICT;

-- Training examples: packed sequences (or single SFT conversations).
CREATE TABLE training_examples (
    id               INTEGER PRIMARY KEY, -- example id
    training_set_id  INTEGER NOT NULL REFERENCES training_sets(id) ON DELETE CASCADE,  -- owner
    position         INTEGER NOT NULL,    -- order in the set
    text             TEXT NOT NULL,       -- the text (packed parts joined)
    messages         TEXT CHECK (messages IS NULL OR json_valid(messages)),  -- chat form, for SFT sets
    input_ids        BLOB,                -- token ids, little-endian int32, when a tokenizer is set
    n_tokens         INTEGER,             -- tokens in the example
    UNIQUE (training_set_id, position)
) STRICT;

-- Provenance: what each training example is made of, in order.
CREATE TABLE training_example_parts (
    example_id   INTEGER NOT NULL REFERENCES training_examples(id) ON DELETE CASCADE,  -- the example
    position     INTEGER NOT NULL,      -- order within the example
    part_kind    TEXT NOT NULL CHECK (part_kind IN ('document', 'cluster', 'qa_pair', 'rc_text', 'instruction')),  -- which table ref_id points into
    ref_id       INTEGER NOT NULL,      -- id in documents, clusters, qa_pairs, rc_texts or instructions
    n_tokens     INTEGER,               -- tokens this part contributes
    PRIMARY KEY (example_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX training_example_parts_ref ON training_example_parts(part_kind, ref_id);

-- LoRA or full fine-tuning runs on a training set.
CREATE TABLE training_runs (
    id               INTEGER PRIMARY KEY, -- run id
    training_set_id  INTEGER NOT NULL REFERENCES training_sets(id),  -- data
    base_model       TEXT NOT NULL,       -- base model name or path
    engine           TEXT NOT NULL,       -- e.g. 'peft'
    method           TEXT NOT NULL,       -- lora | full
    params           TEXT NOT NULL CHECK (json_valid(params)),  -- rank, alpha, target modules, lr, epochs, seed, ...
    fingerprint      TEXT NOT NULL,       -- hash of set, base model and params
    status           TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed', 'interrupted')),  -- lifecycle
    error            TEXT,                -- failure reason
    started_at       TEXT NOT NULL,       -- start
    finished_at      TEXT,                -- end
    base_fingerprint TEXT,                -- base model: SHA-256 of its config.json and weights (migration 0004)
    total_steps      INTEGER,             -- optimiser steps planned (migration 0004)
    stage_run_id     INTEGER REFERENCES stage_runs(id)  -- the stage run that trained it last (migration 0004)
) STRICT;
-- A run is found again by its fingerprint, so re-running the same command resumes it (migration 0004).
CREATE UNIQUE INDEX training_runs_fingerprint ON training_runs(fingerprint);

-- Scalar metrics logged during training.
CREATE TABLE training_metrics (
    run_id  INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,  -- the run
    step    INTEGER NOT NULL,           -- optimiser step
    name    TEXT NOT NULL,              -- e.g. loss, lr, grad_norm
    value   REAL NOT NULL,              -- the value
    PRIMARY KEY (run_id, step, name)
) STRICT, WITHOUT ROWID;

-- Checkpoints of a run.
CREATE TABLE checkpoints (
    id          INTEGER PRIMARY KEY,    -- checkpoint id
    run_id      INTEGER NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,  -- the run
    step        INTEGER NOT NULL,       -- optimiser step
    kind        TEXT NOT NULL,          -- lora-adapter | full
    config      TEXT NOT NULL CHECK (json_valid(config)),  -- e.g. PEFT adapter_config.json
    created_at  TEXT NOT NULL,          -- when saved
    probe       TEXT CHECK (probe IS NULL OR json_valid(probe)),  -- the engine's logits hash on a fixed input (migration 0004)
    n_bytes     INTEGER,                -- tensor bytes (migration 0004)
    UNIQUE (run_id, step)
) STRICT;

-- The training engine's resume state of a checkpoint (optimizer, scheduler, RNG, data position:
-- its trainer_state.pt), in parts of at most 64 MiB (migration 0004).
CREATE TABLE checkpoint_state (
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,  -- the checkpoint
    part           INTEGER NOT NULL CHECK (part >= 0),  -- order of the part
    data           BLOB NOT NULL,         -- bytes of the part
    PRIMARY KEY (checkpoint_id, part)
) STRICT, WITHOUT ROWID;

-- The tensors of a checkpoint, one row per tensor.
CREATE TABLE checkpoint_tensors (
    checkpoint_id  INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,  -- the checkpoint
    name           TEXT NOT NULL,       -- e.g. base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight
    dtype          TEXT NOT NULL,       -- F32 | F16 | BF16 | I8 ...
    shape          TEXT NOT NULL CHECK (json_valid(shape)),  -- JSON array of dimensions
    data           BLOB NOT NULL,       -- raw little-endian tensor bytes
    PRIMARY KEY (checkpoint_id, name)
) STRICT, WITHOUT ROWID;

-- Evaluation tasks in AdaptLLM's format.
CREATE TABLE eval_tasks (
    id          INTEGER PRIMARY KEY,    -- task id
    name        TEXT NOT NULL UNIQUE,   -- e.g. pubmedqa
    domain      TEXT,                   -- biomedicine | finance | law | ...
    kind        TEXT NOT NULL CHECK (kind IN ('choice', 'generation')),  -- scoring mode
    metric      TEXT NOT NULL,          -- accuracy | micro_f1 | weighted_f1 | exact_match | entity_f1
    source      TEXT,                   -- where the items came from
    created_at  TEXT NOT NULL           -- import time
) STRICT;

-- Items of an evaluation task.
CREATE TABLE eval_items (
    id           INTEGER PRIMARY KEY,   -- item id
    task_id      INTEGER NOT NULL REFERENCES eval_tasks(id) ON DELETE CASCADE,  -- the task
    position     INTEGER NOT NULL,      -- order in the task
    external_id  TEXT,                  -- id in the source
    input        TEXT NOT NULL,         -- the prompt
    options      TEXT CHECK (options IS NULL OR json_valid(options)),  -- JSON array of options (choice tasks)
    gold_index   INTEGER,               -- index of the right option (choice tasks)
    label        TEXT,                  -- reference answer (generation tasks)
    metadata     TEXT CHECK (metadata IS NULL OR json_valid(metadata)),  -- anything else the source had
    content_hash BLOB,                  -- content hash of the document the item is made from, as documents.content_hash (migration 0005)
    UNIQUE (task_id, position)
) STRICT;
-- Documents that are also eval items: held out of builds, flagged in reports (migration 0005).
CREATE INDEX eval_items_content_hash ON eval_items(content_hash);

-- A model's answer to an item.
CREATE TABLE eval_predictions (
    item_id        INTEGER NOT NULL REFERENCES eval_items(id) ON DELETE CASCADE,  -- the item
    model          TEXT NOT NULL,       -- base model name
    checkpoint_id  INTEGER REFERENCES checkpoints(id) ON DELETE CASCADE,          -- adapter, if any
    fingerprint    TEXT NOT NULL,       -- hash of model, checkpoint and scoring params
    predicted_index INTEGER,            -- chosen option (choice tasks)
    predicted_text TEXT,                -- generated answer (generation tasks)
    option_scores  TEXT CHECK (option_scores IS NULL OR json_valid(option_scores)),  -- mean per-token NLL per option
    correct        INTEGER,             -- 1 if right, 0 if not
    stage_run_id   INTEGER REFERENCES stage_runs(id),  -- the eval run that made it (migration 0005)
    PRIMARY KEY (fingerprint, item_id)
) STRICT;

-- Aggregate scores per task and model.
CREATE TABLE eval_scores (
    id             INTEGER PRIMARY KEY, -- score id
    task_id        INTEGER NOT NULL REFERENCES eval_tasks(id) ON DELETE CASCADE,  -- the task
    model          TEXT NOT NULL,       -- base model name
    checkpoint_id  INTEGER REFERENCES checkpoints(id) ON DELETE CASCADE,          -- adapter, if any
    fingerprint    TEXT NOT NULL,       -- same as eval_predictions.fingerprint
    metric         TEXT NOT NULL,       -- metric name
    value          REAL NOT NULL,       -- the score (0..100)
    n_items        INTEGER NOT NULL,    -- items scored
    created_at     TEXT NOT NULL,       -- when computed
    ci_low         REAL,                -- bootstrap 95% interval, low end (migration 0005)
    ci_high        REAL,                -- bootstrap 95% interval, high end (migration 0005)
    UNIQUE (task_id, fingerprint, metric)
) STRICT;

-- Every run of every stage: what ran, with which configuration, and how it ended.
CREATE TABLE stage_runs (
    id              INTEGER PRIMARY KEY, -- run id
    stage           TEXT NOT NULL,       -- ingest | tokens | embed | cluster | generate | mine | build | ...
    fingerprint     TEXT NOT NULL,       -- configuration fingerprint (outputs carry the same)
    config          TEXT NOT NULL CHECK (json_valid(config)),  -- the configuration, as JSON (no secrets)
    status          TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed', 'interrupted')),  -- interrupted: found running with its process gone
    pid             INTEGER,             -- process that ran it
    lectern_version TEXT NOT NULL,       -- version of the binary
    started_at      TEXT NOT NULL,       -- start
    finished_at     TEXT,                -- end
    n_inputs        INTEGER NOT NULL DEFAULT 0,  -- inputs pending at the start
    n_processed     INTEGER NOT NULL DEFAULT 0,  -- inputs done by this run
    n_skipped       INTEGER NOT NULL DEFAULT 0,  -- inputs rejected as bad
    n_failed        INTEGER NOT NULL DEFAULT 0,  -- inputs that failed (retried on re-run)
    counts          TEXT CHECK (counts IS NULL OR json_valid(counts)),  -- stage-specific counters
    error           TEXT,                -- the error that ended it, or the first bad-input messages
    host            TEXT                 -- host name of the machine that ran it (NULL: recorded before migration 0002); pid is only meaningful there
) STRICT;
CREATE INDEX stage_runs_stage ON stage_runs(stage, fingerprint);

-- Shards merged into this file by `lectern merge` (migration 0006), one row each, written in the
-- same transaction as the shard's rows.
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
