import GRDB
import LecternStore

/// The tokens module's part of a merge: tokenizers by fingerprint, counts by (tokenizer,
/// document) and (pair, tokenizer). Runs after the generate module's, whose pair map it reads.
public enum TokenShards: ShardMergeContributor {
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] {
        try db.execute(sql: """
            INSERT INTO tokenizers(name, kind, fingerprint, path, vocab_size, created_at)
            SELECT name, kind, fingerprint, path, vocab_size, created_at FROM \(schema).tokenizers
            WHERE true ORDER BY id ON CONFLICT(fingerprint) DO NOTHING
            """)
        let tokenizers = db.changesCount
        let tokenizerMap = try ShardMerge.idMap(db, "tokenizers")
        try db.execute(sql: """
            INSERT INTO \(tokenizerMap)(shard_id, main_id)
            SELECT s.id, m.id FROM \(schema).tokenizers s JOIN tokenizers m ON m.fingerprint = s.fingerprint
            """)
        try db.execute(sql: """
            INSERT INTO token_counts(tokenizer_id, document_id, n_tokens)
            SELECT t.main_id, d.main_id, c.n_tokens FROM \(schema).token_counts c
            JOIN \(tokenizerMap) t ON t.shard_id = c.tokenizer_id JOIN \(ShardMerge.map("documents")) d ON d.shard_id = c.document_id
            WHERE true ON CONFLICT(tokenizer_id, document_id) DO NOTHING
            """)
        let counts = db.changesCount
        try db.execute(sql: """
            INSERT INTO qa_token_counts(qa_pair_id, tokenizer_id, n_question, n_answer)
            SELECT p.main_id, t.main_id, c.n_question, c.n_answer FROM \(schema).qa_token_counts c
            JOIN \(tokenizerMap) t ON t.shard_id = c.tokenizer_id JOIN \(ShardMerge.map("qa_pairs")) p ON p.shard_id = c.qa_pair_id
            WHERE true ON CONFLICT(qa_pair_id, tokenizer_id) DO NOTHING
            """)
        return ["tokenizers": tokenizers, "token_counts": counts, "qa_token_counts": db.changesCount]
    }
}
