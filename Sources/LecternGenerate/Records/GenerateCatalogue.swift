import GRDB
import LecternStore

/// The generate stage's part of the file catalogue: QA pairs per generator.
public enum GenerateCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'QA pairs', g.id, g.name || ' (' || g.model || ')', count(q.id) FROM generators g
              LEFT JOIN qa_pairs q ON q.generator_id = g.id GROUP BY g.id
            """)]
    }

    /// Per generator: pairs per document (documents asked, including those that gave none), the
    /// requests by outcome and reason, and token usage.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        let perDocument = try FileCatalogue.section(db, key: "qa_per_document", title: "QA pairs per document", sql: """
            SELECT g.name || ' (' || g.model || ')' AS generator, coalesce(n.pairs, 0) AS pairs, count(*) AS documents
            FROM llm_requests r JOIN generators g ON g.id = r.generator_id
              LEFT JOIN (SELECT request_key, count(*) AS pairs FROM qa_pairs GROUP BY request_key) n ON n.request_key = r.key
            WHERE r.status != 'pending'
            GROUP BY g.id, coalesce(n.pairs, 0) ORDER BY g.id, 2
            """)
        // The reason is the error's first clause: messages carry ids and offsets after a colon.
        let outcomes = try FileCatalogue.section(db, key: "qa_requests", title: "Requests by outcome", sql: """
            SELECT g.name || ' (' || g.model || ')' AS generator, r.status,
                   CASE WHEN r.error IS NULL OR r.error = '' THEN ''
                        WHEN instr(r.error, ':') > 0 THEN substr(r.error, 1, min(instr(r.error, ':') - 1, 80))
                        ELSE substr(r.error, 1, 80) END AS reason,
                   count(*) AS requests, sum(r.attempts) AS attempts,
                   round(avg(r.latency_ms), 0) AS mean_latency_ms
            FROM llm_requests r JOIN generators g ON g.id = r.generator_id
            GROUP BY g.id, r.status, 3 ORDER BY g.id, r.status, count(*) DESC, 3
            """)
        // Per generator: what it is (a student names the checkpoint it applies) and how it did.
        let generators = try FileCatalogue.section(db, key: "generators", title: "Generators", sql: """
            SELECT g.id, g.name, g.model, substr(g.fingerprint, 1, 12) AS fingerprint,
                   json_extract(g.params, '$.adapter.run') AS adapter_run, json_extract(g.params, '$.adapter.step') AS adapter_step,
                   json_extract(g.params, '$.adapter.checkpoint') AS adapter_checkpoint,
                   count(r.key) AS documents, coalesce(sum(r.status = 'ok'), 0) AS ok, coalesce(sum(r.status = 'invalid'), 0) AS invalid,
                   coalesce(sum(r.status = 'failed'), 0) AS failed, (SELECT count(*) FROM qa_pairs q WHERE q.generator_id = g.id) AS pairs,
                   coalesce(sum(r.latency_ms), 0) AS latency_ms, coalesce(sum(r.prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(r.completion_tokens), 0) AS completion_tokens
            FROM generators g LEFT JOIN llm_requests r ON r.generator_id = g.id AND r.status != 'pending'
            GROUP BY g.id ORDER BY g.id
            """)
        // A student's answers against every other generator's on the documents both answered:
        // SQuAD-style token F1 of the documents' answers, joined in order.
        var overlap: [[DatabaseValue]] = []
        let students = try Int64.fetchAll(db, sql: "SELECT id FROM generators WHERE json_extract(params, '$.adapter') IS NOT NULL ORDER BY id")
        for student in students {
            let own = try answers(db, generator: student)
            for other in try Int64.fetchAll(db, sql: "SELECT id FROM generators WHERE id != ? ORDER BY id", arguments: [student]) {
                let theirs = try answers(db, generator: other)
                for (doc, text) in own.sorted(by: { $0.key < $1.key }) {
                    guard let reference = theirs[doc] else { continue }
                    overlap.append([student.databaseValue, other.databaseValue, doc.databaseValue, AnswerOverlap.f1(text, reference).databaseValue])
                }
            }
        }
        let usage = try GenerationUsage.summary(db)
        let usageRows: [[DatabaseValue]] = usage.map { u in
            [u.model.databaseValue, u.requests.databaseValue, u.ok.databaseValue, u.invalid.databaseValue, u.failed.databaseValue,
             u.attempts.databaseValue, u.promptTokens.databaseValue, u.completionTokens.databaseValue, u.pairs.databaseValue]
        }
        return [generators, perDocument, outcomes,
                FileCatalogue.Section(key: "answer_overlap", title: "Student against other generators (token F1 of the answers)",
                                      columns: ["student", "generator", "document", "f1"], rows: overlap),
                FileCatalogue.Section(key: "llm_usage", title: "LLM usage", columns: ["model", "documents", "ok", "invalid", "failed",
                                                                                    "requests_sent", "prompt_tokens", "completion_tokens", "pairs"],
                                      rows: usageRows)]
    }

    /// Each document's answers by `generator`, joined in order.
    static func answers(_ db: Database, generator: Int64) throws -> [Int64: String] {
        var out: [Int64: String] = [:]
        for p in try QAPairRecord.filter(generator: generator).fetchAll(db) { out[p.documentID, default: ""] += p.answer + "\n" }
        return out
    }
}

/// Token overlap of two answers, as SQuAD scores an answer against a reference: F1 of the
/// multisets of lower-cased alphanumeric tokens.
public enum AnswerOverlap {
    public static func tokens(_ s: String) -> [String] {
        s.lowercased().split(whereSeparator: { !($0.isLetter || $0.isNumber) }).map(String.init)
    }

    public static func f1(_ a: String, _ b: String) -> Double {
        let x = tokens(a), y = tokens(b)
        guard !x.isEmpty, !y.isEmpty else { return x.isEmpty && y.isEmpty ? 1 : 0 }
        var counts: [String: Int] = [:]
        for t in y { counts[t, default: 0] += 1 }
        var common = 0
        for t in x where (counts[t] ?? 0) > 0 {
            counts[t, default: 0] -= 1
            common += 1
        }
        guard common > 0 else { return 0 }
        let precision = Double(common) / Double(x.count), recall = Double(common) / Double(y.count)
        return 2 * precision * recall / (precision + recall)
    }
}
