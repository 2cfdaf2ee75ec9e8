import GRDB

/// The one catalogue of what a Lectern file holds: its metadata, sources, artifacts per
/// configuration, training sets, stage runs and the bad-input messages kept with them.
///
/// `lectern status` prints it (as tables or JSON), `lectern run` summarises a run from it, and the
/// report will read it: one set of queries, so the three never disagree about what is in a file.
/// Each section is one query; its rows are the raw database values, so every consumer formats
/// them its own way. Reading it writes nothing (it works on a read-only or immutable file).
public struct FileCatalogue: Sendable {
    /// One titled table of the catalogue.
    public struct Section: Sendable {
        /// Stable key (`file`, `sources`, `artifacts`, `training_sets`, `stages`, `problems`).
        public var key: String
        public var title: String
        public var columns: [String]
        public var rows: [[DatabaseValue]]

        /// The value of `column` in `row`, or nil when there is no such column.
        public func value(_ row: [DatabaseValue], _ column: String) -> DatabaseValue? {
            columns.firstIndex(of: column).flatMap { $0 < row.count ? row[$0] : nil }
        }
    }

    public var sections: [Section]

    /// The section with `key`.
    public func section(_ key: String) -> Section? { sections.first { $0.key == key } }

    /// Number of rows of one kind of artifact (`documents` is in the `file` section; the
    /// `artifacts` section counts QA pairs, reading-comprehension texts, instructions, ...), over
    /// every configuration, or of the configuration row `id` (a clustering, a generator, ...).
    public func artifactRows(_ artifact: String, id: Int64? = nil) -> Int {
        guard let s = section("artifacts") else { return 0 }
        return s.rows.reduce(0) { total, row in
            guard String.fromDatabaseValue(s.value(row, "artifact") ?? .null) == artifact else { return total }
            if let id, Int64.fromDatabaseValue(s.value(row, "id") ?? .null) != id { return total }
            return total + (Int.fromDatabaseValue(s.value(row, "rows") ?? .null) ?? 0)
        }
    }

    /// A value of the `file` section (`documents`, `characters`, `domain`, `schema_version`, ...).
    public func fileFact(_ key: String) -> DatabaseValue? {
        section("file")?.rows.first { String.fromDatabaseValue($0.first ?? .null) == key }.flatMap { $0.count > 1 ? $0[1] : nil }
    }

    /// The `training_sets` row of set `id`, as column -> value.
    public func trainingSet(id: Int64) -> [String: DatabaseValue]? {
        guard let s = section("training_sets"),
              let row = s.rows.first(where: { Int64.fromDatabaseValue(s.value($0, "id") ?? .null) == id }) else { return nil }
        return Dictionary(uniqueKeysWithValues: zip(s.columns, row))
    }

