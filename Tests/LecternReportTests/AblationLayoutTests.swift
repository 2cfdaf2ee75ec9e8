import Foundation
import GRDB
import LecternCatalogue
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternReport

/// The report's evaluation layouts on a file holding an ablation's rows (the shape
/// examples/pubmedqa-ablation.toml writes): three recipes, two LoRA variants on the clustered
/// set, one base. The numbers are the file's; the test checks which rows the paper's Table 1,
/// Figure 2 and Table 3 shapes pick and that they carry them. The whole pipeline's page is
/// checked in Chromium by BuildPipelineTests.testReportOfThePipelineInAHeadlessBrowser.
final class AblationLayoutTests: XCTestCase {
    func ablationFile() throws -> Store {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("a.lectern").path
        let store = try Store.create(path: path, domain: "biomedicine")
        try store.pool.write { db in
            for (id, recipe) in [(1, "readcompre"), (2, "readcompre+cluster"), (3, "dapt")] {
                try db.execute(sql: """
                    INSERT INTO training_sets(id, name, recipe, params, fingerprint, status, stats, created_at)
                    VALUES (?, ?, ?, '{"options":{"excludeEval":["pubmedqa"]}}', ?, 'complete', '{"examples":3}', 'now')
                    """, arguments: [id, recipe, recipe, "set\(id)"])
            }
            // run: (set, rank, targets); the clustered set has three runs (the LoRA ablation).
            for (run, set, rank, targets) in [(1, 1, 256, "all-linear"), (2, 2, 256, "all-linear"), (3, 2, 256, "attention"),
                                              (4, 2, 64, "all-linear"), (5, 3, 256, "all-linear")] {
                try db.execute(sql: """
                    INSERT INTO training_runs(id, training_set_id, base_model, engine, method, params, fingerprint, status, started_at, total_steps)
                    VALUES (?, ?, '/models/base.gguf', 'peft', 'lora', json_object('options', json_object('rank', ?, 'targets', ?)), ?, 'complete', 'now', 4)
                    """, arguments: [run, set, rank, targets, "run\(run)"])
                try db.execute(sql: "INSERT INTO checkpoints(id, run_id, step, kind, config, created_at) VALUES (?, ?, 4, 'lora-adapter', '{}', 'now')",
                               arguments: [run, run])
                for (step, loss) in [(1, 2.5), (2, 2.25), (3, 2.0), (4, 1.875 - Double(run) / 100)] {
                    try db.execute(sql: "INSERT INTO training_metrics(run_id, step, name, value) VALUES (?, ?, 'loss', ?)", arguments: [run, step, loss])
                }
            }
            try db.execute(sql: "INSERT INTO eval_tasks(id, name, kind, metric, created_at) VALUES (1, 'pubmedqa', 'choice', 'accuracy', 'now')")
            // base 45; runs 1..5: 55, 60, 62.5, 50, 52.5
            for (checkpoint, value) in [(nil, 45.0), (1, 55.0), (2, 60.0), (3, 62.5), (4, 50.0), (5, 52.5)] as [(Int?, Double)] {
                try db.execute(sql: """
                    INSERT INTO eval_scores(task_id, model, checkpoint_id, fingerprint, metric, value, n_items, created_at, ci_low, ci_high)
                    VALUES (1, '/models/base.gguf', ?, ?, 'accuracy', ?, 20, 'now', ? - 20, ? + 20)
                    """, arguments: [checkpoint, "fp\(checkpoint ?? 0)", value, value, value])
            }
        }
        return store
    }

    func testTable1Figure2AndTable3PickTheRightRuns() throws {
        let store = try ablationFile()
        let catalogue = try store.pool.read { db in try LecternCatalogue.read(db, details: true) }
        let report = FileReport(catalogue: catalogue, fileName: "a.lectern")
        let html = report.html()
        XCTAssertEqual(report.sectionIDs, ["training-sets", "training", "evaluation"], "no corpus, clusters, QA or stage runs in this file: not drawn")

        // Table 1: the base and five adapters, each with its difference to the base.
        let models = report.evalModels()
        XCTAssertEqual(models.map(\.label), ["base: base.gguf", "readcompre · r256 all-linear · run 1 step 4",
                                             "readcompre+cluster · r256 all-linear · run 2 step 4", "readcompre+cluster · r256 attention · run 3 step 4",
                                             "readcompre+cluster · r64 all-linear · run 4 step 4", "dapt · r256 all-linear · run 5 step 4"])
        XCTAssertEqual(models.compactMap(\.difference), [10, 15, 17.5, 5, 7.5])
        XCTAssertTrue(html.contains("<td class=\"num better\">+17.5</td>"), "the difference is shown, marked better")

        // Figure 2: readcompre against readcompre+cluster trained alike (run 1 vs run 2), not
        // against the attention-only or rank-64 runs on the clustered set; dapt has no pair.
        let figure = report.clusteringAblation(models)
        XCTAssertTrue(figure.contains("<td>readcompre</td><td>r256 all-linear</td><td class=\"num\">55.0 <small>run 1</small></td><td class=\"num\">60.0 <small>run 2</small></td><td class=\"num\">+5.0</td>"), figure)
        XCTAssertFalse(figure.contains("<td>dapt</td>"))

        // Table 3: the three runs on the clustered set, attention-only and the ranks.
        let table3 = report.loraAblation(models)
        let rows = table3.components(separatedBy: "<tr>").dropFirst(2).map { $0.replacingOccurrences(of: "<td class=\"num\">", with: "|").replacingOccurrences(of: "<td>", with: "|")
            .replacingOccurrences(of: "</td>", with: "").replacingOccurrences(of: "</tr>", with: "").replacingOccurrences(of: "</table>", with: "") }
        XCTAssertEqual(rows, ["|all-linear|64|4|50.0|50.0|+5.0", "|all-linear|256|2|60.0|60.0|+15.0", "|attention|256|3|62.5|62.5|+17.5"])

        // The loss curves: one series per run, each ending at its last loss.
        XCTAssertEqual(html.components(separatedBy: "data-chart=\"training-loss\"").count, 2)
        for run in 1...5 {
            XCTAssertTrue(html.contains("data-series=\"run \(run)\" data-label=\"4\""), "run \(run)'s last point")
        }
        // Deterministic: the same file, the same bytes; a changed score, another page.
        XCTAssertEqual(html, FileReport(catalogue: try store.pool.read { db in try LecternCatalogue.read(db, details: true) }, fileName: "a.lectern").html())
        try store.pool.write { db in try db.execute(sql: "UPDATE eval_scores SET value = 61 WHERE checkpoint_id = 2") }
        XCTAssertNotEqual(html, FileReport(catalogue: try store.pool.read { db in try LecternCatalogue.read(db, details: true) }, fileName: "a.lectern").html())
    }

    /// Text from the file is escaped: a set named like markup stays text.
    func testFileTextIsEscaped() throws {
        let store = try ablationFile()
        try store.pool.write { db in try db.execute(sql: "UPDATE training_sets SET name = '<script>alert(1)</script> & \"x\"' WHERE id = 1") }
        let html = FileReport(catalogue: try store.pool.read { db in try LecternCatalogue.read(db, details: true) }, fileName: "a<b>.lectern").html()
        XCTAssertFalse(html.contains("<script>"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;"))
        XCTAssertTrue(html.contains("Lectern report: a&lt;b&gt;.lectern"))
    }
}
