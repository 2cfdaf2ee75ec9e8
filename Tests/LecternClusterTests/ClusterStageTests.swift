import Foundation
import GRDB
import GRDBSQLite
import LecternCluster
import LecternStore
import LecternVec
import XCTest

/// Every connection of this process gets the vector extension, as the application's does.
let registerVectorExtension: Void = { sqlite3_auto_extension(lecternVecAutoExtension) }()

/// The stage against real Lectern files, with vectors in a real `lectern_vec` virtual table (or,
/// for the remaining tests, a plain table of the same layout: rowid, `embedding` float32 BLOB).
final class ClusterStageTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A file with `n` documents, MiniLM-like vectors with topic structure, token counts and
    /// QA pairs for every third document.
    func makeFile(_ name: String, n: Int = 400, vectorExtension: Bool = false) throws -> Store {
        _ = registerVectorExtension
        let store = try Store.create(path: dir.appendingPathComponent(name).path, domain: "biomedicine")
        let input = try Fixture.corpus(n: n, dim: 32)
        try store.pool.write { db in
            let now = "2026-11-25T00:00:00Z"
            try db.execute(sql: vectorExtension
                ? "CREATE VIRTUAL TABLE vec_minilm USING lectern_vec(embedding float[32] distance_metric=cosine)"
                : "CREATE TABLE vec_minilm(embedding BLOB)")
            try db.execute(sql: """
                INSERT INTO embedders(id, name, kind, model, dim, vector_table, fingerprint, config, created_at)
                VALUES (1, 'minilm', 'builtin', 'all-MiniLM-L6-v2', 32, 'vec_minilm', 'emb-fp', '{}', ?)
                """, arguments: [now])
            try db.execute(sql: "INSERT INTO tokenizers(id, name, kind, fingerprint, created_at) VALUES (1, 'llama', 'bpe', 'tok-fp', ?)", arguments: [now])
            try db.execute(sql: """
                INSERT INTO generators(id, name, model, template_version, template, params, fingerprint, created_at)
                VALUES (1, 'teacher', 'm', 'paper-v1', '{DOCUMENT}', '{}', 'gen-fp', ?)
                """, arguments: [now])
            for i in 0..<n {
                let id = Int64(i + 1)
                try db.execute(sql: """
                    INSERT INTO documents(id, text, source, n_chars, content_hash, created_at) VALUES (?, ?, 'test', ?, ?, ?)
                    """, arguments: [id, "document \(i)", input.lengths[i] * 4, Data("\(i)".utf8), now])
                var blob = Data()
                for k in 0..<32 { withUnsafeBytes(of: input.vectors[i * 32 + k].bitPattern.littleEndian) { blob.append(contentsOf: $0) } }
                try db.execute(sql: "INSERT INTO vec_minilm(rowid, embedding) VALUES (?, ?)", arguments: [id + 100, blob])
                try db.execute(sql: "INSERT INTO embeddings(embedder_id, document_id, vector_rowid) VALUES (1, ?, ?)", arguments: [id, id + 100])
                try db.execute(sql: "INSERT INTO token_counts(tokenizer_id, document_id, n_tokens) VALUES (1, ?, ?)", arguments: [id, input.lengths[i]])
                if i % 3 == 0 {
                    try db.execute(sql: """
                        INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (?, 1, 0, ?, ?)
                        """, arguments: [id, String(repeating: "q", count: 100), String(repeating: "a", count: 200)])
                }
            }
        }
        return store
    }

    func members(_ store: Store, _ clustering: Int64) throws -> [[Int64]] {
        try store.pool.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.ordinal, m.document_id FROM cluster_members m JOIN clusters c ON c.id = m.cluster_id
                 WHERE m.clustering_id = ? ORDER BY c.ordinal, m.position
                """, arguments: [clustering])
            var out: [[Int64]] = []
            for r in rows {
                let o: Int = r["ordinal"]
                if o == out.count { out.append([]) }
                out[o].append(r["document_id"])
            }
            return out
        }
    }

    func testStageWritesPartitionAndReport() throws {
        let store = try makeFile("a.lectern")
        let source = ClusterInputReader.Source(embedder: "minilm", tokenizer: "llama", generator: "teacher", qaBudget: 60)
        let o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, seed: 3)
        let r = try ClusterStage.run(store, source: source, options: o, batchClusters: 50)
        let got = try members(store, r.clusteringID)
        XCTAssertEqual(got.count, r.clusters)
        XCTAssertEqual(got.flatMap { $0 }.sorted(), (1...400).map { Int64($0) })
        try store.pool.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT status FROM clusterings WHERE id = ?", arguments: [r.clusteringID]), "complete")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM clusters WHERE n_tokens > 2048 AND n_documents > 1"), 0)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT status FROM stage_runs WHERE stage = 'cluster'"), "complete")
            // Lengths counted the QA pairs: a document with pairs weighs more than its own tokens.
            let withQA = try Int.fetchOne(db, sql: """
                SELECT c.n_tokens - t.n_tokens FROM clusters c JOIN cluster_members m ON m.cluster_id = c.id
                  JOIN token_counts t ON t.document_id = m.document_id WHERE c.n_documents = 1 AND m.document_id = 1
                """)
            if let withQA { XCTAssertGreaterThan(withQA, 0) }
        }
        let stored = try XCTUnwrap(ClusterStage.storedReport(store, clusteringID: r.clusteringID)).1
        XCTAssertEqual(stored, r.report)
        XCTAssertGreaterThan(stored.clustering.meanIntraSimilarity, stored.randomBaseline.meanIntraSimilarity)
        // Same configuration again: reused, nothing written.
        let again = try ClusterStage.run(store, source: source, options: o, batchClusters: 50)
        XCTAssertTrue(again.reused)
        XCTAssertEqual(again.clusteringID, r.clusteringID)
        // New QA pairs change the lengths: a new clustering.
        try store.pool.write { db in
            try db.execute(sql: "INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (2, 1, 0, 'q?', 'a long answer')")
        }
        let re = try ClusterStage.run(store, source: source, options: o, batchClusters: 50)
        XCTAssertFalse(re.reused)
        XCTAssertNotEqual(re.fingerprint, r.fingerprint)
    }

    func testInterruptedRunResumesToTheSameResult() throws {
        let source = ClusterInputReader.Source(embedder: "minilm", tokenizer: "llama", qaBudget: 80)
        var o = ClusterOptions(maxTokens: 1500, maxDocuments: 6, seed: 8)
        o.similarityTo = .centroid
        let clean = try makeFile("clean.lectern")
        let full = try ClusterStage.run(clean, source: source, options: o, batchClusters: 20)

        let broken = try makeFile("broken.lectern")
        XCTAssertThrowsError(try ClusterStage.run(broken, source: source, options: o, batchClusters: 20, interruptAfterBatches: 3))
        let partial = try broken.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM clusters") ?? 0,
             try String.fetchOne(db, sql: "SELECT status FROM clusterings") ?? "")
        }
        XCTAssertEqual(partial.0, 60)
        XCTAssertEqual(partial.1, "running")
        let runStatus = try broken.pool.read { try String.fetchOne($0, sql: "SELECT status FROM stage_runs WHERE stage = 'cluster'") }
        XCTAssertEqual(runStatus, "interrupted", "the runner ends a cancelled run as interrupted")
        let resumed = try ClusterStage.run(broken, source: source, options: o, batchClusters: 20)
        XCTAssertEqual(resumed.written, full.clusters - 60)
        XCTAssertEqual(try members(broken, resumed.clusteringID), try members(clean, full.clusteringID))
        XCTAssertEqual(resumed.fingerprint, full.fingerprint)
    }

    func testReadsVectorsFromLecternVecTable() throws {
        let store = try makeFile("vec.lectern", n: 120, vectorExtension: true)
        let loaded = try ClusterInputReader.read(store, .init(embedder: "minilm", tokenizer: "llama"))
        let expected = try Fixture.corpus(n: 120, dim: 32)
        // In content-hash order: document i + 1 has the hash "\(i)", so "0", "1", "10", "100", ...
        let order = (1...120).map { Int64($0) }.sorted { Array("\($0 - 1)".utf8).lexicographicallyPrecedes(Array("\($1 - 1)".utf8)) }
        XCTAssertEqual(Array(order.prefix(4)), [1, 2, 11, 101])
        XCTAssertEqual(loaded.input.ids, order)
        for (j, id) in order.enumerated() {
            for k in 0..<32 {
                XCTAssertEqual(loaded.input.vectors[j * 32 + k], expected.vectors[Int(id - 1) * 32 + k], accuracy: 1e-6, "document \(id)")
            }
        }
        let r = try ClusterStage.run(store, source: .init(embedder: "minilm", tokenizer: "llama", qaBudget: 50),
                                     options: ClusterOptions(maxTokens: 2048, maxDocuments: 8, seed: 1))
        XCTAssertEqual(try members(store, r.clusteringID).flatMap { $0 }.count, 120)
    }

    func testMissingEmbedderIsNamed() throws {
        let store = try makeFile("c.lectern", n: 10)
        XCTAssertThrowsError(try ClusterStage.run(store, source: .init(embedder: "nope"), options: ClusterOptions())) {
            XCTAssertTrue("\($0)".contains("no embedder named 'nope'"), "\($0)")
            XCTAssertTrue("\($0)".contains("minilm"), "\($0)")
        }
    }
}

/// Issue 14, item 4: QA lengths from stored per-pair token counts (`qa_token_counts`, written by
/// `lectern tokens`) plus what the build's template adds per pair, instead of a character
/// estimate made with a copy of the default template.
extension ClusterStageTests {
    func testStoredQACountsAndTheTemplateDecideTheQALengths() throws {
        let store = try makeFile("q.lectern", n: 60)
        var source = ClusterInputReader.Source(embedder: "minilm", tokenizer: "llama", generator: "teacher")
        let estimated = try ClusterInputReader.read(store, source)
        XCTAssertFalse(estimated.qaTokensStored, "no stored counts yet: estimated from characters")

        // Counts for every pair but one: still the estimate (a partial count would undercount).
        let pairs = try store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM qa_pairs WHERE generator_id = 1 ORDER BY id") }
        XCTAssertGreaterThan(pairs.count, 10)
        try store.pool.write { db in
            for (k, id) in pairs.dropLast().enumerated() {
                try db.execute(sql: "INSERT INTO qa_token_counts(qa_pair_id, tokenizer_id, n_question, n_answer) VALUES (?, 1, ?, ?)",
                               arguments: [id, 5 + k % 3, 20 + k % 7])
            }
        }
        XCTAssertFalse(try ClusterInputReader.read(store, source).qaTokensStored)
        try store.pool.write { db in
            try db.execute(sql: "INSERT INTO qa_token_counts(qa_pair_id, tokenizer_id, n_question, n_answer) VALUES (?, 1, 4, 9)",
                           arguments: [try XCTUnwrap(pairs.last)])
        }

        // Every pair counted: length = document tokens + question + answer + template tokens per pair.
        func expected(overhead: Int) throws -> [Int64: Int] {
            try store.pool.read { db in
                var out: [Int64: Int] = [:]
                for r in try Row.fetchAll(db, sql: """
                    SELECT t.document_id, t.n_tokens + coalesce((SELECT sum(c.n_question + c.n_answer + ?) FROM qa_pairs q
                      JOIN qa_token_counts c ON c.qa_pair_id = q.id AND c.tokenizer_id = 1
                     WHERE q.document_id = t.document_id AND q.generator_id = 1), 0) AS n
                    FROM token_counts t WHERE t.tokenizer_id = 1
                    """, arguments: [overhead]) { out[r["document_id"]] = r["n"] }
                return out
            }
        }
        for overhead in [0, 7] {
            source.qaPairOverhead = overhead
            let loaded = try ClusterInputReader.read(store, source)
            XCTAssertTrue(loaded.qaTokensStored)
            let want = try expected(overhead: overhead)
            let withPairs = Set(try store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT DISTINCT document_id FROM qa_pairs") })
            for (i, id) in loaded.input.ids.enumerated() where withPairs.contains(id) {
                XCTAssertEqual(loaded.input.lengths[i], want[id], "document \(id), overhead \(overhead)")
            }
        }
        // Another template (overhead) changes the lengths, hence the clustering's fingerprint.
        let o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, seed: 3)
        source.qaPairOverhead = 0
        let a = try ClusterStage.run(store, source: source, options: o)
        source.qaPairOverhead = 7
        let b = try ClusterStage.run(store, source: source, options: o)
        XCTAssertNotEqual(a.fingerprint, b.fingerprint)
    }
}
