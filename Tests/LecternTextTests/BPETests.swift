import Foundation
import XCTest
@testable import LecternText

/// Byte-level and SentencePiece-style BPE against Hugging Face `tokenizers`.
final class BPETests: XCTestCase {
    /// SmolLM2's tokenizer read from its GGUF by our reader, against a `tokenizers` BPE that
    /// reference.py builds from the same GGUF with the `gguf` package.
    func testSmolLM2GGUFMatchesHuggingFaceOnPubMedQA() throws {
        let gguf = try Fixtures.smollm2GGUF()
        let texts = try Fixtures.pubmedqaAbstracts() + Fixtures.adversarial
        let tok = try TokenizerLoader.load(path: gguf)
        XCTAssertEqual(tok.kind, .byteLevelBPE)
        XCTAssertEqual(tok.vocabularySize, 49152)
        let ref = try Fixtures.referenceIds(texts, ["--gguf", gguf])
        assertSameIds(texts.map { tok.encode($0, addSpecialTokens: true) }, ref, texts, "SmolLM2 GGUF")
        XCTAssertEqual(texts.map { tok.count($0) }, ref.map { $0.count })
    }

    /// The same tokenizer exported to tokenizer.json (Digits + ByteLevel pre-tokenizers), read by
    /// our tokenizer.json loader.
    func testSmolLM2TokenizerJSONMatches() throws {
        let gguf = try Fixtures.smollm2GGUF()
        let json = try export(gguf, pre: nil)
        let texts = Array(try Fixtures.pubmedqaAbstracts().prefix(200)) + Fixtures.adversarial
        let tok = try TokenizerLoader.load(path: json)
        let ref = try Fixtures.referenceIds(texts, ["--tokenizer-json", json])
        assertSameIds(texts.map { tok.encode($0, addSpecialTokens: true) }, ref, texts, "SmolLM2 tokenizer.json")
    }

    /// LLaMA-3's split regex (as a `Split` pre-tokenizer) over SmolLM2's vocabulary and merges:
    /// checks our hand-written LLaMA-3 matcher against the regex engine of `tokenizers`.
    func testLlama3SplitPatternMatches() throws {
        let gguf = try Fixtures.smollm2GGUF()
        let json = try export(gguf, pre: "llama3")
        let texts = Array(try Fixtures.pubmedqaAbstracts().prefix(300)) + Fixtures.adversarial + [
            "x \n\n  y", "a\r\n\r\n b", "12345 abc1234d", "IT'S It'S it's", "  \n", " ?!\n\nfoo", "\t\tword",
        ]
        let tok = try TokenizerLoader.load(path: json)
        guard case .byteLevel(.llama3, _) = (tok as! BPETokenizer).mode else { return XCTFail("not read as LLaMA-3 split") }
        let ref = try Fixtures.referenceIds(texts, ["--tokenizer-json", json])
        assertSameIds(texts.map { tok.encode($0, addSpecialTokens: true) }, ref, texts, "LLaMA-3 split")
    }

    /// A LLaMA-2-style tokenizer (Prepend/Replace normalizers, no pre-tokenizer, `<0xNN>` byte
    /// fallback) trained by `tokenizers` on PubMedQA, so emoji and scripts it never saw fall back to bytes.
    func testSentencePieceByteFallbackMatches() throws {
        let texts = try Fixtures.pubmedqaAbstracts()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-spm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.json"), json = dir.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: Array(texts.prefix(500))).write(to: corpus)
        try Fixtures.runPython(try Fixtures.python(),
                               ["train-bytefallback", "--input", corpus.path, "--output", json.path, "--vocab-size", "3000"])
        let tok = try TokenizerLoader.load(path: json.path)
        XCTAssertEqual(tok.kind, .sentencePieceBPE)
        let sample = Array(texts.suffix(300)) + Fixtures.adversarial + ["<s>hello</s> <unk>", "  two  spaces  "]
        let ref = try Fixtures.referenceIds(sample, ["--tokenizer-json", json.path])
        let ours = sample.map { tok.encode($0, addSpecialTokens: true) }
        assertSameIds(ours, ref, sample, "SentencePiece byte fallback")
        // The emoji really went through byte fallback.
        let emoji = tok.encode("😀", addSpecialTokens: false).compactMap { tok.token(for: $0) }
        XCTAssertTrue(emoji.contains("<0xF0>"), "\(emoji)")
    }

