import Foundation
import GRDB
import LecternCore
import LecternStore

/// The `cluster` stage: reads vectors and lengths from a Lectern file, clusters them in memory
/// (deterministic for a seed), and writes a `clusterings` row, its `clusters` and
/// `cluster_members`, in short transactions keyed by the clustering's fingerprint.
///
/// Resumable: a re-run with the same configuration and inputs finds the `running` row, recomputes
/// the same clustering and writes only the clusters not yet written; a complete one is reused.
/// New QA pairs or documents change the lengths or ids, hence the fingerprint: a new clustering.
public enum ClusterStage {
    public enum Algorithm: String, Codable, Sendable, CaseIterable {
        /// Algorithm 1 of arXiv 2401.07284.
        case length
        /// The kNN-graph walk of In-Context Pretraining, under the same budget.
        case knnWalk = "knn-walk"
    }

    /// Everything that decides the result; its canonical JSON is `clusterings.params`.
    public struct Config: Codable, Sendable {
        public var algorithm: Algorithm
        public var options: ClusterOptions
        public var walk: GraphWalkClustering.Options?
        public var embedder: String
        public var tokenizer: String?
        public var generator: String?
        public var qaBudget: Int
        /// SHA-256 of the clustered document ids and their lengths.
        public var inputs: String
        public var documents: Int
        public var version = 1
    }

    public struct Result: StageOutput, Sendable {
        public var clusteringID: Int64
        public var fingerprint: String
        public var clusters: Int
        public var documents: Int
        /// Clusters written by this run (0 when a complete clustering was reused).
        public var written: Int
        public var reused: Bool
        public var report: QualityReport?
        public var skipped: [String]
        public var counts: [String: Int] {
            ["clusters": clusters, "documents": documents, "written": written, "skipped_documents": skipped.count]
        }
    }

    /// Runs the stage. `batchClusters` clusters are written per transaction. `interruptAfterBatches`
    /// is a test hook that stops the run (throwing `CancellationError`) as a kill would.
    public static func run(
        _ store: Store, source: ClusterInputReader.Source, algorithm: Algorithm = .length,
        options: ClusterOptions, walk: GraphWalkClustering.Options = .init(),
        batchClusters: Int = 2000, interruptAfterBatches: Int? = nil, log: (String) -> Void = { _ in }
    ) throws -> Result {
        try options.validate()
        let loaded = try ClusterInputReader.read(store, source)
        let input = loaded.input
        if loaded.generatorID != nil {
            log(loaded.qaTokensStored
                ? "QA pairs measured with their stored token counts (plus \(source.qaPairOverhead ?? 0) tokens of template each)"
                : "QA pairs estimated from their characters: run `lectern tokens` after `lectern generate` for exact counts")
        }
        var digest = [UInt8]()
        digest.reserveCapacity(input.count * 12)
        for (id, len) in zip(input.ids, input.lengths) {
            withUnsafeBytes(of: id.littleEndian) { digest += $0 }
            withUnsafeBytes(of: Int32(truncatingIfNeeded: len).littleEndian) { digest += $0 }
        }
        let config = Config(
            algorithm: algorithm, options: options, walk: algorithm == .knnWalk ? walk : nil,
            embedder: loaded.embedderFingerprint, tokenizer: loaded.tokenizerFingerprint,
            generator: loaded.generatorFingerprint, qaBudget: loaded.qaBudgetUsed,
            inputs: Fingerprint.hex(of: digest), documents: input.count)
        return try withoutActuallyEscaping(log) { log in
            try StageRunner.run(Job(store: store, loaded: loaded, config: config, batchClusters: batchClusters,
                                    interruptAfterBatches: interruptAfterBatches, log: log))
        }
    }

    /// One run, as a ``Stage``: the inputs were read and the configuration computed by ``run(_:source:algorithm:options:walk:batchClusters:interruptAfterBatches:log:)``.
    struct Job: Stage {
        static let name = "cluster"
        let store: Store
        let loaded: ClusterInputReader.Loaded
        let config: Config
        let batchClusters: Int
        let interruptAfterBatches: Int?
        let log: (String) -> Void

        func prepare() throws -> StagePlan<Config, Void> {
            StagePlan(configuration: config, pendingInputs: loaded.input.count)
        }

        func execute(_ work: StagePlan<Config, Void>, in run: StageContext) throws -> Result {
            for s in loaded.skipped { run.note(s) }
            return try ClusterStage.execute(store, run: run, loaded: loaded, config: config, batchClusters: batchClusters,
                                            interruptAfterBatches: interruptAfterBatches, log: log)
        }
    }

