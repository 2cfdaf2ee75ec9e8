import Foundation
import GRDB
import LecternGenerate
import LecternTestSupport
import XCTest

/// The paper's generator distillation, closed with the real pieces (what scripts/distill.sh
/// runs, smaller): SmolLM2 on llama-server as the teacher answers a sample of PubMedQA
/// abstracts; a `distill` set holds its exact conversations; a LoRA student is trained on them in
/// the file; the student's GGUF adapter is served by llama-server --lora and answers the sample
/// plus documents it never saw, its generator naming the checkpoint; the report compares them.
final class DistillationTests: XCTestCase {
    func testTeacherPairsTrainAStudentServedWithLoraAndTheReportComparesThem() throws {
        guard let paths = LlamaServer.paths() else {
            try TestSupport.missing("llama-server and SmolLM2 (LECTERN_LLAMA_SERVER, LECTERN_SMOLLM2_GGUF)")
        }
        let env = ProcessInfo.processInfo.environment
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: env["LECTERN_TRAIN_PYTHON"] ?? ""),
                                         "the engine's Python (LECTERN_TRAIN_PYTHON)", setup: "scripts/setup.d/60-trainer.sh")
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: env["LECTERN_LLAMA_CONVERT_LORA"] ?? ""),
                                         "llama.cpp's convert_lora_to_gguf.py (LECTERN_LLAMA_CONVERT_LORA)", setup: "scripts/setup.d/60-trainer.sh")
        let l = try TestSupport.lecternExecutable()
        func lectern(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let r = try TestSupport.run(l, args)
            return r
        }
        let dir = try TestSupport.temporaryDirectory(self)
        let file = dir.appendingPathComponent("d.lectern").path
        // Ten PubMedQA abstracts.
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try TestSupport.pubmedqaPath()))) as! [String: [String: Any]]
        let lines = try json.keys.sorted().prefix(10).map { key in
            String(decoding: try JSONSerialization.data(withJSONObject: ["id": key, "text": (json[key]?["CONTEXTS"] as? [String] ?? []).joined(separator: " ")]), as: UTF8.self)
        }
        let corpus = dir.appendingPathComponent("c.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: corpus, atomically: true, encoding: .utf8)
        for args in [["init", file, "--domain", "biomedicine"], ["ingest", file, corpus.path]] {
            let r = try lectern(args)
            XCTAssertEqual(r.status, 0, r.stderr)
        }

        let teacher = try LlamaServer(server: paths.server, model: paths.model)
        defer { teacher.child.stop() }
        let teach = ["generate", file, "--endpoint", teacher.baseURL.absoluteString, "--model", "smollm2", "--name", "teacher",
                     "--max-items", "3", "--seed", "0", "--min-ok", "0.5"]
        let t1 = try lectern(teach + ["--sample", "6"])
        XCTAssertEqual(t1.status, 0, t1.stderr)

        // The distill set: one conversation per answered document, exactly the teacher's prompt
        // and its pairs as JSON (the SFT export's lines).
        XCTAssertTrue(try lectern(["build", file, "--recipe", "distill", "--tokenizer", paths.model, "--ratio", "1:0"]).stderr.contains("use --format chat"))
        let b = try lectern(["build", file, "--recipe", "distill", "--format", "chat", "--ratio", "1:0", "--tokenizer", paths.model])
        XCTAssertEqual(b.status, 0, b.stderr)
        let sft = dir.appendingPathComponent("sft.jsonl").path
        XCTAssertEqual(try lectern(["export", "sft", file, sft, "--generator", "teacher"]).status, 0)
        let exported = try String(contentsOfFile: sft, encoding: .utf8).split(separator: "\n").map {
            ((try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["messages"] as! [[String: String]])
        }
        let q = try DatabaseQueue(path: file)
        let stored = try q.read { db in
            try String.fetchAll(db, sql: "SELECT messages FROM training_examples x JOIN training_sets s ON s.id = x.training_set_id WHERE s.recipe = 'distill' ORDER BY x.id")
        }.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [[String: String]] }
        let answered = try q.read { db in try Int.fetchOne(db, sql: "SELECT count(DISTINCT document_id) FROM qa_pairs") ?? 0 }
        try q.close()
        XCTAssertGreaterThan(answered, 2, "the teacher answered most of its sample")
        XCTAssertEqual(stored.count, answered)
        XCTAssertEqual(Set(stored.map { $0.map { $0["role"]! + ":" + $0["content"]! } }), Set(exported.map { $0.map { $0["role"]! + ":" + $0["content"]! } }))

        // The student: a few steps of LoRA on the conversations (loss on the assistant's turn).
        let t = try lectern(["train", file, "--set", "distill", "--base", paths.model, "--rank", "8", "--steps", "2", "--learning-rate", "5e-4",
                             "--checkpoint-every", "2", "--threads", "2"])
        XCTAssertEqual(t.status, 0, t.stderr)
        // The teacher on two documents more, which the student never saw.
        let t2 = try lectern(teach + ["--sample", "8"])
        XCTAssertEqual(t2.status, 0, t2.stderr)
        let adapterDir = dir.appendingPathComponent("student").path
        let e = try lectern(["export", "adapter", file, adapterDir, "--run", "1", "--format", "gguf"])
        XCTAssertEqual(e.status, 0, e.stderr)
        teacher.child.stop()

        let student = try LlamaServer(server: paths.server, model: paths.model,
                                      arguments: ["--lora", adapterDir + "/adapter.gguf", "-c", "4096", "-np", "2", "-t", "2", "--cache-ram", "0", "--no-webui"])
        defer { student.child.stop() }
        // A checkpoint that does not exist: refused, nothing asked, nothing written.
        let bad = try lectern(["generate", file, "--endpoint", student.baseURL.absoluteString, "--model", "student", "--adapter", "9"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("9"), bad.stderr)
        let s = try lectern(["generate", file, "--endpoint", student.baseURL.absoluteString, "--model", "student", "--name", "student",
                             "--adapter", "1", "--max-items", "3", "--sample", "8", "--seed", "0", "--min-ok", "0"])
        XCTAssertEqual(s.status, 0, s.stderr)

        let q2 = try DatabaseQueue(path: file)
        defer { try? q2.close() }
        try q2.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM generators"), 2, "the bad --adapter wrote no generator")
            let adapter = try Row.fetchOne(db, sql: "SELECT json_extract(params, '$.adapter.run') AS run, json_extract(params, '$.adapter.checkpoint') AS cp FROM generators WHERE name = 'student'")!
            XCTAssertEqual(adapter["run"] as Int, 1)
            XCTAssertEqual(adapter["cp"] as Int64, try Int64.fetchOne(db, sql: "SELECT id FROM checkpoints WHERE run_id = 1 ORDER BY step DESC LIMIT 1"))
            XCTAssertNil(try String.fetchOne(db, sql: "SELECT json_extract(params, '$.adapter') FROM generators WHERE name = 'teacher'"))
        }
        let page = dir.appendingPathComponent("report.html").path
        let r = try lectern(["report", file, "-o", page])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        XCTAssertTrue(html.contains("Teacher and student generators"))
        XCTAssertTrue(html.contains("student of teacher (run 1 step 2)"), "the student row names its teacher and checkpoint")
        // The overlap on the held-out documents both answered, as the report states it.
        let expected: (Double, Int)? = try q2.read { db in
            let learnt = Set(try Int64.fetchAll(db, sql: """
                SELECT DISTINCT p.ref_id FROM training_example_parts p JOIN training_examples x ON x.id = p.example_id WHERE p.part_kind = 'document'
                """))
            func answers(_ name: String) throws -> [Int64: String] {
                var out: [Int64: String] = [:]
                for row in try Row.fetchAll(db, sql: """
                    SELECT q.document_id, q.answer FROM qa_pairs q JOIN generators g ON g.id = q.generator_id WHERE g.name = ? ORDER BY q.document_id, q.position
                    """, arguments: [name]) {
                    out[row["document_id"], default: ""] += (row["answer"] as String) + "\n"
                }
                return out
            }
            let t = try answers("teacher"), s = try answers("student")
            let held = s.keys.filter { t[$0] != nil && !learnt.contains($0) }
            guard !held.isEmpty else { return nil }
            return (held.map { AnswerOverlap.f1(s[$0]!, t[$0]!) }.reduce(0, +) / Double(held.count), held.count)
        }
        if let (f1, n) = expected {
            XCTAssertTrue(html.contains(String(format: "%.3f <small>on %d documents</small>", f1, n)), "overlap \(f1) on \(n) documents")
        } else {
            XCTAssertTrue(html.contains("no held-out document answered by both"))
        }
    }

    func testAnswerOverlapIsSQuADsTokenF1() {
        XCTAssertEqual(AnswerOverlap.f1("The cat sat.", "the cat sat"), 1)
        XCTAssertEqual(AnswerOverlap.f1("a b c d", "a b x y"), 0.5)
        XCTAssertEqual(AnswerOverlap.f1("a a b", "a b b"), 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(AnswerOverlap.f1("", "x"), 0)
        XCTAssertEqual(AnswerOverlap.f1("yes", "no"), 0)
    }
}
