-- Lectern schema, migration 0005: what `lectern eval` records beside the tables of 0001.
--
-- A score carries its bootstrap 95% interval; a prediction keeps the stage run that made it; an
-- item keeps the content hash of the document it was made from (PubMedQA's abstract), so a
-- build can hold such documents out of training and a report can say when a result is
-- contaminated.
ALTER TABLE eval_scores ADD COLUMN ci_low REAL;
ALTER TABLE eval_scores ADD COLUMN ci_high REAL;
ALTER TABLE eval_predictions ADD COLUMN stage_run_id INTEGER REFERENCES stage_runs(id);
ALTER TABLE eval_items ADD COLUMN content_hash BLOB;
CREATE INDEX eval_items_content_hash ON eval_items(content_hash);
