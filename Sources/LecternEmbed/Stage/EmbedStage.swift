import Dispatch
import Foundation
import GRDB
import GRDBSQLite
import LecternCore
import LecternIngest
import LecternStore

/// `lectern embed`: one vector per document for one embedder, resumable.
///
/// The embedder gets an `embedders` row (keyed by its fingerprint, so a second embedder
/// coexists with the first); its vectors go into the `lectern_vec` table for its dimension,
/// `lectern_vectors_<dim>` (cosine, partition key `embedder` = the embedder id), and each
/// document gets an `embeddings` row naming the vector's rowid. Pending documents are those
/// without an `embeddings` row for this embedder. They are embedded in chunks sized to take a
/// fraction of ``commitInterval``, and the vectors are committed (one transaction) every
/// ``batchSize`` documents or every ``commitInterval`` seconds, whichever comes first: a
/// `kill -9` loses at most a few seconds of work and a re-run completes it.
///
/// The text embedded is the document's `text`, preceded by its title and a blank line when it
/// has one (the same layout the tokens stage counts). An embedder that reads only a prefix
/// (``Embedder/prefixCharacters``: MiniLM truncating at 256 tokens) is given only as many
/// leading characters as determine its vector, so a 60 MB document costs what a page does.
///
/// Two runs of one embedder on one file at once are refused: the second says which process is
/// already embedding with it.
public final class EmbedStage: Stage {
    public let store: Store
    public let embedder: any Embedder
    /// Kind stored in `embedders.kind`: `builtin` or `openai`.
    public let kind: String
    /// Endpoint stored in `embedders.endpoint` (remote embedders; never a secret).
    public let endpoint: String?
    /// Most documents per transaction.
    public var batchSize = 256
    /// Most seconds between two commits (while documents are being embedded).
    public var commitInterval: Double = 5
    /// Progress output; nil for none.
    public var progress = true
    /// Seconds on a monotonic clock (tests inject their own).
    var clock: () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
    /// Called after each commit with the documents committed so far (tests).
    var onCommit: ((Int) -> Void)?

    public init(store: Store, embedder: any Embedder, kind: String, endpoint: String? = nil) {
        self.store = store
        self.embedder = embedder
        self.kind = kind
        self.endpoint = endpoint
    }

    /// What one run did.
    public struct Summary: StageOutput, Sendable, Equatable {
        public var embedderID: Int64
        /// The embedder's fingerprint: how later stages (cluster) name the vectors to use.
        public var fingerprint: String
        public var vectorTable: String
        public var embedded: Int
        public var alreadyDone: Int
        public var counts: [String: Int] { ["embedded": embedded, "already_done": alreadyDone] }
    }

    public struct RunConfig: Codable { var embedder: String; var fingerprint: String; var kind: String }

    public var vectorTable: String { "lectern_vectors_\(embedder.dimension)" }

    /// When to commit and how many documents to embed at a time: every `maxDocuments` or every
    /// `maxSeconds`, whichever comes first; chunks sized from the measured rate to take about a
    /// third of `maxSeconds`, so a commit is never much later than due.
    struct CommitPolicy {
        var maxDocuments: Int
        var maxSeconds: Double
        var lastCommit: Double
        /// Documents per chunk to start with, before a rate is known.
        static let firstChunk = 16

        /// Whether `pending` uncommitted documents at time `now` should be committed.
        func due(pending: Int, now: Double) -> Bool {
            pending >= maxDocuments || (pending > 0 && now - lastCommit >= maxSeconds)
        }

        /// Documents to embed next, given the seconds per document measured so far (nil: none yet)
        /// and the documents already waiting for the commit.
        func nextChunk(secondsPerDocument: Double?, pending: Int) -> Int {
            let room = max(1, maxDocuments - pending)
            guard let spd = secondsPerDocument, spd > 0 else { return min(room, Self.firstChunk) }
            return max(1, min(room, Int(maxSeconds / 3 / spd)))
        }
    }

    public static let name = "embed"

    /// Embeds every document that has no vector for this embedder yet.
    public func run() throws -> Summary { try StageRunner.run(self) }

