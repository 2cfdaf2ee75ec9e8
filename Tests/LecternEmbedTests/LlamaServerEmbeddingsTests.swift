import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking   // Data(contentsOf:) on http URLs, for the test's own probes
#endif
import GRDB
import LecternCore
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternEmbed

/// The OpenAI-compatible embeddings client and the embed stage against a real server:
/// llama.cpp's `llama-server --embeddings` serving SmolLM2-135M (hidden size 576), started
/// on a free loopback port. Skipped when llama-server or the GGUF is not installed (fails
/// under LECTERN_REQUIRE_COMPONENTS=1), like LecternGenerateTests/LlamaServerTests.swift.
final class LlamaServerEmbeddingsTests: XCTestCase {
    /// The 20 shortest PubMedQA abstracts (293 to 645 characters, about 2,400 tokens in all),
    /// so the whole test stays well under a minute on 2 cores.
    static let ids = ["21214884", "11296674", "23848044", "24964725", "20813740", "27491658", "22211919",
                      "25277731", "26399179", "11481172", "17444776", "19106867", "2224269", "12068831",
                      "11838307", "17971187", "18243752", "15388567", "8566975", "17096624"]

    /// SmolLM2 has no pooling type of its own, so mean pooling is asked for; a physical batch of
    /// 1024 tokens holds any one of the inputs whole (pooled embeddings need that). One slot: with
    /// -np 2 and no unified KV cache this llama-server build returns a different vector (cosine
    /// ~0.967 to the text embedded alone) for the first of two inputs decoded together, which is
    /// the server's fault, not the client's.
    static func embeddingServer(server: String, model: String, threads: Int = 2) throws -> LlamaServer {
        try LlamaServer(server: server, model: model, arguments: ["--embeddings", "--pooling", "mean", "-c", "2048", "-np", "1",
                                                                  "-b", "1024", "-ub", "1024", "-t", "\(threads)", "--no-webui"])
    }

    /// llama-server and the SmolLM2 GGUF from the environment, or the test is skipped (failed
    /// under LECTERN_REQUIRE_COMPONENTS=1).
    static func paths() throws -> (server: String, model: String) {
        let env = ProcessInfo.processInfo.environment
        guard let server = env["LECTERN_LLAMA_SERVER"], let model = env["LECTERN_SMOLLM2_GGUF"],
              FileManager.default.isExecutableFile(atPath: server), FileManager.default.fileExists(atPath: model) else {
            try TestSupport.require("llama-server or SmolLM2 (LECTERN_LLAMA_SERVER, LECTERN_SMOLLM2_GGUF)",
                                    setup: "scripts/setup.d/30-llama-server.sh")
        }
        return (server, model)
    }

    func testRealEmbeddingsFromLlamaServerSmolLM2() throws {
        let (serverPath, modelPath) = try Self.paths()
        let texts = try TestSupport.pubmedqaDocuments(ids: Self.ids)
        let server = try Self.embeddingServer(server: serverPath, model: modelPath)
        defer { server.stop() }

        // (a) The client directly: dimension probed from the server, vectors in input order.
        var o = OpenAIEmbeddingsClient.Options(url: server.baseURL, model: "smollm2")
        o.apiKeyVariable = "LECTERN_TEST_NO_KEY"
        o.batchSize = 2  // several requests per call, 2 in flight (queued by the server): order comes from `index` and batch
        o.concurrency = 2
        let client = try OpenAIEmbeddingsClient(options: o)
        XCTAssertEqual(client.dimension, 576)
        let dim = 576
        let few = Array(texts.prefix(5))
        let forward = try client.embed(few)
        let reversed = try client.embed(few.reversed())
        XCTAssertEqual(forward.count, few.count * dim)
        XCTAssertEqual(reversed.count, few.count * dim)
        XCTAssertTrue(forward.allSatisfy(\.isFinite) && reversed.allSatisfy(\.isFinite))
        func row(_ flat: [Float], _ i: Int) -> ArraySlice<Float> { flat[(i * dim)..<((i + 1) * dim)] }
        for i in few.indices {
            let a = row(forward, i), b = row(reversed, few.count - 1 - i)
            XCTAssertGreaterThan(a.map { abs($0) }.max()!, 0, "text \(i) has a zero vector")
            XCTAssertGreaterThanOrEqual(TestSupport.cosine(a, b), 0.9999, "text \(i) across two calls (reversed order)")
            XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max()!, 1e-3, "text \(i) reversed")
            for j in few.indices where j != i {
                XCTAssertLessThan(TestSupport.cosine(a, row(forward, j)), 0.999, "abstracts \(i) and \(j) look identical")
            }
        }

