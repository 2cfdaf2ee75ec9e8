import Foundation
import GRDB
import GRDBSQLite
import LecternCore
import LecternKernels

/// A row of `documents`, which only ingest writes. Every other module reads documents through
/// this type and its requests, never with SQL of its own on the table.
///
/// Stages that work through the documents they have not done yet build their request here and
/// add their own condition on their own table, for instance
/// `StoredDocument.ids(where: "NOT EXISTS (SELECT 1 FROM rc_texts r WHERE r.document_id = documents.id AND r.fingerprint = ?)", [fp])`.
public struct StoredDocument: FetchableRecord, TableRecord, Sendable, Equatable {
    public static let databaseTableName = "documents"

    public enum Columns {
        public static let id = Column("id")
        public static let title = Column("title")
        public static let text = Column("text")
        public static let nChars = Column("n_chars")
        public static let contentHash = Column("content_hash")
        public static let source = Column("source")
    }

    public var id: Int64
    public var title: String?
    public var text: String
    /// SHA-256 (first 16 bytes) of the normalised text: the document's identity across files.
    public var contentHash: Data

    public init(row: Row) throws {
        id = row["id"]
        title = row["title"]
        text = row["text"]
        contentHash = (row["content_hash"] as Data?) ?? Data()
    }

    /// Title and text as every stage sees the document (``DocumentText``).
    public var rendered: String { DocumentText.render(title: title, text: text) }

    /// The key that seeds every random choice about this document (its content, not its rowid).
    public var contentKey: UInt64 { SplitMix64.streamKey(contentHash) }

    static let fullSelection: [any SQLSelectable] = [Columns.id, Columns.title, Columns.text, Columns.contentHash]
}

/// A document's id and content key, without its text.
public struct DocumentKey: Sendable, Equatable {
    public var id: Int64
    public var contentKey: UInt64
}

extension StoredDocument {
    /// Number of documents in the file.
    public static func count(_ db: Database) throws -> Int { try fetchCount(db) }

    /// The documents `ids`, in id order (ids that do not exist are left out).
    public static func fetch(_ db: Database, ids: [Int64]) throws -> [StoredDocument] {
        try select(fullSelection).filter(ids.contains(Columns.id)).order(Columns.id).fetchAll(db)
    }

    /// The ids and titles of documents `ids`, in id order, without their texts.
    public static func titles(_ db: Database, ids: [Int64]) throws -> [(id: Int64, title: String?)] {
        try Row.fetchAll(db, select(Columns.id, Columns.title).filter(ids.contains(Columns.id)).order(Columns.id))
            .map { ($0["id"], $0["title"]) }
    }

    /// Every document, in id order, as a cursor (one document in memory at a time).
    public static func cursor(_ db: Database, where condition: String? = nil, _ arguments: StatementArguments = []) throws -> RecordCursor<StoredDocument> {
        var request = select(fullSelection).order(Columns.id)
        if let condition { request = request.filter(sql: condition, arguments: arguments) }
        return try request.fetchCursor(db)
    }

    /// Ids of the documents (all, or those meeting `condition`, SQL over `documents` and the
    /// caller's own tables), in id order.
    public static func ids(_ db: Database, where condition: String? = nil, _ arguments: StatementArguments = []) throws -> [Int64] {
        var request = select(Columns.id).order(Columns.id)
        if let condition { request = request.filter(sql: condition, arguments: arguments) }
        return try Int64.fetchAll(db, request)
    }

    /// Up to `limit` documents after id `after` that meet `condition`, in id order: batch by
    /// batch through a corpus too large for memory.
    public static func batch(_ db: Database, after: Int64, limit: Int, where condition: String, _ arguments: StatementArguments) throws -> [StoredDocument] {
        try select(fullSelection).filter(Columns.id > after).filter(sql: condition, arguments: arguments)
            .order(Columns.id).limit(limit).fetchAll(db)
    }

