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
        let usage = try GenerationUsage.summary(db)
        let usageRows: [[DatabaseValue]] = usage.map { u in
            [u.model.databaseValue, u.requests.databaseValue, u.ok.databaseValue, u.invalid.databaseValue, u.failed.databaseValue,
             u.attempts.databaseValue, u.promptTokens.databaseValue, u.completionTokens.databaseValue, u.pairs.databaseValue]
        }
        return [perDocument, outcomes,
                FileCatalogue.Section(key: "llm_usage", title: "LLM usage", columns: ["model", "documents", "ok", "invalid", "failed",
                                                                                    "requests_sent", "prompt_tokens", "completion_tokens", "pairs"],
                                      rows: usageRows)]
    }
}
