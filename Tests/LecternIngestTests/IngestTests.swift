import Foundation
import GRDB
import LecternStore
import LecternTestSupport
import XCTest
@testable import LecternIngest

final class IngestTests: XCTestCase {
    var dir: URL!
    var store: Store!
    var warnings: [String] = []

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
        store = try Store.create(path: dir.appendingPathComponent("c.lectern").path, domain: "biomedicine")
        warnings = []
    }

    func ingest(_ paths: [String], _ configure: (inout IngestOptions) -> Void = { _ in }) throws -> IngestSummary {
        var options = IngestOptions()
        configure(&options)
        let ingester = Ingester(store: store, options: options)
        ingester.warn = { [unowned self] in warnings.append($0) }
        return try ingester.ingest(paths: paths)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    func count(_ sql: String = "SELECT count(*) FROM documents") throws -> Int {
        try store.pool.read { try Int.fetchOne($0, sql: sql) ?? -1 }
    }

    func testPubMedQAAllAbstractsAndReingestAddsNothing() throws {
        let path = try TestSupport.pubmedqaPath()
        let first = try ingest([path])
        XCTAssertEqual(first.added, 1000)
        XCTAssertEqual(first.sources.first?.format, .pubmedqa)
        let second = try ingest([path])
        XCTAssertEqual(second.added, 0)
        XCTAssertTrue(second.sources[0].alreadyIngested)
        XCTAssertEqual(try count(), 1000)
        // The document is the abstract sections joined by one space; the label is kept for evaluation.
        let raw = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: [String: Any]]
        try store.pool.read { db in
            for row in try Row.fetchAll(db, sql: "SELECT external_id, text, metadata, n_chars FROM documents ORDER BY id LIMIT 50") {
                let id: String = row["external_id"]
                let expected = (raw[id]!["CONTEXTS"] as! [String]).joined(separator: " ")
                XCTAssertEqual(row["text"] as String, expected)
                XCTAssertEqual(row["n_chars"] as Int, expected.unicodeScalars.count)
                let meta = try JSONSerialization.jsonObject(with: Data((row["metadata"] as String).utf8)) as! [String: Any]
                XCTAssertEqual(meta["final_decision"] as? String, raw[id]!["final_decision"] as? String)
                XCTAssertEqual(meta["QUESTION"] as? String, raw[id]!["QUESTION"] as? String)
            }
        }
    }

    func testDeepNestingAndInvalidNumbersAreBadRecordsNotCrashes() throws {
        // A million '[' used to overflow the parser's stack (SIGSEGV); numbers outside JSON's
        // grammar used to be kept verbatim in metadata, which Python's json then refused.
        var bytes: [UInt8] = []
        func line(_ s: String) { bytes += Array(s.utf8) + [0x0A] }
        line(#"{"text": "deep", "x": "# + String(repeating: "[", count: 1_000_000) + String(repeating: "]", count: 1_000_000) + "}")
        line(#"{"text": "just deep enough", "x": "# + String(repeating: "[", count: 511) + String(repeating: "]", count: 511) + "}")
        line(#"{"text": "trailing dot", "n": 1.}"#)
        line(#"{"text": "leading zero", "n": 01}"#)
        line(#"{"text": "bare exponent", "n": 2e}"#)
        line(#"{"text": "fine numbers", "n": [-0, 0.5, 1e-5, 2E+10, -12.75e3]}"#)
        let path = try write("deep.jsonl", bytes)
        let summary = try ingest([path])
        XCTAssertEqual(summary.added, 2)
        XCTAssertEqual(summary.skipped, 4)
        let expectations = [(1, "nested deeper than 512 levels"), (3, "no digit after '.'"), (4, "expected ',' or '}'"),
                            (5, "no digit in the exponent")]
        XCTAssertEqual(warnings.count, expectations.count, "\(warnings)")
        for ((lineNo, phrase), warning) in zip(expectations, warnings) {
            XCTAssertTrue(warning.hasPrefix("\(path):\(lineNo): "), warning)
            XCTAssertTrue(warning.contains(phrase), "line \(lineNo): \(warning)")
        }
        try store.pool.read { db in
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT text FROM documents ORDER BY id"), ["just deep enough", "fine numbers"])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT metadata FROM documents WHERE text = 'fine numbers'"),
                           #"{"n":[-0, 0.5, 1e-5, 2E+10, -12.75e3]}"#)
        }
    }

    func testJSONLBadRecordsAreSkippedCountedAndNamed() throws {
        var bytes: [UInt8] = []
        func line(_ s: String) { bytes += Array(s.utf8) + [0x0A] }
        line(#"{"text": "A good first document about cells.", "id": 1, "title": "T1", "year": 2001, "tags": ["a", {"b": null}]}"#)
        line(#"{"text": "broken JSON" "#)                                     // 2 malformed
        bytes += Array(#"{"text": "bad "#.utf8) + [0xFF, 0xFE] + Array(#"utf8"}"#.utf8) + [0x0A]  // 3 invalid UTF-8
        line(#"{"text": "has a NUL\u0000 inside"}"#)                           // 4 NUL
        line(#"{"text": "   "}"#)                                             // 5 empty
        line(#"{"body": "no text field"}"#)                                   // 6 missing field
        line("")                                                              // 7 blank: ignored
        line(#"{"text": 42}"#)                                                // 8 wrong type
        line(#"{"text": "A good first document about cells."}"#)              // 9 duplicate of 1
        line(#"{"text": "Escapes: \"quoted\" \u00e9 \ud83d\ude00 tab\tend"}"#) // 10 fine
        line("[1,2,3]")                                                       // 11 not an object
        bytes += Array(#"{"text": "no newline at the end of the file"}"#.utf8)  // 12 fine
        let path = try write("docs.jsonl", bytes)
        let summary = try ingest([path])
        XCTAssertEqual(summary.added, 3)
        XCTAssertEqual(summary.duplicates, 1)
        XCTAssertEqual(summary.skipped, 7)
        let expectations = [
            (2, "malformed JSON"), (3, "invalid UTF-8"), (4, "NUL character"), (5, "empty text"),
            (6, #"no "text" field"#), (8, "not a string"), (11, "malformed JSON"),
        ]
        XCTAssertEqual(warnings.count, expectations.count, "\(warnings)")
        for ((lineNo, phrase), warning) in zip(expectations, warnings) {
            XCTAssertTrue(warning.hasPrefix("\(path):\(lineNo): "), warning)
            XCTAssertTrue(warning.contains(phrase), "line \(lineNo): \(warning)")
        }
        try store.pool.read { db in
            let first = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM documents ORDER BY id LIMIT 1"))
            XCTAssertEqual(first["title"] as String, "T1")
            XCTAssertEqual(first["external_id"] as String, "1")
            XCTAssertEqual(first["metadata"] as String, #"{"year":2001,"tags":["a", {"b": null}]}"#, "other fields are kept verbatim")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT text FROM documents WHERE id = 2"), "Escapes: \"quoted\" é 😀 tab\tend")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT n_skipped FROM sources"), 7)
            let error = try XCTUnwrap(String.fetchOne(db, sql: "SELECT error FROM stage_runs WHERE stage = 'ingest'"))
            XCTAssertTrue(error.contains("\(path):4: text contains a NUL character"), error)
        }
        // Re-ingesting the same file adds nothing and reads nothing.
        XCTAssertEqual(try ingest([path]).added, 0)
    }

    func testStrictStopsAtFirstBadRecordAndKeepsEarlierData() throws {
        let good = try write("good.jsonl", (0..<10).map { #"{"text": "document number \#($0) of the good file"}"# }.joined(separator: "\n"))
        XCTAssertEqual(try ingest([good]).added, 10)
        let bad = try write("bad.jsonl", #"{"text": "fine one"}"# + "\n" + #"{"text": oops}"# + "\n")
        XCTAssertThrowsError(try ingest([bad]) { $0.strict = true }) { error in
            XCTAssertTrue("\(error)".contains("\(bad):2: malformed JSON"), "\(error)")
        }
        XCTAssertEqual(try count(), 10, "earlier documents stay; the failed batch adds nothing")
        XCTAssertEqual(try count("SELECT count(*) FROM stage_runs WHERE status = 'failed'"), 1)
    }

    func testHugeDocumentIsRejectedWithItsSize() throws {
        // A 50 MB document: over the default 16 MiB limit, reported with file and line, others kept.
        var big = Array(#"{"text": ""#.utf8)
        big += [UInt8](repeating: UInt8(ascii: "a"), count: 50 << 20)
        big += Array("\"}\n".utf8)
        big += Array(#"{"text": "small one"}"#.utf8)
        let path = try write("big.jsonl", big)
        let summary = try ingest([path])
        XCTAssertEqual(summary.added, 1)
        XCTAssertEqual(summary.skipped, 1)
        XCTAssertTrue(warnings[0].hasPrefix("\(path):1: "), warnings[0])
        XCTAssertTrue(warnings[0].contains("over the document limit"), warnings[0])
        // With a higher limit the same document goes in whole.
        let store2 = try Store.create(path: dir.appendingPathComponent("d.lectern").path, domain: "x")
        var options = IngestOptions()
        options.maxDocumentBytes = 64 << 20
        XCTAssertEqual(try Ingester(store: store2, options: options).ingest(paths: [path]).added, 2)
        XCTAssertEqual(try store2.pool.read { try Int.fetchOne($0, sql: "SELECT max(n_chars) FROM documents") }, 50 << 20)
    }

    func testMissingPathFailsBeforeReadingAnything() throws {
        let good = try write("good.jsonl", #"{"text": "present"}"#)
        XCTAssertThrowsError(try ingest([good, dir.appendingPathComponent("absent.jsonl").path])) { error in
            XCTAssertTrue("\(error)".contains("absent.jsonl: no such file or directory"), "\(error)")
        }
        XCTAssertEqual(try count(), 0)
    }

    func testGzipJSONLAndFieldNames() throws {
        let plain = (0..<500).map { #"{"body": "gzip document \#($0) with some words", "name": "t\#($0)", "key": "k\#($0)"}"# }.joined(separator: "\n")
        let raw = try write("plain.jsonl", plain)
        let gz = dir.appendingPathComponent("c.jsonl.gz").path
        let status = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c '\(raw)' > '\(gz)'"]).status
        XCTAssertEqual(status, 0)
        let summary = try ingest([gz]) { $0.fields = FieldNames(text: "body", title: "name", id: "key") }
        XCTAssertEqual(summary.added, 500)
        XCTAssertEqual(try store.pool.read { try String.fetchOne($0, sql: "SELECT title || '|' || external_id FROM documents WHERE id = 500") }, "t499|k499")
        // The uncompressed copy is a different source with the same texts: all duplicates.
        let again = try ingest([raw]) { $0.fields = FieldNames(text: "body", title: "name", id: "key") }
        XCTAssertEqual(again.added, 0)
        XCTAssertEqual(again.duplicates, 500)
    }

    func testTextDirectoryWithTitleFirstLine() throws {
        let samples = TestSupport.sharedData.appendingPathComponent("adaptllm-samples/input-raw-texts")
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: samples.path), "AdaptLLM samples")
        let summary = try ingest([samples.path]) { $0.titleFirstLine = true }
        let files = try TextFilesReader.listFiles(samples.path)
        XCTAssertEqual(summary.added, files.count)
        let first = try String(contentsOfFile: files[0], encoding: .utf8)
        let title = first.split(separator: "\n", maxSplits: 1)[0].trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(try store.pool.read { try String.fetchOne($0, sql: "SELECT title FROM documents WHERE id = 1") }, title)
        // Invalid UTF-8 and NUL in plain text files are named by file.
        let bad = try write("more/bad.txt", [0x41, 0x42, 0xC3, 0x28, 0x43])
        _ = try write("more/nul.txt", [0x41, 0x00, 0x42])
        _ = try write("more/.hidden.txt", "ignored")
        _ = try write("more/ok.txt", "Title line\nBody of the ok file.")
        let s2 = try ingest([dir.appendingPathComponent("more").path]) { $0.titleFirstLine = true }
        XCTAssertEqual(s2.added, 1)
        XCTAssertEqual(s2.skipped, 2)
        XCTAssertTrue(warnings.contains { $0.hasPrefix(bad) && $0.contains("invalid UTF-8 at byte 3") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("nul.txt") && $0.contains("NUL") }, "\(warnings)")
    }

    func testCSVWithQuotesAndNewlinesAndTSV() throws {
        let csv = "id,title,text,year\r\n1,First,\"A text, with a comma\",2020\n2,,\"Multi\nline \"\"quoted\"\" text\",2021\n3,Bad,only three\n4,T4,\"unterminated"
        let path = try write("d.csv", csv)
        let summary = try ingest([path])
        XCTAssertEqual(summary.added, 2)
        XCTAssertEqual(summary.skipped, 2)
        try store.pool.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT text FROM documents WHERE external_id = '2'"), "Multi\nline \"quoted\" text")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT metadata FROM documents WHERE external_id = '1'"), #"{"year":"2020"}"#)
            XCTAssertNil(try String.fetchOne(db, sql: "SELECT title FROM documents WHERE external_id = '2'"))
        }
        XCTAssertTrue(warnings.contains { $0.hasPrefix("\(path):5:") && $0.contains("columns") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("unterminated quoted field") }, "\(warnings)")
        let tsv = try write("d.tsv", "text\tlabel\nfirst tsv row\tx\nsecond tsv row\ty\n")
        XCTAssertEqual(try ingest([tsv]).added, 2)
        let noText = try write("e.csv", "a,b\n1,2\n")
        XCTAssertThrowsError(try ingest([noText])) { XCTAssertTrue("\($0)".contains(#"no "text" column"#), "\($0)") }
    }

    func testUnknownFormatIsExplained() throws {
        let path = try write("data.bin", [0x01, 0x02, 0x03])
        XCTAssertThrowsError(try ingest([path])) { XCTAssertTrue("\($0)".contains("--format"), "\($0)") }
        let json = try write("list.json", "[1,2]")
        XCTAssertThrowsError(try ingest([json])) { XCTAssertTrue("\($0)".contains("JSON Lines"), "\($0)") }
    }

    func testResumeFromRecordedPointGivesSameResult() throws {
        let lines = (0..<300).map { #"{"text": "resumable document \#($0)", "id": "\#($0)"}"# }
        let path = try write("r.jsonl", lines.joined(separator: "\n"))
        // Simulate a run killed after 120 records: a source row with that resume point and its documents.
        _ = try ingest([path]) { $0.batchDocuments = 7 }
        let full = try store.pool.read { try String.fetchAll($0, sql: "SELECT external_id || ':' || id FROM documents ORDER BY id") }
        try store.pool.write { db in
            try db.execute(sql: "DELETE FROM documents WHERE id > 120")
            try db.execute(sql: "UPDATE sources SET status = 'partial', records_done = 120, n_added = 120")
        }
        let resumed = try ingest([path]) { $0.batchDocuments = 7 }
        XCTAssertEqual(resumed.sources[0].resumedAt, 120)
        XCTAssertEqual(resumed.added, 180)
        XCTAssertEqual(try store.pool.read { try String.fetchAll($0, sql: "SELECT external_id || ':' || id FROM documents ORDER BY id") }, full)
    }
}

/// Issue 13: line ends, surrounding whitespace, damaged and empty sources.
final class IngestLineEndAndDamageTests: XCTestCase {
    var dir: URL!
    var store: Store!
    var warnings: [String] = []

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
        store = try Store.create(path: dir.appendingPathComponent("c.lectern").path, domain: "biomedicine")
        warnings = []
        setenv("LECTERN_PROGRESS", "off", 1)
    }

    func ingest(_ paths: [String], into store: Store? = nil, _ configure: (inout IngestOptions) -> Void = { _ in }) throws -> IngestSummary {
        var options = IngestOptions()
        configure(&options)
        let ingester = Ingester(store: store ?? self.store, options: options)
        ingester.warn = { [unowned self] in warnings.append($0) }
        return try ingester.ingest(paths: paths)
    }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        return url.path
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String { try write(name, Array(text.utf8)) }

    func strings(_ sql: String, in store: Store? = nil) throws -> [String] {
        try (store ?? self.store).pool.read { try String.fetchAll($0, sql: sql) }
    }

    /// #7: `"Title line\r\nBody one. Body two.\r\n"` used to become "empty text" under
    /// --title-first-line (Swift's split on "\n" does not split "\r\n"), and kept its "\r"s
    /// without it. CRLF and CR are line ends; the file's surrounding whitespace is stripped as
    /// AdaptLLM's `f.read().strip()` does (Python's text mode turns "\r\n" and "\r" into "\n").
    func testCRLFAndCRTextFilesAreLinesAndStripped() throws {
        for i in 0..<100 { try write(String(format: "crlf/%03d.txt", i), "Title line \(i)\r\nBody one \(i). Body two.\r\n") }
        try write("crlf/cr.txt", "Old Mac title\rFirst line.\rSecond line.\r")
        try write("crlf/spaces.txt", "\n\n  Spaced title  \n\nSpaced body.\n\n\t \n")
        let corpus = dir.appendingPathComponent("crlf").path
        let summary = try ingest([corpus]) { $0.titleFirstLine = true }
        XCTAssertEqual(summary.added, 102, "\(warnings)")
        XCTAssertEqual(summary.skipped, 0, "\(warnings)")
        XCTAssertEqual(try strings("SELECT title || '|' || text FROM documents WHERE external_id IN ('000.txt', '099.txt', 'cr.txt', 'spaces.txt') ORDER BY id"), [
            "Title line 0|Body one 0. Body two.", "Title line 99|Body one 99. Body two.",
            "Old Mac title|First line.\nSecond line.",
            // AdaptLLM: strip the file, title = first line, body = the rest (its leading newline kept).
            "Spaced title|\nSpaced body.",
        ])
        XCTAssertEqual(try strings("SELECT id FROM documents WHERE instr(text, char(13)) OR instr(title, char(13)) OR text LIKE '%' || char(10)"), [])

        // Without the flag: the whole file, line ends as "\n", surrounding whitespace stripped.
        let plain = try Store.create(path: dir.appendingPathComponent("plain.lectern").path, domain: "x")
        XCTAssertEqual(try ingest([corpus], into: plain).added, 102, "\(warnings)")
        XCTAssertEqual(try strings("SELECT text FROM documents WHERE external_id IN ('000.txt', 'cr.txt', 'spaces.txt') ORDER BY id", in: plain), [
            "Title line 0\nBody one 0. Body two.", "Old Mac title\nFirst line.\nSecond line.", "Spaced title  \n\nSpaced body.",
        ])
        // A single text file reads the same way as inside a directory.
        let single = try Store.create(path: dir.appendingPathComponent("single.lectern").path, domain: "x")
        XCTAssertEqual(try ingest([dir.appendingPathComponent("crlf/cr.txt").path], into: single) { $0.titleFirstLine = true }.added, 1)
        XCTAssertEqual(try strings("SELECT title || '|' || text FROM documents", in: single), ["Old Mac title|First line.\nSecond line."])
    }

    /// #7: "\r" alone ends a line in JSON Lines and CSV too (Python's universal newlines); line
    /// numbers in messages count it.
    func testCRLineEndsInJSONLAndCSV() throws {
        let jsonl = try write("cr.jsonl", #"{"text": "a"}"# + "\r" + #"{"text": "b"}"# + "\r\n" + #"{"text": "c"}"# + "\n{oops}\r" + #"{"text": "d"}"# + "\r")
        let summary = try ingest([jsonl])
        XCTAssertEqual(summary.added, 4, "\(warnings)")
        XCTAssertEqual(summary.skipped, 1)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.hasPrefix("\(jsonl):4: malformed JSON") ?? false, "\(warnings)")
        let csv = try write("cr.csv", "text,id\r" + "first row,1\r" + "\"multi\rline\",2\r\n" + "third,3")
        XCTAssertEqual(try ingest([csv]).added, 3, "\(warnings)")
        XCTAssertEqual(try strings("SELECT text FROM documents WHERE source_id = (SELECT id FROM sources WHERE path = '\(csv)') ORDER BY id"),
                       ["first row", "multi\nline", "third"])
    }

    /// Lines of a gzip file, compressed with the system's gzip.
    func gzip(_ name: String, _ lines: [String]) throws -> String {
        let raw = try write(name + ".raw", lines.joined(separator: "\n") + "\n")
        let gz = dir.appendingPathComponent(name).path
        XCTAssertEqual(try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c '\(raw)' > '\(gz)'"]).status, 0)
        return gz
    }

    /// #9: a truncated `.jsonl.gz` kept none of its records (exit 1, "truncated gzip file"), and
    /// stopped the sources after it. Every complete record before the damage is kept, the other
    /// sources are read, and the ingest reports the damage and throws at the end.
    func testTruncatedGzipKeepsCompleteRecordsAndOtherSourcesGoOn() throws {
        let lines = (0..<3000).map { #"{"text": "record \#($0) of a long gzip file with some words to compress", "id": "\#($0)"}"# }
        let full = try gzip("full.jsonl.gz", lines)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: full))
        let truncated = try write("cut.jsonl.gz", Array(bytes.prefix(bytes.count * 6 / 10)))
        // What gzip itself recovers from the cut file: that many complete lines.
        let recovered = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -dc '\(truncated)' 2>/dev/null | wc -l"])
        let complete = Int(recovered.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        XCTAssertGreaterThan(complete, 100)
        XCTAssertLessThan(complete, 3000)
        let good = try write("good.jsonl", (0..<10).map { #"{"text": "good document \#($0)"}"# }.joined(separator: "\n"))

        XCTAssertThrowsError(try ingest([truncated, good]) { $0.batchDocuments = 1000 }) { error in
            XCTAssertTrue("\(error)".contains("\(truncated)") && "\(error)".contains("truncated gzip file"), "\(error)")
        }
        XCTAssertEqual(try strings("SELECT external_id FROM documents WHERE source_id = 1 ORDER BY id"), (0..<complete).map(String.init))
        XCTAssertEqual(try strings("SELECT count(*) FROM documents WHERE source_id = 2"), ["10"], "the source after the damaged one is read")
        XCTAssertEqual(try strings("SELECT status || ' ' || records_done FROM sources ORDER BY id"), ["partial \(complete)", "complete 10"])
        XCTAssertEqual(try strings("SELECT status FROM stage_runs"), ["failed"])

        // Again: the damaged source is still reported, nothing is added or lost.
        XCTAssertThrowsError(try ingest([truncated, good])) { XCTAssertTrue("\($0)".contains("truncated gzip file"), "\($0)") }
        XCTAssertEqual(try strings("SELECT count(*) FROM documents"), ["\(complete + 10)"])
    }

    /// A corrupt (not truncated) gzip member: the records before the damage are kept, the
    /// damage is reported, and nothing after it is taken for a record.
    func testCorruptGzipKeepsTheRecordsBeforeTheDamage() throws {
        var rng = TestRandom(seed: 7)
        let lines = (0..<3000).map { n in #"{"text": "record \#(n): \#((0..<8).map { _ in String(rng.next() % 100_000) }.joined(separator: " "))"}"# }
        let full = try gzip("full.jsonl.gz", lines)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: full)))
        for i in (bytes.count / 2)..<(bytes.count / 2 + 64) { bytes[i] ^= 0x5A }
        let corrupt = try write("corrupt.jsonl.gz", bytes)
        XCTAssertThrowsError(try ingest([corrupt])) { XCTAssertTrue("\($0)".contains("corrupt gzip data"), "\($0)") }
        let kept = try strings("SELECT text FROM documents ORDER BY id")
        XCTAssertGreaterThan(kept.count, 1000)
        XCTAssertEqual(Array(kept.prefix(1000)), (0..<1000).map { n in
            let object = try? JSONSerialization.jsonObject(with: Data(lines[n].utf8)) as? [String: String]
            return object?["text"] ?? ""
        })
    }

    /// #9: a source that yields no valid record (empty, or binary) is an error, as in
    /// import-instructions; the other sources are still read.
    func testSourceWithNoValidRecordFails() throws {
        let empty = try write("empty.jsonl", "")
        var rng = SystemRandomNumberGenerator()
        let binary = try write("blob.jsonl", (0..<8192).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let good = try write("good.jsonl", #"{"text": "the only good one"}"#)
        XCTAssertThrowsError(try ingest([empty, binary, good])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(empty): no valid record"), text)
            XCTAssertTrue(text.contains("\(binary): no valid record"), text)
            XCTAssertFalse(text.contains("\(good):"), text)
        }
        XCTAssertEqual(try strings("SELECT text FROM documents"), ["the only good one"])
        // Still an error when run again (the empty source is not "already ingested" and fine).
        XCTAssertThrowsError(try ingest([empty])) { XCTAssertTrue("\($0)".contains("no valid record"), "\($0)") }
        let emptyDir = dir.appendingPathComponent("nothing-here")
        try FileManager.default.createDirectory(at: emptyDir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ingest([emptyDir.path])) { XCTAssertTrue("\($0)".contains("no valid record"), "\($0)") }
    }

    /// #8: a directory is identified file by file: a file added later is read on the next
    /// run, the others are not read again, and a file that became readable is read.
    func testDirectoryRescanReadsOnlyNewFiles() throws {
        try write("d/a.txt", "first file")
        try write("d/b.txt", "second file")
        let corpus = dir.appendingPathComponent("d").path
        XCTAssertEqual(try ingest([corpus]).added, 2)
        let again = try ingest([corpus])
        XCTAssertTrue(again.sources[0].alreadyIngested)
        try write("d/sub/c.txt", "third file, added later")
        let third = try ingest([corpus])
        XCTAssertEqual(third.added, 1)
        XCTAssertEqual(third.duplicates, 0, "the files ingested before are not read again")
        XCTAssertEqual(try strings("SELECT text FROM documents ORDER BY id"), ["first file", "second file", "third file, added later"])
        // A file given on its own after its directory is already ingested, and the reverse.
        XCTAssertTrue(try ingest([dir.appendingPathComponent("d/a.txt").path]).sources[0].alreadyIngested)
        try write("e/x.txt", "x file")
        XCTAssertEqual(try ingest([dir.appendingPathComponent("e/x.txt").path]).added, 1)
        XCTAssertTrue(try ingest([dir.appendingPathComponent("e").path]).sources[0].alreadyIngested)
    }
}