    /// Refuses a second live run of this embedder, registers it and lists the pending documents.
    public func prepare() throws -> StagePlan<RunConfig, (embedderID: Int64, pending: [Int64], total: Int)> {
        let table = vectorTable
        try refuseConcurrentRun()
        let embedderID = try registerEmbedder(table: table)
        let pending = try store.pool.read { db in
            try StoredDocument.ids(db, where: """
                NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.embedder_id = ? AND e.document_id = documents.id)
                """, [embedderID])
        }
        let total = try store.pool.read { db in try StoredDocument.count(db) }
        return StagePlan(configuration: RunConfig(embedder: embedder.name, fingerprint: embedder.fingerprint, kind: kind),
                         pendingInputs: pending.count, prepared: (embedderID, pending, total))
    }

    /// Embeds the pending documents in chunks, committing by ``CommitPolicy``.
    public func execute(_ work: StagePlan<RunConfig, (embedderID: Int64, pending: [Int64], total: Int)>, in run: StageContext) throws -> Summary {
        let table = vectorTable
        let (embedderID, pending, total) = work.prepared
        let runID = run.runID
        Self.liveRuns.withLock { _ = $0.insert(runID) }
        defer { Self.liveRuns.withLock { _ = $0.remove(runID) } }
        let bar = progress ? ProgressReporter(label: "embed", total: pending.count, unit: "docs") : nil
        let dim = embedder.dimension
        var policy = CommitPolicy(maxDocuments: max(1, batchSize), maxSeconds: commitInterval, lastCommit: clock())
        var waiting: (docs: [Int64], vectors: [Float], tokens: [Int?]) = ([], [], [])
        var committed = 0
        func commit() throws {
            let (docIDs, vectors, nTokens) = waiting
            do {
                try run.commit(processed: docIDs.count) { db in
                    var next = (try Int64.fetchOne(db, sql: """
                        SELECT max(e.vector_rowid) FROM embeddings e JOIN embedders m ON m.id = e.embedder_id
                        WHERE m.vector_table = ?
                        """, arguments: [table]) ?? 0) + 1
                    for (k, doc) in docIDs.enumerated() {
                        let blob = vectors[(k * dim)..<((k + 1) * dim)].withUnsafeBytes { Data($0) }
                        try db.execute(sql: "INSERT INTO \(table)(rowid, embedding, embedder) VALUES (?, ?, ?)",
                                       arguments: [next, blob, embedderID])
                        try db.execute(sql: "INSERT INTO embeddings(embedder_id, document_id, vector_rowid, n_tokens) VALUES (?, ?, ?, ?)",
                                       arguments: [embedderID, doc, next, nTokens[k]])
                        next += 1
                    }
                }
            } catch let e as DatabaseError where e.resultCode == .SQLITE_CONSTRAINT || (e.message ?? "").contains("UNIQUE constraint") {
                // Rows this run did not write: another run embedded the same documents meanwhile.
                throw EmbedError.concurrentRun("another `lectern embed` run is embedding with this embedder "
                    + "(\(embedder.name), fingerprint \(embedder.fingerprint.prefix(12))) in \(store.path) and wrote "
                    + "some of the same documents first; let it finish, then run again to embed what is missing (\(e.message ?? "\(e)"))")
            }
            committed += docIDs.count
            bar?.advance(by: docIDs.count)
            waiting = ([], [], [])
            policy.lastCommit = clock()
            onCommit?(committed)
        }
        do {
            var i = 0
            var secondsPerDocument: Double?
            var embeddedSeconds = 0.0, embeddedDocs = 0
            while i < pending.count {
                let n = policy.nextChunk(secondsPerDocument: secondsPerDocument, pending: waiting.docs.count)
                let ids = Array(pending[i..<min(pending.count, i + n)])
                let t0 = clock()
                let (docIDs, texts) = try readTexts(ids)
                let (vectors, counts) = try embedder.embedCounting(texts)
                embeddedSeconds += clock() - t0
                embeddedDocs += ids.count
                secondsPerDocument = embeddedSeconds / Double(embeddedDocs)
                waiting.docs += docIDs
                waiting.vectors += vectors
                waiting.tokens += counts.map { $0.map { Int?($0) } } ?? Array(repeating: nil, count: texts.count)
                i += ids.count
                if policy.due(pending: waiting.docs.count, now: clock()) || i >= pending.count { try commit() }
            }
        } catch {
            bar?.finish(failed: true)
            throw error
        }
        bar?.finish()
        return Summary(embedderID: embedderID, fingerprint: embedder.fingerprint, vectorTable: table,
                       embedded: pending.count, alreadyDone: total - pending.count)
    }

