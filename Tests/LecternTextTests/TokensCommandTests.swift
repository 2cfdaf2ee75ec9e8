import Foundation
import XCTest

/// `lectern tokens` end to end, through the built `lectern` binary: counts equal Hugging Face's
/// on every PubMedQA document, a re-run after losing rows redoes only those, bad input fails clearly.
final class TokensCommandTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-tokens-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testTokensStageMatchesReferenceAndResumes() throws {
        let gguf = try Fixtures.smollm2GGUF()
        let lectern = try Self.lecternBinary()
        let file = dir.appendingPathComponent("corpus.lectern").path
        let pubmedqa = try Fixtures.pubmedqaPath()
        _ = try run(lectern, ["init", file, "--domain", "biomedicine"])
        _ = try run(lectern, ["ingest", file, pubmedqa])
        let out = try run(lectern, ["tokens", file, "--tokenizer", gguf])
        XCTAssertTrue(out.contains("1000 documents counted"), out)

        let docs = try sqlJSON(lectern, file, "SELECT id, title, text FROM documents ORDER BY id")
        let texts = docs.map { d -> String in
            let text = d["text"] as! String
            guard let title = d["title"] as? String, !title.isEmpty else { return text }
            return title + "\n\n" + text
        }
        let ref = try Fixtures.referenceIds(texts, ["--gguf", gguf, "--no-special"]).map(\.count)
        let counts = try sqlJSON(lectern, file, "SELECT n_tokens FROM token_counts ORDER BY document_id").map { ($0["n_tokens"] as! NSNumber).intValue }
        XCTAssertEqual(counts, ref)
        let row = try sqlJSON(lectern, file, "SELECT kind, vocab_size FROM tokenizers")
        XCTAssertEqual(row.count, 1)
        XCTAssertEqual(row.first?["kind"] as? String, "bytelevel-bpe")

        // Lose a third of the rows (as a crash between batches would), re-run: only those are redone.
        _ = try run(lectern, ["sql", file, "DELETE FROM token_counts WHERE document_id % 3 = 0"])
        let again = try run(lectern, ["tokens", file, "--tokenizer", gguf, "--batch-size", "100"])
        XCTAssertTrue(again.contains("333 documents counted"), again)
        XCTAssertTrue(again.contains("667 already counted"), again)
        let counts2 = try sqlJSON(lectern, file, "SELECT n_tokens FROM token_counts ORDER BY document_id").map { ($0["n_tokens"] as! NSNumber).intValue }
        XCTAssertEqual(counts2, counts)
        let runs = try sqlJSON(lectern, file, "SELECT status, n_processed FROM stage_runs WHERE stage = 'tokens' ORDER BY id")
        XCTAssertEqual(runs.map { $0["status"] as? String }, ["complete", "complete"])
        XCTAssertEqual(runs.map { ($0["n_processed"] as? NSNumber)?.intValue }, [1000, 333])
    }

    /// QA pairs are counted too (question and answer, each on its own, as the reference counts
    /// them); pairs added later are counted by the next run, and nothing twice.
    func testQAPairsAreCountedAndResumed() throws {
        let gguf = try Fixtures.smollm2GGUF()
        let lectern = try Self.lecternBinary()
        let file = dir.appendingPathComponent("qa.lectern").path
        _ = try run(lectern, ["init", file, "--domain", "biomedicine"])
        _ = try run(lectern, ["ingest", file, try Fixtures.pubmedqaPath()])
        let questions = ["What does the study measure?", "Is  the effect significant (p < 0.05)?", "Qu'en est-il des 🧬 gènes?"]
        let answers = ["Blood pressure in 120 adults.", "Yes.\nIt is, at p = 0.01.", ""]
        _ = try run(lectern, ["sql", file, """
            INSERT INTO generators(id, name, model, template_version, template, params, fingerprint, created_at)
            VALUES (1, 'teacher', 'm', 'v', '{DOCUMENT}', '{}', '\(String(repeating: "a", count: 64))', 'now')
            """])
        for (k, (q, a)) in zip(questions, answers).enumerated() {
            _ = try run(lectern, ["sql", file, "INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (\(k + 1), 1, 0, '\(q.replacingOccurrences(of: "'", with: "''"))', '\(a.replacingOccurrences(of: "'", with: "''"))')"])
        }
        let out = try run(lectern, ["tokens", file, "--tokenizer", gguf])
        XCTAssertTrue(out.contains("1000 documents counted"), out)
        XCTAssertTrue(out.contains("3 QA pairs counted"), out)
        let ref = try Fixtures.referenceIds(questions + answers, ["--gguf", gguf, "--no-special"]).map(\.count)
        let rows = try sqlJSON(lectern, file, "SELECT n_question, n_answer FROM qa_token_counts ORDER BY qa_pair_id")
        XCTAssertEqual(rows.map { ($0["n_question"] as! NSNumber).intValue }, Array(ref[0..<3]))
        XCTAssertEqual(rows.map { ($0["n_answer"] as! NSNumber).intValue }, Array(ref[3..<6]))
        XCTAssertEqual(ref[5], 0, "an empty answer has no tokens")

        // A pair generated later is counted by the next run, and only it.
        _ = try run(lectern, ["sql", file, "INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (9, 1, 0, 'Why?', 'Because.')"])
        let again = try run(lectern, ["tokens", file, "--tokenizer", gguf])
        XCTAssertTrue(again.contains("0 documents counted"), again)
        XCTAssertTrue(again.contains("1 QA pairs counted"), again)
        XCTAssertEqual(try sqlJSON(lectern, file, "SELECT count(*) AS n FROM qa_token_counts").first?["n"] as? NSNumber, 4)
    }

    func testBadTokenizerPathFailsClearly() throws {
        let lectern = try Self.lecternBinary()
        let file = dir.appendingPathComponent("c.lectern").path
        _ = try run(lectern, ["init", file, "--domain", "biomedicine"])
        let bad = dir.appendingPathComponent("nope.gguf").path
        let (status, output) = try runStatus(lectern, ["tokens", file, "--tokenizer", bad])
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(output.contains(bad), output)
        let garbage = dir.appendingPathComponent("tokenizer.json")
        try Data("{\"model\": 3}".utf8).write(to: garbage)
        let (status2, output2) = try runStatus(lectern, ["tokens", file, "--tokenizer", garbage.path])
        XCTAssertNotEqual(status2, 0)
        XCTAssertTrue(output2.contains("tokenizer.json"), output2)
    }

    // MARK: - Helpers

    /// The `lectern` executable SwiftPM built next to this test bundle.
    static func lecternBinary() throws -> String {
        var candidates = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            .map { $0.appendingPathComponent("lectern").path }
        candidates += [Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("lectern").path,
                       Fixtures.repoRoot.appendingPathComponent(".build/debug/lectern").path]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            try Fixtures.missing("the lectern executable (swift build --build-tests builds it)")
        }
        return found
    }

    private func runStatus(_ exe: String, _ args: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.environment = Fixtures.env.merging(["LECTERN_PROGRESS": "off"]) { $1 }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func run(_ exe: String, _ args: [String]) throws -> String {
        let (status, out) = try runStatus(exe, args)
        guard status == 0 else { throw TokenizerTestError("lectern \(args.joined(separator: " ")) exited \(status): \(out)") }
        return out
    }

    private func sqlJSON(_ exe: String, _ file: String, _ sql: String) throws -> [[String: Any]] {
        let out = try run(exe, ["sql", file, sql, "--json"])
        return try JSONSerialization.jsonObject(with: Data(out.utf8)) as! [[String: Any]]
    }
}
