import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternGenerate

/// Synchronous database access from async tests (GRDB's async overloads are preferred there otherwise).
func readSync<T>(_ db: Store, _ f: (Database) throws -> T) throws -> T { try db.pool.read(f) }
func writeSync<T>(_ db: Store, _ f: (Database) throws -> T) throws -> T { try db.pool.write(f) }

/// The generate stage on real PubMedQA abstracts in a real Lectern file, against the fault server.
final class StageTests: XCTestCase {
    var server: FaultServer!

    override func setUpWithError() throws {
        server = try FaultServer()
    }

    override func tearDown() {
        server?.stop()
    }

    private func spec(_ name: String = "teacher") -> GeneratorSpec {
        GeneratorSpec(name: name, model: "fault-model", params: GenerationParams(domain: "biomedicine", maxTokens: 128))
    }

    private func stage(_ db: Store, sample: Int? = nil, seed: UInt64 = 0, maxAttempts: Int = 12,
                       retries: Int = 2) throws -> GenerateStage {
        let client = try ChatClient(endpoints: [server.endpoint()],
                                    retry: RetryPolicy(maxAttempts: retries, baseDelay: 0.01, maxDelay: 0.05))
        return GenerateStage(store: db, client: client, spec: spec(),
                             options: GenerateOptions(sample: sample, seed: seed, maxAttempts: maxAttempts))
    }

    func testGeneratesResumesAndRetriesOnlyWhatFailed() async throws {
        let (db, _) = try TestDB.make()
        var docs = try TestDB.pubmedqa(6)
        docs[1].text = "[[fail]] " + docs[1].text        // always HTTP 500
        docs[4].text = "[[nojson]] " + docs[4].text      // answers without JSON
        try TestDB.insert(db, docs: docs)

        let first = try await stage(db).run()
        XCTAssertEqual(first.requests, 6)
        XCTAssertEqual(first.ok, 4)
        XCTAssertEqual(first.failed, 1)
        XCTAssertEqual(first.invalid, 1)
        XCTAssertEqual(first.pairs, 8, "3 pairs a document, the case-insensitive duplicate dropped")
        XCTAssertEqual(first.rejected, ["duplicate_question": 4])

        try readSync(db) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM qa_pairs"), 8)
            let statuses = try String.fetchAll(db, sql: "SELECT status FROM llm_requests ORDER BY document_id")
            XCTAssertEqual(statuses, ["ok", "failed", "ok", "ok", "invalid", "ok"])
            let failed = try Row.fetchOne(db, sql: "SELECT attempts, error, raw_response FROM llm_requests WHERE status = 'failed'")!
            XCTAssertEqual(failed["attempts"] as Int, 2)
            XCTAssertTrue((failed["error"] as String).contains("HTTP 500"))
            let ok = try Row.fetchOne(db, sql: "SELECT * FROM llm_requests WHERE status = 'ok' LIMIT 1")!
            XCTAssertEqual(ok["prompt_tokens"] as Int, 50)
            XCTAssertNotNil(ok["latency_ms"] as Double?)
            XCTAssertEqual(ok["endpoint"] as String, self.server.endpoint().displayURL)
            let g = try Row.fetchOne(db, sql: "SELECT * FROM generators")!
            XCTAssertEqual(g["template_version"] as String, "paper-v1")
            XCTAssertEqual(g["fingerprint"] as String, self.spec().fingerprint)
        }

        // Re-run: only the failed request is sent again (the marker keeps it failing).
        try server.plan([], reset: true)
        let second = try await stage(db).run()
        XCTAssertEqual(second.requests, 1)
        XCTAssertEqual(try server.stats()["requests"] as? Int, 2, "one document, two attempts")
        XCTAssertEqual(try readSync(db) { try Int.fetchOne($0, sql: "SELECT attempts FROM llm_requests WHERE status = 'failed'") }, 4)

        // Out of attempts: nothing is sent.
        let third = try await stage(db, maxAttempts: 4).run()
        XCTAssertEqual(third.requests, 0)