    /// The texts of documents `ids` (in id order), or of as much of each as determines its vector.
    func readTexts(_ ids: [Int64]) throws -> (ids: [Int64], texts: [String]) {
        let layout = DocumentText.render(title:text:)
        guard let first = embedder.prefixBytes else {
            let docs = try store.pool.read { db in try StoredDocument.fetch(db, ids: ids) }
            return (docs.map(\.id), docs.map(\.rendered))
        }
        // Long texts: only as much of each as determines its vector leaves the file.
        let docs = try store.pool.read { db in try StoredDocument.titles(db, ids: ids) }
        var texts: [String] = []
        for d in docs {
            var n = first
            var (text, whole) = try store.pool.read { db in try StoredDocument.textPrefix(db, id: d.id, bytes: n) }
            // Not enough: read twice as much, until the prefix determines the vector or is the whole text.
            while !whole, !embedder.prefixDetermines(layout(d.title, text)) {
                n *= 2
                (text, whole) = try store.pool.read { db in try StoredDocument.textPrefix(db, id: d.id, bytes: n) }
            }
            texts.append(layout(d.title, text))
        }
        return (docs.map(\.id), texts)
    }

    /// Runs begun by stages of this process and not yet ended.
    static let liveRuns = LockedSet()
    final class LockedSet: @unchecked Sendable {
        private let lock = NSLock()
        private var ids: Set<Int64> = []
        func withLock<T>(_ body: (inout Set<Int64>) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(&ids) }
    }

    /// Throws when another live process (or another stage in this one) is running this
    /// embedder on this file: both would embed the same pending documents and collide.
    func refuseConcurrentRun() throws {
        let me = getpid()
        let others = try store.pool.read { db in
            try StageRunRecord.running(db, stage: "embed", configPath: "$.fingerprint", equals: embedder.fingerprint)
        }
        for row in others {
            guard let pid = row.pid else { continue }
            let id = row.id
            // Our own pid: live only if a stage of this process began that run (not a dead
            // process whose pid this one reuses).
            let host = row.host
            let here = host == nil || host == StageRun.host
            let alive = here && pid == Int64(me) ? Self.liveRuns.withLock { $0.contains(id) }
                                                 : StageRun.mayBeAlive(pid: pid, host: host)
            guard alive else { continue }
            let started = row.startedAt ?? "?"
            let elsewhere = here ? "" : " on host \(host ?? "?") (if that run is dead, mark it: \(row.markInterruptedSQL))"
            throw EmbedError.concurrentRun("another `lectern embed` run (process \(pid)\(elsewhere), stage run \(id), "
                + "started \(started)) is embedding with this embedder (\(embedder.name), fingerprint "
                + "\(embedder.fingerprint.prefix(12))) in \(store.path); wait for it to finish or stop it, then run again")
        }
    }

    /// The embedder's id, inserting its row and creating its vector table on first use.
    func registerEmbedder(table: String) throws -> Int64 {
        try store.pool.write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM embedders WHERE fingerprint = ?", arguments: [embedder.fingerprint]) {
                return id
            }
            try db.execute(sql: """
                CREATE VIRTUAL TABLE IF NOT EXISTS \(table) USING lectern_vec(
                    embedding float[\(embedder.dimension)] distance_metric=cosine, embedder integer partition key)
                """)
            let model = (embedder as? MiniLMEmbedder)?.configuration.model ?? embedder.name
            try db.execute(sql: """
                INSERT INTO embedders(name, kind, model, endpoint, dim, metric, vector_table, fingerprint, config, created_at)
                VALUES (?, ?, ?, ?, ?, 'cosine', ?, ?, ?, ?)
                """, arguments: [embedder.name, kind, model, endpoint, embedder.dimension, table,
                                 embedder.fingerprint, embedder.configJSON, Timestamp.now()])
            return db.lastInsertedRowID
        }
    }
}
