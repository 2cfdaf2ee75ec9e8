import Foundation
import GRDB
import LecternTestSupport
import XCTest
import LecternCatalogue
import LecternStore

/// The one catalogue of a file's contents (status, the run summary and the report read it).
final class FileCatalogueTests: XCTestCase {
    func testCatalogueCountsWhatTheFileHoldsPerConfiguration() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("c.lectern").path
        let store = try Store.create(path: path, domain: "biomedicine")
        try store.pool.write { db in
            for (i, text) in ["alpha beta", "gamma delta", "epsilon"].enumerated() {
                try db.execute(sql: """
                    INSERT INTO documents(text, source, n_chars, content_hash, created_at) VALUES (?, 's', ?, ?, 'now')
                    """, arguments: [text, text.count, Data([UInt8(i)])])
            }
            for (id, name) in [(1, "a"), (2, "b")] {
                try db.execute(sql: """
                    INSERT INTO generators(id, name, model, template_version, template, params, fingerprint, created_at)
                    VALUES (?, ?, 'm', 'v', 't', '{}', ?, 'now')
                    """, arguments: [id, name, String(repeating: String(id), count: 64)])
            }
            for (doc, gen) in [(1, 1), (2, 1), (3, 2)] {
                try db.execute(sql: """
                    INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (?, ?, 0, 'q', 'a')
                    """, arguments: [doc, gen])
            }
            try db.execute(sql: """
                INSERT INTO stage_runs(stage, fingerprint, config, status, pid, host, lectern_version, started_at, error)
                VALUES ('ingest', 'f', '{}', 'complete', 1, 'h', 'v', 'then', 'line 3: bad JSON' || char(10) || 'line 9: empty text')
                """)
        }
        let catalogue = try store.pool.read { db in try LecternCatalogue.read(db) }
        XCTAssertEqual(catalogue.sections.map(\.key), ["file", "sources", "artifacts", "training_sets", "training_runs", "stages", "problems"])
        XCTAssertEqual(catalogue.fileFact("documents").flatMap { Int.fromDatabaseValue($0) }, 3)
        XCTAssertEqual(catalogue.fileFact("domain").flatMap { String.fromDatabaseValue($0) }, "biomedicine")
        XCTAssertEqual(catalogue.artifactRows("QA pairs"), 3)
        XCTAssertEqual(catalogue.artifactRows("QA pairs", id: 1), 2)
        XCTAssertEqual(catalogue.artifactRows("QA pairs", id: 2), 1)
        XCTAssertEqual(catalogue.artifactRows("QA pairs", id: 3), 0)
        XCTAssertEqual(catalogue.artifactRows("instructions"), 0)
        XCTAssertEqual(catalogue.section("problems")?.rows.count, 2, "one row per kept message")
        XCTAssertEqual(catalogue.section("stages")?.rows.count, 1)
        XCTAssertNil(catalogue.trainingSet(id: 1))
    }
}