    /// Every scalar of planes 0-1 and every 7th of planes 2-3 and 14 (CJK, tags; 15-16 are private
    /// use) around spaces, digits, a contraction and a newline,
    /// under SmolLM2's pre-tokenizer (Digits + GPT-2 regex) and LLaMA-3's: checks our letter,
    /// number and space classes against the Rust regex engine's (Unicode 16) and Rust's
    /// `is_numeric` (current Unicode).
    func testEveryScalarMatchesHuggingFace() throws {
        let gguf = try Fixtures.smollm2GGUF()
        var texts: [String] = []
        var chunk = ""
        var n = 0
        let scalars = Array(UInt32(0)...0x1FFFF) + Array(stride(from: UInt32(0x20000), through: 0x3FFFF, by: 7))
            + Array(stride(from: UInt32(0xE0000), through: 0xEFFFF, by: 7))
        for v in scalars {
            guard let u = Unicode.Scalar(v) else { continue }
            let c = String(Character(u))
            chunk += " " + c + "1 " + c + c + "'s\n" + c + " "
            n += 1
            if n % 1000 == 0 { texts.append(chunk); chunk = "" }
        }
        texts.append(chunk)
        let smol = try TokenizerLoader.load(path: gguf)
        let ref = try Fixtures.referenceIds(texts, ["--gguf", gguf])
        assertSameIds(texts.map { smol.encode($0, addSpecialTokens: true) }, ref, texts, "SmolLM2 every scalar")
        let json = try export(gguf, pre: "llama3")
        let llama3 = try TokenizerLoader.load(path: json)
        let ref3 = try Fixtures.referenceIds(texts, ["--tokenizer-json", json])
        assertSameIds(texts.map { llama3.encode($0, addSpecialTokens: true) }, ref3, texts, "LLaMA-3 split every scalar")
    }

    /// A LLaMA-type GGUF (`tokenizer.ggml.model = llama`: tokens, scores, types, no merges) made
    /// from a trained byte-fallback tokenizer, read by our GGUF loader and by `transformers`' one.
    func testLlamaGGUFMatchesTransformers() throws {
        let texts = try Fixtures.pubmedqaAbstracts()
        let py = try Fixtures.python()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-spmgguf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let corpus = dir.appendingPathComponent("corpus.json"), json = dir.appendingPathComponent("tokenizer.json")
        let gguf = dir.appendingPathComponent("spm.gguf")
        try JSONSerialization.data(withJSONObject: Array(texts.prefix(500))).write(to: corpus)
        try Fixtures.runPython(py, ["train-bytefallback", "--input", corpus.path, "--output", json.path, "--vocab-size", "3000"])
        try Fixtures.runPython(py, ["spm-gguf", "--tokenizer-json", json.path, "--input", corpus.path, "--output", gguf.path])
        let tok = try TokenizerLoader.load(path: gguf.path)
        XCTAssertEqual(tok.kind, .sentencePieceBPE)
        let sample = Array(texts.suffix(300)) + Fixtures.adversarial + ["<s>hello</s> <unk>", "  two  spaces  "]
        let ref = try Fixtures.referenceIds(sample, ["--hf-gguf", gguf.path])
        assertSameIds(sample.map { tok.encode($0, addSpecialTokens: true) }, ref, sample, "LLaMA GGUF")
    }

    func testBadFilesGiveClearErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let notGGUF = dir.appendingPathComponent("x.gguf")
        try Data("GGUX0000".utf8).write(to: notGGUF)
        XCTAssertThrowsError(try TokenizerLoader.load(path: notGGUF.path)) { XCTAssertTrue("\($0)".contains("not a GGUF file"), "\($0)") }
        let truncated = dir.appendingPathComponent("t.gguf")
        try Data([0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 1, 0]).write(to: truncated)
        XCTAssertThrowsError(try TokenizerLoader.load(path: truncated.path)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
        let badJSON = dir.appendingPathComponent("tokenizer.json")
        try Data("{\"model\": {\"type\": \"Unigram\"}}".utf8).write(to: badJSON)
        XCTAssertThrowsError(try TokenizerLoader.load(path: badJSON.path)) { XCTAssertTrue("\($0)".contains("Unigram"), "\($0)") }
        try Data("not json".utf8).write(to: badJSON)
        XCTAssertThrowsError(try TokenizerLoader.load(path: badJSON.path)) { XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)") }
        XCTAssertThrowsError(try TokenizerLoader.load(path: dir.path + "/missing.json")) { XCTAssertTrue("\($0)".contains("no such file"), "\($0)") }
    }

    private func export(_ gguf: String, pre: String?) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.json")
        try Data("[]".utf8).write(to: empty)
        let out = dir.appendingPathComponent("tokenizer.json").path
        try Fixtures.runPython(try Fixtures.python(),
                               ["export", "--gguf", gguf, "--input", empty.path, "--output", out] + (pre.map { ["--pre", $0] } ?? []))
        return out
    }
}
