import GRDB
import LecternStore

/// The embed module's part of a merge: embedders by fingerprint (creating the main file's vector
/// table when it has none of that dimension), and each embedding the main file lacks, its vector
/// copied byte for byte into the main file's vector table under a new rowid.
public enum EmbeddingShards: ShardMergeContributor {
    public static func checkShard(_ db: Database, shard schema: String) throws {
        for row in try Row.fetchAll(db, sql: "SELECT id, dim, vector_table, fingerprint FROM \(schema).embedders") {
            guard let dim = Int.fromDatabaseValue(row["dim"] as DatabaseValue), (1...65536).contains(dim),
                  let table = String.fromDatabaseValue(row["vector_table"] as DatabaseValue), table == "lectern_vectors_\(dim)" else {
                throw ShardMergeError.refused(path: schema, reason: "its embedder \(row["id"] as DatabaseValue) has no valid dimension or vector table")
            }
            guard let fingerprint = String.fromDatabaseValue(row["fingerprint"] as DatabaseValue),
                  Int64.fromDatabaseValue(row["id"] as DatabaseValue) != nil else {
                throw ShardMergeError.refused(path: schema, reason: "an embedder row has no fingerprint or id")
            }
            if let mainDim = try Int.fetchOne(db, sql: "SELECT dim FROM main.embedders WHERE fingerprint = ?", arguments: [fingerprint]),
               mainDim != dim {
                throw ShardMergeError.refused(path: schema, reason: "embedder \(fingerprint.prefix(12)) has \(dim) dimensions there and \(mainDim) in the main file")
            }
        }
    }

    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] {
        var embedders = 0, embeddings = 0
        let documents = ShardMerge.map("documents")
        // Every value read here was checked by checkShard, in the same transaction.
        for row in try Row.fetchAll(db, sql: "SELECT * FROM \(schema).embedders ORDER BY id") {
            let dim: Int = row["dim"]
            let table = "lectern_vectors_\(dim)"
            let fingerprint: String = row["fingerprint"]
            let mainID: Int64
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM embedders WHERE fingerprint = ?", arguments: [fingerprint]) {
                mainID = id
            } else {
                try db.execute(sql: """
                    CREATE VIRTUAL TABLE IF NOT EXISTS main.\(table) USING lectern_vec(
                        embedding float[\(dim)] distance_metric=cosine, embedder integer partition key)
                    """)
                try db.execute(sql: """
                    INSERT INTO embedders(name, kind, model, endpoint, dim, metric, vector_table, fingerprint, config, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [row["name"], row["kind"], row["model"], row["endpoint"], dim, row["metric"], table,
                                     fingerprint, row["config"], row["created_at"]])
                mainID = db.lastInsertedRowID
                embedders += 1
            }
            let shardID: Int64 = row["id"]
            let base = try Int64.fetchOne(db, sql: """
                SELECT max(e.vector_rowid) FROM embeddings e JOIN embedders m ON m.id = e.embedder_id WHERE m.vector_table = ?
                """, arguments: [table]) ?? 0
            // The embeddings to copy, each with its new vector rowid (document order).
            try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS merge_vectors (shard_rowid INTEGER, main_rowid INTEGER PRIMARY KEY, document_id INTEGER, n_tokens INTEGER)")
            try db.execute(sql: "DELETE FROM temp.merge_vectors")
            try db.execute(sql: """
                INSERT INTO temp.merge_vectors(shard_rowid, main_rowid, document_id, n_tokens)
                SELECT e.vector_rowid, ? + row_number() OVER (ORDER BY d.main_id), d.main_id, e.n_tokens
                FROM \(schema).embeddings e JOIN \(documents) d ON d.shard_id = e.document_id
                WHERE e.embedder_id = ? AND NOT EXISTS (SELECT 1 FROM embeddings m WHERE m.embedder_id = ? AND m.document_id = d.main_id)
                """, arguments: [base, shardID, mainID])
            try db.execute(sql: """
                INSERT INTO main.\(table)(rowid, embedding, embedder)
                SELECT x.main_rowid, v.embedding, ? FROM temp.merge_vectors x JOIN \(schema).\(table) v ON v.rowid = x.shard_rowid
                ORDER BY x.main_rowid
                """, arguments: [mainID])
            let copied = db.changesCount
            try db.execute(sql: """
                INSERT INTO embeddings(embedder_id, document_id, vector_rowid, n_tokens)
                SELECT ?, document_id, main_rowid, n_tokens FROM temp.merge_vectors ORDER BY main_rowid
                """, arguments: [mainID])
            guard db.changesCount == copied else {
                throw ShardMergeError.refused(path: schema, reason: "embedder \(fingerprint.prefix(12)): \(db.changesCount) embeddings point at \(copied) vectors found in \(table)")
            }
            embeddings += copied
        }
        return ["embedders": embedders, "embeddings": embeddings]
    }
}
