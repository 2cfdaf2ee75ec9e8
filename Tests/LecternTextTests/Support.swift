import Foundation
import XCTest
import LecternTestSupport

/// Shared fixtures: the repository root, PubMedQA abstracts, model paths and the Python reference.
enum Fixtures {
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var env: [String: String] { ProcessInfo.processInfo.environment }
    static var cache: String { env["LECTERN_CACHE"] ?? NSHomeDirectory() + "/.cache/lectern" }

    /// A component the test needs is missing: fail under scripts/test.sh, skip otherwise.
    static func missing(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> Never {
        try LecternTestSupport.TestSupport.missing(what, setup: "scripts/setup.d/10-models.sh", file: file, line: line)
    }

    static func minilmDir() throws -> String {
        let dir = env["LECTERN_MINILM_DIR"] ?? cache + "/models/all-minilm-l6-v2"
        guard FileManager.default.fileExists(atPath: dir + "/tokenizer.json") else { try missing("MiniLM model folder \(dir)") }
        return dir
    }

    static func smollm2GGUF() throws -> String {
        let path = env["LECTERN_SMOLLM2_GGUF"] ?? cache + "/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else { try missing("SmolLM2 GGUF \(path)") }
        return path
    }

    static func python() throws -> String {
        let py = env["LECTERN_PYTHON"] ?? cache + "/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: py) else { try missing("Python venv \(py)") }
        return py
    }

    /// PubMedQA's ori_pqal.json.
    static func pubmedqaPath() throws -> String {
        let path = LecternTestSupport.TestSupport.sharedData.appendingPathComponent("pubmedqa/ori_pqal.json").path
        guard FileManager.default.fileExists(atPath: path) else { try missing("PubMedQA \(path)") }
        return path
    }

    /// PubMedQA abstracts as the ingest stage sees them: each instance's CONTEXTS joined by one space,
    /// in ascending PMID order.
    static func pubmedqaAbstracts() throws -> [String] {
        let path = try pubmedqaPath()
        guard let data = FileManager.default.contents(atPath: path),
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
            try missing("PubMedQA \(path)")
        }
        return obj.keys.sorted().map { k in ((obj[k]!["CONTEXTS"] as? [String]) ?? []).joined(separator: " ") }
    }

    /// Strings that break naive tokenizers.
    static let adversarial: [String] = [
        "", " ", "   ", "\n\n\n", "\t \t  \n x", "a\u{0}b\u{0}", "\u{0}", "tab\there",
        "Héllo Wörld ÀÉÎÕÜ ñ ç", "e\u{301}\u{302}\u{327} a\u{0300}", "\u{301}leading mark",
        "emoji 😀👍🏽👨‍👩‍👧‍👦 🇩🇪 ✨ 🥲🫠", "中文字符和日本語のテキスト한국어", "mixed: Ελληνικά, русский, עברית, العربية, हिन्दी, ไทย",
        "control\u{1}\u{2}\u{7}\u{1B}[0m\u{7F}\u{85}\u{1C}\u{1D}\u{1E}\u{1F}x", "zero\u{200B}width\u{200D}joiner\u{FEFF}bom",
        "nbsp\u{A0}thin\u{2009}ideo\u{3000}space\u{2028}line", "\u{FFFD}replacement", "private\u{E000}use",
        "IL-6 (p<0.05), 12.5±3.4 mg/kg; α-synuclein β2-microglobulin µm 37°C",
        "don't I'm they'll we've she'd IT'S YOU'RE", "1234567890 12,345.678 ①②③ ٣٤٥ 1e-10",
        String(repeating: "a", count: 100), String(repeating: "a", count: 101),
        String(repeating: "x", count: 300) + " end", String(repeating: " ", count: 50) + "word" + String(repeating: "\n", count: 20),
        "[CLS] literal [SEP] and [MASK] tokens [UNK]", "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
        "ﬁ ligature Ǆ titlecase İstanbul ΣΑΣ straße", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 math", "a\r\nb\rc\n\rd",
        "!!!???...,,,;;;:::---___", "$100 #hashtag @user ~tilde `back` ^caret |pipe| {brace} [bracket] <angle>",
        "\u{F900}\u{FA0A} CJK compat", "Ǻ\u{323}\u{1D165}\u{1D16D} combining order",
    ]

    /// Runs benchmarks/tokenizers/reference.py with `args`; texts go in as JSON, ids come back.
    static func referenceIds(_ texts: [String], _ args: [String]) throws -> [[Int32]] {
        let py = try python()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-text-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("texts.json"), output = dir.appendingPathComponent("ids.json")
        try JSONSerialization.data(withJSONObject: texts).write(to: input)
        try runPython(py, ["ids"] + args + ["--input", input.path, "--output", output.path])
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as! [[NSNumber]]
        return obj.map { $0.map { Int32(truncating: $0) } }
    }

    static func runPython(_ py: String, _ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: py)
        p.arguments = [repoRoot.appendingPathComponent("benchmarks/tokenizers/reference.py").path] + args
        p.environment = env.merging(["RAYON_NUM_THREADS": "2"]) { $1 }
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw TokenizerTestError("reference.py \(args.first ?? "") exited with \(p.terminationStatus)")
        }
    }
}

struct TokenizerTestError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Compares id lists and reports the first few differing texts with the first differing position.
func assertSameIds(_ ours: [[Int32]], _ ref: [[Int32]], _ texts: [String], _ label: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ours.count, ref.count, "\(label): number of texts", file: file, line: line)
    var bad = 0
    for i in 0..<min(ours.count, ref.count) where ours[i] != ref[i] {
        bad += 1
        if bad <= 5 {
            let k = Array(zip(ours[i], ref[i])).firstIndex { $0.0 != $0.1 } ?? min(ours[i].count, ref[i].count)
            XCTFail("\(label) text \(i) \(String(texts[i].prefix(80)).debugDescription): first difference at \(k): "
                    + "ours \(Array(ours[i][max(0, k - 2)..<min(ours[i].count, k + 4)])) "
                    + "reference \(Array(ref[i][max(0, k - 2)..<min(ref[i].count, k + 4)]))", file: file, line: line)
        }
    }
    XCTAssertEqual(bad, 0, "\(label): \(bad) of \(ref.count) texts differ", file: file, line: line)
}
