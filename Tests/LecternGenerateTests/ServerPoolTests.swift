import Foundation
import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternGenerate

/// HTTP stages scale by servers: one generation run against a pool of two real llama-servers and
/// one dead endpoint. Throughput adds up (against one server of the same size, timed in the same
/// test), nothing is lost (every document answered, none by the dead endpoint), the work is
/// shared, and the answers are the ones a single server gives (greedy decoding, same model).
final class ServerPoolTests: XCTestCase {
    func testTwoServersAndADeadOneAnswerEverythingFaster() async throws {
        let paths = LlamaServer.paths()
        try requireComponent(paths != nil, "llama-server or SmolLM2 (LECTERN_LLAMA_SERVER, LECTERN_SMOLLM2_GGUF)")
        // One slot and one thread each: two servers use the two cores one would leave idle.
        let small = ["-c", "2048", "-np", "1", "-t", "1", "--cache-ram", "0", "--no-webui"]
        let a = try LlamaServer(server: paths!.server, model: paths!.model, arguments: small)
        defer { a.stop() }
        let b = try LlamaServer(server: paths!.server, model: paths!.model, arguments: small)
        defer { b.stop() }
        let deadPort = try LlamaServer.freePort()   // nothing listens there
        let dead = URL(string: "http://127.0.0.1:\(deadPort)/v1")!

        let docs = try TestDB.pubmedqa(12)
        let spec = GeneratorSpec(name: "smollm2", model: "smollm2", params: GenerationParams(
            domain: "biomedicine", maxTokens: 64, temperature: 0, seed: 1,
            schema: QASchema(maxItems: 1, maxQuestionLength: 100, maxAnswerLength: 100), maxDocumentChars: 400))
        func endpoint(_ url: URL) -> Endpoint { Endpoint(baseURL: url, model: "smollm2", maxInFlight: 1, timeout: 300) }

        // One server, half the documents.
        let (one, _) = try TestDB.make()
        try TestDB.insert(one, docs: docs)
        let t0 = Date()
        let single = try await GenerateStage(store: one, client: try ChatClient(endpoints: [endpoint(a.baseURL)]), spec: spec,
                                             options: GenerateOptions(sample: 6, seed: 0)).run()
        let singleSeconds = Date().timeIntervalSince(t0)
        XCTAssertEqual(single.requests, 6)

        // The pool: both servers and the dead endpoint, all the documents.
        let (pool, _) = try TestDB.make()
        try TestDB.insert(pool, docs: docs)
        let t1 = Date()
        let pooled = try await GenerateStage(store: pool, client: try ChatClient(endpoints: [endpoint(dead), endpoint(a.baseURL), endpoint(b.baseURL)]),
                                             spec: spec, options: GenerateOptions()).run()
        let poolSeconds = Date().timeIntervalSince(t1)
        XCTAssertEqual(pooled.requests, 12)
        XCTAssertEqual(pooled.failed, 0, "nothing lost to the dead endpoint: \(pooled)")

        let speedup = (12 / poolSeconds) / (6 / singleSeconds)
        print(String(format: "server pool: one server %.2f docs/s, two servers and a dead one %.2f docs/s (%.2fx)",
                     6 / singleSeconds, 12 / poolSeconds, speedup))
        XCTAssertGreaterThan(speedup, 1.3, "two servers on two cores should nearly double the throughput")

        try readSync(pool) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM llm_requests WHERE status IN ('ok', 'invalid')"), 12, "every document answered")
            let byEndpoint = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT endpoint, count(*) AS n FROM llm_requests GROUP BY endpoint")
                .map { ($0["endpoint"] as String? ?? "", $0["n"] as Int) })
            XCTAssertNil(byEndpoint[endpoint(dead).displayURL], "the dead endpoint answered nothing")
            XCTAssertGreaterThanOrEqual(byEndpoint[endpoint(a.baseURL).displayURL] ?? 0, 3, "\(byEndpoint)")
            XCTAssertGreaterThanOrEqual(byEndpoint[endpoint(b.baseURL).displayURL] ?? 0, 3, "\(byEndpoint)")
        }
        // The same answers as one server for the documents both runs asked (greedy, one slot, one thread).
        func answers(_ store: Store) throws -> [String: String] {
            try readSync(store) { db in
                Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
                    SELECT d.external_id AS doc, group_concat(q.question || ' | ' || q.answer, ' || ') AS pairs
                    FROM qa_pairs q JOIN documents d ON d.id = q.document_id GROUP BY d.id
                    """).map { ($0["doc"] as String, $0["pairs"] as String) })
            }
        }
        let fromOne = try answers(one), fromPool = try answers(pool)
        XCTAssertFalse(fromOne.isEmpty)
        for (doc, pairs) in fromOne { XCTAssertEqual(fromPool[doc], pairs, "document \(doc)") }
    }
}
