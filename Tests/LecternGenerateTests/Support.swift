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
    static let migration = root.appendingPathComponent("migrations/0001_initial.sql").path
    static var pubmedqa: String { TestSupport.sharedData.appendingPathComponent("pubmedqa/ori_pqal.json").path }
}

extension FaultServer {
    func endpoint(maxInFlight: Int = 4, timeout: Double = 10, apiKeyEnv: String? = nil, rpm: Int? = nil) -> Endpoint {
        Endpoint(baseURL: baseURL, model: "fault-model", apiKeyEnv: apiKeyEnv, maxInFlight: maxInFlight,
                 requestsPerMinute: rpm, timeout: timeout)
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
