import GRDB
import LecternCore
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternGenerate

/// The stage as a recorded `generate` stage run of a real store.
final class StoreRunTests: XCTestCase {
    func testStageRunIsRecordedWithCountsAndNoSecrets() async throws {
        let server = try FaultServer()
        defer { server.stop() }
        let path = NSTemporaryDirectory() + "lectern-gen-store-\(UUID().uuidString).lectern"
        let store = try Store.create(path: path, domain: "biomedicine")
        var docs = try TestDB.pubmedqa(4)
        docs[2].text = "[[nojson]] " + docs[2].text
        let finalDocs = docs
        try writeSync(store) { db in
            for d in finalDocs {
                try db.execute(sql: """
                    INSERT INTO documents (text, title, source, n_chars, content_hash, created_at)
                    VALUES (?, ?, 'pubmedqa', ?, ?, '2026-01-01T00:00:00Z')
                    """, arguments: [d.text, d.title, d.text.count, Data(ContentHash.of(text: d.text))])
            }
        }
        let variable = "LECTERN_TEST_STORE_KEY"
        setenv(variable, "sk-never-in-the-file", 1)
        defer { unsetenv(variable) }
        let client = try ChatClient(endpoints: [server.endpoint(apiKeyEnv: variable)])
        let spec = GeneratorSpec(name: "teacher", model: "fault-model", params: GenerationParams(domain: "biomedicine"))
        let counts = try await GenerateStage.run(store: store, client: client, spec: spec, options: GenerateOptions(),
                                                 showProgress: false)
        XCTAssertEqual(counts.ok, 3)
        XCTAssertEqual(counts.invalid, 1)

        let row = try readSync(store) { db in
            try Row.fetchOne(db, sql: "SELECT * FROM stage_runs WHERE stage = 'generate'")!
        }
        XCTAssertEqual(row["status"] as String, "complete")
        XCTAssertEqual(row["n_inputs"] as Int, 4)
        XCTAssertEqual(row["n_processed"] as Int, 4)
        XCTAssertEqual(row["n_skipped"] as Int, 1)
        let runCounts = try JSONSerialization.jsonObject(with: Data((row["counts"] as String).utf8)) as! [String: Int]
        XCTAssertEqual(runCounts["pairs"], 6)
        XCTAssertEqual(runCounts["rejected_duplicate_question"], 3)
        XCTAssertTrue((row["config"] as String).contains(spec.fingerprint))
        XCTAssertTrue((row["error"] as String).contains("no JSON"), "the invalid answer's reason is noted")

        // No secret anywhere in the file.
        let dump = try readSync(store) { db -> String in
            var all = ""
            for t in ["stage_runs", "generators", "llm_requests"] {
                for r in try Row.fetchAll(db, sql: "SELECT * FROM \(t)") { all += r.description }
            }
            return all
        }
        XCTAssertFalse(dump.contains("sk-never-in-the-file"))

        // A second run has nothing to do.
        let again = try await GenerateStage.run(store: store, client: client, spec: spec, options: GenerateOptions(),
                                                showProgress: false)
        XCTAssertEqual(again.requests, 0)
    }
}
