import Foundation
import GRDB
import LecternCore
import LecternStore

/// The ingest module's part of sharding: seeding a shard file with its documents from a
/// snapshot of the main file, and merging a shard's sources and documents back.
public enum DocumentShards: ShardMergeContributor {
    /// Copies into a shard file (the connection's main schema) the documents of `snapshot` that
    /// the shard owns, and every source row with its counters at zero: the shard's own ingest
    /// then skips what the main file already read, and a merge adds only what the shard did.
    /// Idempotent (natural keys); returns the documents copied.
    @discardableResult
    public static func seed(_ db: Database, from snapshot: String, shard: Shard) throws -> Int {
        try db.execute(sql: """
            INSERT INTO sources(path, format, options, size_bytes, mtime, fingerprint, records_done,
                                n_added, n_duplicates, n_skipped, status, created_at, updated_at)
            SELECT path, format, options, size_bytes, mtime, fingerprint, records_done, 0, 0, 0, status, created_at, updated_at
            FROM \(snapshot).sources WHERE true ORDER BY id
            ON CONFLICT(path, fingerprint) DO NOTHING
            """)
        try db.execute(sql: """
            INSERT INTO documents(text, title, source, source_id, external_id, metadata, n_chars, content_hash, created_at)
            SELECT d.text, d.title, d.source,
                   (SELECT id FROM sources WHERE path = ss.path AND fingerprint = ss.fingerprint),
                   d.external_id, d.metadata, d.n_chars, d.content_hash, d.created_at
            FROM \(snapshot).documents d LEFT JOIN \(snapshot).sources ss ON ss.id = d.source_id
            WHERE lectern_shard(d.content_hash, ?) = ? ORDER BY d.id
            ON CONFLICT(content_hash) DO NOTHING
            """, arguments: [shard.count, shard.index])
        return db.changesCount
    }

    /// Sources: new ones inserted, known ones (same path and fingerprint) get the shard's
    /// counters added (each shard counts only its own documents and bad records). Documents:
    /// inserted unless their content hash is there; `merge_map_documents` maps every shard
    /// document to its id here.
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] {
        try db.execute(sql: """
            UPDATE sources AS m SET
                n_added = m.n_added + s.n_added, n_duplicates = m.n_duplicates + s.n_duplicates,
                n_skipped = m.n_skipped + s.n_skipped, records_done = max(m.records_done, s.records_done),
                status = CASE WHEN m.status = 'complete' OR s.status = 'complete' THEN 'complete' ELSE 'partial' END,
                updated_at = max(m.updated_at, s.updated_at)
            FROM \(schema).sources AS s WHERE s.path = m.path AND s.fingerprint = m.fingerprint
            """)
        try db.execute(sql: """
            INSERT INTO sources(path, format, options, size_bytes, mtime, fingerprint, records_done,
                                n_added, n_duplicates, n_skipped, status, created_at, updated_at)
            SELECT path, format, options, size_bytes, mtime, fingerprint, records_done,
                   n_added, n_duplicates, n_skipped, status, created_at, updated_at
            FROM \(schema).sources s
            WHERE NOT EXISTS (SELECT 1 FROM sources m WHERE m.path = s.path AND m.fingerprint = s.fingerprint) ORDER BY s.id
            """)
        let sources = db.changesCount
        let sourceMap = try ShardMerge.idMap(db, "sources")
        try db.execute(sql: """
            INSERT INTO \(sourceMap)(shard_id, main_id)
            SELECT s.id, m.id FROM \(schema).sources s JOIN sources m ON m.path = s.path AND m.fingerprint = s.fingerprint
            """)
        try db.execute(sql: """
            INSERT INTO documents(text, title, source, source_id, external_id, metadata, n_chars, content_hash, created_at)
            SELECT d.text, d.title, d.source, (SELECT main_id FROM \(sourceMap) WHERE shard_id = d.source_id),
                   d.external_id, d.metadata, d.n_chars, d.content_hash, d.created_at
            FROM \(schema).documents d WHERE true ORDER BY d.id
            ON CONFLICT(content_hash) DO NOTHING
            """)
        let documents = db.changesCount
        let documentMap = try ShardMerge.idMap(db, "documents")
        try db.execute(sql: """
            INSERT INTO \(documentMap)(shard_id, main_id)
            SELECT d.id, m.id FROM \(schema).documents d JOIN documents m ON m.content_hash = d.content_hash
            """)
        return ["sources": sources, "documents": documents]
    }

    /// A shard's documents whose content hash another shard owns (a shard file made for
    /// another split): counted so a merge can refuse it.
    public static func foreignDocuments(_ db: Database, shard schema: String, index: Int, count: Int) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM \(schema).documents WHERE lectern_shard(content_hash, ?) != ?",
                         arguments: [count, index]) ?? 0
    }
}