    /// Each section: key, title, query.
    static let queries: [(String, String, String)] = [
        ("file", "File", """
            SELECT key, value FROM lectern_meta
            UNION ALL SELECT 'documents', count(*) FROM documents
            UNION ALL SELECT 'characters', coalesce(sum(n_chars), 0) FROM documents
            """),
        // Text files from one folder are one source row each (so a re-scan reads only new files);
        // they are shown per folder.
        ("sources", "Sources (text files grouped by folder)", """
            SELECT CASE WHEN format = 'text' THEN rtrim(path, replace(path, '/', '')) ELSE path END AS path, format,
                   CASE WHEN min(status) = max(status) THEN min(status) ELSE 'mixed' END AS status, count(*) AS files,
                   sum(records_done) AS records, sum(n_added) AS added, sum(n_duplicates) AS duplicates,
                   sum(n_skipped) AS skipped, max(updated_at) AS updated_at
            FROM sources GROUP BY 1, format ORDER BY min(id)
            """),
        ("artifacts", "Artifacts", """
            SELECT 'token counts' AS artifact, t.id AS id, t.name AS "by", count(c.document_id) AS "rows" FROM tokenizers t LEFT JOIN token_counts c ON c.tokenizer_id = t.id GROUP BY t.id
            UNION ALL SELECT 'embeddings', e.id, e.name, count(x.document_id) FROM embedders e LEFT JOIN embeddings x ON x.embedder_id = e.id GROUP BY e.id
            UNION ALL SELECT 'clusters', c.id, c.algorithm || ' #' || c.id || ' (' || c.status || ')', count(k.id) FROM clusterings c LEFT JOIN clusters k ON k.clustering_id = c.id GROUP BY c.id
            UNION ALL SELECT 'QA pairs', g.id, g.name || ' (' || g.model || ')', count(q.id) FROM generators g LEFT JOIN qa_pairs q ON q.generator_id = g.id GROUP BY g.id
            UNION ALL SELECT 'reading-comprehension texts', NULL, substr(fingerprint, 1, 12), count(*) FROM rc_texts GROUP BY fingerprint
            UNION ALL SELECT 'instructions', NULL, source, count(*) FROM instructions GROUP BY source
            UNION ALL SELECT 'training examples', s.id, s.name || ' (' || s.recipe || ')', count(x.id) FROM training_sets s LEFT JOIN training_examples x ON x.training_set_id = s.id GROUP BY s.id
            UNION ALL SELECT 'checkpoints', r.id, r.base_model || ' run ' || r.id, count(k.id) FROM training_runs r LEFT JOIN checkpoints k ON k.run_id = r.id GROUP BY r.id
            UNION ALL SELECT 'eval scores', t.id, t.name, count(s.id) FROM eval_tasks t LEFT JOIN eval_scores s ON s.task_id = t.id GROUP BY t.id
            """),
        ("training_sets", "Training sets (tokens per source, fill ratio of the packed sequences)", """
            SELECT id, name, recipe, status, json_extract(stats, '$.examples') AS examples,
                   json_extract(stats, '$.contextLength') AS context, json_extract(stats, '$.tokens') AS tokens,
                   json_extract(stats, '$.domainTokens') AS domain_tokens, json_extract(stats, '$.generalTokens') AS general_tokens,
                   json_extract(stats, '$.tokensByPart.document') AS document, json_extract(stats, '$.tokensByPart.qa_pair') AS qa_pair,
                   json_extract(stats, '$.tokensByPart.rc_text') AS rc_text, json_extract(stats, '$.tokensByPart.instruction') AS instruction,
                   printf('%.4f', json_extract(stats, '$.fillRatio')) AS fill_ratio,
                   printf('%.4f', json_extract(stats, '$.fillRatioFFD')) AS fill_ffd
            FROM training_sets ORDER BY id
            """),
        ("training_runs", "Training runs (steps with metrics, last loss, checkpoints in the file)", """
            SELECT r.id, substr(r.fingerprint, 1, 12) AS fingerprint, s.name AS "set", r.base_model AS base, r.engine, r.method,
                   json_extract(r.params, '$.options.rank') AS rank, r.status,
                   (SELECT count(DISTINCT step) FROM training_metrics m WHERE m.run_id = r.id) AS steps, r.total_steps,
                   (SELECT printf('%.4f', value) FROM training_metrics m WHERE m.run_id = r.id AND m.name = 'loss' ORDER BY step DESC LIMIT 1) AS last_loss,
                   (SELECT count(*) FROM checkpoints c WHERE c.run_id = r.id) AS checkpoints,
                   (SELECT max(step) FROM checkpoints c WHERE c.run_id = r.id) AS last_checkpoint,
                   (SELECT coalesce(sum(n_bytes), 0) FROM checkpoints c WHERE c.run_id = r.id) AS tensor_bytes
            FROM training_runs r JOIN training_sets s ON s.id = r.training_set_id ORDER BY r.id
            """),
        ("stages", "Stages (latest run per stage and configuration)", """
            SELECT stage, substr(fingerprint, 1, 12) AS config, status, n_processed AS processed, n_skipped AS skipped,
                   n_failed AS failed, runs, host, finished_at
            FROM (SELECT *, count(*) OVER (PARTITION BY stage, fingerprint) AS runs,
                         row_number() OVER (PARTITION BY stage, fingerprint ORDER BY id DESC) AS rn FROM stage_runs)
            WHERE rn = 1 ORDER BY id
            """),
    ]

    /// Reads the whole catalogue in one read transaction (a consistent snapshot).
    public static func read(_ db: Database) throws -> FileCatalogue {
        var sections: [Section] = []
        for (key, title, sql) in queries {
            let statement = try db.makeStatement(sql: sql)
            let rows = try Row.fetchAll(statement).map { Array($0.databaseValues) }
            sections.append(Section(key: key, title: title, columns: statement.columnNames, rows: rows))
        }
        sections.append(try problems(db))
        return FileCatalogue(sections: sections)
    }

    /// The bad-input messages and errors kept with the latest run of each stage and configuration
    /// (`stage_runs.error`: the first 100 of a run, then a count of the rest), one row a message.
    static func problems(_ db: Database) throws -> Section {
        let runs = try Row.fetchAll(db, sql: """
            SELECT id, stage, status, error FROM (
                SELECT *, row_number() OVER (PARTITION BY stage, fingerprint ORDER BY id DESC) AS rn FROM stage_runs)
            WHERE rn = 1 AND error IS NOT NULL AND error != '' ORDER BY id
            """)
        var rows: [[DatabaseValue]] = []
        for run in runs {
            let text = String.fromDatabaseValue(run["error"] as DatabaseValue) ?? ""
            for line in text.split(whereSeparator: \.isNewline) {
                rows.append([run["id"] as DatabaseValue, run["stage"] as DatabaseValue, run["status"] as DatabaseValue,
                             String(line).databaseValue])
            }
        }
        return Section(key: "problems", title: "Bad input and errors (kept with the latest run of each stage and configuration)",
                       columns: ["run", "stage", "status", "message"], rows: rows)
    }
}