        // The document repaired: its retry succeeds and only it is sent.
        try writeSync(db) { db in
            try db.execute(sql: "UPDATE documents SET text = replace(text, '[[fail]] ', '') WHERE text LIKE '[[fail]]%'")
        }
        try server.plan([], reset: true)
        let fourth = try await stage(db, maxAttempts: 12).run()
        XCTAssertEqual(fourth.requests, 1)
        XCTAssertEqual(fourth.ok, 1)
        XCTAssertEqual(try server.stats()["requests"] as? Int, 1)
        XCTAssertEqual(try readSync(db) { try Int.fetchOne($0, sql: "SELECT count(*) FROM qa_pairs") }, 10)

        let usage = try readSync(db) { try GenerationUsage.summary($0, prices: PriceTable(models: [
            "fault-model": ModelPrice(inputPerMillion: 1000, outputPerMillion: 2000)])) }
        XCTAssertEqual(usage.count, 1)
        XCTAssertEqual(usage[0].requests, 6)
        XCTAssertEqual(usage[0].ok, 5)
        XCTAssertEqual(usage[0].invalid, 1)
        XCTAssertEqual(usage[0].failed, 0)
        XCTAssertEqual(usage[0].attempts, 6 + 1 + 2 + 1)
        XCTAssertEqual(usage[0].pairs, 10)
        XCTAssertEqual(usage[0].promptTokens, 6 * 50)
        let expectedCost: Double = 300.0 / 1e6 * 1000 + 240.0 / 1e6 * 2000
        XCTAssertEqual(usage[0].estimatedCost ?? -1, expectedCost, accuracy: 1e-9)
    }

    func testTruncatedAndFencedAnswersAreRepaired() async throws {
        let (db, _) = try TestDB.make()
        try TestDB.insert(db, docs: try TestDB.pubmedqa(2))
        try server.plan(["truncated", "fenced"])
        let c = try await GenerateStage(store: db, client: ChatClient(endpoints: [server.endpoint(maxInFlight: 1)]),
                                        spec: spec(), options: GenerateOptions(concurrency: 1)).run()
        XCTAssertEqual(c.ok, 2)
        XCTAssertEqual(c.repaired, 1)
        XCTAssertEqual(c.pairs, 1 + 2)
    }

    func testSampleIsStableAcrossRuns() async throws {
        let (db, _) = try TestDB.make()
        try TestDB.insert(db, docs: try TestDB.pubmedqa(20))
        let s = try stage(db, sample: 5, seed: 42)
        let picked = try s.pendingDocuments()
        XCTAssertEqual(picked.count, 5)
        try await s.run()
        XCTAssertEqual(try readSync(db) { try Int64.fetchAll($0, sql: "SELECT document_id FROM llm_requests ORDER BY document_id") }, picked)
        XCTAssertEqual(try stage(db, sample: 5, seed: 42).pendingDocuments(), [])
        XCTAssertNotEqual(try stage(db, sample: 5, seed: 43).pendingDocuments(), picked)
    }

    func testExportSFTWritesTheTeachersPairsAsChats() async throws {
        let (db, path) = try TestDB.make()
        let docs = try TestDB.pubmedqa(3)
        try TestDB.insert(db, docs: docs)
        try await stage(db).run()
        let out = path + ".sft.jsonl"
        let n = try readSync(db) { try SFTExport.write($0, generator: "teacher", to: out) }
        XCTAssertEqual(n, 3)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        let messages = first["messages"] as! [[String: String]]
        XCTAssertEqual(messages.map { $0["role"]! }, ["user", "assistant"])
        XCTAssertEqual(messages[0]["content"], PromptTemplate.paper.render(document: docs[0].title + "\n" + docs[0].text, domain: "biomedicine"))
        let pairs = try QAParser.parse(messages[1]["content"]!).pairs
        let stored = try readSync(db) { db in
            try Row.fetchAll(db, sql: "SELECT question, answer FROM qa_pairs WHERE document_id = 1 ORDER BY position")
                .map { QAPair(question: $0["question"], answer: $0["answer"]) }
        }
        XCTAssertEqual(pairs, stored)
        XCTAssertEqual(first["generator"] as? String, "teacher")

        XCTAssertThrowsError(try readSync(db) { try SFTExport.write($0, generator: "nobody", to: out) }) {
            XCTAssertTrue("\($0)".contains("teacher"), "the error lists the generators there are")
        }
    }
}
