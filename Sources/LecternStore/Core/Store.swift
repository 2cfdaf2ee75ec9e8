import Foundation
import GRDB
import GRDBSQLite
import LecternCore
import LecternVec

/// One Lectern file: a SQLite database in WAL mode holding every artifact of the method.
///
/// `Store` is the one entry point to a file. It checks that the file is a Lectern file whose
/// schema this binary understands *before* changing anything, applies pending migrations, and
/// hands out a GRDB `DatabasePool` (one writer, concurrent readers) configured the same way for
/// every connection: foreign keys on, a busy timeout, `synchronous = NORMAL` (in WAL mode a
/// `kill -9` loses no committed transaction), and Lectern's SQL functions registered.
///
/// ## Topics
/// - ``open(path:)``: an existing file.
/// - ``create(path:domain:)``: `lectern init`, idempotent.
/// - ``pool``: reads and writes.
/// - ``StageRun``: bookkeeping of a resumable stage.
public final class Store: @unchecked Sendable {
    /// Path of the file as given.
    public let path: String
    /// Connections to the file. Keep write transactions short: readers never wait, writers queue.
    public let pool: DatabasePool

    /// Registers Lectern's vector extension (the `vec_*` functions and the `lectern_vec` module)
    /// with SQLite once per process, so every connection opened afterwards has it.
    static let registerExtensions: Void = {
        sqlite3_auto_extension(lecternVecAutoExtension)
    }()

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// How a command uses the file.
    public enum Access: Sendable {
        /// Stages: read and write; pending migrations are applied.
        case write
        /// Commands that only look (`status`, `sql` on a read-only file, `export`): the file is
        /// opened read-only, so a `chmod 444` file or one in a read-only folder can be inspected.
        /// A file that still needs a migration is upgraded first when it can be written, and
        /// refused with ``StoreError/needsUpgrade(path:fileVersion:latestVersion:)`` when not.
        case read
    }

