import Foundation
import GRDB
import LecternCore
import LecternMine
import LecternStore
import XCTest

final class MineStageTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-mine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A store holding the first `n` PubMedQA abstracts (question as title), ids in id order.
    func makeStore(_ name: String, n: Int) throws -> Store {
        let store = try Store.create(path: dir.appendingPathComponent(name).path, domain: "biomedicine")
        let docs = try TestSupport.pubMedQA().prefix(n)
        try store.pool.write { db in
            for (i, d) in docs.enumerated() {
                let text = d.contexts.joined(separator: " ")
                try db.execute(sql: """
                    INSERT INTO documents(id, text, title, source, external_id, n_chars, content_hash, created_at)
                    VALUES (?, ?, ?, 'pubmedqa', ?, ?, ?, '2026-01-01T00:00:00Z')
                    """, arguments: [i + 1, text, d.question, d.id, text.unicodeScalars.count, Data(ContentHash.of(text: text))])
            }
        }
        return store
    }

    func snapshot(_ store: Store, _ fingerprint: String) throws -> [String] {
        try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.document_id, t.text, t.n_tasks,
                       (SELECT group_concat(k.position || '|' || k.task_type || '|' || coalesce(k.subcategory, '') || '|' ||
                               coalesce(k.premise, '') || '|' || coalesce(k.verbalizer, '') || '|' || coalesce(k.hypothesis, '') || '|' ||
                               k.prompt || '|' || k.answer, char(10))
                        FROM (SELECT * FROM rc_tasks WHERE rc_text_id = t.id ORDER BY position) k) AS tasks
                FROM rc_texts t WHERE t.fingerprint = ? ORDER BY t.document_id
                """, arguments: [fingerprint]).map { "\($0["document_id"] as Int64)\n\($0["text"] as String)\n\($0["n_tasks"] as Int)\n\(($0["tasks"] as String?) ?? "")" }
        }
    }

    /// Interrupted and resumed equals uninterrupted; a re-run does nothing; the stored tuples
    /// are the regex tuples of each document.
    func testResumableDeterministicAndQueryable() throws {
        var config = MinerConfig(); config.seed = 42; config.firstLineIsTitle = false
        let miner = Miner(config: config)
        let a = try makeStore("a.lectern", n: 300)
        let full = try MineStage(store: a, miner: miner, batchSize: 64).run(progress: false)
        XCTAssertEqual(full.mined, 300)
        XCTAssertEqual(try MineStage(store: a, miner: miner).run(progress: false).mined, 0, "a re-run has nothing to do")

        // "Crash": a run that did only part of the work (batches of another size, one thread),
        // then a resume.
        let b = try makeStore("b.lectern", n: 300)
        _ = try MineStage(store: b, miner: miner, batchSize: 50, threads: 1).run(progress: false)
        try b.pool.write { db in try db.execute(sql: "DELETE FROM rc_texts WHERE document_id > 123") }
        let resumed = try MineStage(store: b, miner: miner, batchSize: 7).run(progress: false)
        XCTAssertEqual(resumed.mined, 300 - 123)
        XCTAssertEqual(try snapshot(a, full.fingerprint), try snapshot(b, full.fingerprint))

        // The stored tuples are what the matcher finds in each document.
        let rows = try a.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT d.text, k.subcategory, k.premise, k.verbalizer, k.hypothesis FROM rc_tasks k
                JOIN rc_texts t ON t.id = k.rc_text_id JOIN documents d ON d.id = t.document_id
                WHERE k.task_type IN ('nli', 'commonsense', 'paraphrase') OR k.subcategory IN ('definition', 'topic')
                """)
        }
        XCTAssertGreaterThanOrEqual(rows.count, 10, "too few regex tasks for a meaningful check")
        for r in rows {
            let key = [r["subcategory"], r["premise"], r["verbalizer"], r["hypothesis"]] as [String?]
            let mined = miner.mineTuples(in: r["text"]).map { [$0.subcategory, $0.premise, $0.verbalizer, $0.hypothesis] }
            XCTAssertTrue(mined.contains(key), "stored tuple \(key) is not one the matcher finds")
        }
        let runs = try a.pool.read { db in try String.fetchAll(db, sql: "SELECT status FROM stage_runs WHERE stage = 'mine'") }
        XCTAssertEqual(runs, ["complete", "complete"])

        // Another seed is another fingerprint: new rows, old ones kept.
        var other = config; other.seed = 43
        let second = try MineStage(store: a, miner: Miner(config: other)).run(progress: false)
        XCTAssertNotEqual(second.fingerprint, full.fingerprint)
        XCTAssertEqual(second.mined, 300)
        XCTAssertNotEqual(try snapshot(a, full.fingerprint), try snapshot(a, second.fingerprint))
    }
}