    /// Every document's id and content key, in id order.
    public static func keys(_ db: Database) throws -> [DocumentKey] {
        try Row.fetchAll(db, select(Columns.id, Columns.contentHash).order(Columns.id)).map {
            DocumentKey(id: $0["id"], contentKey: SplitMix64.streamKey(($0["content_hash"] as Data?) ?? Data()))
        }
    }

    /// Count and largest id of the documents: part of an input's extent (a file with more
    /// documents is another input).
    public static func extent(_ db: Database) throws -> [Int64] {
        let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(id), 0) FROM documents")
        return [row?[0] ?? 0, row?[1] ?? 0]
    }

    /// Every document's text (without its title), in id order.
    public static func texts(_ db: Database) throws -> [String] {
        try String.fetchAll(db, select(Columns.text).order(Columns.id))
    }

    /// Every document's rank in content-hash order (0, 1, 2, ...), by id: an order that does not
    /// depend on when a document arrived or which shard brought it. The UNIQUE index on
    /// `content_hash` gives it without reading the texts.
    public static func contentHashRanks(_ db: Database) throws -> [Int64: Int] {
        var rank: [Int64: Int] = [:]
        let cursor = try Int64.fetchCursor(db, select(Columns.id).order(Columns.contentHash))
        var r = 0
        while let id = try cursor.next() { rank[id] = r; r += 1 }
        return rank
    }

    /// Length in Unicode scalars of every document, by id.
    public static func lengths(_ db: Database) throws -> [Int64: Int] {
        var out: [Int64: Int] = [:]
        let rows = try Row.fetchCursor(db, select(Columns.id, Columns.nChars))
        while let r = try rows.next() { out[r["id"]] = r["n_chars"] }
        return out
    }

    /// Ids of the documents whose content hash is one of `hashes` (the same text in another
    /// table: an eval item, a shard's document), in id order.
    public static func ids(_ db: Database, withContentHashIn hashes: Set<Data>) throws -> [Int64] {
        var ids: [Int64] = []
        let all = Array(hashes)
        var start = 0
        while start < all.count {  // under SQLite's bound-parameter limit
            let slice = Array(all[start..<min(all.count, start + 500)])
            ids += try Int64.fetchAll(db, select(Columns.id).filter(slice.contains(Columns.contentHash)))
            start += slice.count
        }
        return ids.sorted()
    }

    /// The first `bytes` UTF-8 bytes of document `id`'s text, cut back to a whole character,
    /// and whether that is the whole text. Read through SQLite's incremental blob I/O: only the
    /// bytes asked for leave the file (a `substr` would first load the whole text into memory).
    public static func textPrefix(_ db: Database, id: Int64, bytes: Int) throws -> (String, Bool) {
        var handle: OpaquePointer?
        let rc = sqlite3_blob_open(db.sqliteConnection, "main", databaseTableName, "text", id, 0, &handle)
        guard rc == SQLITE_OK, let blob = handle else {
            if let handle { sqlite3_blob_close(handle) }
            // (NULL or missing text: no blob handle; read it the ordinary way.)
            let t = try String.fetchOne(db, select(Columns.text).filter(Columns.id == id)) ?? ""
            return (t, true)
        }
        defer { sqlite3_blob_close(blob) }
        let total = Int(sqlite3_blob_bytes(blob))
        let n = min(total, bytes)
        var buf = [UInt8](repeating: 0, count: n)
        if n > 0 {
            let r = buf.withUnsafeMutableBytes { sqlite3_blob_read(blob, $0.baseAddress, Int32(n), 0) }
            guard r == SQLITE_OK else { throw DatabaseError(resultCode: ResultCode(rawValue: r), message: "reading document \(id)'s text") }
        }
        var end = n
        if n < total {
            // Drop a character cut by the byte limit: find the last lead byte and its length.
            var lead = n - 1
            while lead > 0, buf[lead] & 0xC0 == 0x80 { lead -= 1 }
            if lead >= 0, n > 0 {
                let b = buf[lead]
                let len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                if lead + len > n { end = lead }
            }
        }
        return (String(decoding: buf[0..<end], as: UTF8.self), n == total)
    }
}
