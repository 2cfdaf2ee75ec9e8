import Foundation
import LecternMine
import LecternText
import XCTest

final class MinerTests: XCTestCase {
    static func spmVocabulary() throws -> DomainVocabulary {
        let dir = TestSupport.dataDir.appendingPathComponent("adaptllm-samples")
        let domainURL = dir.appendingPathComponent("domain.spm"), generalURL = dir.appendingPathComponent("general.spm")
        guard FileManager.default.fileExists(atPath: domainURL.path) else { try TestSupport.missing("\(domainURL.path) (set LECTERN_SHARED_DATA)") }
        return DomainVocabulary.adaptLLM(domain: try SentencePieceModel(contentsOf: domainURL),
                                         general: try SentencePieceModel(contentsOf: generalURL))
    }

    /// AdaptLLM's own outputs for its 12 samples against ours, by structure: the tasks it
    /// built come from the tuples we mine, every article keeps its title and body, and every
    /// task we record is in our text.
    func testSamplesHaveTheShapeOfAdaptLLMOutputs() throws {
        let samples = try TestSupport.adaptLLMSamples()
        let outDir = TestSupport.dataDir.appendingPathComponent("adaptllm-samples/output-read-compre")
        let miner = Miner(vocabulary: try Self.spmVocabulary())
        var checkedSubcategories = 0
        for (i, s) in samples.enumerated() {
            let theirs = try String(contentsOf: outDir.appendingPathComponent(s.name), encoding: .utf8)
            let ours = miner.mine(document: s.text, key: UInt64(i))
            let (title, body) = miner.splitTitle(document: s.text, title: nil)
            let t = try XCTUnwrap(title)
            // AdaptLLM shows the title in every mode (as answer, heading or instruction); so do we.
            XCTAssertTrue(theirs.contains(t), "\(s.name): AdaptLLM output lacks the title")
            XCTAssertTrue(ours.text.contains(t), "\(s.name): our output lacks the title")
            // The whole body is in both (split at most once, for completion).
            for sentence in SentenceSplitter().split(body) {
                let core = sentence.trimmingCharacters(in: .whitespacesAndNewlines)
                XCTAssertTrue(ours.text.contains(core) || core.count < 2, "\(s.name): lost \(core)")
            }
            // Each regex sub-category: AdaptLLM used min(2, n) of the n tuples we mine; a used
            // tuple's second sentence appears twice in its output (article + task).
            var bySub: [String: [MinedTuple]] = [:]
            for tup in miner.mineTuples(in: body) { bySub[tup.subcategory!, default: []].append(tup) }
            for (sub, tuples) in bySub {
                let hyps = Set(tuples.map { String($0.hypothesis!.dropFirst()) })
                let used = hyps.filter { theirs.components(separatedBy: $0).count - 1 >= 2 }
                XCTAssertGreaterThanOrEqual(used.count, min(2, hyps.count), "\(s.name) \(sub): AdaptLLM used tuples we do not mine")
                XCTAssertEqual(ours.tasks.filter { $0.tuple.subcategory == sub }.count, min(2, tuples.count), "\(s.name) \(sub)")
                checkedSubcategories += 1
            }
            // Our recorded tasks are in our text.
            for task in ours.tasks where task.tuple.type != .summarize && task.tuple.type != .completion {
                XCTAssertTrue(ours.text.contains(task.prompt + " " + task.answer), "\(s.name): task not in text")
            }
            XCTAssertFalse(ours.text.contains("  "), "double spaces are collapsed")
        }
        XCTAssertGreaterThan(checkedSubcategories, 10, "the samples should exercise most sub-categories")
    }

