import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking   // Data(contentsOf:) on http URLs, for the test's own probes
#endif
import XCTest
@testable import LecternEmbed
import LecternHTTP
import LecternCore

/// The embeddings client against a fault-injecting fake server (Fixtures/fake_embeddings_server.py).
final class OpenAIClientTests: XCTestCase {
    final class FakeServer {
        let process = Process()
        let port: Int
        init(scenario: String) throws {
            let portFile = NSTemporaryDirectory() + "fake-emb-\(UUID().uuidString)"
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", TestSupport.repoRoot + "/Tests/LecternEmbedTests/Fixtures/fake_embeddings_server.py", portFile, scenario]
            do { try process.run() } catch { try TestSupport.require("python3 (\(error))", setup: "apt-get install python3") }
            var port: Int?
            for _ in 0..<100 where port == nil {
                port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
                if port == nil { Thread.sleep(forTimeInterval: 0.05) }
            }
            guard let port else { process.terminate(); throw EmbedError.remote("fake server did not start") }
            self.port = port
        }
        var url: URL { URL(string: "http://127.0.0.1:\(port)")! }
        func stats() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/stats")!)) as! [String: Any]
        }
        deinit { process.terminate(); process.waitUntilExit() }
    }

    func options(_ url: URL) -> OpenAIEmbeddingsClient.Options {
        var o = OpenAIEmbeddingsClient.Options(url: url, model: "fake-model")
        o.apiKeyVariable = "LECTERN_TEST_EMBED_KEY"
        o.initialBackoff = 0.05
        o.dimension = 3
        return o
    }

    func testRetriesHonourRetryAfterAndKeepInputOrder() throws {
        let server = try FakeServer(scenario: "flaky")
        setenv("LECTERN_TEST_EMBED_KEY", "sk-secret-123", 1)
        defer { unsetenv("LECTERN_TEST_EMBED_KEY") }
        var o = options(server.url)
        o.batchSize = 3
        o.concurrency = 2
        let client = try OpenAIEmbeddingsClient(options: o)
        let texts = (0..<20).map { "text number \($0) " + String(repeating: "x", count: $0) }
        let start = Date()
        let flat = try client.embed(texts)
        let elapsed = Date().timeIntervalSince(start)
        for (i, t) in texts.enumerated() {
            XCTAssertEqual(Array(flat[(i * 3)..<(i * 3 + 3)]), [Float(t.count), Float(t.unicodeScalars.reduce(0) { $0 + Int($1.value) } % 1000), 1], "text \(i)")
        }
        let s = try server.stats()
        XCTAssertEqual(s["requests"] as? Int, 7 + 2, "7 batches plus the 429 and the 503")
        XCTAssertLessThanOrEqual(s["max_in_flight"] as! Int, 2)
        XCTAssertGreaterThanOrEqual(elapsed, 1.0, "Retry-After: 1 was not honoured")
        XCTAssertEqual(Set(s["auth"] as! [String?]), ["Bearer sk-secret-123"])
        XCTAssertFalse(client.configJSON.contains("sk-secret"))
        XCTAssertFalse(client.fingerprint.isEmpty)
    }

    func testGivesUpAfterMaxAttemptsOn5xx() throws {
        let server = try FakeServer(scenario: "always500")
        var o = options(server.url)
        o.maxAttempts = 3
        let client = try OpenAIEmbeddingsClient(options: o)
        XCTAssertThrowsError(try client.embed(["a"])) { e in
            XCTAssertTrue("\(e)".contains("after 3 attempts"), "\(e)")
            XCTAssertTrue("\(e)".contains("HTTP 500"), "\(e)")
        }
        XCTAssertEqual(try server.stats()["requests"] as? Int, 3)
    }

    func testClientErrorsAreNotRetried() throws {
        let server = try FakeServer(scenario: "bad400")
        let client = try OpenAIEmbeddingsClient(options: options(server.url))
        XCTAssertThrowsError(try client.embed(["a"])) { e in XCTAssertTrue("\(e)".contains("model not found"), "\(e)") }
        XCTAssertEqual(try server.stats()["requests"] as? Int, 1)
    }

    func testProbesDimensionAndNormalisesEndpoint() throws {
        let server = try FakeServer(scenario: "ok")
        var o = options(server.url.appendingPathComponent("v1"))
        o.dimension = nil
        let client = try OpenAIEmbeddingsClient(options: o)
        XCTAssertEqual(client.dimension, 3)
        XCTAssertEqual(client.endpoint.path, "/v1/embeddings")
        XCTAssertEqual(RetryAfter.seconds("7"), 7)
        XCTAssertNil(RetryAfter.seconds("soon"))
        XCTAssertNil(RetryAfter.seconds(nil))
        XCTAssertEqual(RetryAfter.seconds("-3"), 0)
        let now = Date(timeIntervalSince1970: 1_445_412_450)  // Wed, 21 Oct 2015 07:27:30 GMT
        XCTAssertEqual(RetryAfter.seconds("Wed, 21 Oct 2015 07:28:00 GMT", now: now), 30)
        XCTAssertThrowsError(try OpenAIEmbeddingsClient(options: .init(url: URL(string: "ftp://x")!, model: "m")))
    }

    /// Synchronous on purpose: FakeServer's deinit waits for its process, which spins forever on
    /// a Swift-concurrency thread here (Foundation's Process on Linux), so no async test owns one.
    func testPoolFailsOverFromADeadAndABrokenServerWithoutLosingABatch() throws {
        // Fault injection only; the pool's real proof is LlamaServerEmbeddingsTests (two llama-servers).
        let broken = try FakeServer(scenario: "always500")
        let healthy = try FakeServer(scenario: "ok")
        var o = options(URL(string: "http://127.0.0.1:9")!)   // nothing listens on the discard port
        o.urls = [URL(string: "http://127.0.0.1:9")!, broken.url, healthy.url]
        o.maxAttempts = 3   // a batch may meet both bad servers before the healthy one
        o.batchSize = 2
        o.concurrency = 2
        let client = try OpenAIEmbeddingsClient(options: o)
        XCTAssertEqual(client.endpoints.count, 3)
        let texts = (0..<40).map { "text number \($0) " + String(repeating: "x", count: $0) }
        let flat = try client.embed(texts)
        XCTAssertEqual(flat.count, 40 * 3)
        for (i, t) in texts.enumerated() {
            XCTAssertEqual(Array(flat[(i * 3)..<(i * 3 + 3)]), [Float(t.count), Float(t.unicodeScalars.reduce(0) { $0 + Int($1.value) } % 1000), 1],
                           "text \(i) got another text's vector")
        }
        let served = try runBlocking { await client.requestsServed() }
        XCTAssertEqual(served, [0, 0, 20], "every batch answered by the healthy server, once")
        XCTAssertEqual(try healthy.stats()["requests"] as? Int, 20)
        XCTAssertThrowsError(try OpenAIEmbeddingsClient(options: .init(urls: [healthy.url, healthy.url], model: "m"))) {
            XCTAssertTrue("\($0)".contains("given twice"), "\($0)")
        }
        XCTAssertThrowsError(try OpenAIEmbeddingsClient(options: .init(urls: [], model: "m")))
    }

    func testConnectionRefusedIsRetriedThenReported() throws {
        var o = options(URL(string: "http://127.0.0.1:9")!)
        o.maxAttempts = 2
        let client = try OpenAIEmbeddingsClient(options: o)
        XCTAssertThrowsError(try client.embed(["a"])) { e in XCTAssertTrue("\(e)".contains("after 2 attempts"), "\(e)") }
    }
}
