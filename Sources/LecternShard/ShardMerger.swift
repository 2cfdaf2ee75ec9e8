import Crypto
import Foundation
import GRDB
import LecternBuild
import LecternCluster
import LecternCore
import LecternEmbed
import LecternEval
import LecternGenerate
import LecternIngest
import LecternMine
import LecternStore
import LecternTokens
import LecternTrain

/// `lectern merge MAIN SHARD...`: folds shard files into the main file, exactly as if one machine
/// had done their work.
///
/// One shard at a time is attached (read-only, immutable) to the main file's writing connection:
/// SQLite attaches at most 10 files, and one transaction per shard keeps the rule "a kill loses
/// at most the work in flight". Inside that transaction every module inserts its own tables'
/// rows by their natural keys (content hash, fingerprints, request keys), remapping the ids the
/// main file allocates, and the shard is recorded in `merged_shards` by the SHA-256 of its
/// bytes. So a shard merged twice adds nothing, a merge killed with `kill -9` resumes where it
/// stopped, and shards merged in any order give the same rows (ids aside).
///
/// Before anything is written, a shard is checked: a sound SQLite file with no pending WAL, a
/// Lectern file with exactly the main file's migrations, made for this main file (`shard_of`),
/// for one plan (`shard_plan`, the same for every shard of a merge and equal to the main file's
/// when it has one), holding only documents its shard owns and no global stage's rows.
public struct ShardMerger {
    public let store: Store
    /// Where per-shard lines go.
    public var log: (String) -> Void = { print($0) }

    public init(store: Store) { self.store = store }

    /// The modules' merge contributors, in pipeline order (a module reads the id maps of those before it).
    public static let contributors: [any ShardMergeContributor.Type] = [
        StoreShardMerge.self, DocumentShards.self, GenerateShards.self, MineShards.self, TokenShards.self,
        EmbeddingShards.self, ClusterShards.self, BuildShards.self, TrainShards.self, EvalShards.self,
    ]

    /// What merging one shard did.
    public struct Outcome: Sendable {
        public var path: String
        public var shard: Shard
        public var sha256: String
        /// Rows added per table; empty when the shard had been merged before.
        public var counts: [String: Int]
        public var alreadyMerged: Bool
        public var seconds: Double
        public var bytes: Int
    }

    /// What a shard file says about itself.
    struct ShardFacts {
        var shard: Shard
        var plan: String
        var mainID: String
    }

    /// Merges the shards in the order given. Every shard is checked before the first is merged,
    /// so a bad one among many stops the merge before it writes anything.
    public func merge(paths: [String]) throws -> [Outcome] {
        let mainMeta = try store.pool.read { db in try Store.meta(db, schema: "main") }
        guard let mainID = mainMeta["file_id"] else {
            throw ShardMergeError.refused(path: store.path, reason: "the main file has no file_id (it is not a Lectern file of schema 6 or later)")
        }
        if mainMeta["shard_of"] != nil {
            throw ShardMergeError.refused(path: store.path, reason: "it is itself a shard file; merge shards into the main file they were made for")
        }
        var planned: [(path: String, facts: ShardFacts)] = []
        for path in paths {
            let facts = try inspect(path: path, mainID: mainID)
            if let first = planned.first, first.facts.plan != facts.plan {
                throw ShardMergeError.refused(path: path, reason: "it was made by another plan (\(facts.plan.prefix(12))) than \(first.path) (\(first.facts.plan.prefix(12))): another shard count or configuration")
            }
            if let plan = mainMeta["shard_plan"], plan != facts.plan {
                throw ShardMergeError.refused(path: path, reason: "it was made by plan \(facts.plan.prefix(12)), and the main file is planned for \(plan.prefix(12)) (another shard count or configuration)")
            }
            planned.append((path, facts))
        }
        return try planned.map { try merge(path: $0.path, facts: $0.facts) }
    }

