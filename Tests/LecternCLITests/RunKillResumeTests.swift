import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// `lectern run` is resumable as a whole: kill -9 it at random moments (in any stage: ingest,
/// instructions, tokens, mine, embed, cluster, build, export), run it again, and the file and
/// the export end up exactly as after one uninterrupted run.
final class RunKillResumeTests: XCTestCase {
    func dump(_ path: String) throws -> [String] {
        try readVerified(path) { db in
            let queries = [
                "SELECT id || '|' || hex(content_hash) || '|' || n_chars FROM documents ORDER BY id",
                "SELECT id || '|' || hex(content_hash) || '|' || messages FROM instructions ORDER BY id",
                "SELECT tokenizer_id || '|' || document_id || '|' || n_tokens FROM token_counts ORDER BY 1",
                "SELECT document_id || '|' || fingerprint || '|' || text FROM rc_texts ORDER BY document_id",
                "SELECT embedder_id || '|' || document_id || '|' || n_tokens FROM embeddings ORDER BY 1",
                "SELECT c.ordinal || '|' || m.position || '|' || m.document_id FROM cluster_members m JOIN clusters c ON c.id = m.cluster_id ORDER BY c.ordinal, m.position",
                "SELECT name || '|' || fingerprint || '|' || status || '|' || stats FROM training_sets ORDER BY id",
                "SELECT position || '|' || n_tokens || '|' || text || '|' || hex(input_ids) FROM training_examples ORDER BY training_set_id, position",
                "SELECT e.position || '|' || p.position || '|' || p.part_kind || '|' || p.ref_id FROM training_example_parts p JOIN training_examples e ON e.id = p.example_id ORDER BY e.position, p.position",
            ]
            return try queries.flatMap { try String.fetchAll(db, sql: $0) }
        }
    }

    func testKillNineDuringRunThenRerunEqualsCleanRun() throws {
        let gguf = ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"] ?? ""
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: gguf), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        // 300 abstracts and 1,000 instructions keep a whole run to a few seconds.
        let docs = try CorpusFixture.abstracts().prefix(300)
        try docs.map { try CorpusFixture.jsonLine(["id": $0.id, "text": $0.text]) }.joined(separator: "\n")
            .write(to: dir.appendingPathComponent("corpus.jsonl"), atomically: true, encoding: .utf8)
        let alpaca = try JSONSerialization.jsonObject(with: Data(contentsOf: TestSupport.sharedData.appendingPathComponent("general-instructions/alpaca_5000.json"))) as! [Any]
        try JSONSerialization.data(withJSONObject: Array(alpaca.prefix(1000))).write(to: dir.appendingPathComponent("instructions.json"))
        func recipe(_ name: String) throws -> String {
            let path = dir.appendingPathComponent("\(name).toml")
            try """
            file = "\(name).lectern"
            domain = "biomedicine"
            [ingest]
            sources = ["corpus.jsonl"]
            [instructions]
            sources = ["instructions.json"]
            [tokens]
            tokenizer = "\(gguf)"
            name = "smollm2"
            [cluster]
            lmax = 1024
            [build]
            recipe = "readcompre+cluster"
            context = 1024
            [export]
            dir = "\(name)-export"
            """.write(to: path, atomically: true, encoding: .utf8)
            return path.path
        }
        let started = Date()
        let clean = try TestSupport.run(lectern, ["run", try recipe("clean")])
        XCTAssertEqual(clean.status, 0, clean.stderr)
        // Each killed run resumes where the last one stopped; a kill within a quarter of a clean
        // run's length means at least four kills before the work is done, whatever this
        // machine's speed, and the kills still walk through every stage as the work advances.
        let span = max(0.5, Date().timeIntervalSince(started) / 4)

        let killedRecipe = try recipe("killed")
        var rng = TestRandom(seed: 7_2401_07284)
        var kills = 0
        var finished = false
        for _ in 0..<40 where !finished {
            let outcome = try TestSupport.runAndKill(lectern, ["run", killedRecipe],
                                                     after: 0.05 + span * Double(rng.next() % 1_000_000) / 1e6)
            if outcome == .killed { kills += 1 }
            finished = outcome == .finished
            if kills >= 16 { break }
        }
        if !finished {
            let last = try TestSupport.run(lectern, ["run", killedRecipe])
            XCTAssertEqual(last.status, 0, last.stderr)
        }
        XCTAssertGreaterThanOrEqual(kills, 4, "the test must really interrupt the run several times")
        let a = try dump(dir.appendingPathComponent("clean.lectern").path)
        let b = try dump(dir.appendingPathComponent("killed.lectern").path)
        XCTAssertGreaterThan(a.count, 1000)
        XCTAssertEqual(a.count, b.count, "row counts differ after \(kills) kills")
        XCTAssertEqual(a, b, "the file after \(kills) kills and re-runs differs from a clean run")
        for f in try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("clean-export").path) {
            let x = try Data(contentsOf: dir.appendingPathComponent("clean-export/\(f)"))
            var y = try Data(contentsOf: dir.appendingPathComponent("killed-export/\(f)"))
            if f == "dataset_info.json" { y = Data(String(decoding: y, as: UTF8.self).replacingOccurrences(of: "killed", with: "clean").utf8) }
            XCTAssertEqual(x, y, "export \(f) differs")
        }
    }
}
