import GRDB
import LecternStore

/// The generate module's part of a merge: generators by fingerprint, requests by their key (a
/// hash of the generator's fingerprint and the document's content hash, the same in every
/// file), QA pairs by (generator, document, position); `merge_map_qa_pairs` maps the shard's
/// pair ids to the main file's for the token counts of pairs.
public enum GenerateShards: ShardMergeContributor {
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] {
        try db.execute(sql: """
            INSERT INTO generators(name, model, endpoint, template_version, template, params, fingerprint, created_at)
            SELECT name, model, endpoint, template_version, template, params, fingerprint, created_at
            FROM \(schema).generators WHERE true ORDER BY id ON CONFLICT(fingerprint) DO NOTHING
            """)
        let generators = db.changesCount
        let generatorMap = try ShardMerge.idMap(db, "generators")
        try db.execute(sql: """
            INSERT INTO \(generatorMap)(shard_id, main_id)
            SELECT s.id, m.id FROM \(schema).generators s JOIN generators m ON m.fingerprint = s.fingerprint
            """)
        let documents = ShardMerge.map("documents")
        // A request the main file already has keeps its state (its pairs are there too).
        try db.execute(sql: """
            INSERT INTO llm_requests(key, generator_id, document_id, status, attempts, endpoint, raw_response, parsed, error,
                                     prompt_tokens, completion_tokens, latency_ms, created_at, updated_at)
            SELECT r.key, g.main_id, d.main_id, r.status, r.attempts, r.endpoint, r.raw_response, r.parsed, r.error,
                   r.prompt_tokens, r.completion_tokens, r.latency_ms, r.created_at, r.updated_at
            FROM \(schema).llm_requests r JOIN \(generatorMap) g ON g.shard_id = r.generator_id
            LEFT JOIN \(documents) d ON d.shard_id = r.document_id
            WHERE true ORDER BY r.rowid ON CONFLICT(key) DO NOTHING
            """)
        let requests = db.changesCount
        try db.execute(sql: """
            INSERT INTO qa_pairs(document_id, generator_id, request_key, position, question, answer)
            SELECT d.main_id, g.main_id, q.request_key, q.position, q.question, q.answer
            FROM \(schema).qa_pairs q JOIN \(generatorMap) g ON g.shard_id = q.generator_id
            JOIN \(documents) d ON d.shard_id = q.document_id
            WHERE true ORDER BY q.id ON CONFLICT(generator_id, document_id, position) DO NOTHING
            """)
        let pairs = db.changesCount
        let pairMap = try ShardMerge.idMap(db, "qa_pairs")
        try db.execute(sql: """
            INSERT INTO \(pairMap)(shard_id, main_id)
            SELECT q.id, m.id FROM \(schema).qa_pairs q JOIN \(generatorMap) g ON g.shard_id = q.generator_id
            JOIN \(documents) d ON d.shard_id = q.document_id
            JOIN qa_pairs m ON m.generator_id = g.main_id AND m.document_id = d.main_id AND m.position = q.position
            """)
        return ["generators": generators, "llm_requests": requests, "qa_pairs": pairs]
    }
}
