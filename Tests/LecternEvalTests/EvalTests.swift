import Foundation
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternEval
@testable import LecternTrain

/// `lectern eval` on real PubMedQA items with the real engine: import (and bad task files),
/// scoring a base and a base with a trained checkpoint, resuming, the report; and parity with
/// lm-evaluation-harness on SmolLM2.
final class EvalTests: XCTestCase {
    var lectern: URL { get throws { try TestSupport.lecternExecutable() } }

    struct Setup {
        var file: String
        var tiny: String
        var gguf: String
        var python: String
        var script: String
    }

    /// A file with the first 12 PubMedQA abstracts ingested, a small pre-tokenised set, the
    /// PubMedQA task imported, and a tiny model with SmolLM2's tokenizer.
    func setup() throws -> Setup {
        let env = ProcessInfo.processInfo.environment
        let gguf = env["LECTERN_SMOLLM2_GGUF"] ?? ""
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: gguf), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let python = env["LECTERN_TRAIN_PYTHON"] ?? ""
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: python),
                                         "the engine's Python (LECTERN_TRAIN_PYTHON)", setup: "scripts/setup.d/60-trainer.sh")
        let script = TestSupport.packageRoot.appendingPathComponent("trainer/lectern_train.py").path
        let dir = try TestSupport.temporaryDirectory(self)
        let pqal = try TestSupport.pubmedqaPath()
        let file = dir.appendingPathComponent("eval.lectern").path
        let l = try lectern
        for args in [["init", file, "--domain", "biomedicine"], ["eval", "import", file, pqal, "--task", "pubmedqa", "--format", "pubmedqa"]] {
            let r = try TestSupport.run(l, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        let tiny = dir.appendingPathComponent("tiny").path
        let t = try TestSupport.run(URL(fileURLWithPath: python), [script, "tiny-model", tiny, "--tokenizer-from", gguf])
        XCTAssertEqual(t.status, 0, t.stderr)
        return Setup(file: file, tiny: tiny, gguf: gguf, python: python, script: script)
    }

    func query<T>(_ file: String, _ body: (Database) throws -> T) throws -> T {
        let q = try DatabaseQueue(path: file)
        defer { try? q.close() }
        return try q.read(body)
    }

    /// PubMedQA's 1000 instances become three-way choices with the right gold answers and the
    /// abstracts' content hashes; a second import adds nothing; bad AdaptLLM lines are named,
    /// skipped and counted, or stop the import with --strict.
    func testImportPubMedQAAndBadTaskFiles() throws {
        let s = try setup()
        try query(s.file) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_items"), 1000)
            XCTAssertEqual(try Int.fetchAll(db, sql: "SELECT count(*) FROM eval_items GROUP BY gold_index ORDER BY gold_index"), [552, 338, 110])
            let first = try Row.fetchOne(db, sql: "SELECT input, options FROM eval_items ORDER BY position LIMIT 1")!
            XCTAssertTrue((first["input"] as String).hasPrefix("Abstract: "))
            XCTAssertTrue((first["input"] as String).hasSuffix("\nAnswer:"))
            XCTAssertEqual(first["options"] as String, #"["yes","no","maybe"]"#)
        }
        let again = try TestSupport.run(try lectern, ["eval", "import", s.file, try TestSupport.pubmedqaPath(), "--task", "pubmedqa", "--format", "pubmedqa"])
        XCTAssertTrue(again.stdout.contains("0 items added, 1000 already there"), again.stdout)
        // The same abstracts ingested: the report says pubmedqa is contaminated.
        XCTAssertEqual(try TestSupport.run(try lectern, ["ingest", s.file, try TestSupport.pubmedqaPath()]).status, 0)
        XCTAssertTrue(try TestSupport.run(try lectern, ["eval", "report", s.file]).stdout.contains("no scores yet"))
        // --exclude-eval holds those documents out of a build: here every one of them.
        let build = ["build", s.file, "--recipe", "dapt", "--ratio", "1:0", "--context", "256", "--tokenizer", s.gguf]
        let held = try TestSupport.run(try lectern, build + ["--exclude-eval", "pubmedqa"])
        XCTAssertNotEqual(held.status, 0)
        XCTAssertTrue(held.stderr.contains("every document is an eval item of pubmedqa"), held.stderr)
        let unknown = try TestSupport.run(try lectern, build + ["--exclude-eval", "medqa"])
        XCTAssertTrue(unknown.stderr.contains("--exclude-eval medqa: no such eval task"), unknown.stderr)

        let bad = try TestSupport.temporaryDirectory(self).appendingPathComponent("task.jsonl")
        try """
        {"input": "Q: 1+1?\\nA:", "options": ["2", "3"], "gold_index": 0}
        {"input": "Q: 2+2?\\nA:", "options": ["4", "5"], "gold_index": 7}
        not json
        {"input": "Q: 3+3?\\nA:", "options": ["6", "7"], "gold_index": 0}

        """.write(to: bad, atomically: true, encoding: .utf8)
        let r = try TestSupport.run(try lectern, ["eval", "import", s.file, bad.path, "--task", "sums"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 items added") && r.stdout.contains("2 skipped"), r.stdout)
        XCTAssertTrue(r.stdout.contains("task.jsonl:2: \"gold_index\" must be an integer in 0..<2"), r.stdout)
        XCTAssertTrue(r.stdout.contains("task.jsonl:3: not a JSON object"), r.stdout)
        let strict = try TestSupport.run(try lectern, ["eval", "import", s.file, bad.path, "--task", "sums2", "--strict"])
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.contains("task.jsonl:2"), strict.stderr)
        XCTAssertEqual(try query(s.file) { try Int.fetchOne($0, sql: "SELECT count(*) FROM eval_tasks WHERE name = 'sums2'") }, 0)
    }

    /// A base and the same base with a checkpoint from the file are scored; every prediction is a
    /// row; a re-run scores only what is missing; scores and the report come from the rows.
    func testScoresBaseAndCheckpointResumesAndReports() throws {
        let s = try setup()
        let l = try lectern
        // A checkpoint to apply: two steps on a small set of the same file.
        // Six documents of our own and two PubMedQA abstracts, which --exclude-eval holds out.
        let corpus = try TestSupport.temporaryDirectory(self).appendingPathComponent("c.jsonl")
        let pqal = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try TestSupport.pubmedqaPath()))) as! [String: [String: Any]]
        let abstracts = try pqal.keys.sorted().prefix(2).map { key in
            String(decoding: try JSONSerialization.data(withJSONObject: ["text": (pqal[key]!["CONTEXTS"] as! [String]).joined(separator: " ")]), as: UTF8.self)
        }
        try ((0..<6).map { #"{"text": "Document \#($0) about the hippocampus and memory consolidation in rats and humans."}"# } + abstracts)
            .joined(separator: "\n").write(to: corpus, atomically: true, encoding: .utf8)
        let build = try TestSupport.run(l, ["ingest", s.file, corpus.path])
        XCTAssertEqual(build.status, 0, build.stderr)
        let held = try TestSupport.run(l, ["build", s.file, "--recipe", "dapt", "--context", "64", "--ratio", "1:0", "--name", "small",
                                           "--tokenizer", s.gguf, "--exclude-eval", "pubmedqa"])
        XCTAssertEqual(held.status, 0, held.stderr)
        XCTAssertTrue(held.stdout.contains("2 documents held out"), held.stdout)
        try query(s.file) { db in
            let used = try Int.fetchOne(db, sql: """
                SELECT count(DISTINCT p.ref_id) FROM training_example_parts p JOIN documents d ON d.id = p.ref_id
                WHERE p.part_kind = 'document' AND d.content_hash IN (SELECT content_hash FROM eval_items)
                """)
            XCTAssertEqual(used, 0, "no eval document in the set")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(DISTINCT ref_id) FROM training_example_parts WHERE part_kind = 'document'"), 6)
        }
        for args in [["tokens", s.file, "--tokenizer", s.gguf],
                     ["train", s.file, "--set", "small", "--base", s.tiny, "--rank", "8", "--steps", "2", "--learning-rate", "1e-2"]] {
            let r = try TestSupport.run(l, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        let first = try TestSupport.run(l, ["eval", "run", s.file, "--task", "pubmedqa", "--base", s.tiny, "--limit", "3"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try TestSupport.run(l, ["eval", "run", s.file, "--task", "pubmedqa", "--base", s.tiny, "--limit", "5"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("5 items scored now, 3 before"), second.stdout)
        let adapted = try TestSupport.run(l, ["eval", "run", s.file, "--task", "pubmedqa", "--base", s.tiny, "--run", "1", "--limit", "8"])
        XCTAssertEqual(adapted.status, 0, adapted.stderr)
        try query(s.file) { db in
            XCTAssertEqual(try Int.fetchAll(db, sql: "SELECT count(*) FROM eval_predictions GROUP BY fingerprint ORDER BY count(*)"), [8, 8])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_predictions WHERE checkpoint_id IS NOT NULL"), 8)
            // Each prediction's choice is its lowest mean NLL, and `correct` agrees with the gold answer.
            for row in try Row.fetchAll(db, sql: "SELECT p.predicted_index, p.correct, p.option_scores, i.gold_index FROM eval_predictions p JOIN eval_items i ON i.id = p.item_id") {
                let scores = try JSONSerialization.jsonObject(with: Data((row["option_scores"] as String).utf8)) as! [String: Any]
                let mean = (scores["nll_mean"] as! [Double])
                XCTAssertEqual(mean.count, 3)
                XCTAssertEqual(row["predicted_index"] as Int, mean.indices.min { mean[$0] < mean[$1] })
                XCTAssertEqual(row["correct"] as Int, (row["predicted_index"] as Int) == (row["gold_index"] as Int) ? 1 : 0)
            }
            // The stored accuracy is the share of correct predictions.
            for fp in try String.fetchAll(db, sql: "SELECT DISTINCT fingerprint FROM eval_predictions") {
                let correct = try Double.fetchOne(db, sql: "SELECT 100.0 * avg(correct) FROM eval_predictions WHERE fingerprint = ?", arguments: [fp])!
                let stored = try Double.fetchOne(db, sql: "SELECT value FROM eval_scores WHERE fingerprint = ? AND metric = 'accuracy'", arguments: [fp])!
                XCTAssertEqual(stored, correct, accuracy: 1e-9)
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT n_items FROM eval_scores WHERE fingerprint = ? AND metric = 'accuracy'", arguments: [fp]), 8)
            }
        }
        let report = try TestSupport.run(l, ["eval", "report", s.file])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("pubmedqa (accuracy)") && report.stdout.contains("run 1 step 2"), report.stdout)
        let json = try TestSupport.run(l, ["eval", "report", s.file, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((object["rows"] as! [Any]).count, 2)
        // An unknown task, or a run that does not exist: refused, nothing written.
        let before = try query(s.file) { try Int.fetchOne($0, sql: "SELECT count(*) FROM stage_runs WHERE stage = 'eval'") }
        let unknown = try TestSupport.run(l, ["eval", "run", s.file, "--task", "medqa", "--base", s.tiny])
        XCTAssertTrue(unknown.stderr.contains("no task 'medqa'"), unknown.stderr)
        let noRun = try TestSupport.run(l, ["eval", "run", s.file, "--task", "pubmedqa", "--base", s.tiny, "--run", "99"])
        XCTAssertNotEqual(noRun.status, 0)
        XCTAssertEqual(try query(s.file) { try Int.fetchOne($0, sql: "SELECT count(*) FROM stage_runs WHERE stage = 'eval'") }, before)
    }

    /// `kill -9` during scoring loses at most the batch in flight: after each kill the stored
    /// predictions are whole batches (16 items a transaction), and the resumed runs end with
    /// exactly the predictions of an uninterrupted run on a copy of the file.
    func testKilledScoringResumesToTheSamePredictions() throws {
        let s = try setup()
        let l = try lectern
        // A task of the first 400 PubMedQA instances (`--limit` of `eval run` bounds one
        // invocation, not the task).
        let imported = try TestSupport.run(l, ["eval", "import", s.file, try TestSupport.pubmedqaPath(), "--task", "pq400",
                                               "--format", "pubmedqa", "--limit", "400"])
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let copy = s.file + ".clean.lectern"
        try FileManager.default.copyItem(atPath: s.file, toPath: copy)
        let args = ["eval", "run", "--task", "pq400", "--base", s.tiny]
        func run(_ file: String) -> [String] { Array(args.prefix(2)) + [file] + Array(args.dropFirst(2)) }
        let t0 = Date()
        let clean = try TestSupport.run(l, run(copy))
        XCTAssertEqual(clean.status, 0, clean.stderr)
        // The kills are timed from a warm run: the first one can pay for cold caches (a CI run
        // measured 33 s for it and then finished the killed runs before 55% of that, so no kill
        // landed). A second, timed run on another copy of the file.
        let warmCopy = s.file + ".warm.lectern"
        try FileManager.default.copyItem(atPath: s.file, toPath: warmCopy)
        let t1 = Date()
        XCTAssertEqual(try TestSupport.run(l, run(warmCopy)).status, 0)
        let duration = min(Date().timeIntervalSince(t1), t1.timeIntervalSince(t0))
        func predictions(_ file: String) throws -> [String] {
            try query(file) { db in
                try Row.fetchAll(db, sql: "SELECT item_id, predicted_index, option_scores, correct FROM eval_predictions ORDER BY item_id")
                    .map { "\($0["item_id"] as Int64) \($0["predicted_index"] as Int) \($0["correct"] as Int) \($0["option_scores"] as String)" }
            }
        }
        var kills = 0, midway = 0
        // Kills at growing fractions of the clean run's time: under load the engine's start-up can
        // take most of a run, so a kill that found nothing stored is followed by later ones.
        for fraction in [0.4, 0.55, 0.7, 0.85, 0.95, 1.1, 1.3, 1.6, 4.0] {
            let outcome = try TestSupport.runAndKill(l, run(s.file), after: duration * fraction)
            let stored = try query(s.file) { try Int.fetchOne($0, sql: "SELECT count(*) FROM eval_predictions") ?? 0 }
            if outcome == .killed {
                kills += 1
                XCTAssertEqual(stored % 16, 0, "after a kill only whole batches are stored (\(stored))")
                if stored > 0 && stored < 400 { midway += 1 }
            } else {
                XCTAssertEqual(outcome, .finished)
                break
            }
        }
        XCTAssertGreaterThan(midway, 0, "at least one kill landed while items were being scored (run took \(duration) s; kills \(kills))")
        let resumed = try TestSupport.run(l, run(s.file))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("0 items scored now, 400 before"), resumed.stdout)
        XCTAssertEqual(try predictions(s.file), try predictions(copy), "the resumed predictions are those of an uninterrupted run")
        try query(s.file) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM stage_runs WHERE stage = 'eval' AND status = 'running'"), 0,
                           "killed runs are marked interrupted by the next one")
            XCTAssertEqual(try Double.fetchOne(db, sql: "SELECT value FROM eval_scores WHERE metric = 'accuracy'"),
                           try query(copy) { try Double.fetchOne($0, sql: "SELECT value FROM eval_scores WHERE metric = 'accuracy'") })
        }
    }

    /// A generation task (AdaptLLM's `{"input", "label"}` lines): greedy answers stored as text,
    /// cut at the newline, scored by exact match from the rows.
    func testGenerationTaskIsScoredByExactMatch() throws {
        let s = try setup()
        let task = try TestSupport.temporaryDirectory(self).appendingPathComponent("gen.jsonl")
        try """
        {"input": "Question: What is the capital of France?\\nAnswer:", "label": "Paris"}
        {"input": "Question: How many legs has a spider?\\nAnswer:", "label": "8"}
        {"input": "Question: What colour is the sky?\\nAnswer:", "label": "blue"}
        """.write(to: task, atomically: true, encoding: .utf8)
        let l = try lectern
        let i = try TestSupport.run(l, ["eval", "import", s.file, task.path, "--task", "trivia"])
        XCTAssertEqual(i.status, 0, i.stderr)
        let r = try TestSupport.run(l, ["eval", "run", s.file, "--task", "trivia", "--base", s.gguf, "--max-new-tokens", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try query(s.file) { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT metric FROM eval_tasks WHERE name = 'trivia'"), "exact_match")
            let rows = try Row.fetchAll(db, sql: "SELECT p.predicted_text, p.correct, i.label FROM eval_predictions p JOIN eval_items i ON i.id = p.item_id JOIN eval_tasks t ON t.id = i.task_id WHERE t.name = 'trivia'")
            XCTAssertEqual(rows.count, 3)
            var right = 0
            for row in rows {
                let text: String = row["predicted_text"]
                XCTAssertFalse(text.contains("\n"), "cut at the newline: \(text)")
                XCTAssertEqual(row["correct"] as Int, Metrics.exactMatch(text, row["label"]) ? 1 : 0)
                right += row["correct"] as Int
            }
            let stored = try Double.fetchOne(db, sql: "SELECT s.value FROM eval_scores s JOIN eval_tasks t ON t.id = s.task_id WHERE t.name = 'trivia' AND s.metric = 'exact_match'")
            XCTAssertEqual(stored ?? -1, 100 * Double(right) / 3, accuracy: 1e-9)
        }
        XCTAssertTrue(Metrics.exactMatch(" 12.004 ", "12"))
        XCTAssertFalse(Metrics.exactMatch("12.5", "12"))
        XCTAssertTrue(Metrics.exactMatch("Paris", "paris"))
    }

    /// Parity with lm-evaluation-harness itself (installed by scripts/setup.d/65-eval.sh): SmolLM2
    /// on the first 20 PubMedQA items, `lectern eval run` against lm-eval 0.4.13's
    /// `multiple_choice` scoring of the same prompts and options: the same `acc` prediction on
    /// every item and per-option log-likelihoods within 1e-4 (200 items: docs/evaluation.md).
    func testParityWithLMEvaluationHarness() throws {
        let s = try setup()
        let env = ProcessInfo.processInfo.environment
        let lmeval = env["LECTERN_LMEVAL_PYTHON"] ?? ""
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: lmeval), "lm-evaluation-harness (LECTERN_LMEVAL_PYTHON)",
                                         setup: "scripts/setup.d/65-eval.sh")
        let r = try TestSupport.run(try lectern, ["eval", "run", s.file, "--task", "pubmedqa", "--base", s.gguf, "--limit", "20", "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The folder Lectern converted the GGUF into (the model both sides load).
        let cache = (env["LECTERN_CACHE"] ?? (NSHomeDirectory() + "/.cache/lectern")) + "/models/converted/"
        let folder = cache + String(try FileDigest.sha256Hex(path: s.gguf).prefix(16))
        let dir = try TestSupport.temporaryDirectory(self)
        let items = dir.appendingPathComponent("items.jsonl"), out = dir.appendingPathComponent("lmeval.jsonl")
        let stored: [(id: Int64, sum: [Double], predicted: Int)] = try query(s.file) { db in
            var lines = ""
            let rows = try Row.fetchAll(db, sql: """
                SELECT i.id, i.input, i.options, i.gold_index, p.option_scores FROM eval_items i JOIN eval_predictions p ON p.item_id = i.id
                ORDER BY i.position
                """)
            var result: [(Int64, [Double], Int)] = []
            for row in rows {
                let options = try JSONSerialization.jsonObject(with: Data((row["options"] as String).utf8)) as! [String]
                let line: [String: Any] = ["id": row["id"] as Int64, "kind": "choice", "input": row["input"] as String, "options": options,
                                           "delimiter": " ", "gold": row["gold_index"] as Int]
                lines += String(decoding: try JSONSerialization.data(withJSONObject: line), as: UTF8.self) + "\n"
                let scores = try JSONSerialization.jsonObject(with: Data((row["option_scores"] as String).utf8)) as! [String: Any]
                let sum = scores["nll_sum"] as! [Double]
                result.append((row["id"], sum, sum.indices.min { sum[$0] < sum[$1] }!))
            }
            try lines.write(to: items, atomically: true, encoding: .utf8)
            return result
        }
        XCTAssertEqual(stored.count, 20)
        let script = TestSupport.packageRoot.appendingPathComponent("benchmarks/eval/lmeval_parity.py").path
        let h = try TestSupport.run(URL(fileURLWithPath: lmeval), [script, "--model", folder, "--items", items.path, "--out", out.path])
        XCTAssertEqual(h.status, 0, h.stderr)
        let theirs = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(theirs.count, 20)
        var worst = 0.0, same = 0
        for (ours, their) in zip(stored, theirs) {
            XCTAssertEqual((their["id"] as? NSNumber)?.int64Value, ours.id)
            let ll = their["loglikelihoods"] as! [Double]
            for (a, b) in zip(ours.sum, ll) { worst = max(worst, abs(-a - b)) }
            if (their["acc_pred"] as? Int) == ours.predicted { same += 1 }
        }
        XCTAssertEqual(same, 20, "the same acc prediction on every item")
        XCTAssertLessThan(worst, 1e-4, "per-option log-likelihoods within 1e-4 of lm-eval's (worst \(worst))")
    }
}