    static func execute(
        _ store: Store, run: StageContext, loaded: ClusterInputReader.Loaded, config: Config, batchClusters: Int,
        interruptAfterBatches: Int?, log: (String) -> Void
    ) throws -> Result {
        let input = loaded.input
        let fp = run.fingerprint
        let existing = try store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT id, status, report FROM clusterings WHERE fingerprint = ?", arguments: [fp])
        }
        if let existing, (existing["status"] as String) == "complete" {
            let id: Int64 = existing["id"]
            let count = try store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM clusters WHERE clustering_id = ?", arguments: [id]) ?? 0
            }
            let report = (existing["report"] as String?).flatMap { try? JSONDecoder().decode(QualityReport.self, from: Data($0.utf8)) }
            log("clustering \(id) (\(fp.prefix(12))) is complete: \(count) clusters, nothing to do")
            return Result(clusteringID: id, fingerprint: fp, clusters: count, documents: input.count, written: 0,
                          reused: true, report: report, skipped: loaded.skipped)
        }

        log("clustering \(input.count) documents (\(config.algorithm.rawValue), Lmax \(config.options.maxTokens), Dmax \(config.options.maxDocuments), threshold \(config.options.threshold))")
        let clustering: Clustering
        switch config.algorithm {
        case .length: clustering = try LengthClustering.run(input, options: config.options)
        case .knnWalk: clustering = try GraphWalkClustering.run(input, options: config.options, walk: config.walk ?? .init())
        }

        let clusteringID: Int64
        if let existing {
            clusteringID = existing["id"]
        } else {
            let params = try Fingerprint.canonicalJSON(config)
            clusteringID = try run.commit(processed: 0) { db in
                try db.execute(sql: """
                    INSERT INTO clusterings(algorithm, embedder_id, tokenizer_id, generator_id, params, fingerprint, status, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, 'running', ?)
                    """, arguments: [config.algorithm.rawValue, loaded.embedderID, loaded.tokenizerID, loaded.generatorID,
                                     params, fp, Timestamp.now()])
                return db.lastInsertedRowID
            }
        }
        // Batches are whole transactions written in order, so what exists is a prefix of ordinals.
        let done = try store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM clusters WHERE clustering_id = ?", arguments: [clusteringID]) ?? 0
        }
        if done > 0 { log("resuming: \(done) of \(clustering.clusters.count) clusters already written") }
        let progress = ProgressReporter(label: "cluster", total: clustering.clusters.count - done, unit: "clusters")
        var at = done
        var batches = 0
        while at < clustering.clusters.count {
            if let stop = interruptAfterBatches, batches >= stop { throw CancellationError() }
            let end = min(clustering.clusters.count, at + batchClusters)
            let docs = clustering.clusters[at..<end].reduce(0) { $0 + $1.members.count }
            let sims = clustering.clusters[at..<end].map {
                $0.members.count > 1 ? QualityReport.meanPairwiseSimilarity(input, $0.members) : nil
            }
            try run.commit(processed: docs) { db in
                let insCluster = try db.makeStatement(sql: """
                    INSERT INTO clusters(clustering_id, ordinal, n_documents, n_tokens, mean_similarity) VALUES (?, ?, ?, ?, ?)
                    """)
                let insMember = try db.makeStatement(sql: """
                    INSERT INTO cluster_members(clustering_id, cluster_id, position, document_id, similarity) VALUES (?, ?, ?, ?, ?)
                    """)
                for o in at..<end {
                    let c = clustering.clusters[o]
                    try insCluster.execute(arguments: [clusteringID, o, c.members.count, c.tokens, sims[o - at]])
                    let cid = db.lastInsertedRowID
                    for (p, m) in c.members.enumerated() {
                        try insMember.execute(arguments: [clusteringID, cid, p, input.ids[Int(m)], Double(c.joinSimilarity[p])])
                    }
                }
            }
            progress.advance(by: end - at)
            at = end
            batches += 1
        }
        progress.finish()
        let report = QualityReport.make(input, clustering, maxTokens: config.options.maxTokens, seed: config.options.seed)
        let reportJSON = String(decoding: try JSONEncoder.sorted.encode(report), as: UTF8.self)
        try run.commit(processed: 0) { db in
            try db.execute(sql: "UPDATE clusterings SET status = 'complete', report = ? WHERE id = ?", arguments: [reportJSON, clusteringID])
        }
        return Result(clusteringID: clusteringID, fingerprint: fp, clusters: clustering.clusters.count, documents: input.count,
                      written: clustering.clusters.count - done, reused: false, report: report, skipped: loaded.skipped)
    }

    /// The stored report of a clustering (the latest complete one when `id` is nil).
    public static func storedReport(_ store: Store, clusteringID id: Int64? = nil) throws -> (Int64, QualityReport)? {
        try store.pool.read { db in
            let row = try id.map { try Row.fetchOne(db, sql: "SELECT id, report FROM clusterings WHERE id = ?", arguments: [$0]) }
                ?? Row.fetchOne(db, sql: "SELECT id, report FROM clusterings WHERE status = 'complete' ORDER BY id DESC LIMIT 1")
            guard let row, let text = row["report"] as String? else { return nil }
            return (row["id"], try JSONDecoder().decode(QualityReport.self, from: Data(text.utf8)))
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}
