import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternGenerate

/// `kill -9` in the middle of a run loses only the requests in flight, and a re-run completes
/// the file exactly. The run to kill is this test bundle itself, started again as a child process
/// that runs only `KillTests.testChildRun` (which does nothing unless the parent set it up).
final class KillTests: XCTestCase {
    static let docs = 24
    static let concurrency = 4

    func testKillNineLosesOnlyInFlightRequests() async throws {
        let server = try FaultServer()
        defer { server.stop() }
        let (db, path) = try TestDB.make()
        try TestDB.insert(db, docs: try TestDB.pubmedqa(Self.docs))
        try server.plan(Array(repeating: "sleep:0.25", count: 1000))

        let child = Process()
        child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        child.arguments = ["LecternGenerateTests.KillTests/testChildRun"]
        var env = ProcessInfo.processInfo.environment
        env["LECTERN_GEN_KILL_CHILD_DB"] = path
        env["LECTERN_GEN_KILL_CHILD_PORT"] = String(server.port)
        child.environment = env
        child.standardOutput = FileHandle.nullDevice
        child.standardError = FileHandle.nullDevice
        try child.run()

        // Kill once a third of the answers are in the file.
        let reader = try Self.open(path)
        let deadline = Date().addingTimeInterval(60)
        var written = 0
        while Date() < deadline, written < Self.docs / 3, child.isRunning {
            written = try readSync(reader) { try Int.fetchOne($0, sql: "SELECT count(*) FROM llm_requests") ?? 0 }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertTrue(child.isRunning, "the child finished before it could be killed")
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let atKill = try readSync(reader) { try Int.fetchOne($0, sql: "SELECT count(*) FROM llm_requests") ?? 0 }
        XCTAssertGreaterThan(atKill, 0)
        XCTAssertLessThan(atKill, Self.docs)
        let sentBeforeKill = try server.stats()["requests"] as! Int
        XCTAssertLessThanOrEqual(sentBeforeKill - atKill, Self.concurrency, "only in-flight requests are unanswered")

        try server.plan([], reset: true)
        let again = try await Self.stage(db: reader, port: server.port).run()
        XCTAssertEqual(again.requests, Self.docs - atKill, "the re-run sends only what has no answer")
        XCTAssertEqual(try server.stats()["requests"] as? Int, Self.docs - atKill)
        try readSync(reader) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM llm_requests WHERE status = 'ok'"), Self.docs)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM qa_pairs"), Self.docs * 2)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(DISTINCT document_id) FROM qa_pairs"), Self.docs)
        }
    }

    /// The child half: runs the stage slowly until the parent kills it.
    func testChildRun() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = env["LECTERN_GEN_KILL_CHILD_DB"], let port = env["LECTERN_GEN_KILL_CHILD_PORT"].flatMap(Int.init) else {
            return  // only meaningful as the child of testKillNineLosesOnlyInFlightRequests
        }
        try await Self.stage(db: try Self.open(path), port: port).run()
    }

    /// The file as a stage opens it (WAL, a busy timeout): the parent reads while the child writes.
    static func open(_ path: String) throws -> Store {
        try Store.open(path: path)
    }

    static func stage(db: Store, port: Int) throws -> GenerateStage {
        let e = Endpoint(baseURL: URL(string: "http://127.0.0.1:\(port)/v1")!, model: "fault-model",
                         maxInFlight: concurrency, timeout: 10)
        return GenerateStage(store: db, client: try ChatClient(endpoints: [e]),
                             spec: GeneratorSpec(name: "teacher", model: "fault-model",
                                                 params: GenerationParams(domain: "biomedicine")),
                             options: GenerateOptions(concurrency: concurrency))
    }
}
