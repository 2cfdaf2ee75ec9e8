import Foundation
import GRDB
import LecternStore
import XCTest
@testable import LecternEmbed

/// The resumable embed stage on a real store file with the real vector extension.
final class EmbedStageTests: XCTestCase {
    /// Fails on its `failOnCall`-th call: an interruption between two batches.
    final class Interrupting: Embedder, @unchecked Sendable {
        let inner: MiniLMEmbedder
        var calls = 0
        let failOnCall: Int
        init(_ inner: MiniLMEmbedder, failOnCall: Int) { self.inner = inner; self.failOnCall = failOnCall }
        var dimension: Int { inner.dimension }
        var name: String { inner.name }
        var fingerprint: String { inner.fingerprint }
        var configJSON: String { inner.configJSON }
        func tokenCounts(_ texts: [String]) -> [Int]? { inner.tokenCounts(texts) }
        func embed(_ texts: [String]) throws -> [Float] {
            calls += 1
            if calls == failOnCall { throw EmbedError.remote("simulated crash") }
            return try inner.embed(texts)
        }
    }

    func makeStore(documents: [String]) throws -> Store {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-embed-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try Store.create(path: dir.appendingPathComponent("t.lectern").path, domain: "biomedicine")
        try store.pool.write { db in
            for (i, t) in documents.enumerated() {
                try db.execute(sql: """
                    INSERT INTO documents(text, source, n_chars, content_hash, created_at) VALUES (?, 'test', ?, ?, '2026-01-01T00:00:00Z')
                    """, arguments: [t, t.unicodeScalars.count, Data("hash\(i)".utf8)])
            }
        }
        return store
    }

    func vectors(_ store: Store, embedderID: Int64, table: String) throws -> [Int64: [Float]] {
        try store.pool.read { db in
            var out: [Int64: [Float]] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT e.document_id AS doc, v.embedding AS emb FROM embeddings e JOIN \(table) v ON v.rowid = e.vector_rowid
                WHERE e.embedder_id = ?
                """, arguments: [embedderID]) {
                let blob: Data = row["emb"]
                out[row["doc"]] = blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
            return out
        }
    }

    func testResumesAfterInterruptionAndMatchesReference() throws {
        let ref = try JSONDecoder().decode(MiniLMReferenceTests.Reference.self, from: Data(contentsOf: URL(fileURLWithPath: TestSupport.repoRoot + "/Tests/LecternEmbedTests/Reference/minilm_pubmedqa.json")))
        let raw = try Data(contentsOf: URL(fileURLWithPath: TestSupport.repoRoot + "/Tests/LecternEmbedTests/Reference/minilm_pubmedqa.f32"))
        let expected: [Float] = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let ids = Array(ref.ids.prefix(25))
        let store = try makeStore(documents: try TestSupport.pubmedqaDocuments(ids: ids))
        let minilm = try MiniLMEmbedder(directory: try TestSupport.minilmDirectory())

        let crashing = EmbedStage(store: store, embedder: Interrupting(minilm, failOnCall: 2), kind: "builtin")
        crashing.batchSize = 10
        crashing.progress = false
        XCTAssertThrowsError(try crashing.run())
        let afterCrash = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM embeddings") }
        XCTAssertEqual(afterCrash, 10, "the first batch is committed, the second lost")

        let stage = EmbedStage(store: store, embedder: minilm, kind: "builtin")
        stage.batchSize = 10
        stage.progress = false
        let s = try stage.run()
        XCTAssertEqual(s.embedded, 15)
        XCTAssertEqual(s.alreadyDone, 10)
        XCTAssertEqual(try stage.run().embedded, 0, "a complete run leaves nothing to do")

        let got = try vectors(store, embedderID: s.embedderID, table: s.vectorTable)
        XCTAssertEqual(got.count, 25)
        for (i, _) in ids.enumerated() {
            let v = try XCTUnwrap(got[Int64(i + 1)])
            XCTAssertGreaterThanOrEqual(TestSupport.cosine(v[...], expected[(i * 384)..<((i + 1) * 384)]), 0.9999)
        }
        let statuses = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT status FROM stage_runs WHERE stage = 'embed' ORDER BY id") }
        XCTAssertEqual(statuses, ["failed", "complete", "complete"])
        let nTokens = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT n_tokens FROM embeddings WHERE document_id = 1") }
        XCTAssertEqual(nTokens, ref.n_tokens[0])
    }

    func testSecondEmbedderCoexistsAndKNNFindsTheDocument() throws {
        let texts = try TestSupport.pubmedqaDocuments(ids: ["21645374", "16418930", "12607120", "19156007"])
        let store = try makeStore(documents: texts)
        let dir = try TestSupport.minilmDirectory()
        let a = EmbedStage(store: store, embedder: try MiniLMEmbedder(directory: dir), kind: "builtin")
        let b = EmbedStage(store: store, embedder: try MiniLMEmbedder(directory: dir, maxTokens: 32), kind: "builtin")
        a.progress = false; b.progress = false
        let sa = try a.run(), sb = try b.run()
        XCTAssertNotEqual(sa.embedderID, sb.embedderID)
        XCTAssertEqual(sa.vectorTable, sb.vectorTable)
        XCTAssertEqual(sb.embedded, 4)
        let q = try MiniLMEmbedder(directory: dir, maxTokens: 32).embed([texts[2]])
        let hit = try store.pool.read { db in
            try Int64.fetchOne(db, sql: """
                SELECT e.document_id FROM (SELECT rowid, distance FROM \(sb.vectorTable)
                  WHERE embedding MATCH ? AND k = 1 AND embedder = ?) v
                JOIN embeddings e ON e.vector_rowid = v.rowid AND e.embedder_id = ?
                """, arguments: [q.withUnsafeBytes { Data($0) }, sb.embedderID, sb.embedderID])
        }
        XCTAssertEqual(hit, 3)
        let n = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM embedders") }
        XCTAssertEqual(n, 2)
    }
}
