import Foundation
import XCTest
@testable import LecternMine
import LecternText

/// `lectern mine --compat adaptllm` against the libraries AdaptLLM's raw2read.py calls: the
/// `sentencepiece` library (truncation, pieces), pysbd (sentences) and CPython's `random`
/// (keyword-sentence order), all run on the same texts by Tests/LecternMineTests/reference/compat_reference.py.
final class AdaptLLMCompatTests: XCTestCase {
    var samples: URL { TestSupport.dataDir.appendingPathComponent("adaptllm-samples") }

    /// Real texts: AdaptLLM's samples, PubMedQA abstracts (sections on lines of their own), and
    /// lines aimed at each rule (NFKC, spaces, tabs, abbreviations, lists, quotes, ellipses).
    func texts() throws -> [String] {
        var out = try TestSupport.adaptLLMSamples().map(\.text)
        out += try TestSupport.pubMedQA().prefix(150).map { $0.contexts.joined(separator: "\n") }
        out += [
            "", " ", "a", "Ｆｕｌｌ－ｗｉｄｔｈ ﬁ ligature ① and   three spaces\tand a tab.",
            "The dose was 2.5 mg/kg (p < 0.05). Dr. Smith et al. reported it! Did they? Yes.",
            "(BETA) Create a cluster.\n\n       See https://example.com/docs for details... Then stop.",
            "Run it as e.g. `ls -l`. The U.S. team agreed. Use the .txt and .pdf files only.",
            "1. First item here. 2. Second item here.\n  3. Third one.",
            "He said \"stop. now\" and left. 'quoted. text' ends here. Wow!!! Really?!",
            "emoji 🧬 and CJK 漢字 and accents café naïve.\r\nWindows line.",
        ]
        return out
    }

