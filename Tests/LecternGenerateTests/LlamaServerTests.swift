import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternGenerate

extension LlamaServer {
    var endpoint: Endpoint {
        Endpoint(baseURL: baseURL, model: "smollm2", maxInFlight: 2, timeout: 300)
    }
}

/// Real generation: SmolLM2 writes question-answer pairs about PubMedQA abstracts.
final class LlamaServerTests: XCTestCase {
    func testRealPairsFromSmolLM2() async throws {
        let paths = LlamaServer.paths()
        try requireComponent(paths != nil, "llama-server or SmolLM2 (LECTERN_LLAMA_SERVER, LECTERN_SMOLLM2_GGUF)")
        let server = try LlamaServer(server: paths!.server, model: paths!.model)
        defer { server.stop() }

        let (db, _) = try TestDB.make()
        try TestDB.insert(db, docs: try TestDB.pubmedqa(3))
        // Short prompts and answers: a few seconds on 2 idle cores (about 100 tokens/s).
        let spec = GeneratorSpec(name: "smollm2", model: "smollm2", params: GenerationParams(
            domain: "biomedicine", maxTokens: 96, temperature: 0, seed: 1,
            schema: QASchema(maxItems: 2, maxQuestionLength: 100, maxAnswerLength: 100), maxDocumentChars: 500))
        let client = try ChatClient(endpoints: [server.endpoint])
        let counts = try await GenerateStage(store: db, client: client, spec: spec, options: GenerateOptions()).run()

        XCTAssertEqual(counts.requests, 3)
        XCTAssertGreaterThanOrEqual(counts.ok, 2, "the schema-constrained model should answer most documents: \(counts)")
        try readSync(db) { db in
            let pairs = try Row.fetchAll(db, sql: "SELECT question, answer FROM qa_pairs")
            XCTAssertGreaterThanOrEqual(pairs.count, 2)
            for p in pairs {
                XCTAssertFalse((p["question"] as String).trimmingCharacters(in: .whitespaces).isEmpty)
                XCTAssertFalse((p["answer"] as String).trimmingCharacters(in: .whitespaces).isEmpty)
            }
            let usage = try GenerationUsage.summary(db)
            XCTAssertEqual(usage.first?.requests, 3)
            XCTAssertGreaterThan(usage.first?.completionTokens ?? 0, 0, "llama-server reports usage")
        }
    }
}
