import Foundation
import XCTest
@testable import LecternEmbed

/// The Swift encoder against sentence-transformers' own vectors (scripts/reference/embed_minilm.py).
final class MiniLMReferenceTests: XCTestCase {
    struct Reference: Decodable { let ids: [String]; let n_tokens: [Int] }

    func testAllPubMedQAAbstractsMatchSentenceTransformers() throws {
        let base = TestSupport.repoRoot + "/Tests/LecternEmbedTests/Reference/minilm_pubmedqa"
        let ref = try JSONDecoder().decode(Reference.self, from: try Data(contentsOf: URL(fileURLWithPath: base + ".json")))
        let raw = try Data(contentsOf: URL(fileURLWithPath: base + ".f32"))
        let expected: [Float] = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertEqual(ref.ids.count, 1000)
        XCTAssertEqual(expected.count, ref.ids.count * 384)

        let embedder = try MiniLMEmbedder(directory: try TestSupport.minilmDirectory())
        let texts = try TestSupport.pubmedqaDocuments(ids: ref.ids)
        let start = Date()
        let got = try embedder.embed(texts)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(got.count, expected.count)

        var worst = 1.0, worstID = ""
        var tokenMismatches: [String] = []
        for (i, id) in ref.ids.enumerated() {
            let c = TestSupport.cosine(got[(i * 384)..<((i + 1) * 384)], expected[(i * 384)..<((i + 1) * 384)])
            if c < worst { worst = c; worstID = id }
            XCTAssertGreaterThanOrEqual(c, 0.9999, "PubMedQA \(id): cosine \(c)")
            let n = embedder.sequences(for: texts[i])[0].count
            if n != ref.n_tokens[i] { tokenMismatches.append("\(id): \(n) vs \(ref.n_tokens[i])") }
        }
        XCTAssertEqual(tokenMismatches, [], "token counts differ from the Hugging Face tokenizer")
        print("MiniLM vs sentence-transformers: worst cosine \(worst) (PubMedQA \(worstID)); 1000 docs in \(String(format: "%.1f", seconds)) s")
    }

    func testLongDocumentMeanOfChunksIsNormalisedMeanOfWindows() throws {
        let dir = try TestSupport.minilmDirectory()
        let chunked = try MiniLMEmbedder(directory: dir, maxTokens: 64, longDocuments: .meanOfChunks)
        let truncated = try MiniLMEmbedder(directory: dir, maxTokens: 64)
        XCTAssertNotEqual(chunked.fingerprint, truncated.fingerprint)
        let texts = try TestSupport.pubmedqaDocuments(ids: ["21645374", "16418930"])
        let windows = chunked.sequences(for: texts[0])
        XCTAssertGreaterThan(windows.count, 2)
        XCTAssertTrue(windows.allSatisfy { $0.count <= 64 && $0.first == 101 && $0.last == 102 })
        // The windows cover the whole text, in order.
        XCTAssertEqual(windows.flatMap { $0.dropFirst().dropLast() }, chunked.tokenizer.tokenize(texts[0]))
        let perWindow = try chunked.encoder.embed(windows)
        var mean = [Float](repeating: 0, count: 384)
        for w in 0..<windows.count { for c in 0..<384 { mean[c] += perWindow[w * 384 + c] } }
        let v = try chunked.embed([texts[0]])
        XCTAssertGreaterThan(TestSupport.cosine(v[...], mean[...]), 0.999999)
        let norm = v.reduce(0) { $0 + Double($1) * Double($1) }
        XCTAssertEqual(norm, 1, accuracy: 1e-5)
        // The truncating embedder sees only the first window.
        let t = try truncated.embed([texts[0]])
        XCTAssertGreaterThan(TestSupport.cosine(t[...], perWindow[0..<384]), 0.999999)
    }

    func testBatchingDoesNotChangeVectors() throws {
        let embedder = try MiniLMEmbedder(directory: try TestSupport.minilmDirectory())
        let texts = try TestSupport.pubmedqaDocuments(ids: ["21645374", "16418930", "12607120"]) + ["short", "a b c"]
        let together = try embedder.embed(texts)
        for (i, t) in texts.enumerated() {
            let alone = try embedder.embed([t])
            XCTAssertGreaterThan(TestSupport.cosine(together[(i * 384)..<((i + 1) * 384)], alone[...]), 0.999999, "text \(i)")
        }
    }

    func testBadInputsGiveClearErrors() throws {
        let embedder = try MiniLMEmbedder(directory: try TestSupport.minilmDirectory())
        XCTAssertThrowsError(try embedder.encoder.embed([[101, 999_999, 102]])) { e in
            XCTAssertTrue("\(e)".contains("outside the vocabulary"), "\(e)")
        }
        XCTAssertThrowsError(try embedder.encoder.embed([Array(repeating: 1000, count: 600)])) { e in
            XCTAssertTrue("\(e)".contains("600 tokens"), "\(e)")
        }
        XCTAssertEqual(try embedder.embed([]).count, 0)
        XCTAssertEqual(try embedder.embed([""]).count, 384)  // [CLS][SEP] only, still a unit vector
        XCTAssertThrowsError(try MiniLMEmbedder(directory: "/nonexistent/minilm")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/minilm/config.json"), "\(e)")
        }
    }
}
