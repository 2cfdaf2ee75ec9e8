import ArgumentParser
import Foundation
import GRDB
import LecternGenerate
import LecternStore

/// `lectern status FILE`
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what the file holds and which stages are complete for which configuration.")

    @Argument(help: "The Lectern file.")
    var file: String

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    @Option(help: "A JSON price table for LLM cost estimates: {\"models\": {\"NAME\": {\"inputPerMillion\": 0.15, \"outputPerMillion\": 0.6}}}.")
    var prices: String?

    func run() throws {
        let store = try Store.open(path: file, access: .read)
        let table = try prices.map { try PriceTable.load(path: $0) }
        let report = try store.pool.read { db in
            var report = try StatusReport.make(db)
            let usage = try GenerationUsage.summary(db, prices: table)
            report.sections.append(StatusReport.Section(
                key: "llm_usage", title: "LLM usage (question-answer generation)",
                columns: ["model", "documents", "ok", "invalid", "failed", "requests_sent", "prompt_tokens", "completion_tokens", "pairs", "estimated_cost"],
                rows: usage.map { u in
                    [.text(u.model), .int(Int64(u.requests)), .int(Int64(u.ok)), .int(Int64(u.invalid)), .int(Int64(u.failed)),
                     .int(Int64(u.attempts)), .int(Int64(u.promptTokens)), .int(Int64(u.completionTokens)), .int(Int64(u.pairs)),
                     u.estimatedCost.map { .double(($0 * 10000).rounded() / 10000) } ?? .null]
                }))
            return report
        }
        if json {
            print(report.json())
        } else {
            print(report.text(file: file))
        }
    }
}

/// What `lectern status` shows: a list of titled tables, each from one SQL query, so the text and
/// JSON forms come from the same data.
struct StatusReport {
    struct Section {
        var key: String
        var title: String
        var columns: [String]
        var rows: [[TableOutput.Cell]]
    }
    var sections: [Section] = []

