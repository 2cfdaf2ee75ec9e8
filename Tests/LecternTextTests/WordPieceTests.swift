import XCTest
@testable import LecternText

/// MiniLM's uncased WordPiece against Hugging Face `tokenizers` on its own tokenizer.json.
final class WordPieceTests: XCTestCase {
    func testPubMedQAMatchesHuggingFace() throws {
        let dir = try Fixtures.minilmDir()
        let texts = try Fixtures.pubmedqaAbstracts()
        XCTAssertEqual(texts.count, 1000)
        let tok = try WordPieceTokenizer(vocabFile: dir + "/vocab.txt")
        let ref = try Fixtures.referenceIds(texts, ["--tokenizer-json", dir + "/tokenizer.json"])
        assertSameIds(texts.map { tok.encode($0, maxLength: nil) }, ref, texts, "MiniLM PubMedQA")
        XCTAssertEqual(zip(texts, ref).map { tok.count($0.0) }, ref.map { $0.count - 2 })
    }

    func testAdversarialMatchesHuggingFace() throws {
        let dir = try Fixtures.minilmDir()
        let texts = Fixtures.adversarial
        let tok = try WordPieceTokenizer(vocabFile: dir + "/vocab.txt")
        let ref = try Fixtures.referenceIds(texts, ["--tokenizer-json", dir + "/tokenizer.json"])
        assertSameIds(texts.map { tok.encode($0, maxLength: nil) }, ref, texts, "MiniLM adversarial")
    }

    /// Every scalar of planes 0-3 and 14-16 (4-13 are unassigned) between two letters, so the
    /// Unicode class tables (control, whitespace, punctuation, accents, CJK, and the old Unicode
    /// version `tokenizers` carries) are compared exhaustively.
    func testEveryScalarMatchesHuggingFace() throws {
        let dir = try Fixtures.minilmDir()
        var texts: [String] = []
        var chunk = ""
        for v in Array(UInt32(0)...0x3FFFF) + Array(UInt32(0xE0000)...0x10FFFF) {
            guard let s = Unicode.Scalar(v) else { continue }
            chunk.unicodeScalars.append("a"); chunk.unicodeScalars.append(s); chunk += "b "
            if chunk.unicodeScalars.count >= 4000 { texts.append(chunk); chunk = "" }
        }
        texts.append(chunk)
        let tok = try WordPieceTokenizer(vocabFile: dir + "/vocab.txt")
        let ref = try Fixtures.referenceIds(texts, ["--tokenizer-json", dir + "/tokenizer.json"])
        assertSameIds(texts.map { tok.encode($0, maxLength: nil) }, ref, texts, "MiniLM every scalar")
    }

    func testTruncationKeepsSpecials() throws {
        let dir = try Fixtures.minilmDir()
        let tok = try WordPieceTokenizer(vocabFile: dir + "/vocab.txt")
        let text = try Fixtures.pubmedqaAbstracts()[0]
        let full = tok.encode(text, maxLength: nil)
        let cut = tok.encode(text, maxLength: 16)
        XCTAssertEqual(cut.count, 16)
        XCTAssertEqual(cut.first, tok.clsId)
        XCTAssertEqual(cut.last, tok.sepId)
        XCTAssertEqual(Array(cut[0..<15]), Array(full[0..<15]))
    }

    func testMissingVocabularyIsAClearError() {
        XCTAssertThrowsError(try WordPieceTokenizer(vocabFile: "/nonexistent/vocab.txt")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/vocab.txt"))
        }
    }
}
