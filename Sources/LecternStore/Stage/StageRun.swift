import Foundation
import GRDB
import LecternCore

/// Bookkeeping of one run of a resumable stage: a `stage_runs` row that says what ran, with which
/// configuration (as JSON and as a fingerprint), how far it got and how it ended.
///
/// Only ``StageRunner`` begins and ends runs (see ``Stage`` for the contract); stages see a run
/// through the ``StageContext`` it lends them. Each batch's outputs are written with
/// ``commit(processed:skipped:failed:_:)``: one short transaction that also advances this row's
/// counters, so the file never holds outputs the run did not count, or the reverse.
public final class StageRun: @unchecked Sendable {
    public let store: Store
    /// Row id in `stage_runs`.
    public let id: Int64
    /// Stage name (`ingest`, `embed`, `mine`, ...).
    public let stage: String
    /// Fingerprint of the configuration; outputs carry it.
    public let fingerprint: String
    /// The configuration as canonical JSON.
    public let configJSON: String

    private let lock = NSLock()
    private var messages: [String] = []
    private var messageCount = 0
    /// Bad-input messages kept in `stage_runs.error`; the rest are only counted.
    public static let keptMessages = 100

    private init(store: Store, id: Int64, stage: String, fingerprint: String, configJSON: String) {
        self.store = store
        self.id = id
        self.stage = stage
        self.fingerprint = fingerprint
        self.configJSON = configJSON
    }

    /// Starts a run: records it as `running` and marks earlier runs whose process is gone as
    /// `interrupted`. `config` must hold no secrets: it is stored in the file.
    static func begin<C: Encodable>(_ store: Store, stage: String, config: C, inputs: Int = 0) throws -> StageRun {
        let json = try Fingerprint.canonicalJSON(config)
        let fingerprint = fingerprint(stage: stage, configJSON: json)
        let pid = Int64(getpid())
        let id: Int64 = try store.pool.write { db in
            let running = try Row.fetchAll(db, sql: "SELECT id, pid, host FROM stage_runs WHERE status = 'running'")
            for row in running {
                let otherPid: Int64? = row["pid"]
                if let otherPid, otherPid != pid, mayBeAlive(pid: otherPid, host: row["host"]) { continue }
                // Another host's run is never ours to judge (mayBeAlive says so), even with our pid.
                if let host: String = row["host"], host != Self.host { continue }
                try db.execute(sql: "UPDATE stage_runs SET status = 'interrupted', finished_at = ? WHERE id = ?",
                               arguments: [Timestamp.now(), row["id"] as Int64])
            }
            try db.execute(
                sql: """
                INSERT INTO stage_runs(stage, fingerprint, config, status, pid, host, lectern_version, started_at, n_inputs)
                VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)
                """,
                arguments: [stage, fingerprint, json, pid, Self.host, lecternVersion, Timestamp.now(), inputs])
            try store.touchWriter(db)
            return db.lastInsertedRowID
        }
        return StageRun(store: store, id: id, stage: stage, fingerprint: fingerprint, configJSON: json)
    }

    /// The fingerprint of stage `stage` run with the configuration `configJSON` (canonical JSON).
    static func fingerprint(stage: String, configJSON json: String) -> String {
        Fingerprint.hex(of: Array(stage.utf8) + [0] + Array(json.utf8))
    }

    /// Sets the number of pending inputs once known (e.g. after scanning a source).
    public func setInputs(_ n: Int) throws {
        try store.pool.write { db in
            try db.execute(sql: "UPDATE stage_runs SET n_inputs = ? WHERE id = ?", arguments: [n, id])
        }
    }

    /// Writes one batch of outputs and advances the counters, in one short transaction.
    /// A full disk or an I/O error is reported with the stage and the file (``StageWriteError``);
    /// the batch is rolled back, earlier batches stay.
    @discardableResult
    public func commit<T>(processed: Int, skipped: Int = 0, failed: Int = 0, _ write: (Database) throws -> T) throws -> T {
        try StageWriteError.naming(stage: stage, path: store.path) {
            try commitBatch(processed: processed, skipped: skipped, failed: failed, write)
        }
    }

    private func commitBatch<T>(processed: Int, skipped: Int, failed: Int, _ write: (Database) throws -> T) throws -> T {
        try store.pool.write { db in
            let result = try write(db)
            try db.execute(
                sql: """
                UPDATE stage_runs SET n_processed = n_processed + ?, n_skipped = n_skipped + ?, n_failed = n_failed + ?
                WHERE id = ?
                """,
                arguments: [processed, skipped, failed, id])
            return result
        }
    }

    /// Remembers a bad-input message (the first ``keptMessages`` are stored with the run).
    public func note(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        messageCount += 1
        if messages.count < Self.keptMessages { messages.append(message) }
    }

    /// Number of messages noted so far.
    public var noteCount: Int {
        lock.lock(); defer { lock.unlock() }
        return messageCount
    }

    private func noteText() -> String? {
        lock.lock(); defer { lock.unlock() }
        guard !messages.isEmpty else { return nil }
        var text = messages.joined(separator: "\n")
        if messageCount > messages.count { text += "\n... and \(messageCount - messages.count) more" }
        return text
    }

