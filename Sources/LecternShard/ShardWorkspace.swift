import Foundation
import GRDB
import LecternCore
import LecternIngest
import LecternStore

/// The file one shard task writes: created on node-local disk, seeded with the shard's documents
/// from a read-only snapshot of the main file, and moved into the shared shard folder only when
/// complete.
///
/// WAL mode does not work over network file systems, so a shard is never written where other
/// machines look: it lives in the scratch folder (node-local: `$LECTERN_SCRATCH`, `$TMPDIR`, or
/// `/tmp`) and is turned into one self-contained file (journal mode DELETE, no `-wal`) before it
/// is moved, atomically, into the shard folder. A shard file in the shard folder is therefore
/// always complete; a task that finds it there has nothing to do, and a task killed mid-way
/// resumes from its scratch file when it runs again on the same node, or starts over elsewhere.
public struct ShardWorkspace {
    /// The shard's file while it is written (scratch).
    public let store: Store
    public let shard: Shard
    /// Where the complete file goes.
    public let finalPath: String
    public let scratchPath: String
    /// Documents copied from the main file.
    public let seeded: Int

    /// The folder shards of `main` go to by default: `MAIN.shards/PLAN` beside it (the plan's
    /// first 12 hex digits), so the shards of two plans never mix.
    public static func defaultFolder(main: String, plan: String) -> String {
        ((main + ".shards") as NSString).appendingPathComponent(String(plan.prefix(12)))
    }

    /// The node-local folder shard files are written in.
    public static func defaultScratch() -> String {
        let env = ProcessInfo.processInfo.environment
        return env["LECTERN_SCRATCH"] ?? env["TMPDIR"] ?? "/tmp"
    }

    /// The complete shard file of `shard` in `folder`, if it is there.
    public static func completed(folder: String, shard: Shard) -> String? {
        let path = (folder as NSString).appendingPathComponent(shard.fileName)
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Opens the shard's scratch file (resuming one of the same main file, shard and plan), or
    /// returns nil when the complete shard file is already in `folder`.
    ///
    /// The main file must exist (`lectern init`): its `file_id` names the shards made for it. It
    /// is read through an immutable snapshot, which must hold every committed transaction, so
    /// pending WAL content is checkpointed first (the Slurm launcher does this before it
    /// submits; here it is a fallback for runs on one machine).
    public static func open(main: String, shard: Shard, plan: String, folder: String? = nil, scratch: String? = nil,
                            log: (String) -> Void = { FileHandle.standardError.write(Data(("[shard] " + $0 + "\n").utf8)) }) throws -> ShardWorkspace? {
        let folder = folder ?? defaultFolder(main: main, plan: plan)
        if let done = completed(folder: folder, shard: shard) {
            log("\(done) is complete: shard \(shard) has nothing to do")
            return nil
        }
        guard FileManager.default.fileExists(atPath: main) else {
            throw ShardError("\(main): the main file does not exist: create it first (`lectern init \(main) --domain DOMAIN`), then run the shards")
        }
        // The main file is read only through an immutable snapshot (no -shm, no locks: safe on a
        // network file system), which must hold every committed transaction and every migration.
        func snapshot() throws -> (meta: [String: String], documents: Int, current: Bool)? {
            guard let uri = Store.snapshotURI(path: main) else { return nil }
            var config = Configuration()
            config.readonly = true
            let queue = try DatabaseQueue(path: uri, configuration: config)
            defer { try? queue.close() }
            return try queue.read { db in
                let current = try Store.appliedMigrations(db, schema: "main") == Migrations.identifiers
                return (try Store.meta(db, schema: "main"), current ? try StoredDocument.count(db) : 0, current)
            }
        }
        var seen = try snapshot()
        if seen == nil || seen?.current == false || seen?.meta["file_id"] == nil {
            // Pending WAL content or an older schema: checkpoint (and upgrade) through a writer.
            let writer = try Store.open(path: main)
            try writer.pool.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            try writer.pool.close()
            seen = try snapshot()
        }
        guard let seen, seen.current, let fileID = seen.meta["file_id"] else {
            throw ShardError("\(main): its -wal holds transactions that could not be checkpointed (another process is writing it?): "
                + "let it finish, then run the shard again")
        }
        if seen.meta["shard_of"] != nil {
            throw ShardError("\(main) is itself a shard file: give the main file")
        }
        let domain = seen.meta["domain"], hasDocuments = seen.documents > 0

        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let scratchFolder = scratch ?? defaultScratch()
        try FileManager.default.createDirectory(atPath: scratchFolder, withIntermediateDirectories: true)
        let base = (main as NSString).lastPathComponent
        let scratchPath = (scratchFolder as NSString).appendingPathComponent("\(base).\(fileID.prefix(8)).\(shard.fileName)")
        if FileManager.default.fileExists(atPath: scratchPath) {
            let old = try? Store.open(path: scratchPath)
            let same = try old.map { s -> Bool in
                let meta = try s.pool.read { db in try Store.meta(db, schema: "main") }
                try s.pool.close()
                return meta["shard_of"] == fileID && meta["shard_index"] == String(shard.index)
                    && meta["shard_count"] == String(shard.count) && meta["shard_plan"] == plan
            } ?? false
            if same {
                log("resuming \(scratchPath)")
            } else {
                log("\(scratchPath) belongs to another plan or file: starting over")
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratchPath + suffix) }
            }
        }
        let store = try Store.create(path: scratchPath, domain: domain ?? "")
        try store.setMeta("shard_of", fileID)
        try store.setMeta("shard_index", String(shard.index))
        try store.setMeta("shard_count", String(shard.count))
        try store.setMeta("shard_plan", plan)
        var seeded = 0
        if hasDocuments, let uri = Store.snapshotURI(path: main) {
            try store.pool.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS snapshot", arguments: [uri])
                defer { try? db.execute(sql: "DETACH DATABASE snapshot") }
                try db.inTransaction(.immediate) {
                    try DocumentShards.seed(db, from: "snapshot", shard: shard)
                    return .commit
                }
            }
            seeded = try store.pool.read { db in try StoredDocument.count(db) }
            log("shard \(shard): \(seeded) documents of \(main) in \(scratchPath)")
        }
        return ShardWorkspace(store: store, shard: shard, finalPath: (folder as NSString).appendingPathComponent(shard.fileName),
                              scratchPath: scratchPath, seeded: seeded)
    }

    /// Makes the scratch file one self-contained file and moves it into the shard folder
    /// atomically (a rename; across file systems a copy under a temporary name, synced, then
    /// renamed). Returns the complete file's path.
    @discardableResult
    public func finish() throws -> String {
        try store.pool.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try store.pool.close()
        do {
            let queue = try DatabaseQueue(path: scratchPath)
            try queue.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") }
            try queue.close()
        }
        if rename(scratchPath, finalPath) == 0 { return finalPath }
        guard errno == EXDEV else {
            throw ShardError("cannot move \(scratchPath) to \(finalPath): \(String(cString: strerror(errno)))")
        }
        let partial = finalPath + ".partial.\(getpid())"
        try? FileManager.default.removeItem(atPath: partial)
        try FileManager.default.copyItem(atPath: scratchPath, toPath: partial)
        let fd = Foundation.open(partial, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
        guard rename(partial, finalPath) == 0 else {
            throw ShardError("cannot move \(partial) to \(finalPath): \(String(cString: strerror(errno)))")
        }
        try? FileManager.default.removeItem(atPath: scratchPath)
        return finalPath
    }
}
