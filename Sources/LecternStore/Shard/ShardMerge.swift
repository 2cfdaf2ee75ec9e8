import Foundation
import GRDB
import LecternCore

/// What a module contributes to `lectern merge`: its own tables' rows of one shard file,
/// inserted into the main file by their natural keys, with the ids the main file allocates
/// remapped. The shard is attached to the main file's writing connection under a schema name;
/// every contributor of a shard runs in one transaction, so a merge killed at any moment leaves
/// the main file as it was before that shard.
///
/// Ids are remapped through temporary tables (``ShardMerge/idMap(_:)``): the module that owns a
/// table fills the map of its ids (`shard id -> main id`, found by natural key after its insert),
/// and the modules whose rows point at that table read the map. Contributors run in pipeline
/// order, so a map is filled before it is read.
public protocol ShardMergeContributor {
    /// Refuses, before anything is written, a shard whose rows this module cannot merge (a
    /// global stage's output: clusters, sets, runs and scores are made on the merged file).
    static func checkShard(_ db: Database, shard schema: String) throws
    /// Inserts the shard's rows that the main file lacks; returns rows added per table.
    static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int]
}

extension ShardMergeContributor {
    public static func checkShard(_ db: Database, shard schema: String) throws {}
}

/// Helpers shared by the modules' merge contributors.
public enum ShardMerge {
    /// The temporary id map of a table, `temp.merge_map_<table>` (`shard_id -> main_id`),
    /// created empty. Only the owner of `table` calls this; others read ``map(_:)``.
    @discardableResult
    public static func idMap(_ db: Database, _ table: String) throws -> String {
        let name = map(table)
        try db.execute(sql: "CREATE TEMP TABLE IF NOT EXISTS merge_map_\(table) (shard_id INTEGER PRIMARY KEY, main_id INTEGER NOT NULL)")
        try db.execute(sql: "DELETE FROM \(name)")
        return name
    }

    /// The name of a table's id map, for the modules whose rows point into that table.
    public static func map(_ table: String) -> String { "temp.merge_map_\(table)" }

    /// Rows a shard holds in one of its tables (0 when the table does not exist there).
    public static func rows(_ db: Database, shard schema: String, table: String) throws -> Int {
        let exists = try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM \(schema).sqlite_master WHERE type = 'table' AND name = ?",
                                       arguments: [table]) ?? false
        guard exists else { return 0 }
        return try Int.fetchOne(db, sql: "SELECT count(*) FROM \(schema).\(table)") ?? 0
    }

    /// Refuses a shard that holds rows of a global stage (made on the merged file only).
    public static func refuseRows(_ db: Database, shard schema: String, tables: [String], stage: String) throws {
        for table in tables {
            let n = try rows(db, shard: schema, table: table)
            if n > 0 {
                throw ShardMergeError.globalRows(table: table, rows: n, stage: stage)
            }
        }
    }
}

/// Why a shard was refused or a merge stopped; nothing of that shard was written.
public enum ShardMergeError: Error, CustomStringConvertible, Sendable {
    case globalRows(table: String, rows: Int, stage: String)
    case refused(path: String, reason: String)
    case corrupt(path: String, detail: String)

    public var description: String {
        switch self {
        case .globalRows(let table, let rows, let stage):
            return "it holds \(rows) rows of \(table): `\(stage)` is a global stage, run on the merged file, never in a shard"
        case .refused(let path, let reason): return "\(path): refused: \(reason); nothing was merged from it"
        case .corrupt(let path, let detail): return "\(path): not a sound shard file (\(detail)); nothing was merged from it"
        }
    }
}

/// The Store's own part of a merge: the shard's stage runs (kept as history, so `status` and the
/// report show what each machine ran, on which host) and the record of merged shards.
public enum StoreShardMerge: ShardMergeContributor {
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] {
        // Shard runs keep their configuration, host, pid and counters; ids are new. A shard
        // merged twice never gets here (its SHA-256 is recorded), so runs are not doubled.
        try db.execute(sql: """
            INSERT INTO stage_runs(stage, fingerprint, config, status, pid, lectern_version, started_at, finished_at,
                                   n_inputs, n_processed, n_skipped, n_failed, counts, error, host)
            SELECT stage, fingerprint, config, CASE status WHEN 'running' THEN 'interrupted' ELSE status END, pid, lectern_version,
                   started_at, finished_at, n_inputs, n_processed, n_skipped, n_failed, counts, error, host
            FROM \(schema).stage_runs ORDER BY id
            """)
        return ["stage_runs": db.changesCount]
    }

    /// The host that made a shard: the host of its stage runs (the first one).
    public static func host(_ db: Database, shard schema: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT host FROM \(schema).stage_runs WHERE host IS NOT NULL ORDER BY id LIMIT 1")
    }
}

/// The `merged_shards` table: which shard files a file has taken in.
public enum MergedShards {
    /// The merge of a shard file with these bytes, if any.
    public static func find(_ db: Database, sha256: String) throws -> Row? {
        try Row.fetchOne(db, sql: "SELECT * FROM merged_shards WHERE sha256 = ?", arguments: [sha256])
    }

    /// Shard numbers merged for a plan.
    public static func indexes(_ db: Database, plan: String) throws -> Set<Int> {
        Set(try Int.fetchAll(db, sql: "SELECT shard_index FROM merged_shards WHERE plan = ?", arguments: [plan]))
    }

    /// Records a merged shard (in the merge's transaction).
    public static func record(_ db: Database, sha256: String, path: String, shard: Shard, plan: String, host: String?,
                              counts: [String: Int]) throws {
        let json = try Fingerprint.canonicalJSON(counts)
        try db.execute(sql: """
            INSERT INTO merged_shards(sha256, path, shard_index, shard_count, plan, host, counts, merged_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [sha256, path, shard.index, shard.count, plan, host, json, Timestamp.now()])
    }

    /// Every merge, oldest first (for `status`).
    public static func all(_ db: Database) throws -> [Row] {
        try Row.fetchAll(db, sql: "SELECT * FROM merged_shards ORDER BY id")
    }
}
