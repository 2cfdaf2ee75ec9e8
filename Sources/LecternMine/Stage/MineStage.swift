import Foundation
import GRDB
import LecternIngest
import LecternKernels
import LecternStore

/// `mine` as a resumable stage over a Lectern file: one reading-comprehension text per document
/// in `rc_texts`, its tasks in `rc_tasks`, both tagged with the run's fingerprint.
///
/// The fingerprint covers the miner's whole identity (configuration, seed, templates version,
/// token counter, domain words), so a re-run with the same settings does only the documents
/// that have no text yet, and produces exactly what an uninterrupted run would: every random
/// choice depends only on the seed and the document's content hash, never on its rowid, batch
/// boundaries or threads (so a file mined in shards and merged matches one mined in one go).
///
/// ## Topics
/// - ``init(store:miner:batchSize:threads:)``
/// - ``run(progress:)``
public struct MineStage: Stage, Sendable {
    public let store: Store
    public let miner: Miner
    /// Documents per transaction.
    public let batchSize: Int
    /// Worker threads (both cores by default).
    public let threads: Int
    /// Progress output.
    var showProgress = true

    public init(store: Store, miner: Miner, batchSize: Int = 256, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.store = store; self.miner = miner
        self.batchSize = max(1, batchSize); self.threads = max(1, threads)
    }

    /// What a run did.
    public struct Summary: StageOutput, Sendable, Equatable {
        public var fingerprint: String
        public var pending: Int
        public var mined: Int
        public var tasks: Int
        /// Documents mined without `unwrap` that look hard-wrapped (``HardWrap/looksHardWrapped(_:)``).
        public var hardWrapped = 0
        public var counts: [String: Int] { ["texts": mined, "tasks": tasks] }
    }

    public static let name = "mine"

    /// Mines every document without a text for this miner's fingerprint.
    @discardableResult
    public func run(progress: Bool = true) throws -> Summary {
        var stage = self
        stage.showProgress = progress
        return try StageRunner.run(stage)
    }

    /// The miner's identity is the configuration; the pending documents are found once the run's
    /// fingerprint is known (in ``execute(_:in:)``).
    public func prepare() throws -> StagePlan<Miner.Identity, Void> {
        StagePlan(configuration: miner.identity, pendingInputs: 0)
    }

    public func execute(_ work: StagePlan<Miner.Identity, Void>, in run: StageContext) throws -> Summary {
        let fingerprint = run.fingerprint
        var summary = Summary(fingerprint: fingerprint, pending: 0, mined: 0, tasks: 0)
        let pending: [Int64] = try store.pool.read { db in
            try StoredDocument.ids(db, where: "id NOT IN (SELECT document_id FROM rc_texts WHERE fingerprint = ?)", [fingerprint])
        }
        try run.setInputs(pending.count)
        summary.pending = pending.count
        let reporter = showProgress ? ProgressReporter(label: "mine", total: pending.count, unit: "docs") : nil
        defer { reporter?.finish() }
        var start = 0
        while start < pending.count {
            let ids = Array(pending[start..<min(start + batchSize, pending.count)])
            start += ids.count
            let docs: [Document] = try store.pool.read { db in
                try StoredDocument.fetch(db, ids: ids).map { Document(id: $0.id, text: $0.text, title: $0.title, key: $0.contentKey) }
            }
            let results = mineConcurrently(docs)
            let nTasks = try run.commit(processed: docs.count) { db -> Int in
                var n = 0
                for (doc, rc) in zip(docs, results) {
                    try db.execute(sql: "INSERT INTO rc_texts(document_id, fingerprint, text, n_tasks) VALUES (?, ?, ?, ?)",
                                   arguments: [doc.id, fingerprint, rc.text, rc.tasks.count])
                    let textId = db.lastInsertedRowID
                    for (pos, t) in rc.tasks.enumerated() {
                        try db.execute(sql: """
                            INSERT INTO rc_tasks(rc_text_id, position, task_type, subcategory, premise, verbalizer, hypothesis, prompt, answer)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """, arguments: [textId, pos, t.tuple.type.rawValue, t.tuple.subcategory, t.tuple.premise,
                                             t.tuple.verbalizer, t.tuple.hypothesis, t.prompt, t.answer])
                        n += 1
                    }
                }
                return n
            }
            summary.mined += docs.count
            summary.tasks += nTasks
            if miner.config.unwrap != true {
                summary.hardWrapped += docs.reduce(0) { $0 + (HardWrap.looksHardWrapped($1.text) ? 1 : 0) }
            }
            reporter?.advance(by: docs.count)
            run.report(counts: summary.counts)
        }
        return summary
    }

    /// A document to mine; `key` (from its content hash) seeds its random choices.
    struct Document: Sendable {
        var id: Int64
        var text: String
        var title: String?
        var key: UInt64
    }

    /// Mines a batch on `threads` workers; results in input order.
    func mineConcurrently(_ docs: [Document]) -> [RCText] {
        let out = UnsafeMutableBufferPointer<RCText>.allocate(capacity: docs.count)
        defer { out.deallocate() }
        let workers = min(threads, docs.count)
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var i = w
            while i < docs.count {
                let d = docs[i]
                (out.baseAddress! + i).initialize(to: miner.mine(document: d.text, title: d.title, key: d.key))
                i += workers
            }
        }
        let result = Array(out)
        _ = out.baseAddress.map { $0.deinitialize(count: docs.count) }
        return result
    }
}
