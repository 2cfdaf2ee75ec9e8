import Foundation
import GRDB
import LecternStore
import XCTest
import LecternTestSupport
@testable import LecternGenerate

/// Paths inside the repository, found from this file's location.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let faultServer = root.appendingPathComponent("Tests/LecternGenerateTests/Fixtures/fault_server.py").path
    static let migration = root.appendingPathComponent("migrations/0001_initial.sql").path
    static var pubmedqa: String { TestSupport.sharedData.appendingPathComponent("pubmedqa/ori_pqal.json").path }
}

/// A child process started by a test and ended by it.
final class ChildProcess {
    let process = Process()
    let stdout = Pipe()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first stdout line that starts with `prefix`, waiting up to `timeout` seconds.
    func readLine(prefix: String, timeout: Double = 20) throws -> String {
        let handle = stdout.fileHandleForReading
        var buffer = ""
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let d = handle.availableData
            if d.isEmpty { throw NSError(domain: "child", code: 1, userInfo: [NSLocalizedDescriptionKey: "child exited before printing \(prefix)"]) }
            buffer += String(decoding: d, as: UTF8.self)
            for line in buffer.split(separator: "\n") where line.hasPrefix(prefix) { return String(line) }
        }
        throw NSError(domain: "child", code: 2, userInfo: [NSLocalizedDescriptionKey: "no \(prefix) line within \(timeout) s"])
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// The Python fault-injection server (Fixtures/fault_server.py).
final class FaultServer {
    let child: ChildProcess
    let port: Int

    init(port: Int = 0) throws {
        child = try ChildProcess("/usr/bin/env", ["python3", Repo.faultServer, String(port)])
        let line = try child.readLine(prefix: "PORT ")
        self.port = Int(line.dropFirst(5))!
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/v1")! }

    func endpoint(maxInFlight: Int = 4, timeout: Double = 10, apiKeyEnv: String? = nil, rpm: Int? = nil) -> Endpoint {
        Endpoint(baseURL: baseURL, model: "fault-model", apiKeyEnv: apiKeyEnv, maxInFlight: maxInFlight,
                 requestsPerMinute: rpm, timeout: timeout)
    }

    func plan(_ behaviours: [String], reset: Bool = true) throws {
        _ = try Self.http("http://127.0.0.1:\(port)/control", body: ["plan": behaviours, "reset": reset])
    }

    func stats() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Self.http("http://127.0.0.1:\(port)/stats", body: nil)) as! [String: Any]
    }

    func stop() { child.stop() }

    /// Blocking HTTP for test control (curl: no async plumbing needed in setup code).
    static func http(_ url: String, body: [String: Any]?) throws -> Data {
        var args = ["-sS", "--max-time", "10", url]
        if let body {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            args += ["-H", "Content-Type: application/json", "-d", json]
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }
}

/// A fresh Lectern file.
enum TestDB {
    /// A new Lectern file (every migration applied), as the stage takes it.
    static func make() throws -> (Store, String) {
        let path = NSTemporaryDirectory() + "lectern-gen-\(UUID().uuidString).lectern"
        return (try Store.create(path: path, domain: "biomedicine"), path)
    }

    /// The first `n` PubMedQA abstracts (by id), as (title = question, text = contexts).
    static func pubmedqa(_ n: Int) throws -> [(id: String, title: String, text: String)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Repo.pubmedqa))
        let all = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        return all.keys.sorted().prefix(n).map { k in
            let v = all[k]!
            return (k, v["QUESTION"] as! String, (v["CONTEXTS"] as! [String]).joined(separator: " "))
        }
    }

    @discardableResult
    static func insert(_ db: Store, docs: [(id: String, title: String, text: String)]) throws -> [Int64] {
        try db.pool.write { db in
            try docs.map { d in
                try db.execute(sql: """
                    INSERT INTO documents (text, title, source, external_id, n_chars, content_hash, created_at)
                    VALUES (?, ?, 'pubmedqa', ?, ?, ?, '2026-01-01T00:00:00Z')
                    """, arguments: [d.text, d.title, d.id, d.text.unicodeScalars.count,
                                     Data(Canonical.sha256Hex(d.text).utf8.prefix(16))])
                return db.lastInsertedRowID
            }
        }
    }
}

/// Whether a component the test needs is missing: fails under LECTERN_REQUIRE_COMPONENTS=1, skips otherwise.
func requireComponent(_ available: Bool, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try LecternTestSupport.TestSupport.requireComponent(available, what, setup: "scripts/setup.d/30-llama-server.sh", file: file, line: line)
}

/// The tests read and write a stage's file as they would a GRDB writer.
extension Store {
    func read<T>(_ body: (Database) throws -> T) throws -> T { try pool.read(body) }
    func write<T>(_ body: (Database) throws -> T) throws -> T { try pool.write(body) }
}
