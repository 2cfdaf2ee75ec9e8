import XCTest
@testable import LecternMine

/// Hard-wrapped text (issue 19, item 5): PubMedQA abstracts wrapped at 72 columns as plain-text
/// tools wrap them, then unwrapped; the regexes' tuples on the wrapped, unwrapped and original texts.
final class HardWrapTests: XCTestCase {
    /// Greedy wrap at `width` columns, breaking at single spaces (textwrap's default behaviour).
    static func wrap(_ paragraph: String, width: Int = 72) -> String {
        var lines: [String] = [], line = ""
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: false) {
            if !line.isEmpty && line.count + 1 + word.count > width { lines.append(line); line = String(word) }
            else { line = line.isEmpty ? String(word) : line + " " + word }
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    func testUnwrapRestoresWrappedParagraphsAndTheRegexesFindTheirTuplesAgain() throws {
        // Each abstract: its sections as paragraphs separated by a blank line.
        let docs = try TestSupport.pubMedQA().prefix(300).map { $0.contexts.joined(separator: "\n\n") }
        let miner = Miner()
        var exact = 0, shown = 0, detectedWrapped = 0, detectedOriginal = 0, long = 0
        var tuplesOriginal = 0, tuplesWrapped = 0, tuplesUnwrapped = 0
        for doc in docs {
            let wrapped = doc.components(separatedBy: "\n\n").map { Self.wrap($0) }.joined(separator: "\n\n")
            let unwrapped = HardWrap.unwrap(wrapped)
            if unwrapped == doc { exact += 1 } else if shown < 4 {
                shown += 1
                let a = Array(unwrapped), b = Array(doc)
                let i = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                print("not restored: ...\(String(b[max(0, i - 40)..<min(b.count, i + 40)]).debugDescription) became ...\(String(a[max(0, i - 40)..<min(a.count, i + 40)]).debugDescription)")
            }
            if wrapped.split(separator: "\n").count >= 8 {
                long += 1
                if HardWrap.looksHardWrapped(wrapped) { detectedWrapped += 1 }
            }
            if HardWrap.looksHardWrapped(doc) { detectedOriginal += 1 }
            tuplesOriginal += miner.mineTuples(in: doc).count
            tuplesWrapped += miner.mineTuples(in: wrapped).count
            tuplesUnwrapped += miner.mineTuples(in: unwrapped).count
        }
        print("hard wrap: \(exact)/\(docs.count) restored exactly, detected \(detectedWrapped)/\(long) wrapped and \(detectedOriginal) originals; "
              + "tuples original \(tuplesOriginal), wrapped \(tuplesWrapped), unwrapped \(tuplesUnwrapped)")
        XCTAssertGreaterThanOrEqual(Double(exact) / Double(docs.count), 0.95, "unwrap should undo a plain wrap")
        XCTAssertGreaterThanOrEqual(Double(detectedWrapped) / Double(max(1, long)), 0.9, "wrapped abstracts should look hard-wrapped")
        XCTAssertEqual(detectedOriginal, 0, "unwrapped abstracts must not look hard-wrapped")
        XCTAssertLessThan(tuplesWrapped * 2, tuplesOriginal, "wrapping should defeat most of the regexes")
        XCTAssertGreaterThanOrEqual(Double(tuplesUnwrapped), 0.95 * Double(tuplesOriginal), "unwrapping should give them back")
    }

    func testParagraphsListsAndIndentedBlocksKeepTheirBreaks() {
        let text = """
            NAME
                   grep - print lines that match
                   patterns in files

            OPTIONS:
            - one item
            - another item
            A sentence that goes on
            onto the next line, and a hyphen-
            ated word.
                indented code
            \tstays

            """
        let u = HardWrap.unwrap(text)
        XCTAssertEqual(u, """
            NAME
                   grep - print lines that match patterns in files

            OPTIONS:
            - one item
            - another item A sentence that goes on onto the next line, and a hyphen-ated word.
                indented code
            \tstays

            """)
        XCTAssertEqual(HardWrap.unwrap(""), "")
        XCTAssertEqual(HardWrap.unwrap("\n\n"), "\n\n")
        XCTAssertEqual(HardWrap.unwrap("one line"), "one line")
        XCTAssertEqual(HardWrap.unwrap("a\r\nb"), "a b")
    }

    func testUnwrapEntersTheFingerprintOnlyWhenSet() throws {
        var c = MinerConfig()
        let before = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        XCTAssertFalse(before.contains("unwrap"), "a configuration without unwrap keeps its old fingerprint")
        c.unwrap = true
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(c), as: UTF8.self).contains("\"unwrap\":true"))
        let wrapped = Self.wrap("The drug reduced mortality because it lowered the blood pressure of the patients who took it daily for a year.")
        let plain = Miner().mine(document: wrapped, title: "t", key: 1)
        let unwrapping = Miner(config: c).mine(document: wrapped, title: "t", key: 1)
        XCTAssertFalse(plain.text.contains("lowered the blood pressure of the patients who took it daily for a year."), plain.text)
        XCTAssertTrue(unwrapping.text.contains("lowered the blood pressure of the patients who took it daily for a year."), unwrapping.text)
    }
}
