import GRDB
import LecternStore
import XCTest
@testable import LecternGenerate

/// llama.cpp's llama-server with SmolLM2-135M-Instruct, started by the test on a free port.
final class LlamaServer {
    let child: ChildProcess
    let port: Int

    /// nil when the binary or the model is not installed.
    static func paths() -> (server: String, model: String)? {
        let env = ProcessInfo.processInfo.environment
        guard let s = env["LECTERN_LLAMA_SERVER"], let m = env["LECTERN_SMOLLM2_GGUF"],
              FileManager.default.isExecutableFile(atPath: s), FileManager.default.fileExists(atPath: m) else { return nil }
        return (s, m)
    }

    init(server: String, model: String, parallel: Int = 2) throws {
        port = try Self.freePort()
        child = try ChildProcess(server, ["-m", model, "--host", "127.0.0.1", "--port", String(port),
                                          "-c", String(2048 * parallel), "-np", String(parallel), "-t", "2",
                                          "--cache-ram", "0", "--no-webui"])
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let d = try? FaultServer.httpGet("http://127.0.0.1:\(port)/health"),
               String(decoding: d, as: UTF8.self).contains("ok") { return }
            guard child.process.isRunning else { throw NSError(domain: "llama", code: 1, userInfo: [NSLocalizedDescriptionKey: "llama-server exited at start"]) }
            Thread.sleep(forTimeInterval: 0.25)
        }
        child.stop()
        throw NSError(domain: "llama", code: 2, userInfo: [NSLocalizedDescriptionKey: "llama-server not healthy within 60 s"])
    }

    var endpoint: Endpoint {
        Endpoint(baseURL: URL(string: "http://127.0.0.1:\(port)/v1")!, model: "smollm2", maxInFlight: 2, timeout: 300)
    }

    func stop() { child.stop() }

    /// A port the kernel just handed out and released.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw NSError(domain: "port", code: 1) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

extension FaultServer {
    static func httpGet(_ url: String) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sf", "--max-time", "2", url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw NSError(domain: "curl", code: Int(p.terminationStatus)) }
        return data
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
