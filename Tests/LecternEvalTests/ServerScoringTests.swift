import Foundation
import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternEval

/// Scoring through an OpenAI-compatible server: a real llama-server with SmolLM2 answers a
/// generation task through completions and chat; a multiple-choice task is refused (llama-server
/// gives no prompt log-probabilities); a server answering garbage leaves items unscored, and the
/// next run (against the real server) scores exactly those.
final class ServerScoringTests: XCTestCase {
    /// llama-server and SmolLM2, or a skip (a failure under LECTERN_REQUIRE_COMPONENTS=1).
    func llamaServerPaths() throws -> (server: String, model: String) {
        let paths = LlamaServer.paths()
        try TestSupport.requireComponent(paths != nil, "llama-server and SmolLM2 (LECTERN_LLAMA_SERVER, LECTERN_SMOLLM2_GGUF)",
                                         setup: "scripts/setup.d/30-llama-server.sh")
        guard let paths else { throw XCTSkip("llama-server or SmolLM2 missing") }
        return paths
    }

    func startLlamaServer() throws -> LlamaServer {
        let paths = try llamaServerPaths()
        return try LlamaServer(server: paths.server, model: paths.model)
    }

    func makeStore() throws -> (Store, URL) {
        let dir = try TestSupport.temporaryDirectory(self)
        return (try Store.create(path: dir.appendingPathComponent("s.lectern").path, domain: "general"), dir)
    }

    func importTask(_ store: Store, _ dir: URL, name: String, lines: [[String: Any]]) throws {
        let path = dir.appendingPathComponent("\(name).jsonl")
        let text = try lines.map { String(decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self) }
            .joined(separator: "\n")
        try text.write(to: path, atomically: true, encoding: .utf8)
        _ = try StageRunner.run(TaskImport(store: store, path: path.path, task: name, format: .adaptllm))
    }

    let questions: [[String: Any]] = [
        ["input": "Question: What is the capital of France?\nAnswer:", "label": "Paris"],
        ["input": "Question: How many legs does a spider have?\nAnswer:", "label": "8"],
        ["input": "Question: What colour is the sky on a clear day?\nAnswer:", "label": "blue"],
    ]

    func testGenerationThroughLlamaServerAndResume() async throws {
        let server = try startLlamaServer()
        defer { server.stop() }
        let (store, dir) = try makeStore()
        try importTask(store, dir, name: "qa", lines: questions)

        for api in [ServerAPI.completions, .chat] {
            var stage = ServerEvalStage(store: store, task: "qa", endpoint: server.baseURL, model: "smollm2")
            stage.api = api
            stage.maxNewTokens = 16
            let first = try await StageRunner.run(stage)
            XCTAssertEqual(first.scored, 3, "\(api)")
            XCTAssertEqual(first.unscored, 0)
            XCTAssertEqual(first.scores.map(\.metric), ["exact_match"])
            let again = try await StageRunner.run(stage)
            XCTAssertEqual(again.scored, 0, "\(api): a re-run scores only what is missing")
            XCTAssertEqual(again.alreadyScored, 3)
            try await store.pool.read { db in
                let texts = try String.fetchAll(db, sql: "SELECT predicted_text FROM eval_predictions WHERE fingerprint = ?", arguments: [first.fingerprint])
                XCTAssertEqual(texts.count, 3)
                XCTAssertTrue(texts.allSatisfy { !$0.contains("\n") }, "answers end at the stop sequence: \(texts)")
                XCTAssertTrue(texts.contains { !$0.trimmingCharacters(in: .whitespaces).isEmpty }, "SmolLM2 answered something: \(texts)")
                // The stored `correct` agrees with the recomputed score.
                let correct = try Int.fetchAll(db, sql: "SELECT correct FROM eval_predictions WHERE fingerprint = ?", arguments: [first.fingerprint])
                let value = try Double.fetchOne(db, sql: "SELECT value FROM eval_scores WHERE fingerprint = ? AND metric = 'exact_match'", arguments: [first.fingerprint])
                XCTAssertEqual(value ?? -1, 100 * Double(correct.reduce(0, +)) / 3, accuracy: 1e-9)
            }
        }
    }

    func testMultipleChoiceIsRefusedWhenTheServerGivesNoPromptLogprobs() async throws {
        let server = try startLlamaServer()
        defer { server.stop() }
        let (store, dir) = try makeStore()
        try importTask(store, dir, name: "mc", lines: [
            ["input": "Is water wet?\nAnswer:", "options": ["yes", "no"], "gold_index": 0],
            ["input": "Is fire cold?\nAnswer:", "options": ["yes", "no"], "gold_index": 1],
        ])
        let stage = ServerEvalStage(store: store, task: "mc", endpoint: server.baseURL, model: "smollm2")
        do {
            _ = try await StageRunner.run(stage)
            XCTFail("llama-server ignores echo: multiple choice must be refused")
        } catch {
            XCTAssertTrue("\(error)".contains("no log-probabilities for the prompt"), "\(error)")
            XCTAssertTrue("\(error)".contains("--base MODEL"), "says what to do instead: \(error)")
        }
        var chat = ServerEvalStage(store: store, task: "mc", endpoint: server.baseURL, model: "smollm2")
        chat.api = .chat
        do {
            _ = try await StageRunner.run(chat)
            XCTFail("chat cannot score multiple choice")
        } catch {
            XCTAssertTrue("\(error)".contains("chat completions do not give"), "\(error)")
        }
        try await store.pool.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_predictions"), 0, "nothing scored wrong")
        }
    }

    func testGarbageRepliesLeaveItemsUnscoredAndTheNextRunScoresThem() async throws {
        let paths = try llamaServerPaths()
        let (store, dir) = try makeStore()
        try importTask(store, dir, name: "qa", lines: questions)
        // Fault injection: every reply is garbage or a 500.
        let faults = try FaultServer()
        defer { faults.stop() }
        try faults.plan(Array(repeating: "garbage", count: 6) + Array(repeating: "500", count: 6))
        var broken = ServerEvalStage(store: store, task: "qa", endpoint: faults.baseURL, model: "smollm2")
        broken.api = .chat
        broken.retries = 1
        broken.maxNewTokens = 16
        let failed = try await StageRunner.run(broken)
        XCTAssertEqual(failed.scored, 0)
        XCTAssertEqual(failed.unscored, 3)
        XCTAssertTrue(failed.scores.isEmpty, "no score from no predictions")
        try await store.pool.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_predictions"), 0, "never scored wrong")
            let notes = try String.fetchOne(db, sql: "SELECT error FROM stage_runs WHERE stage = 'eval' ORDER BY id DESC LIMIT 1") ?? ""
            XCTAssertTrue(notes.contains("left unscored"), notes)
        }
        // The same configuration (model and label, whatever the URL) on the real server: the rest.
        let server = try LlamaServer(server: paths.server, model: paths.model)
        defer { server.stop() }
        var real = ServerEvalStage(store: store, task: "qa", endpoint: server.baseURL, model: "smollm2")
        real.api = .chat
        real.maxNewTokens = 16
        let done = try await StageRunner.run(real)
        XCTAssertEqual(done.fingerprint, failed.fingerprint)
        XCTAssertEqual(done.scored, 3)
        XCTAssertEqual(done.alreadyScored, 0)
    }
}
