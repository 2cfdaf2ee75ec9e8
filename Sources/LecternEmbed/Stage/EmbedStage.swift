import Foundation
import GRDB
import LecternStore

/// `lectern embed`: one vector per document for one embedder, resumable.
///
/// The embedder gets an `embedders` row (keyed by its fingerprint, so a second embedder
/// coexists with the first); its vectors go into the `lectern_vec` table for its dimension,
/// `lectern_vectors_<dim>` (cosine, partition key `embedder` = the embedder id), and each
/// document gets an `embeddings` row naming the vector's rowid. Pending documents are those
/// without an `embeddings` row for this embedder; each batch's vectors and rows are written in
/// one transaction, so an interrupted run loses at most a batch and a re-run completes it.
///
/// The text embedded is the document's `text`, preceded by its title and a blank line when it
/// has one (the same layout the tokens stage counts).
public final class EmbedStage {
    public let store: Store
    public let embedder: any Embedder
    /// Kind stored in `embedders.kind`: `builtin` or `openai`.
    public let kind: String
    /// Endpoint stored in `embedders.endpoint` (remote embedders; never a secret).
    public let endpoint: String?
    /// Documents per batch (and per transaction).
    public var batchSize = 256
    /// Progress output; nil for none.
    public var progress = true

    public init(store: Store, embedder: any Embedder, kind: String, endpoint: String? = nil) {
        self.store = store
        self.embedder = embedder
        self.kind = kind
        self.endpoint = endpoint
    }

    /// What one run did.
    public struct Summary: Sendable, Equatable {
        public var embedderID: Int64
        public var vectorTable: String
        public var embedded: Int
        public var alreadyDone: Int
    }

    struct RunConfig: Codable { var embedder: String; var fingerprint: String; var kind: String }

    public var vectorTable: String { "lectern_vectors_\(embedder.dimension)" }

    /// Embeds every document that has no vector for this embedder yet.
    public func run() throws -> Summary {
        let table = vectorTable
        let embedderID = try registerEmbedder(table: table)
        let pending = try store.pool.read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM documents d WHERE NOT EXISTS
                  (SELECT 1 FROM embeddings e WHERE e.embedder_id = ? AND e.document_id = d.id) ORDER BY id
                """, arguments: [embedderID])
        }
        let total = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0 }
        let run = try StageRun.begin(store, stage: "embed",
                                     config: RunConfig(embedder: embedder.name, fingerprint: embedder.fingerprint, kind: kind),
                                     inputs: pending.count)
        let bar = progress ? ProgressReporter(label: "embed", total: pending.count, unit: "docs") : nil
        do {
            var i = 0
            while i < pending.count {
                let ids = Array(pending[i..<min(pending.count, i + batchSize)])
                let rows = try store.pool.read { db in
                    try Row.fetchAll(db, sql: "SELECT id, title, text FROM documents WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ","))) ORDER BY id",
                                     arguments: StatementArguments(ids))
                }
                let texts: [String] = rows.map { r in
                    let title: String? = r["title"], text: String = r["text"]
                    if let title, !title.isEmpty { return title + "\n\n" + text }
                    return text
                }
                let docIDs: [Int64] = rows.map { $0["id"] }
                let vectors = try embedder.embed(texts)
                let dim = embedder.dimension
                let nTokens: [Int?] = embedder.tokenCounts(texts) ?? texts.map { _ in nil }
                try run.commit(processed: docIDs.count) { db in
                    var next = (try Int64.fetchOne(db, sql: """
                        SELECT max(e.vector_rowid) FROM embeddings e JOIN embedders m ON m.id = e.embedder_id
                        WHERE m.vector_table = ?
                        """, arguments: [table]) ?? 0) + 1
                    for (k, doc) in docIDs.enumerated() {
                        let blob = vectors[(k * dim)..<((k + 1) * dim)].withUnsafeBytes { Data($0) }
                        try db.execute(sql: "INSERT INTO \(table)(rowid, embedding, embedder) VALUES (?, ?, ?)",
                                       arguments: [next, blob, embedderID])
                        try db.execute(sql: "INSERT INTO embeddings(embedder_id, document_id, vector_rowid, n_tokens) VALUES (?, ?, ?, ?)",
                                       arguments: [embedderID, doc, next, nTokens[k]])
                        next += 1
                    }
                }
                bar?.advance(by: docIDs.count)
                i += ids.count
            }
        } catch {
            try? run.fail(error)
            throw error
        }
        bar?.finish()
        try run.finish(counts: ["embedded": pending.count, "already_done": total - pending.count])
        return Summary(embedderID: embedderID, vectorTable: table, embedded: pending.count, alreadyDone: total - pending.count)
    }

    /// The embedder's id, inserting its row and creating its vector table on first use.
    func registerEmbedder(table: String) throws -> Int64 {
        try store.pool.write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM embedders WHERE fingerprint = ?", arguments: [embedder.fingerprint]) {
                return id
            }
            try db.execute(sql: """
                CREATE VIRTUAL TABLE IF NOT EXISTS \(table) USING lectern_vec(
                    embedding float[\(embedder.dimension)] distance_metric=cosine, embedder integer partition key)
                """)
            let model = (embedder as? MiniLMEmbedder)?.configuration.model ?? embedder.name
            try db.execute(sql: """
                INSERT INTO embedders(name, kind, model, endpoint, dim, metric, vector_table, fingerprint, config, created_at)
                VALUES (?, ?, ?, ?, ?, 'cosine', ?, ?, ?, ?)
                """, arguments: [embedder.name, kind, model, endpoint, embedder.dimension, table,
                                 embedder.fingerprint, embedder.configJSON, Timestamp.now()])
            return db.lastInsertedRowID
        }
    }
}
