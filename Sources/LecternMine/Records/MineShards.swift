import GRDB
import LecternStore

/// The miner's part of a merge: texts by (miner fingerprint, document), their tasks with them.
public enum MineShards: ShardMergeContributor {
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] {
        let documents = ShardMerge.map("documents")
        try db.execute(sql: """
            INSERT INTO rc_texts(document_id, fingerprint, text, n_tasks)
            SELECT d.main_id, t.fingerprint, t.text, t.n_tasks
            FROM \(schema).rc_texts t JOIN \(documents) d ON d.shard_id = t.document_id
            WHERE true ORDER BY t.id ON CONFLICT(fingerprint, document_id) DO NOTHING
            """)
        let texts = db.changesCount
        let textMap = try ShardMerge.idMap(db, "rc_texts")
        try db.execute(sql: """
            INSERT INTO \(textMap)(shard_id, main_id)
            SELECT t.id, m.id FROM \(schema).rc_texts t JOIN \(documents) d ON d.shard_id = t.document_id
            JOIN rc_texts m ON m.fingerprint = t.fingerprint AND m.document_id = d.main_id
            """)
        try db.execute(sql: """
            INSERT INTO rc_tasks(rc_text_id, position, task_type, subcategory, premise, verbalizer, hypothesis, prompt, answer)
            SELECT x.main_id, k.position, k.task_type, k.subcategory, k.premise, k.verbalizer, k.hypothesis, k.prompt, k.answer
            FROM \(schema).rc_tasks k JOIN \(textMap) x ON x.shard_id = k.rc_text_id
            WHERE true ON CONFLICT(rc_text_id, position) DO NOTHING
            """)
        return ["rc_texts": texts, "rc_tasks": db.changesCount]
    }
}