    func reference(_ texts: [String], cut: Int, shuffles: [[Int]] = []) throws -> [String: Any] {
        let script = TestSupport.repoRoot.appendingPathComponent("Tests/LecternMineTests/reference/compat_reference.py")
        let input: [String: Any] = ["general": samples.appendingPathComponent("general.spm").path,
                                    "domain": samples.appendingPathComponent("domain.spm").path,
                                    "texts": texts, "cut": cut, "shuffles": shuffles]
        let data = try TestSupport.runPython(script: script, input: input, python: try TestSupport.referencePython())
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func compat() throws -> AdaptLLMCompat {
        try AdaptLLMCompat(general: try SentencePieceModel(contentsOf: samples.appendingPathComponent("general.spm")), generalName: "general.spm",
                           domain: try SentencePieceModel(contentsOf: samples.appendingPathComponent("domain.spm")), domainName: "domain.spm")
    }

    func testPythonRandomShufflesLikeCPython() throws {
        let cases = [(0, 5), (1, 2), (1234, 10), (1848, 57), (99_991, 300), (4_294_967_297, 33), (7, 1)]
        let ref = try reference([], cut: 1, shuffles: cases.map { [$0.0, $0.1] })
        let expected = try XCTUnwrap(ref["shuffles"] as? [[Int]])
        for (k, (seed, n)) in cases.enumerated() {
            var x = Array(0..<n)
            var r = PythonRandom(seed: UInt64(seed))
            r.shuffle(&x)
            XCTAssertEqual(x, expected[k], "random.seed(\(seed)); random.shuffle(range(\(n)))")
        }
    }

    func testSentencePieceEncodesAndDecodesLikeTheLibrary() throws {
        let texts = try texts()
        let ref = try XCTUnwrap(try reference(texts, cut: 37)["texts"] as? [[String: Any]])
        let c = try compat()
        var cuts = 0
        for (t, r) in zip(texts, ref) {
            XCTAssertEqual(c.general.pieces(t), r["general"] as? [String], "general (BPE) pieces of \(t.prefix(60).debugDescription)")
            XCTAssertEqual(c.domain?.pieces(t), r["domain"] as? [String], "domain (unigram, nmt_nfkc) pieces of \(t.prefix(60).debugDescription)")
            let ids = c.general.encode(t, addSpecialTokens: false)
            XCTAssertEqual(c.general.decode(Array(ids.prefix(37))), r["cut"] as? String, "decode(encode(text)[:37]) of \(t.prefix(60).debugDescription)")
            if ids.count > 37 { cuts += 1 }
        }
        XCTAssertGreaterThan(cuts, 150, "most texts are longer than the cut, so the decode path is exercised")
        // The budget cut itself: AdaptLLM's 1848 on the longest sample, via AdaptLLMCompat.truncate.
        let long = texts.max { $0.utf8.count < $1.utf8.count }!
        let n = c.general.count(long)
        var small = try compat(); small.maxTokens = n / 2
        XCTAssertEqual(small.general.count(small.truncate(long)), n / 2, "the truncated text re-encodes to the budget")
        XCTAssertEqual(c.truncate("short text"), "short text")
    }

    func testSentencesAndKeywordSentencesFollowPysbdAndCPython() throws {
        let texts = try texts()
        let ref = try XCTUnwrap(try reference(texts, cut: 1)["texts"] as? [[String: Any]])
        let c = try compat()
        let miner = Miner(compat: c)
        var same = 0, keywordSame = 0, keywordNonEmpty = 0
        var differing: [String] = []
        for (t, r) in zip(texts, ref) {
            let ours = AdaptLLMSentences().split(t).map(String.init)
            if ours == (r["sentences"] as? [String]) { same += 1 } else if differing.count < 5 { differing.append(String(t.prefix(80))) }
            // Keyword sentences: CPython's shuffle of pysbd's sentences, domain pieces; compared
            // as (sorted words, sentence), since AdaptLLM lists the words in set order.
            let expected = (r["keywords"] as? [[Any]] ?? []).map { ($0[0] as? [String] ?? [], $0[1] as? String ?? "") }
            let found = (miner.adaptLLMKeywordTuples(sentences: AdaptLLMSentences().split(t), body: t, compat: c) ?? []).map { tuple in
                (c.keywords(in: Substring(tuple.hypothesis ?? "")).keywords.sorted(), tuple.hypothesis ?? "")
            }
            if !expected.isEmpty { keywordNonEmpty += 1 }
            if expected.map(\.0) == found.map(\.0) && expected.map(\.1) == found.map(\.1) { keywordSame += 1 }
        }
        let share = Double(same) / Double(texts.count)
        print("pysbd parity: \(same)/\(texts.count) texts split identically; keyword tuples identical \(keywordSame)/\(texts.count) (\(keywordNonEmpty) non-empty); differing: \(differing)")
        XCTAssertGreaterThanOrEqual(share, 0.95, "sentence lists identical to pysbd's on at least 95% of texts (differing: \(differing))")
        XCTAssertGreaterThanOrEqual(Double(keywordSame) / Double(texts.count), 0.97, "keyword tuples identical on at least 97% of texts")
        XCTAssertGreaterThan(keywordNonEmpty, 20, "the biomedical texts do have keyword sentences, so the comparison means something")
    }

    func testCompatMinerReadsTitleAndBodyAsRaw2Read() throws {
        let c = try compat()
        let miner = Miner(compat: c)
        XCTAssertEqual(miner.config.compat, "adaptllm")
        XCTAssertEqual(miner.config.tokenBudget, 1848)
        let (title, body, sentences) = miner.article(document: "A title with trailing space \nFirst sentence here. Second one.", title: nil)
        XCTAssertEqual(title, "A title with trailing space ", "the first line as it is, as text.split('\\n')[0]")
        XCTAssertEqual(body, "First sentence here. Second one.")
        XCTAssertEqual(sentences.map(String.init), ["First sentence here. ", "Second one."])
        // CRLF and lone CR read as Python's text mode reads them.
        let crlf = miner.article(document: "Title line\r\nFirst sentence here.\r\nSecond line.\rThird.", title: nil)
        XCTAssertEqual(crlf.title, "Title line")
        XCTAssertEqual(crlf.body, "First sentence here.\nSecond line.\nThird.")
        XCTAssertEqual(crlf.sentences.map(String.init), ["First sentence here.\n", "Second line.\n", "Third."])
        let single = miner.article(document: "Only a line.", title: nil)
        XCTAssertEqual(single.title, "Only a line.")
        XCTAssertEqual(single.body, "")
        // The fingerprint separates compat mode from the default, and the models enter it.
        XCTAssertNotEqual(miner.identity, Miner().identity)
        let rc = miner.mine(document: try TestSupport.adaptLLMSamples()[0].text, key: 1)
        XCTAssertFalse(rc.text.isEmpty)
    }
}