    /// Ends the run as `complete`, with stage-specific counters.
    func finish(counts: [String: Int] = [:]) throws {
        try end(status: "complete", counts: counts, error: noteText())
    }

    /// Ends the run as `failed`, keeping the error that ended it.
    func fail(_ error: Error, counts: [String: Int] = [:]) throws {
        let text = [String(describing: error), noteText()].compactMap { $0 }.joined(separator: "\n")
        try end(status: "failed", counts: counts, error: text)
    }

    /// Ends the run as `interrupted` (cancelled in-process; a killed one is marked so by the next run).
    func interrupt(counts: [String: Int] = [:]) throws {
        try end(status: "interrupted", counts: counts, error: noteText())
    }

    private func end(status: String, counts: [String: Int], error: String?) throws {
        let countsJSON = try Fingerprint.canonicalJSON(counts)
        try store.pool.write { db in
            try db.execute(
                sql: "UPDATE stage_runs SET status = ?, finished_at = ?, counts = ?, error = ? WHERE id = ?",
                arguments: [status, Timestamp.now(), countsJSON, error, id])
        }
    }
}

func processIsAlive(_ pid: pid_t) -> Bool {
    if kill(pid, 0) == 0 { return true }
    return errno == EPERM
}

extension StageRun {
    /// This machine's host name, recorded with every run (`stage_runs.host`): a pid means
    /// something only on the host that recorded it.
    public static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown" : name
    }()

    /// Whether the process of a `running` row may still be running. A run recorded on another
    /// host may be: its pid cannot be checked from here, so it is never marked interrupted from
    /// here. A run with no host (recorded before migration 0002) is judged as one of this host.
    public static func mayBeAlive(pid: Int64, host: String?) -> Bool {
        if let host, host != Self.host { return true }
        guard let p = pid_t(exactly: pid), p > 0 else { return false }
        return processIsAlive(p)
    }
}

/// A write that failed for a reason outside the stage's logic: the disk is full, the file is
/// read-only, an I/O error. Says which stage was writing which file, and that nothing committed
/// before is lost (each batch is its own transaction).
public struct StageWriteError: Error, CustomStringConvertible, Sendable {
    public let stage: String
    public let path: String
    public let detail: String

    public var description: String {
        "\(stage): cannot write \(path): \(detail). The batch in flight was rolled back and every earlier one is kept: "
            + "fix this, then re-run the same command to go on where it stopped."
    }

    /// Runs `body`, turning SQLite's disk-full, read-only and I/O errors into a `StageWriteError`.
    public static func naming<T>(stage: String, path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL: throw StageWriteError(stage: stage, path: path, detail: "the disk is full (SQLITE_FULL)")
            case .SQLITE_READONLY: throw StageWriteError(stage: stage, path: path, detail: "the file is read-only (SQLITE_READONLY)")
            case .SQLITE_IOERR: throw StageWriteError(stage: stage, path: path, detail: "I/O error (\(error.message ?? "SQLITE_IOERR"))")
            default: throw error
            }
        }
    }
}

/// A row of `stage_runs` as other modules read it (only ``StageRunner`` writes the table).
public struct StageRunRecord: FetchableRecord, TableRecord, Sendable {
    public static let databaseTableName = "stage_runs"
    public var id: Int64
    public var stage: String
    public var status: String
    public var pid: Int64?
    public var host: String?
    public var startedAt: String?

    public init(row: Row) throws {
        id = row["id"]
        stage = row["stage"]
        status = row["status"]
        pid = row["pid"]
        host = row["host"]
        startedAt = row["started_at"]
    }

    static let selection: [any SQLSelectable] = [Column("id"), Column("stage"), Column("status"), Column("pid"), Column("host"), Column("started_at")]

    /// The run `id`, if it exists.
    public static func fetch(_ db: Database, id: Int64) throws -> StageRunRecord? {
        try select(selection).filter(Column("id") == id).fetchOne(db)
    }

    /// The runs of `stage` recorded as `running` whose configuration has `value` at the JSON
    /// path `configPath` (for instance `$.fingerprint`: the runs of one embedder).
    public static func running(_ db: Database, stage: String, configPath: String, equals value: String) throws -> [StageRunRecord] {
        try select(selection)
            .filter(Column("stage") == stage && Column("status") == "running")
            .filter(sql: "json_extract(config, ?) = ?", arguments: [configPath, value])
            .order(Column("id")).fetchAll(db)
    }

    /// The statement a person runs to mark this run interrupted when its process is known to be
    /// dead on another host (Lectern never judges another host's pid).
    public var markInterruptedSQL: String { "UPDATE stage_runs SET status = 'interrupted' WHERE id = \(id)" }

    /// Whether the process of this run, recorded as running, may still be alive (``StageRun/mayBeAlive(pid:host:)``).
    public var mayBeAlive: Bool {
        guard status == "running", let pid else { return false }
        return StageRun.mayBeAlive(pid: pid, host: host)
    }
}