        // (b) The embed stage, as `lectern embed FILE --url URL --model smollm2` runs it, on a
        // store holding the 20 abstracts as the ingest stage stores them.
        let store = try makeStore(documents: texts)
        var so = OpenAIEmbeddingsClient.Options(url: server.baseURL, model: "smollm2")
        so.apiKeyVariable = "LECTERN_TEST_NO_KEY"
        so.batchSize = 4
        so.concurrency = 2
        let remote = try OpenAIEmbeddingsClient(options: so)
        let stage = EmbedStage(store: store, embedder: remote, kind: "openai", endpoint: remote.endpoint.absoluteString)
        stage.batchSize = 8
        stage.progress = false
        let s = try stage.run()
        XCTAssertEqual(s.embedded, 20)
        XCTAssertEqual(s.vectorTable, "lectern_vectors_576")
        try store.pool.read { db in
            let e = try XCTUnwrap(try Row.fetchOne(db, sql: "SELECT * FROM embedders WHERE id = ?", arguments: [s.embedderID]))
            XCTAssertEqual(e["dim"] as Int, 576)
            XCTAssertEqual(e["kind"] as String, "openai")
            XCTAssertEqual(e["model"] as String, "smollm2")
            XCTAssertEqual(e["endpoint"] as String?, server.baseURL.appendingPathComponent("embeddings").absoluteString)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM embeddings WHERE embedder_id = ?", arguments: [s.embedderID]), 20)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(DISTINCT document_id) FROM embeddings"), 20)
        }
        let stored = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT e.document_id AS doc, v.embedding AS emb FROM embeddings e JOIN \(s.vectorTable) v ON v.rowid = e.vector_rowid
                WHERE e.embedder_id = ? ORDER BY e.document_id
                """, arguments: [s.embedderID]).map { r -> (Int64, [Float]) in
                let blob: Data = r["emb"]
                return (r["doc"], blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) })
            }
        }
        XCTAssertEqual(stored.map { $0.0 }, Array(1...20))
        // The stage stored the vector of each document's own text: the ones the client gave in (a).
        for i in few.indices {
            XCTAssertGreaterThanOrEqual(TestSupport.cosine(stored[i].1[...], row(forward, i)), 0.9999, "stored vector of document \(i + 1)")
        }
        // KNN on the vector table: a document's vector finds that document first, both its stored
        // vector and the one the client returned in (a).
        func nearest(_ q: [Float]) throws -> [Int64] {
            try store.pool.read { db in
                try Int64.fetchAll(db, sql: """
                    SELECT e.document_id FROM (SELECT rowid, distance FROM \(s.vectorTable)
                      WHERE embedding MATCH ? AND k = 3 AND embedder = ?) v
                    JOIN embeddings e ON e.vector_rowid = v.rowid AND e.embedder_id = ? ORDER BY v.distance
                    """, arguments: [q.withUnsafeBytes { Data($0) }, s.embedderID, s.embedderID])
            }
        }
        for (doc, v) in stored {
            XCTAssertEqual(try nearest(v).first, doc, "KNN with document \(doc)'s stored vector")
        }
        for i in few.indices {
            let hits = try nearest(Array(row(forward, i)))
            XCTAssertEqual(hits.count, 3)
            XCTAssertEqual(hits.first, Int64(i + 1), "KNN with document \(i + 1)'s vector from the client")
        }
    }

    /// HTTP stages scale by servers: the embed stage against a pool of two real llama-servers (one
    /// thread each) and a dead endpoint. Every document gets the vector one server gives, the dead
    /// endpoint answers nothing, both servers share the work, and the throughput is measured
    /// against one server of the same size in the same test.
    func testPoolOfTwoServersAndADeadOneEmbedsEverythingFaster() throws {
        let (serverPath, modelPath) = try Self.paths()
        let texts = try TestSupport.pubmedqaDocuments(ids: Self.ids)
        let a = try Self.embeddingServer(server: serverPath, model: modelPath, threads: 1)
        defer { a.stop() }
        let b = try Self.embeddingServer(server: serverPath, model: modelPath, threads: 1)
        defer { b.stop() }
        let dead = URL(string: "http://127.0.0.1:\(try LlamaServer.freePort())")!

        func options(_ urls: [URL]) -> OpenAIEmbeddingsClient.Options {
            var o = OpenAIEmbeddingsClient.Options(urls: urls, model: "smollm2")
            o.apiKeyVariable = "LECTERN_TEST_NO_KEY"
            o.batchSize = 1      // one abstract per request: 20 requests to share
            o.concurrency = 1    // one slot per server
            o.dimension = 576
            return o
        }
        func embedAll(_ client: OpenAIEmbeddingsClient) throws -> ([Int64: [Float]], Double) {
            let store = try makeStore(documents: texts)
            let stage = EmbedStage(store: store, embedder: client, kind: "openai", endpoint: client.endpointsDescription)
            stage.batchSize = 20
            stage.progress = false
            let t0 = Date()
            let s = try stage.run()
            let seconds = Date().timeIntervalSince(t0)
            XCTAssertEqual(s.embedded, 20)
            let rows = try store.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT e.document_id AS doc, v.embedding AS emb FROM embeddings e JOIN \(s.vectorTable) v ON v.rowid = e.vector_rowid
                    WHERE e.embedder_id = ?
                    """, arguments: [s.embedderID])
            }
            var out: [Int64: [Float]] = [:]
            for r in rows {
                let blob: Data = r["emb"]
                out[r["doc"]] = blob.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            }
            return (out, seconds)
        }

        let single = try OpenAIEmbeddingsClient(options: options([a.baseURL]))
        let (alone, aloneSeconds) = try embedAll(single)
        let pool = try OpenAIEmbeddingsClient(options: options([dead, a.baseURL, b.baseURL]))
        let (pooled, poolSeconds) = try embedAll(pool)

        XCTAssertEqual(alone.count, 20)
        XCTAssertEqual(pooled.count, 20, "a document lost in the pool")
        for (doc, v) in alone {
            let w = try XCTUnwrap(pooled[doc], "document \(doc)")
            XCTAssertGreaterThanOrEqual(TestSupport.cosine(v[...], w[...]), 0.9999, "document \(doc): pool and one server disagree")
        }
        let served = try runBlocking { await pool.requestsServed() }
        XCTAssertEqual(served[0], 0, "the dead endpoint answered")
        XCTAssertEqual(served.reduce(0, +), 20, "\(served)")
        XCTAssertGreaterThanOrEqual(served[1], 5, "the work is not shared: \(served)")
        XCTAssertGreaterThanOrEqual(served[2], 5, "the work is not shared: \(served)")
        let speedup = aloneSeconds / poolSeconds
        print(String(format: "embeddings pool: one server %.1f docs/s, two servers and a dead one %.1f docs/s (%.2fx), served %@",
                     20 / aloneSeconds, 20 / poolSeconds, speedup, "\(served)"))
        XCTAssertGreaterThan(speedup, 1.25, "two one-thread servers on two cores should nearly double the throughput")
    }

    /// A fresh store with `documents` inserted in order (ids 1, 2, ...), no titles.
    func makeStore(documents: [String]) throws -> Store {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-embed-llama-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let store = try Store.create(path: dir.appendingPathComponent("t.lectern").path, domain: "biomedicine")
        try store.pool.write { db in
            for (i, t) in documents.enumerated() {
                try db.execute(sql: """
                    INSERT INTO documents(text, source, external_id, n_chars, content_hash, created_at)
                    VALUES (?, 'pubmedqa', ?, ?, ?, '2026-01-01T00:00:00Z')
                    """, arguments: [t, Self.ids[i], t.unicodeScalars.count, Data("hash\(i)".utf8)])
            }
        }
        return store
    }
}