    /// Opens an existing Lectern file; with `.write` (stages) applies pending migrations.
    /// Fails, changing nothing, if the file is missing, is not a Lectern file, or has a newer schema.
    public static func open(path: String, access: Access = .write) throws -> Store {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.missing(path: path) }
        let state = try inspect(path: path)
        guard state.isLectern else {
            throw StoreError.notLectern(path: path, detail: state.tableCount == 0 ? "it is empty" : "it has no lectern_meta table")
        }
        if access == .read {
            let pending = Migrations.identifiers.contains { !state.applied.contains($0) }
            if !pending { return Store(path: path, pool: try openReadOnlyPool(path: path)) }
            guard isWritable(path: path) else {
                throw StoreError.needsUpgrade(path: path, fileVersion: state.userVersion, latestVersion: Migrations.latestVersion)
            }
        }
        let store = try Store(path: path, pool: openPool(path: path))
        try store.migrate(domain: nil)
        return store
    }

    /// Whether this process may write the file and create its `-wal` and `-shm` beside it.
    public static func isWritable(path: String) -> Bool {
        let dir = (path as NSString).deletingLastPathComponent
        return access(path, W_OK) == 0 && access(dir.isEmpty ? "." : dir, W_OK) == 0
    }

    /// Creates a Lectern file for a domain, or opens it if it already exists for that domain
    /// (`lectern init` is idempotent). A file for another domain is an error.
    public static func create(path: String, domain: String) throws -> Store {
        if FileManager.default.fileExists(atPath: path) {
            let state = try inspect(path: path)
            if !state.isLectern && state.tableCount > 0 {
                throw StoreError.notLectern(path: path, detail: "it already holds \(state.tableCount) tables of another application")
            }
        } else {
            let dir = (path as NSString).deletingLastPathComponent
            let parent = dir.isEmpty ? "." : dir
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
                throw StoreError.unwritable(path: path, detail: "directory \(parent) does not exist")
            }
            guard FileManager.default.isWritableFile(atPath: parent) else {
                throw StoreError.unwritable(path: path, detail: "directory \(parent) is not writable")
            }
        }
        let store = try Store(path: path, pool: openPool(path: path))
        try store.migrate(domain: domain)
        return store
    }

    /// A value of `lectern_meta`.
    public func meta(_ key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM lectern_meta WHERE key = ?", arguments: [key]) }
    }

    /// Sets a value of `lectern_meta` (a shard file's `shard_*` keys, a planned run's `shard_plan`).
    public func setMeta(_ key: String, _ value: String) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                           arguments: [key, value])
        }
    }

    /// Every `lectern_meta` value of a file attached under `schema` (a shard being merged).
    public static func meta(_ db: Database, schema: String) throws -> [String: String] {
        var meta: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT key, value FROM \(schema).lectern_meta") {
            if let k = String.fromDatabaseValue(row["key"] as DatabaseValue), let v = String.fromDatabaseValue(row["value"] as DatabaseValue) {
                meta[k] = v
            }
        }
        return meta
    }

    /// The migrations applied to a file attached under `schema`.
    public static func appliedMigrations(_ db: Database, schema: String) throws -> [String] {
        let has = try Bool.fetchOne(db, sql: "SELECT count(*) > 0 FROM \(schema).sqlite_master WHERE name = 'grdb_migrations'") ?? false
        return has ? try String.fetchAll(db, sql: "SELECT identifier FROM \(schema).grdb_migrations ORDER BY identifier") : []
    }

    /// `file:PATH?immutable=1` for attaching a file that no one writes (a snapshot, a finished
    /// shard), or nil when it has un-checkpointed WAL content, which such an open would ignore.
    public static func snapshotURI(path: String) -> String? { immutableURI(path: path) }

    /// The domain the file was initialised for (e.g. `biomedicine`).
    public var domain: String? { (try? meta("domain")) ?? nil }

    /// Records that this binary wrote the file. Called by every writing stage.
    public func touchWriter(_ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO lectern_meta(key, value) VALUES ('last_written_by', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            arguments: ["lectern \(lecternVersion)"])
    }

    // MARK: - Opening

    struct FileState {
        var tableCount = 0
        var isLectern = false
        var applied: [String] = []
        var userVersion = 0
        var writtenBy: String?
    }

    /// Reads what the file is, through a read-only connection, so a refused file stays untouched.
    static func inspect(path: String) throws -> FileState {
        _ = registerExtensions
        do {
            return try inspect(path: path, openPath: path)
        } catch let error as DatabaseError where [.SQLITE_CANTOPEN, .SQLITE_READONLY].contains(error.resultCode) {
            // A WAL-mode file in a folder we cannot write: SQLite cannot create the -shm file.
            // Without pending WAL content the file alone is complete, and an immutable open reads it.
            guard let uri = immutableURI(path: path) else {
                throw StoreError.unreadable(path: path, detail: readOnlyFolderDetail(path: path, error: error))
            }
            do {
                return try inspect(path: path, openPath: uri)
            } catch let error as DatabaseError {
                throw StoreError.unreadable(path: path, detail: error.message ?? "\(error.resultCode)")
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_NOTADB {
            throw StoreError.notLectern(path: path, detail: "not a SQLite database")
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.notLectern(path: path, detail: "\(error)")
        }
    }

    private static func inspect(path: String, openPath: String) throws -> FileState {
        var config = Configuration()
        config.readonly = true
        config.label = "lectern-inspect"
        let queue = try DatabaseQueue(path: openPath, configuration: config)
        defer { try? queue.close() }
        return try queue.read { db in
            var state = FileState()
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
            state.tableCount = tables.count
            state.isLectern = tables.contains("lectern_meta")
            state.userVersion = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            if tables.contains("grdb_migrations") {
                state.applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY identifier")
            }
            if state.isLectern {
                state.writtenBy = try String.fetchOne(db, sql: "SELECT value FROM lectern_meta WHERE key = 'last_written_by'")
            }
            let known = Migrations.identifiers
            if state.applied.contains(where: { !known.contains($0) }) || state.userVersion > Migrations.latestVersion {
                throw StoreError.newerSchema(path: path, fileMigrations: state.applied, knownMigrations: known, writtenBy: state.writtenBy)
            }
            return state
        }
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(30)
        config.label = "lectern"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            db.add(function: shardFunction)
        }
        return config
    }

    /// `lectern_shard(content_hash, count)`: the shard that owns a document (``Shard/of(contentHash:count:)``),
    /// so `SELECT lectern_shard(content_hash, 8), count(*) FROM documents GROUP BY 1` shows a split.
    static let shardFunction = DatabaseFunction("lectern_shard", argumentCount: 2, pure: true) { values -> DatabaseValueConvertible? in
        guard let hash = Data.fromDatabaseValue(values[0]), let count = Int.fromDatabaseValue(values[1]),
              count >= 1, count <= Shard.maxCount else { return nil }
        return Shard.of(contentHash: hash, count: count)
    }

    static func openPool(path: String) throws -> DatabasePool {
        _ = registerExtensions
        do {
            return try DatabasePool(path: path, configuration: configuration())
        } catch let error as DatabaseError where [.SQLITE_CANTOPEN, .SQLITE_READONLY, .SQLITE_PERM].contains(error.resultCode) {
            throw StoreError.unwritable(path: path, detail: error.message ?? "\(error.resultCode)")
        }
    }

    /// A read-only pool. In a read-only folder SQLite cannot create the WAL index (`-shm`), so
    /// when no WAL content is pending the file is opened `immutable=1` instead (safe then: the
    /// database file alone holds every committed transaction).
    static func openReadOnlyPool(path: String) throws -> DatabasePool {
        _ = registerExtensions
        var config = configuration()
        config.readonly = true
        do {
            let pool = try DatabasePool(path: path, configuration: config)
            _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM lectern_meta") }
            return pool
        } catch let error as DatabaseError where [.SQLITE_CANTOPEN, .SQLITE_READONLY].contains(error.resultCode) {
            guard let uri = immutableURI(path: path) else {
                throw StoreError.unreadable(path: path, detail: readOnlyFolderDetail(path: path, error: error))
            }
            do {
                let pool = try DatabasePool(path: uri, configuration: config)
                _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM lectern_meta") }
                return pool
            } catch let error as DatabaseError {
                throw StoreError.unreadable(path: path, detail: error.message ?? "\(error.resultCode)")
            }
        }
    }

    /// `file:PATH?immutable=1`, or nil when the file has un-checkpointed WAL content (which an
    /// immutable open would silently ignore).
    static func immutableURI(path: String) -> String? {
        var st = stat()
        if stat(path + "-wal", &st) == 0 && st.st_size > 0 { return nil }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        guard let encoded = absolute.addingPercentEncoding(withAllowedCharacters: allowed) else { return nil }
        return "file:\(encoded)?immutable=1"
    }

    private static func readOnlyFolderDetail(path: String, error: DatabaseError) -> String {
        var st = stat()
        if stat(path + "-wal", &st) == 0 && st.st_size > 0 {
            return "its folder is read-only and \(path)-wal holds transactions not yet in the file; "
                + "open it once where it can be written, or copy the file and its -wal elsewhere"
        }
        return error.message ?? "\(error.resultCode)"
    }

    /// Applies pending migrations and records versions; with a domain, records it (init).
    private func migrate(domain: String?) throws {
        let migrator = Migrations.migrator()
        let pending: Bool = try pool.read { db in try !migrator.hasCompletedMigrations(db) }
        if pending {
            try migrator.migrate(pool)
        } else if domain == nil {
            return  // nothing to record: opening for reading writes nothing
        }
        try pool.write { db in
            let now = Timestamp.now()
            if let domain {
                if let existing = try String.fetchOne(db, sql: "SELECT value FROM lectern_meta WHERE key = 'domain'"),
                   existing != domain {
                    throw StoreError.domainMismatch(path: path, existing: existing, requested: domain)
                }
                try db.execute(sql: "INSERT OR IGNORE INTO lectern_meta(key, value) VALUES ('domain', ?)", arguments: [domain])
            }
            if try String.fetchOne(db, sql: "SELECT value FROM lectern_meta WHERE key = 'created_at'") == nil {
                try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('created_at', ?), ('created_by', ?)",
                               arguments: [now, "lectern \(lecternVersion)"])
            }
            if pending || domain != nil {
                try db.execute(sql: "PRAGMA user_version = \(Migrations.latestVersion)")
                try db.execute(
                    sql: "INSERT INTO lectern_meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [String(Migrations.latestVersion)])
                try touchWriter(db)
            }
        }
    }
}
