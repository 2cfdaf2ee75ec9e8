import LecternKernels
import LecternTestSupport
import XCTest
@testable import LecternGenerate

/// The tolerant parser on the shapes models actually produce.
final class ParserTests: XCTestCase {
    func testPlainList() throws {
        let r = try QAParser.parse(#"[{"question": "What is X?", "answer": "Y."}, {"question": "Why?", "answer": "Z."}]"#)
        XCTAssertEqual(r.pairs, [QAPair(question: "What is X?", answer: "Y."), QAPair(question: "Why?", answer: "Z.")])
        XCTAssertFalse(r.repaired)
    }

    func testCodeFenceWithProseAround() throws {
        let text = "Here you go:\n```json\n[{\"question\": \"Q1?\", \"answer\": \"A1\"}]\n```\nLet me know [if] more."
        XCTAssertEqual(try QAParser.parse(text).pairs, [QAPair(question: "Q1?", answer: "A1")])
    }

    func testProseWithBracketsBeforeJSON() throws {
        let text = "As noted in [1], the answers are: [{\"Question\": \"Q?\", \"Answer\": 42}] done."
        XCTAssertEqual(try QAParser.parse(text).pairs, [QAPair(question: "Q?", answer: "42")])
    }

    func testSingleObjectInsteadOfList() throws {
        XCTAssertEqual(try QAParser.parse(#"{"question": "Only one?", "answer": "Yes."}"#).pairs,
                       [QAPair(question: "Only one?", answer: "Yes.")])
    }

    func testListWrappedInObject() throws {
        let r = try QAParser.parse(#"{"pairs": [{"question": "A?", "answer": "B"}, {"question": "C?", "answer": "D"}]}"#)
        XCTAssertEqual(r.pairs.map(\.question), ["A?", "C?"])
    }

    func testUnterminatedLastItemIsDropped() throws {
        let text = #"[{"question": "First?", "answer": "One."}, {"question": "Second?", "answer": "Tw"#
        let r = try QAParser.parse(text)
        XCTAssertEqual(r.pairs, [QAPair(question: "First?", answer: "One.")])
        XCTAssertTrue(r.repaired)
    }

    func testBracketsInsideStringsDoNotConfuse() throws {
        let text = #"[{"question": "What does [x] mean in {set}?", "answer": "A \"quoted\" ] bracket."}]"#
        XCTAssertEqual(try QAParser.parse(text).pairs.first?.answer, #"A "quoted" ] bracket."#)
    }

    func testUnterminatedSingleObjectIsClosed() throws {
        let r = try QAParser.parse(#"{"question": "Q?", "answer": "cut here"#)
        XCTAssertEqual(r.pairs, [QAPair(question: "Q?", answer: "cut here")])
        XCTAssertTrue(r.repaired)
    }

    func testNoJSONAndNoPairs() {
        XCTAssertThrowsError(try QAParser.parse("I cannot help with that.")) {
            XCTAssertEqual($0 as? QAParser.Failure, .noJSON)
        }
        XCTAssertThrowsError(try QAParser.parse(#"[{"q_text": "x"}]"#)) {
            XCTAssertEqual($0 as? QAParser.Failure, .noPairs)
        }
    }
}

/// Validation rules and their counted reasons.
final class ValidatorTests: XCTestCase {
    func testReasonsAreCounted() {
        let doc = "Aspirin reduces fever. It is widely used in adults with mild pain."
        let pairs = [
            QAPair(question: "What does aspirin reduce?", answer: "Fever."),
            QAPair(question: "  what does ASPIRIN   reduce? ", answer: "Fever again."),  // duplicate
            QAPair(question: "", answer: "x"),
            QAPair(question: "Who uses it?", answer: "  "),
            QAPair(question: "Same?", answer: "same"),
            QAPair(question: "What does the text say?", answer: doc),                   // copies the document
            QAPair(question: "Who uses aspirin?", answer: "adults with mild pain"),      // short extractive: kept
        ]
        let o = QAValidator().validate(pairs, document: doc)
        XCTAssertEqual(o.accepted.map(\.question), ["What does aspirin reduce?", "Who uses aspirin?"])
        XCTAssertEqual(o.rejected, [.duplicateQuestion: 1, .emptyQuestion: 1, .emptyAnswer: 1,
                                    .answerRepeatsQuestion: 1, .copiesDocument: 1])
    }
}

/// The default template is the paper's prompt, verbatim (DESIGN.md section 1).
final class TemplateTests: XCTestCase {
    func testPaperPromptVerbatim() {
        XCTAssertEqual(PromptTemplate.paper.text,
                       "{DOCUMENT} Ask a few questions to help understand the above passage about {DOMAIN} and give the corresponding answers in JSON list (each JSON contain two keys: question and answer)")
        XCTAssertEqual(PromptTemplate.paper.version, "paper-v1")
        XCTAssertEqual(PromptTemplate.paper.render(document: "Doc about {DOMAIN}.", domain: "biomedicine"),
                       "Doc about {DOMAIN}. Ask a few questions to help understand the above passage about biomedicine and give the corresponding answers in JSON list (each JSON contain two keys: question and answer)")
    }

    func testUserTemplates() throws {
        let t = try PromptTemplate(text: "Passage ({DOMAIN}):\n{DOCUMENT}\nWrite 3 questions as JSON.")
        XCTAssertTrue(t.version.hasPrefix("user-"))
        XCTAssertNotEqual(t.version, try PromptTemplate(text: t.text + " ").version)
        XCTAssertEqual(t.render(document: "D", domain: "law"), "Passage (law):\nD\nWrite 3 questions as JSON.")
        XCTAssertThrowsError(try PromptTemplate(text: "no placeholder")) {
            XCTAssertTrue("\($0)".contains("{DOCUMENT}"))
        }
    }

    func testFingerprintCoversParamsNotName() {
        let a = GeneratorSpec(name: "teacher", model: "m", params: GenerationParams(domain: "biomedicine"))
        var b = a
        b.name = "other"
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        b.params.temperature = 0.7
        XCTAssertNotEqual(a.fingerprint, b.fingerprint)
        XCTAssertEqual(a.fingerprint.count, 64)
    }

    func testSchemaBoundsAreSent() throws {
        let spec = GeneratorSpec(name: "t", model: "m", params: GenerationParams(domain: "law", schema: QASchema(maxItems: 3)))
        let body = try JSONSerialization.jsonObject(with: spec.request(document: "D").body(model: "m")) as! [String: Any]
        let rf = body["response_format"] as! [String: Any]
        let schema = (rf["json_schema"] as! [String: Any])["schema"] as! [String: Any]
        XCTAssertEqual(schema["maxItems"] as? Int, 3)
        let q = ((schema["items"] as! [String: Any])["properties"] as! [String: Any])["question"] as! [String: Any]
        XCTAssertEqual(q["maxLength"] as? Int, 300)
        // Constrained decoders follow the schema's property order: the question must come first.
        let text = String(decoding: try spec.request(document: "D").body(model: "m"), as: UTF8.self)
        let props = text.range(of: "\"properties\":{")!.upperBound
        XCTAssertTrue(text[props...].hasPrefix("\"question\""), String(text[props...].prefix(40)))
    }

    func testBodySerialisationEscapesAndRoundTrips() throws {
        let doc = "Quotes \" and \\ back\nslash\t\u{01} ünïcode 🙂 {DOMAIN}"
        let spec = GeneratorSpec(name: "t", model: "m", params: GenerationParams(domain: "law", temperature: 0.7))
        let body = try JSONSerialization.jsonObject(with: spec.request(document: doc).body(model: "m")) as! [String: Any]
        let content = ((body["messages"] as! [[String: String]])[0])["content"]!
        XCTAssertEqual(content, PromptTemplate.paper.render(document: doc, domain: "law"))
        XCTAssertEqual(body["temperature"] as? Double, 0.7)
        XCTAssertEqual(body["max_tokens"] as? Int, 512)
    }

    func testSampleIsDeterministicAndSeeded() {
        let docs = (Int64(1)...1000).map { (id: $0, key: SplitMix64.mix(UInt64($0) &* 31)) }
        let a = Sampler.pick(docs, count: 50, seed: 7)
        XCTAssertEqual(a, Sampler.pick(docs, count: 50, seed: 7))
        XCTAssertNotEqual(a, Sampler.pick(docs, count: 50, seed: 8))
        XCTAssertEqual(a.count, 50)
        XCTAssertEqual(a, a.sorted())
        XCTAssertEqual(Set(a).count, 50)
        // Keyed by content: the same texts under other rowids (a file merged from shards) are
        // the ones sampled.
        let shifted = docs.reversed().enumerated().map { (id: Int64(5000 + $0.offset), key: $0.element.key) }
        let keyOf = Dictionary(uniqueKeysWithValues: shifted.map { ($0.id, $0.key) })
        let original = Dictionary(uniqueKeysWithValues: docs.map { ($0.id, $0.key) })
        XCTAssertEqual(Set(Sampler.pick(shifted, count: 50, seed: 7).compactMap { keyOf[$0] }),
                       Set(a.compactMap { original[$0] }))
    }
}
