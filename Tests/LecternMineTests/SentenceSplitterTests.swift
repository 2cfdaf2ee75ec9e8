import Foundation
import LecternText
import XCTest

final class SentenceSplitterTests: XCTestCase {
    let splitter = SentenceSplitter()

    /// Every PubMedQA abstract section that ends in terminal punctuation ends a sentence, so when the sections are joined with a
    /// space each join must be a boundary (recall on real text), and the pieces must tile the
    /// text (nothing lost, nothing duplicated).
    func testPubMedQASectionEndsAreSentenceBoundariesAndSplitsAreLossless() throws {
        var joins = 0, found = 0, sentences = 0, bytes = 0
        var missed: [String] = []
        for q in try TestSupport.pubMedQA() {
            let text = q.contexts.joined(separator: " ")
            let ranges = splitter.ranges(in: text)
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, text.utf8.count)
            for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            XCTAssertEqual(splitter.split(text).joined(), text)
            let starts = Set(ranges.map(\.lowerBound))
            var offset = 0
            for c in q.contexts.dropLast() {
                offset += c.utf8.count + 1
                // Some sections end in a run-in heading ("glioma.STUDY DESIGN/"): not a sentence end.
                guard let last = c.trimmingCharacters(in: CharacterSet(charactersIn: ")]\"'")).last, ".!?".contains(last) else { continue }
                joins += 1
                if starts.contains(offset) { found += 1 } else if missed.count < 10 { missed.append(String(c.suffix(40))) }
            }
            sentences += ranges.count
            bytes += text.utf8.count
        }
        let recall = Double(found) / Double(joins)
        XCTAssertGreaterThan(joins, 1000)
        XCTAssertGreaterThanOrEqual(recall, 0.99, "section ends not split: \(missed)")
        // Abstract sentences average 100-250 characters; far outside means over- or under-splitting.
        let mean = Double(bytes) / Double(sentences)
        XCTAssertTrue((100...250).contains(mean), "mean sentence length \(mean)")
        print("PubMedQA: \(joins) section ends, recall \(recall), \(sentences) sentences, mean \(Int(mean)) bytes")
    }

    /// Hand-checked splits of prose with the usual traps.
    func testAbbreviationsDecimalsAndInitialsDoNotSplit() {
        let cases: [(String, [String])] = [
            ("Samples were stored at -80 °C, e.g. in Fig. 2 of the study. Results were similar.",
             ["Samples were stored at -80 °C, e.g. in Fig. 2 of the study. ", "Results were similar."]),
            ("As shown by Smith et al. The mean was 3.5 mg/kg (p < 0.05). Another sentence follows!",
             ["As shown by Smith et al. The mean was 3.5 mg/kg (p < 0.05). ", "Another sentence follows!"]),
            ("J. R. R. Tolkien wrote it. Dr. Watson vs. Mr. Holmes, i.e. the duo, agreed.",
             ["J. R. R. Tolkien wrote it. ", "Dr. Watson vs. Mr. Holmes, i.e. the duo, agreed."]),
            ("Was it useful? \"Yes,\" they said. (See below.) The end...",
             ["Was it useful? ", "\"Yes,\" they said. ", "(See below.) ", "The end..."]),
            ("Values rose by 12.5%. 30 patients were enrolled in No. 4 ward.\n\nA new paragraph",
             ["Values rose by 12.5%. ", "30 patients were enrolled in No. 4 ward.\n\n", "A new paragraph"]),
            ("The pH fell. mRNA levels did not change, cf. the i.v. group.",
             ["The pH fell. ", "mRNA levels did not change, cf. the i.v. group."]),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(splitter.split(text).map(String.init), expected, text)
        }
    }

    func testEmptyAndWhitespaceOnlyInputs() {
        XCTAssertEqual(splitter.split(""), [])
        XCTAssertEqual(splitter.split("   ").map(String.init), ["   "])
        XCTAssertEqual(splitter.split("No end punctuation").map(String.init), ["No end punctuation"])
    }
}
