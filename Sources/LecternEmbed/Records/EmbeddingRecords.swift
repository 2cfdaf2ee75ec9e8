import Foundation
import GRDB

/// Reads of `embedders`, `embeddings` and the embedders' vector tables, which only the embed
/// stage writes; clustering reads vectors through this type.
public enum StoredEmbeddings {
    /// Where an embedder's vectors are: checked, since a file is input (a NULL or absurd dim must
    /// be an error, not a trap in `dim * 4` or an allocation).
    public struct Layout: Sendable, Equatable {
        public var dim: Int
        public var vectorTable: String
    }

    public enum ReadError: Error, CustomStringConvertible {
        case badEmbedder(id: Int64)
        case badIdentifier(String)

        public var description: String {
            switch self {
            case .badEmbedder(let id): return "embedder \(id) has no valid dim (1...65536) or vector_table: corrupt file"
            case .badIdentifier(let s): return "vector table or column name '\(s)' is not a plain SQL identifier"
            }
        }
    }

    /// The layout of embedder `id`'s vectors.
    public static func layout(_ db: Database, embedder id: Int64) throws -> Layout {
        // fromDatabaseValue: GRDB's `as Int?` still traps on TEXT.
        guard let meta = try Row.fetchOne(db, sql: "SELECT dim, vector_table FROM embedders WHERE id = ?", arguments: [id]),
              let dim = Int.fromDatabaseValue(meta["dim"] as DatabaseValue), (1...65536).contains(dim),
              let table = String.fromDatabaseValue(meta["vector_table"] as DatabaseValue) else {
            throw ReadError.badEmbedder(id: id)
        }
        try checkIdentifier(table)
        return Layout(dim: dim, vectorTable: table)
    }

    /// Each embedded document of `embedder` with its vector BLOB (little-endian float32; NULL
    /// when the column is), in document id order; columns `document_id` and `vector`.
    public static func vectors(_ db: Database, embedder id: Int64, layout: Layout, column: String = "embedding") throws -> RowCursor {
        try checkIdentifier(column)
        return try Row.fetchCursor(db, sql: """
            SELECT e.document_id AS document_id, v.\(column) AS vector
              FROM embeddings e JOIN \(layout.vectorTable) v ON v.rowid = e.vector_rowid
             WHERE e.embedder_id = ? ORDER BY e.document_id
            """, arguments: [id])
    }

    /// Number of documents embedded by `embedder`.
    public static func count(_ db: Database, embedder id: Int64) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM embeddings WHERE embedder_id = ?", arguments: [id]) ?? 0
    }

    static func checkIdentifier(_ s: String) throws {
        let ok = !s.isEmpty && s.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" }
            && !(s.unicodeScalars.first.map { $0 >= "0" && $0 <= "9" } ?? true)
        if !ok { throw ReadError.badIdentifier(s) }
    }
}