    /// The words AdaptLLM's own outputs list as keywords are in our reading of its .spm files.
    func testAdaptLLMKeywordsComeFromOurSentencePieceReader() throws {
        let vocab = try Self.spmVocabulary()
        XCTAssertGreaterThan(vocab.words.count, 100)
        XCTAssertTrue(vocab.words.allSatisfy { $0.unicodeScalars.count >= 10 })
        let outDir = TestSupport.dataDir.appendingPathComponent("adaptllm-samples/output-read-compre")
        var listed = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: outDir.path) {
            let text = try String(contentsOf: outDir.appendingPathComponent(name), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("Keywords: ") {
                for w in line.dropFirst("Keywords: ".count).split(separator: ",") {
                    XCTAssertTrue(vocab.words.contains(w.trimmingCharacters(in: .whitespaces)), "\(w) missing")
                    listed += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(listed, 3)
    }

    func testSameSeedSameTextOtherSeedOtherChoices() throws {
        let samples = try TestSupport.adaptLLMSamples()
        let vocab = try Self.spmVocabulary()
        var a = MinerConfig(); a.seed = 7
        var b = MinerConfig(); b.seed = 8
        let m1 = Miner(config: a, vocabulary: vocab), m2 = Miner(config: a, vocabulary: vocab), m3 = Miner(config: b, vocabulary: vocab)
        var differ = 0
        for (i, s) in samples.enumerated() {
            let x = m1.mine(document: s.text, key: UInt64(i))
            XCTAssertEqual(x, m2.mine(document: s.text, key: UInt64(i)))
            if x.text != m3.mine(document: s.text, key: UInt64(i)).text { differ += 1 }
        }
        XCTAssertGreaterThan(differ, samples.count / 2, "the seed should change template and shuffle choices")
    }

    func testTokenBudgetTruncatesTheArticle() {
        let words = (0..<5000).map { "w\($0)" }.joined(separator: " ")
        var cfg = MinerConfig(); cfg.tokenBudget = 300
        let counter = TokenCounter(name: "words") { $0.split(whereSeparator: \.isWhitespace).count }
        let out = Miner(config: cfg, counter: counter).mine(document: "Title\n" + words, key: 1)
        XCTAssertTrue(out.text.contains("w299"))
        XCTAssertFalse(out.text.contains("w300"))
        XCTAssertEqual(truncate(words, toTokens: 10, counter: counter), "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9")
        XCTAssertEqual(truncate("short", toTokens: 10, counter: counter), "short")
    }

    func testCorpusVocabularyFromPubMedQAAgainstGeneralInstructions() throws {
        let docs = try TestSupport.pubMedQA().map { $0.contexts.joined(separator: " ") }
        let url = TestSupport.dataDir.appendingPathComponent("general-instructions/alpaca_5000.json")
        guard let data = try? Data(contentsOf: url),
              let general = try JSONSerialization.jsonObject(with: data) as? [[String: String]] else {
            try TestSupport.missing("general instructions at \(url.path)")
        }
        let generalDocs = general.map { ($0["instruction"] ?? "") + " " + ($0["input"] ?? "") + " " + ($0["output"] ?? "") }
        let vocab = DomainVocabulary.learn(domainDocuments: docs, generalDocuments: generalDocs)
        XCTAssertGreaterThan(vocab.words.count, 50)
        // Independent check: AdaptLLM's biomedical SentencePiece model knows most learned
        // words as whole words far more often than LLaMA's general one does.
        let dir = TestSupport.dataDir.appendingPathComponent("adaptllm-samples")
        let domainWords = Set(try SentencePieceModel(contentsOf: dir.appendingPathComponent("domain.spm")).wordPieces.map { $0.lowercased() })
        let generalWords = Set(try SentencePieceModel(contentsOf: dir.appendingPathComponent("general.spm")).wordPieces.map { $0.lowercased() })
        let inDomain = vocab.words.filter(domainWords.contains).count
        let inGeneral = vocab.words.filter(generalWords.contains).count
        print("corpus vocabulary: \(vocab.words.count) words, \(inDomain) whole words of domain.spm, \(inGeneral) of general.spm")
        XCTAssertGreaterThan(inDomain, 3 * max(inGeneral, 1))
        XCTAssertFalse(vocab.words.contains("information"), "a general word")
    }

    func testMalformedSentencePieceModelIsAClearError() {
        XCTAssertThrowsError(try SentencePieceModel(data: Data([0x0A, 0xFF, 0x01]), path: "bad.spm")) { e in
            XCTAssertTrue("\(e)".contains("bad.spm"), "\(e)")
        }
        XCTAssertThrowsError(try SentencePieceModel(data: Data(), path: "empty.spm"))
    }
}