    /// Checks a shard file without writing anything anywhere.
    func inspect(path: String, mainID: String) throws -> ShardFacts {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw ShardMergeError.refused(path: path, reason: "no such file")
        }
        guard let uri = Store.snapshotURI(path: path) else {
            throw ShardMergeError.refused(path: path, reason: "it has transactions in \(path)-wal: a shard is complete only once its run moved it into place")
        }
        var config = Configuration()
        config.readonly = true
        let queue: DatabaseQueue
        do {
            queue = try DatabaseQueue(path: uri, configuration: config)
        } catch {
            throw ShardMergeError.corrupt(path: path, detail: "\(error)")
        }
        defer { try? queue.close() }
        return try queue.read { db in
            let check: [String]
            do {
                check = try String.fetchAll(db, sql: "PRAGMA quick_check")
            } catch let e as DatabaseError {
                throw ShardMergeError.corrupt(path: path, detail: e.message ?? "\(e.resultCode)")
            }
            guard check == ["ok"] else {
                throw ShardMergeError.corrupt(path: path, detail: "integrity check: " + check.prefix(3).joined(separator: "; "))
            }
            guard try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'lectern_meta'") == true else {
                throw ShardMergeError.refused(path: path, reason: "it is not a Lectern file")
            }
            let applied = try Store.appliedMigrations(db, schema: "main")
            let known = Migrations.identifiers
            if let newer = applied.first(where: { !known.contains($0) }) {
                throw ShardMergeError.refused(path: path, reason: "it has migration \(newer), newer than this lectern knows: merge with the version that made it")
            }
            if applied != known {
                throw ShardMergeError.refused(path: path, reason: "it has schema \(applied.last ?? "none") and the main file \(known.last ?? "none"): make shards with the same lectern as the merge")
            }
            let meta = try Store.meta(db, schema: "main")
            guard let of = meta["shard_of"], let i = meta["shard_index"].flatMap({ Int($0) }),
                  let n = meta["shard_count"].flatMap({ Int($0) }), let plan = meta["shard_plan"] else {
                throw ShardMergeError.refused(path: path, reason: "it is not a shard file (no shard_of/shard_index/shard_count/shard_plan in lectern_meta)")
            }
            guard of == mainID else {
                throw ShardMergeError.refused(path: path, reason: "it was made for another main file (file_id \(of.prefix(12)), this one is \(mainID.prefix(12)))")
            }
            let shard: Shard
            do { shard = try Shard(index: i, count: n) } catch { throw ShardMergeError.refused(path: path, reason: "\(error)") }
            return ShardFacts(shard: shard, plan: plan, mainID: of)
        }
    }

    /// Merges one checked shard in one transaction.
    func merge(path: String, facts: ShardFacts) throws -> Outcome {
        let t0 = Date()
        let (sha, bytes) = try Self.sha256(path: path)
        var outcome = Outcome(path: path, shard: facts.shard, sha256: sha, counts: [:], alreadyMerged: false, seconds: 0, bytes: bytes)
        if let earlier = try store.pool.read({ db in try MergedShards.find(db, sha256: sha) }) {
            outcome.alreadyMerged = true
            log("\(path): shard \(facts.shard) already merged (\(earlier["merged_at"] as String? ?? "?")): nothing added")
            return outcome
        }
        guard let uri = Store.snapshotURI(path: path) else {
            throw ShardMergeError.refused(path: path, reason: "it has transactions in \(path)-wal")
        }
        try store.pool.writeWithoutTransaction { db in
            try db.execute(sql: "ATTACH DATABASE ? AS shard", arguments: [uri])
            defer { try? db.execute(sql: "DETACH DATABASE shard") }
            try db.inTransaction(.immediate) {
                // Found again inside the transaction: another merge may have taken it meanwhile.
                if try MergedShards.find(db, sha256: sha) != nil {
                    outcome.alreadyMerged = true
                    return .commit
                }
                for c in Self.contributors {
                    do { try c.checkShard(db, shard: "shard") } catch let e as ShardMergeError {
                        if case .refused = e { throw e }
                        throw ShardMergeError.refused(path: path, reason: e.description)
                    }
                }
                let foreign = try DocumentShards.foreignDocuments(db, shard: "shard", index: facts.shard.index, count: facts.shard.count)
                if foreign > 0 {
                    throw ShardMergeError.refused(path: path, reason: "\(foreign) of its documents belong to other shards of \(facts.shard.count): it was not made as shard \(facts.shard)")
                }
                var counts: [String: Int] = [:]
                for c in Self.contributors {
                    for (k, v) in try c.mergeShard(db, shard: "shard") { counts[k, default: 0] += v }
                }
                try MergedShards.record(db, sha256: sha, path: path, shard: facts.shard, plan: facts.plan,
                                        host: StoreShardMerge.host(db, shard: "shard"), counts: counts)
                outcome.counts = counts
                return .commit
            }
        }
        outcome.seconds = Date().timeIntervalSince(t0)
        if outcome.alreadyMerged {
            log("\(path): shard \(facts.shard) already merged: nothing added")
        } else {
            let shown = ["documents", "token_counts", "embeddings", "rc_texts", "qa_pairs"].compactMap { k in
                outcome.counts[k].map { "\($0) \(k)" }
            }
            log("\(path): shard \(facts.shard) merged: " + shown.joined(separator: ", ")
                + String(format: " (%.1f s, %.1f MB)", outcome.seconds, Double(bytes) / 1e6))
        }
        return outcome
    }

    /// SHA-256 of a file's bytes, read in 4 MiB pieces.
    static func sha256(path: String) throws -> (String, Int) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ShardMergeError.refused(path: path, reason: "cannot be read")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var total = 0
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            total += chunk.count
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), total)
    }
}
