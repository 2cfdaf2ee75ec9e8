import Foundation
import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternEval

/// lm-evaluation-harness task YAMLs over local JSON Lines, read by `lectern eval import --format
/// lmeval`: templates rendered, targets resolved, unsupported features refused by name, bad lines
/// reported with file and line; and the metric each task is reported by.
final class TaskFormatTests: XCTestCase {
    func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testMultipleChoiceYAMLRendersTemplatesAndResolvesTargets() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        _ = try write("""
            {"id": "a", "context": "Aspirin thins blood.", "question": "Does aspirin thin blood?", "answer": "yes"}
            {"id": "b", "context": "Water boils at 100 C.", "question": "Does water freeze at 100 C?", "answer": 1}
            not json
            {"id": "c", "context": "x", "question": "y", "answer": "perhaps"}

            """, "docs.jsonl", in: dir)
        let yaml = try write("""
            task: mini_pubmedqa
            dataset_path: json
            dataset_kwargs:
              data_files:
                test: docs.jsonl
            test_split: test
            output_type: multiple_choice
            doc_to_text: "Abstract: {{context}}\\nQuestion: {{ question | trim }}\\nAnswer:"
            doc_to_choice: ["yes", "no", "maybe"]
            doc_to_target: answer
            metric_list:
              - metric: acc_norm
            """, "task.yaml", in: dir)
        let store = try Store.create(path: dir.appendingPathComponent("t.lectern").path, domain: "biomedicine")
        let summary = try StageRunner.run(TaskImport(store: store, path: yaml, task: "mini", format: .lmeval))
        XCTAssertEqual(summary.kind, "choice")
        XCTAssertEqual(summary.added, 2)
        XCTAssertEqual(summary.skipped, 2)
        XCTAssertTrue(summary.problems.contains { $0.hasSuffix("docs.jsonl:3: not a JSON object") }, "\(summary.problems)")
        XCTAssertTrue(summary.problems.contains { $0.contains("docs.jsonl:4:") && $0.contains("'perhaps'") }, "\(summary.problems)")
        try store.pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT input, options, gold_index, external_id FROM eval_items ORDER BY position")
            XCTAssertEqual(rows.map { $0["input"] as String }, [
                "Abstract: Aspirin thins blood.\nQuestion: Does aspirin thin blood?\nAnswer:",
                "Abstract: Water boils at 100 C.\nQuestion: Does water freeze at 100 C?\nAnswer:",
            ])
            XCTAssertEqual(rows.map { $0["gold_index"] as Int }, [0, 1], "a target by option text and by index")
            XCTAssertEqual(rows[0]["options"] as String, #"["yes","no","maybe"]"#)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT metric FROM eval_tasks WHERE name = 'mini'"), "acc_norm", "the YAML's metric")
        }
    }

    func testGenerationYAMLAndRefusals() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        _ = try write(#"{"q": "2 + 2 =", "answers": ["4", "four"]}"# + "\n", "gen.jsonl", in: dir)
        let yaml = try write("""
            output_type: generate_until
            dataset_path: json
            dataset_kwargs: {data_files: gen.jsonl}
            doc_to_text: "Q: {{q}} A:"
            doc_to_target: "{{answers}}"
            generation_kwargs: {until: ["\\n"]}
            """, "gen.yaml", in: dir)
        let store = try Store.create(path: dir.appendingPathComponent("g.lectern").path, domain: "finance")
        var stage = TaskImport(store: store, path: yaml, task: "arith", format: .lmeval)
        stage.metric = .entity_f1
        let s = try StageRunner.run(stage)
        XCTAssertEqual(s.kind, "generation")
        try store.pool.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT label FROM eval_items"), "4", "the first of a list of answers")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT metric FROM eval_tasks"), "entity_f1")
        }
        // A metric of the other kind, and features that would change the items, are refused by name.
        var wrong = TaskImport(store: store, path: yaml, task: "arith2", format: .lmeval)
        wrong.metric = .weighted_f1
        XCTAssertThrowsError(try StageRunner.run(wrong)) { XCTAssertTrue("\($0)".contains("does not fit a generation task"), "\($0)") }
        let cases: [(String, String)] = [
            ("output_type: loglikelihood_rolling\ndoc_to_text: q\ndoc_to_target: q\ndataset_kwargs: {data_files: gen.jsonl}", "output_type 'loglikelihood_rolling'"),
            ("output_type: generate_until\ndoc_to_text: !function utils.doc_to_text\ndoc_to_target: q\ndataset_kwargs: {data_files: gen.jsonl}", "Python function"),
            ("output_type: generate_until\nnum_fewshot: 5\ndoc_to_text: q\ndoc_to_target: q\ndataset_kwargs: {data_files: gen.jsonl}", "num_fewshot 5"),
            ("output_type: multiple_choice\ntarget_delimiter: \"\"\ndoc_to_text: q\ndoc_to_choice: [a]\ndoc_to_target: 0\ndataset_kwargs: {data_files: gen.jsonl}", "target_delimiter"),
            ("output_type: generate_until\ndataset_path: pubmed_qa\ndoc_to_text: q\ndoc_to_target: q", "dataset_path 'pubmed_qa'"),
            ("output_type: generate_until\ndoc_to_text: q\ndoc_to_target: q\ndataset_kwargs: {data_files: missing.jsonl}", "cannot read its data file"),
            ("output_type: [", "not valid YAML"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let path = try write(text, "bad\(i).yaml", in: dir)
            XCTAssertThrowsError(try StageRunner.run(TaskImport(store: store, path: path, task: "bad\(i)", format: .lmeval)), expected) { e in
                XCTAssertTrue("\(e)".contains(expected), "case \(i): \(e)")
                XCTAssertTrue("\(e)".contains("bad\(i).yaml"), "the error names the file: \(e)")
            }
        }
        // A template naming a field the documents lack: every line reported, nothing imported.
        let missing = try write("output_type: generate_until\ndoc_to_text: \"{{question}}\"\ndoc_to_target: q\ndataset_kwargs: {data_files: gen.jsonl}", "nofield.yaml", in: dir)
        XCTAssertThrowsError(try StageRunner.run(TaskImport(store: store, path: missing, task: "nofield", format: .lmeval))) { e in
            XCTAssertTrue("\(e)".contains("gen.jsonl:1") && "\(e)".contains("no field 'question'"), "\(e)")
        }
        try store.pool.read { db in XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_tasks"), 1, "refused imports add no task") }
    }
}
