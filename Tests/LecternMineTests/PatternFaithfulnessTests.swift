import Foundation
import LecternMine
import LecternText
import XCTest

/// The hand-written matcher against Python's own `re` (driven as a subprocess) on real texts.
final class PatternFaithfulnessTests: XCTestCase {
    /// Edge cases Python's `re` handles in ways a naive byte matcher would not: case folding of
    /// ſ/K/İ/ı, Unicode spaces in `\s`, multi-byte characters counted once in `{50,}`, `i.e.`
    /// whose dots match any character, and overlapping candidate matches.
    static let edgeTexts: [String] = [
        "Intro. " + String(repeating: "é", count: 50) + ". THUS, " + String(repeating: "ü", count: 49) + "x. End",
        "A start! The first clause runs on and on for well over fifty characters here. Thuſ , the second clause also runs on for more than fifty characters. ",
        "Begin.\u{00A0}The long premise sentence has a lot of words so it is longer than fifty.\u{2003}\u{212A}ind of, well. Moreover,\u{3000}it continues with another long sentence of many words in it. ",
        "X. aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa. iXeX, bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb. ",
        "Go. First long sentence without commas that is definitely over fifty chars!? However , second long sentence without commas that is definitely over fifty chars... However, third long sentence without commas that is definitely over fifty chars. \n",
        " photosynthesis is defined as the process by which plants make sugar. And Ｘ\u{FF0E} ",
        "Okay. The following long discussion of this work was about something quite important to us all is about the mitochondria of cells!\n",
        "Q. The next long sentence is written in İstanbul by a writer with a pen and paper ok. In addıtıon, the next one is written by someone else entirely too. ",
        "Q.\n\nThe sentence 🙂🙂 with emoji needs to be more than fifty characters long, ok. Due to, x. ",
        // Long runs of spaces (a man page's footer at 1,000 columns): the failure memo must not
        // change what is found before, inside or after them.
        "Notes follow. " + String(repeating: " ", count: 400) + "The report of the committee on these matters is about the budget of the year.  " + String(repeating: " ", count: 300) + "End. ",
        "End.\n\n" + String(repeating: " ", count: 350) + "photosynthesis   is defined as   the process by which plants make their sugar. " + String(repeating: "\t ", count: 120) + "x. ",
        "Ends. the effect was large and very noticeable across all measured groups here due to the cause that was studied in detail by the group. More.",
    ]

    func testMatcherEqualsPythonReOnSamplesPubMedQAAndEdgeCases() throws {
        let splitter = SentenceSplitter()
        var texts: [String] = []
        for s in try TestSupport.adaptLLMSamples() {
            texts.append(s.text)
            // What AdaptLLM mines: the text without its first line (the title).
            texts.append(s.text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().joined(separator: "\n"))
            texts += splitter.split(s.text).map(String.init)
        }
        for q in try TestSupport.pubMedQA() {
            texts.append(q.question + "\n" + q.contexts.joined(separator: " "))
            texts.append(q.contexts.joined(separator: "\n"))
        }
        texts += Self.edgeTexts
        let sources = AdaptLLMPatterns.rules.map(\.source)
        let script = TestSupport.repoRoot.appendingPathComponent("benchmarks/miner/reference/re_findall.py")
        let data = try TestSupport.runPython(script: script, input: ["patterns": sources, "texts": texts])
        guard let reference = try JSONSerialization.jsonObject(with: data) as? [[[[String]]]] else {
            return XCTFail("unexpected reference output")
        }
        XCTAssertEqual(reference.count, texts.count)
        var total = 0, mismatches = 0
        let matchers = AdaptLLMPatterns.compiled.map(\.matcher)
        for (t, text) in texts.enumerated() {
            for (p, m) in matchers.enumerated() {
                let ours = m.findAll(in: text)
                total += reference[t][p].count
                if ours != reference[t][p] {
                    mismatches += 1
                    if mismatches <= 5 {
                        XCTFail("pattern \(AdaptLLMPatterns.rules[p].subcategory) on text \(t): ours \(ours) vs re \(reference[t][p])")
                    }
                }
            }
        }
        XCTAssertEqual(mismatches, 0)
        // The corpus must exercise the patterns, or equality proves little.
        XCTAssertGreaterThan(total, 200, "too few matches to be a meaningful comparison")
    }

    func testUnsupportedSyntaxIsRejectedWithAReason() {
        for bad in ["(a(b))", "(?:x)", "([a-z]+)", "(\\d+)", "(x+?)", "abc", "([^a]", "(x{2,1})"] {
            XCTAssertThrowsError(try MinePattern(bad), bad) { error in
                XCTAssertTrue("\(error)".contains("cannot compile mining pattern"), "\(error)")
            }
        }
    }
}
