-- Lectern schema, migration 0003: QA pairs' token counts under a target tokenizer.
--
-- `lectern tokens` counts each pair's question and answer, each on its own and without special
-- tokens, beside the documents' counts. Clustering then budgets a document's QA pairs from
-- stored counts plus what the build's QA template adds, instead of estimating from characters
-- with a copy of the default template.
CREATE TABLE qa_token_counts (
    qa_pair_id   INTEGER NOT NULL REFERENCES qa_pairs(id) ON DELETE CASCADE,
    tokenizer_id INTEGER NOT NULL REFERENCES tokenizers(id) ON DELETE CASCADE,
    n_question   INTEGER NOT NULL CHECK (n_question >= 0),
    n_answer     INTEGER NOT NULL CHECK (n_answer >= 0),
    PRIMARY KEY (qa_pair_id, tokenizer_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX qa_token_counts_tokenizer ON qa_token_counts(tokenizer_id);
