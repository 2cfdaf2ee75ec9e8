import Foundation
import GRDB

/// Reads of `clusterings`, `clusters` and `cluster_members`, which only the cluster stage
/// writes; the build reads clusters through these requests.
public enum StoredClusterings {
    /// A clustering row as other modules see it.
    public struct Clustering: Sendable, Equatable {
        public var id: Int64
        public var fingerprint: String
        /// Every document placed (`complete`), or still being written (`running`).
        public var complete: Bool
    }

    static func clustering(_ row: Row) -> Clustering {
        Clustering(id: row["id"], fingerprint: row["fingerprint"], complete: (row["status"] as String?) == "complete")
    }

    /// The clustering `id`.
    public static func fetch(_ db: Database, id: Int64) throws -> Clustering? {
        try Row.fetchOne(db, sql: "SELECT id, fingerprint, status FROM clusterings WHERE id = ?", arguments: [id]).map(clustering)
    }

    /// The newest complete clustering.
    public static func newestComplete(_ db: Database) throws -> Clustering? {
        try Row.fetchOne(db, sql: "SELECT id, fingerprint, status FROM clusterings WHERE status = 'complete' ORDER BY id DESC LIMIT 1").map(clustering)
    }

    /// The members of every cluster of `clustering`: (cluster id, document id), clusters in
    /// the order they were emitted and members in their order within the cluster.
    public static func members(_ db: Database, clustering: Int64) throws -> [(cluster: Int64, document: Int64)] {
        try Row.fetchAll(db, sql: """
            SELECT m.cluster_id, m.document_id FROM cluster_members m JOIN clusters c ON c.id = m.cluster_id
            WHERE m.clustering_id = ? ORDER BY c.ordinal, m.position
            """, arguments: [clustering]).map { ($0["cluster_id"], $0["document_id"]) }
    }

    /// Count and largest rowid of the members of `clustering` (nil: none): the build's input extent.
    public static func extent(_ db: Database, clustering: Int64?) throws -> [Int64] {
        guard let clustering else { return [0, 0] }
        let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(rowid), 0) FROM cluster_members WHERE clustering_id = ?", arguments: [clustering])
        return [row?[0] ?? 0, row?[1] ?? 0]
    }
}
