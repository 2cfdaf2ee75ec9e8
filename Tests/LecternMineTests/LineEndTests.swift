import Foundation
import LecternMine
import XCTest

/// Issue 13 #7: "\r\n" and "\r" are line ends wherever the miner splits text into lines, as they
/// are for AdaptLLM, which reads files in Python's text mode (universal newlines).
final class LineEndTests: XCTestCase {
    func testFirstLineTitleEndsAtCRLFOrCR() {
        let miner = Miner()
        let cases: [(String, String?, String)] = [
            ("Title line\r\nBody one. Body two.\r\n", "Title line", "Body one. Body two.\r\n"),
            ("Title line\rBody one.\rBody two.", "Title line", "Body one.\rBody two."),
            ("Title line\nBody", "Title line", "Body"),
            ("  Spaced title \r\n\r\nBody", "Spaced title", "\r\nBody"),
            ("\r\nBody after an empty first line", nil, "Body after an empty first line"),
            ("One line only", nil, "One line only"),
        ]
        for (document, title, body) in cases {
            let split = miner.splitTitle(document: document, title: nil)
            XCTAssertEqual(split.title, title, document.debugDescription)
            XCTAssertEqual(split.body, body, document.debugDescription)
        }
    }

    func testGeneralCorpusLinesEndAtCRLFOrCR() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-general-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data("line one\r\nline two\rline three\n\r\n{\"a\": \"json line\"}\r\n".utf8).write(to: url)
        XCTAssertEqual(try GeneralCorpus.load(path: url.path), ["line one", "line two", "line three", "json line"])
    }
}