    /// Each section: key, title, query. A section whose table is empty is left out of the text form.
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
            SELECT 'token counts' AS artifact, t.name AS "by", count(c.document_id) AS "rows" FROM tokenizers t LEFT JOIN token_counts c ON c.tokenizer_id = t.id GROUP BY t.id
            UNION ALL SELECT 'embeddings', e.name, count(x.document_id) FROM embedders e LEFT JOIN embeddings x ON x.embedder_id = e.id GROUP BY e.id
            UNION ALL SELECT 'clusters', c.algorithm || ' #' || c.id || ' (' || c.status || ')', count(k.id) FROM clusterings c LEFT JOIN clusters k ON k.clustering_id = c.id GROUP BY c.id
            UNION ALL SELECT 'QA pairs', g.name || ' (' || g.model || ')', count(q.id) FROM generators g LEFT JOIN qa_pairs q ON q.generator_id = g.id GROUP BY g.id
            UNION ALL SELECT 'reading-comprehension texts', substr(fingerprint, 1, 12), count(*) FROM rc_texts GROUP BY fingerprint
            UNION ALL SELECT 'instructions', source, count(*) FROM instructions GROUP BY source
            UNION ALL SELECT 'training examples', s.name || ' (' || s.recipe || ')', count(x.id) FROM training_sets s LEFT JOIN training_examples x ON x.training_set_id = s.id GROUP BY s.id
            UNION ALL SELECT 'checkpoints', r.base_model || ' run ' || r.id, count(k.id) FROM training_runs r LEFT JOIN checkpoints k ON k.run_id = r.id GROUP BY r.id
            UNION ALL SELECT 'eval scores', t.name, count(s.id) FROM eval_tasks t LEFT JOIN eval_scores s ON s.task_id = t.id GROUP BY t.id
            """),
        ("training_sets", "Training sets (tokens per source, fill ratio of the packed sequences)", """
            SELECT id, name, recipe, status, json_extract(stats, '$.examples') AS examples,
                   json_extract(stats, '$.contextLength') AS context,
                   json_extract(stats, '$.domainTokens') AS domain_tokens, json_extract(stats, '$.generalTokens') AS general_tokens,
                   json_extract(stats, '$.tokensByPart.document') AS document, json_extract(stats, '$.tokensByPart.qa_pair') AS qa_pair,
                   json_extract(stats, '$.tokensByPart.rc_text') AS rc_text, json_extract(stats, '$.tokensByPart.instruction') AS instruction,
                   printf('%.4f', json_extract(stats, '$.fillRatio')) AS fill_ratio,
                   printf('%.4f', json_extract(stats, '$.fillRatioFFD')) AS fill_ffd
            FROM training_sets ORDER BY id
            """),
        ("stages", "Stages (latest run per stage and configuration)", """
            SELECT stage, substr(fingerprint, 1, 12) AS config, status, n_processed AS processed, n_skipped AS skipped,
                   n_failed AS failed, runs, finished_at
            FROM (SELECT *, count(*) OVER (PARTITION BY stage, fingerprint) AS runs,
                         row_number() OVER (PARTITION BY stage, fingerprint ORDER BY id DESC) AS rn FROM stage_runs)
            WHERE rn = 1 ORDER BY id
            """),
    ]

    static func make(_ db: Database) throws -> StatusReport {
        var report = StatusReport()
        for (key, title, sql) in queries {
            let statement = try db.makeStatement(sql: sql)
            let rows = try Row.fetchAll(statement).map { Array($0.databaseValues.map(TableOutput.Cell.init)) }
            report.sections.append(Section(key: key, title: title, columns: statement.columnNames, rows: rows))
        }
        report.sections.append(try problems(db))
        return report
    }

    /// The bad-input messages and errors kept with the latest run of each stage and configuration
    /// (`stage_runs.error`: the first 100 of a run, then a count of the rest), one row a message.
    static func problems(_ db: Database) throws -> Section {
        let runs = try Row.fetchAll(db, sql: """
            SELECT id, stage, status, error FROM (
                SELECT *, row_number() OVER (PARTITION BY stage, fingerprint ORDER BY id DESC) AS rn FROM stage_runs)
            WHERE rn = 1 AND error IS NOT NULL AND error != '' ORDER BY id
            """)
        var rows: [[TableOutput.Cell]] = []
        for run in runs {
            let text: String = run["error"]
            for line in text.split(whereSeparator: \.isNewline) {
                rows.append([.int(run["id"]), .text(run["stage"]), .text(run["status"]), .text(String(line))])
            }
        }
        return Section(key: "problems", title: "Bad input and errors (kept with the latest run of each stage and configuration)",
                       columns: ["run", "stage", "status", "message"], rows: rows)
    }

    func text(file: String) -> String {
        var out = ["\(file)"]
        for section in sections where !section.rows.isEmpty {
            out.append("")
            out.append("\(section.title):")
            if section.key == "file" {
                let width = section.rows.map { $0[0].plain.count }.max() ?? 0
                for row in section.rows {
                    let key = row[0].plain
                    out.append("  " + key + String(repeating: " ", count: width - key.count) + "  " + row[1].plain)
                }
            } else {
                out.append(TableOutput.text(columns: section.columns, rows: section.rows, maxWidth: section.key == "problems" ? 200 : 60)
                    .split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
            }
        }
        return out.joined(separator: "\n")
    }

    /// One JSON object: `file` as an object of key -> value, every other section as an array of
    /// row objects (keys in column order, made unique as in `lectern sql --json`).
    func json() -> String {
        var out = "{"
        for (i, section) in sections.enumerated() {
            out += i == 0 ? "\n  " : ",\n  "
            TableOutput.appendJSONString(section.key, to: &out)
            out += ": "
            if section.key == "file" {
                out += "{"
                var seen: Set<String> = []
                for row in section.rows where row.count >= 2 && seen.insert(row[0].plain).inserted {
                    if seen.count > 1 { out += ", " }
                    TableOutput.appendJSONString(row[0].plain, to: &out)
                    out += ": "
                    row[1].appendJSON(to: &out)
                }
                out += "}"
            } else {
                out += TableOutput.json(columns: section.columns, rows: section.rows)
                    .replacingOccurrences(of: "\n", with: "\n  ")
            }
        }
        out += "\n}"
        return out
    }
}
