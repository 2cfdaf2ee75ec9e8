import ArgumentParser
import Foundation
import GRDB
import LecternShard
import LecternStore

/// `lectern merge MAIN SHARD...`
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Fold shard files (made with --shard I/N) into the main file, as if one machine had done their work.",
        discussion: """
        Each shard is attached read-only and merged in one transaction: rows are inserted by their natural keys \
        (content hash, fingerprints), ids remapped, vectors copied into the main file's vector table, and the shard \
        recorded by the SHA-256 of its bytes. Merging a shard twice adds nothing; a killed merge resumes; shards \
        merged in any order give the same rows. A shard of another main file, another plan (shard count or \
        configuration), another schema, with rows of a global stage, or damaged is refused, changing nothing. \
        A folder stands for every *.lectern file in it. See docs/scale-out.md.
        """)

    @Argument(help: "The main Lectern file.")
    var file: String

    @Argument(help: "Shard files, or folders of them.")
    var shards: [String]

    @Flag(help: "Fail unless every shard of the plan (0 to N-1) is merged once these are.")
    var requireAll = false

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give at least one shard file or folder") }
    }

    func run() throws {
        var paths: [String] = []
        for s in shards {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: s, isDirectory: &isDirectory) else {
                throw CLIError("\(s): no such shard file or folder")
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: s).filter { $0.hasSuffix(".lectern") }.sorted()
                if names.isEmpty { throw CLIError("\(s): no shard files (*.lectern) in this folder") }
                paths += names.map { (s as NSString).appendingPathComponent($0) }
            } else {
                paths.append(s)
            }
        }
        let store = try Store.open(path: file)
        let t0 = Date()
        let outcomes: [ShardMerger.Outcome]
        do {
            outcomes = try ShardMerger(store: store).merge(paths: paths)
        } catch let e as ShardMergeError {
            throw CLIError(e.description)
        }
        let merged = outcomes.filter { !$0.alreadyMerged }
        let rows = merged.reduce(0) { $0 + $1.counts.values.reduce(0, +) }
        let bytes = merged.reduce(0) { $0 + $1.bytes }
        let seconds = Date().timeIntervalSince(t0)
        print(String(format: "%@: %d shards merged, %d already merged before; %d rows, %.1f MB in %.1f s (%.0f rows/s, %.1f MB/s)",
                     file, merged.count, outcomes.count - merged.count, rows, Double(bytes) / 1e6, seconds,
                     Double(rows) / max(seconds, 1e-9), Double(bytes) / 1e6 / max(seconds, 1e-9)))
        if requireAll, let count = outcomes.first?.shard.count {
            let done = try store.pool.read { db -> Set<Int> in
                let plan: String? = try MergedShards.find(db, sha256: outcomes[0].sha256)?["plan"]
                return try MergedShards.indexes(db, plan: plan ?? "")
            }
            let missing = (0..<count).filter { !done.contains($0) }
            if !missing.isEmpty {
                throw CLIError("\(file): shards \(missing.map(String.init).joined(separator: ", ")) of \(count) are not merged yet: run them, then merge again")
            }
        }
    }
}
