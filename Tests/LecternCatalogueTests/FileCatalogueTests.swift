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
        XCTAssertEqual(catalogue.sections.map(\.key), ["file", "sources", "artifacts", "training_sets", "training_runs", "eval_scores", "stages", "problems"])
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

        // The details the report draws: after each module's summary, in pipeline order.
        try store.pool.write { db in
            try db.execute(sql: "INSERT INTO tokenizers(id, name, kind, fingerprint, created_at) VALUES (1, 'tok', 'gguf', 'ft', 'now')")
            for (doc, n) in [(1, 3), (2, 40), (3, 41)] {
                try db.execute(sql: "INSERT INTO token_counts(tokenizer_id, document_id, n_tokens) VALUES (1, ?, ?)", arguments: [doc, n])
            }
            for (key, gen, doc, status, error) in [("k1", 1, 1, "ok", nil), ("k2", 1, 2, "ok", nil), ("k3", 2, 3, "invalid", "no JSON: reply 'x'")] {
                try db.execute(sql: """
                    INSERT INTO llm_requests(key, generator_id, document_id, status, attempts, error, created_at, updated_at)
                    VALUES (?, ?, ?, ?, 1, ?, 'now', 'now')
                    """, arguments: [key, gen, doc, status, error])
            }
            try db.execute(sql: "UPDATE qa_pairs SET request_key = 'k' || document_id")
        }
        let detailed = try store.pool.read { db in try LecternCatalogue.read(db, details: true) }
        let keys = detailed.sections.map(\.key)
        for key in ["token_lengths", "qa_per_document", "qa_requests", "llm_usage", "stage_runs", "eval_contamination", "training_curves"] {
            XCTAssertTrue(keys.contains(key), "details lack \(key): \(keys)")
        }
        XCTAssertLessThan(keys.firstIndex(of: "token_lengths")!, keys.firstIndex(of: "stage_runs")!)
        // Histogram bins of width 5 (the nice width at or above 42/16): 3 in [0,5), 40 and 41 in [40,45).
        let bins = detailed.section("token_lengths")!.rows.map { $0.map { Int.fromDatabaseValue($0) } }
        XCTAssertEqual(bins.count, 9)
        XCTAssertEqual(bins.first, [nil, 0, 5, 1])
        XCTAssertEqual(bins.last, [nil, 40, 45, 2])
        XCTAssertEqual(bins.compactMap { $0[3] }.reduce(0, +), 3)
        // Pairs per document: generator a has two documents with one pair; b one document with one.
        let perDoc = detailed.section("qa_per_document")!.rows.map { [String.fromDatabaseValue($0[0]) ?? "", String(Int.fromDatabaseValue($0[1]) ?? -1), String(Int.fromDatabaseValue($0[2]) ?? -1)] }
        XCTAssertEqual(perDoc, [["a (m)", "1", "2"], ["b (m)", "1", "1"]])
        let reasons = detailed.section("qa_requests")!.rows.compactMap { String.fromDatabaseValue($0[2]) }
        XCTAssertTrue(reasons.contains("no JSON"), "\(reasons)")
    }

    func testHistogramBinsHaveRoundWidthsAndKeepEveryValue() {
        for values in [[0], [1, 2, 3], Array(0..<1000), [5, 5000, 123_456], [7, 7, 7]] {
            let rows = FileCatalogue.histogramRows(group: .null, values: values)
            XCTAssertLessThanOrEqual(rows.count, 16)
            XCTAssertEqual(rows.compactMap { Int.fromDatabaseValue($0[3]) }.reduce(0, +), values.count, "\(values.prefix(3))")
            let width = (Int.fromDatabaseValue(rows[0][2]) ?? 0) - (Int.fromDatabaseValue(rows[0][1]) ?? 0)
            var w = width
            while w % 10 == 0 && w >= 10 { w /= 10 }
            XCTAssertTrue([1, 2, 5].contains(w), "width \(width)")
            XCTAssertGreaterThan((Int.fromDatabaseValue(rows.last![2]) ?? 0), values.max()! , "the last bin holds the maximum")
        }
        XCTAssertTrue(FileCatalogue.histogramRows(group: .null, values: []).isEmpty)
    }
}
