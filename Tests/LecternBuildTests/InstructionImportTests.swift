import Foundation
import GRDB
import LecternBuild
import LecternCore
import LecternStore
import LecternTestSupport
import XCTest

/// `import-instructions`: the real 5,000 Alpaca records, every shape and layout, every kind of bad
/// input, dedup and idempotence.
final class InstructionImportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try TestSupport.temporaryDirectory(self)
        setenv("LECTERN_PROGRESS", "off", 1)
    }

    // MARK: - Helpers

    func makeStore(_ name: String = "store.lectern") throws -> Store {
        try Store.create(path: dir.appendingPathComponent(name).path, domain: "biomedicine")
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Data(text.utf8))
    }

    @discardableResult
    func write(_ name: String, _ data: Data) throws -> String {
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    func alpacaPath() throws -> String {
        let path = TestSupport.sharedData.appendingPathComponent("general-instructions/alpaca_5000.json").path
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: path), "alpaca_5000.json at \(path) (set LECTERN_SHARED_DATA)")
        return path
    }

    /// Every column that an import decides (created_at aside), in id order.
    func dump(_ store: Store) throws -> [String] {
        try store.pool.read { db in
            try String.fetchAll(db, sql: """
                SELECT id || '|' || source || '|' || format || '|' || coalesce(external_id, '<null>') || '|' || n_chars
                       || '|' || hex(content_hash) || '|' || messages
                FROM instructions ORDER BY id
                """)
        }
    }

    /// The stored conversations, parsed back with Foundation.
    func conversations(_ store: Store, where condition: String = "1") throws -> [[[String: String]]] {
        let texts = try store.pool.read { db in
            try String.fetchAll(db, sql: "SELECT messages FROM instructions WHERE \(condition) ORDER BY id")
        }
        return try texts.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [[String: String]] }
    }

    func user(_ s: String) -> [String: String] { ["role": "user", "content": s] }
    func assistant(_ s: String) -> [String: String] { ["role": "assistant", "content": s] }
    func system(_ s: String) -> [String: String] { ["role": "system", "content": s] }

    func stageRun(_ store: Store, _ id: Int64) throws -> Row {
        try store.pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM stage_runs WHERE id = ?", arguments: [id])! }
    }

    func count(_ store: Store) throws -> Int {
        try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM instructions")! }
    }

    /// Asserts that exactly one problem starts with `location` and contains `text`.
    func assertProblem(_ problems: [String], _ location: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        let matches = problems.filter { $0.hasPrefix(location + ": ") }
        XCTAssertEqual(matches.count, 1, "one problem at \(location) expected in:\n\(problems.joined(separator: "\n"))", file: file, line: line)
        if let m = matches.first {
            XCTAssertTrue(m.contains(text), "problem at \(location) should say \"\(text)\", says: \(m)", file: file, line: line)
        }
    }

    // MARK: - The real data

    /// All 5,000 Alpaca records, against the same file parsed by Foundation: the 4,998 with an
    /// output are imported exactly (messages, n_chars, hash); the 2 with an empty output are
    /// skipped by record number.
    func testAlpaca5000ImportsExactlyAndRoundTrips() throws {
        let path = try alpacaPath()
        let records = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [[String: String]]
        XCTAssertEqual(records.count, 5000)
        var expected: [(number: Int, messages: [[String: String]])] = []
        var emptyOutputs: [Int] = []
        // The fields as parsed, untouched: none has whitespace at its ends (Python's str.strip()
        // changes none), so the importer's trimming must change nothing either. Record 2596 ends
        // with U+200B ZERO WIDTH SPACE, which is not whitespace and must stay.
        for (i, r) in records.enumerated() {
            let (instruction, input, output) = (r["instruction"]!, r["input"]!, r["output"]!)
            if output.isEmpty { emptyOutputs.append(i + 1); continue }
            expected.append((i + 1, [user(input.isEmpty ? instruction : instruction + "\n\n" + input), assistant(output)]))
        }
        XCTAssertEqual(emptyOutputs, [2336, 4659], "the shared file changed")
        let distinct = Set(expected.map { $0.messages.map { $0["role"]! + "\u{0}" + $0["content"]! }.joined(separator: "\u{1}") })
        XCTAssertEqual(distinct.count, expected.count, "the file holds no duplicate conversation")

        let store = try makeStore()
        let summary = try InstructionImporter(store: store).importFile(path: path)
        XCTAssertEqual(summary.records, 5000)
        XCTAssertEqual(summary.imported, 4998)
        XCTAssertEqual(summary.duplicates, 0)
        XCTAssertEqual(summary.skipped, 2)
        XCTAssertEqual(summary.droppedTurns, 0)
        XCTAssertEqual(summary.importedByFormat, [.alpaca: 4998])
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        XCTAssertEqual(summary.source, absolute)
        XCTAssertEqual(summary.problems.count, 2)
        assertProblem(summary.problems, "\(path):1: record 2336", "field \"output\" is empty (no assistant turn)")
        assertProblem(summary.problems, "\(path):1: record 4659", "field \"output\" is empty")

        // Every stored conversation is the Python-style parse of its record, in file order.
        let stored = try conversations(store)
        XCTAssertEqual(stored.count, expected.count)
        for (got, want) in zip(stored, expected) where got != want.messages {
            XCTFail("record \(want.number): stored \(got), expected \(want.messages)")
            break
        }
        // A record with an input, one without, and one with non-ASCII text, checked field by field.
        XCTAssertEqual(stored[0], [user("Are the two sentences below grammatically correct? Output yes or no.\n\nSentence 1: I am going to the store.\nSentence 2: I goes to the store."), assistant("No")])
        XCTAssertEqual(stored[4][0]["content"], "Generate a new solution to address the global climate crisis.")
        XCTAssertEqual(stored[2594][1]["content"]?.unicodeScalars.last, "\u{200B}", "record 2596 keeps its zero-width space")

        let rows = try store.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT source, format, external_id, messages, n_chars, content_hash FROM instructions ORDER BY id")
        }
        for (row, want) in zip(rows, expected) {
            XCTAssertEqual(row["source"] as String, absolute)
            XCTAssertEqual(row["format"] as String, "alpaca")
            XCTAssertNil(row["external_id"] as String?)
            let chars = want.messages.reduce(0) { $0 + $1["content"]!.unicodeScalars.count }
            XCTAssertEqual(row["n_chars"] as Int, chars, "record \(want.number)")
            // The dedup key is ContentHash of the stored JSON's exact bytes.
            let messages: String = row["messages"]
            let hash = Data(messages.utf8).withUnsafeBytes { ContentHash.of(normalizedUTF8: $0) }
            XCTAssertEqual(row["content_hash"] as Data, Data(hash))
        }
        XCTAssertTrue(rows.contains { ($0["messages"] as String).unicodeScalars.contains { $0.value > 127 } }, "non-ASCII text round-trips")

        // The stage run says what happened, the bad records included.
        let run = try stageRun(store, summary.stageRunID)
        XCTAssertEqual(run["stage"] as String, "import-instructions")
        XCTAssertEqual(run["status"] as String, "complete")
        XCTAssertEqual(run["n_processed"] as Int, 4998)
        XCTAssertEqual(run["n_skipped"] as Int, 2)
        XCTAssertEqual(run["n_inputs"] as Int, 5000)
        let error: String = run["error"]
        XCTAssertTrue(error.contains("record 2336: field \"output\" is empty"), error)
        XCTAssertTrue(error.contains("record 4659"), error)
        let counts = try JSONSerialization.jsonObject(with: Data((run["counts"] as String).utf8)) as! [String: Int]
        XCTAssertEqual(counts["imported"], 4998)
        XCTAssertEqual(counts["imported_alpaca"], 4998)
        XCTAssertEqual(counts["skipped"], 2)
    }

    /// Importing the same file again adds nothing and changes nothing; all are duplicates.
    func testReimportIsIdempotent() throws {
        let path = try alpacaPath()
        let store = try makeStore()
        _ = try InstructionImporter(store: store).importFile(path: path)
        let before = try dump(store)
        let again = try InstructionImporter(store: store, batchSize: 77).importFile(path: path)
        XCTAssertEqual(again.imported, 0)
        XCTAssertEqual(again.duplicates, 4998)
        XCTAssertEqual(again.skipped, 2)
        XCTAssertEqual(again.duplicatesByFormat, [.alpaca: 4998])
        XCTAssertEqual(try dump(store), before)
    }

    /// An import stopped part-way (here by --limit, at a batch boundary, the only place a killed
    /// run can stop) and then re-run gives exactly the table of one uninterrupted run, ids included.
    func testPartialImportThenRerunEqualsCleanRun() throws {
        let path = try alpacaPath()
        let clean = try makeStore("clean.lectern")
        _ = try InstructionImporter(store: clean, batchSize: 300).importFile(path: path)

        let resumed = try makeStore("resumed.lectern")
        let first = try InstructionImporter(store: resumed, batchSize: 300).importFile(path: path, limit: 2400)
        XCTAssertEqual(first.records, 2400)
        XCTAssertEqual(first.imported, 2399)  // record 2336 is bad
        XCTAssertEqual(try count(resumed), 2399)
        let second = try InstructionImporter(store: resumed, batchSize: 300).importFile(path: path)
        XCTAssertEqual(second.imported, 4998 - 2399)
        XCTAssertEqual(second.duplicates, 2399)
        XCTAssertEqual(try dump(resumed), try dump(clean))
    }

    // MARK: - Shapes

    /// ShareGPT as JSON Lines: every role name, ids (string and number), a top-level system,
    /// multi-turn, and the edge policy (leading assistant and trailing user turns dropped).
    func testShareGPTJSONL() throws {
        let lines = [
            #"{"id": "a1", "conversations": [{"from": "human", "value": "Hi there"}, {"from": "gpt", "value": "Hello!"}]}"#,
            #"{"id": 42, "conversations": [{"from": "system", "value": "Be brief."}, {"from": "user", "value": "2+2?"}, {"from": "assistant", "value": "4"}, {"from": "human", "value": "and 3+3?"}, {"from": "chatgpt", "value": "6"}]}"#,
            #"{"conversations": [{"from": "Human", "value": "  café 🙂  \n"}, {"from": "bing", "value": "\n\nIt is a café."}]}"#,
            #"{"conversations": [{"from": "human", "value": "Q"}, {"from": "bard", "value": "\u00a0A\u200b\u3000\u2029"}], "system": "You are Bard."}"#,
            "",
            #"{"conversations": [{"from": "gpt", "value": "How can I help?"}, {"from": "human", "value": "Say hi"}, {"from": "gpt", "value": "hi"}, {"from": "human", "value": "thanks, bye"}]}"#,
            #"{"id": null, "conversations": [{"from": "human", "value": "tab\there \"quoted\" back\\slash"}, {"from": "gpt", "value": "line1\nline2\r\n\u0001"}], "extra": {"ignored": [1, 2]}}"#,
        ]
        let path = try write("sharegpt.jsonl", lines.joined(separator: "\n") + "\n")
        let store = try makeStore()
        let summary = try InstructionImporter(store: store).importFile(path: path)
        XCTAssertEqual(summary.records, 6, "the blank line is not a record")
        XCTAssertEqual(summary.imported, 6)
        XCTAssertEqual(summary.skipped, 0, summary.problems.joined(separator: "\n"))
        XCTAssertEqual(summary.droppedTurns, 2)
        XCTAssertEqual(summary.importedByFormat, [.sharegpt: 6])
        XCTAssertEqual(try conversations(store), [
            [user("Hi there"), assistant("Hello!")],
            [system("Be brief."), user("2+2?"), assistant("4"), user("and 3+3?"), assistant("6")],
            [user("café 🙂"), assistant("It is a café.")],
            [system("You are Bard."), user("Q"), assistant("A\u{200B}")],  // Unicode White_Space trimmed, ZWSP is not
            [user("Say hi"), assistant("hi")],
            [user("tab\there \"quoted\" back\\slash"), assistant("line1\nline2\r\n\u{1}")],
        ])
        let rows = try store.pool.read { db in try Row.fetchAll(db, sql: "SELECT external_id, n_chars, format, messages FROM instructions ORDER BY id") }
        XCTAssertEqual(rows.map { $0["external_id"] as String? }, ["a1", "42", nil, nil, nil, nil])
        XCTAssertEqual(rows[2]["n_chars"] as Int, "café 🙂".unicodeScalars.count + "It is a café.".unicodeScalars.count)
        XCTAssertEqual(rows[2]["n_chars"] as Int, 19)
        XCTAssertEqual(Set(rows.map { $0["format"] as String }), ["sharegpt"])
        // The stored form is compact, role before content, escapes only where JSON needs them.
        XCTAssertEqual(rows[0]["messages"] as String, #"[{"role":"user","content":"Hi there"},{"role":"assistant","content":"Hello!"}]"#)
        XCTAssertEqual(rows[5]["messages"] as String,
                       #"[{"role":"user","content":"tab\there \"quoted\" back\\slash"},{"role":"assistant","content":"line1\nline2\r\n\u0001"}]"#)
    }

    /// OpenAI messages as JSON Lines, gzip-compressed (and the same file uncompressed adds nothing):
    /// string contents, text-part arrays joined by newlines, a system message first.
    func testMessagesJSONLGzip() throws {
        let lines = [
            #"{"messages": [{"role": "system", "content": "You are helpful."}, {"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]}"#,
            #"{"id": "m2", "messages": [{"role": "user", "content": [{"type": "text", "text": "Part one."}, {"type": "text", "text": "Part two."}]}, {"role": "assistant", "content": [{"type": "text", "text": "Both read."}], "name": "bot"}]}"#,
            #"{"messages": [{"role": "system", "content": ""}, {"role": "user", "content": "Empty system is no system"}, {"role": "assistant", "content": "Right"}, {"role": "user", "content": "unanswered"}]}"#,
        ]
        let plain = try write("messages.jsonl", lines.joined(separator: "\r\n"))
        let gz = dir.appendingPathComponent("messages.jsonl.gz").path
        let zipped = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c '\(plain)' > '\(gz)'"])
        XCTAssertEqual(zipped.status, 0, zipped.stderr)

        let store = try makeStore()
        let summary = try InstructionImporter(store: store).importFile(path: gz, format: .messages)
        XCTAssertEqual(summary.imported, 3, summary.problems.joined(separator: "\n"))
        XCTAssertEqual(summary.droppedTurns, 1)
        XCTAssertEqual(summary.importedByFormat, [.messages: 3])
        XCTAssertEqual(try conversations(store), [
            [system("You are helpful."), user("Name a colour."), assistant("Blue.")],
            [user("Part one.\nPart two."), assistant("Both read.")],
            [user("Empty system is no system"), assistant("Right")],
        ])
        let again = try InstructionImporter(store: store).importFile(path: plain)
        XCTAssertEqual(again.imported, 0)
        XCTAssertEqual(again.duplicates, 3)
        XCTAssertEqual(again.duplicatesByFormat, [.messages: 3])
    }

    /// `--format auto` decides per record, in a JSON array and in JSON Lines; a forced format
    /// refuses records of another shape by name.
    func testAutoDetectionOfMixedShapes() throws {
        let alpaca = #"{"instruction": "Translate to French", "input": "cat", "output": "chat", "system": "You translate."}"#
        let sharegpt = #"{"conversations": [{"from": "human", "value": "Capital of Peru?"}, {"from": "gpt", "value": "Lima"}]}"#
        let messages = #"{"messages": [{"role": "user", "content": "Largest planet?"}, {"role": "assistant", "content": "Jupiter"}]}"#
        let expected = [
            [system("You translate."), user("Translate to French\n\ncat"), assistant("chat")],
            [user("Capital of Peru?"), assistant("Lima")],
            [user("Largest planet?"), assistant("Jupiter")],
        ]
        // Pretty-printed array, one record per several lines.
        let array = try write("mixed.json", "[\n  \(alpaca),\n  \(sharegpt),\n\n  \(messages)\n]\n")
        let store = try makeStore()
        let s1 = try InstructionImporter(store: store).importFile(path: array)
        XCTAssertEqual(s1.imported, 3, s1.problems.joined(separator: "\n"))
        XCTAssertEqual(s1.importedByFormat, [.alpaca: 1, .sharegpt: 1, .messages: 1])
        XCTAssertEqual(try conversations(store), expected)
        let formats = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT format FROM instructions ORDER BY id") }
        XCTAssertEqual(formats, ["alpaca", "sharegpt", "messages"])

        let jsonl = try write("mixed.jsonl", [messages, alpaca, sharegpt].joined(separator: "\n"))
        let other = try makeStore("other.lectern")
        let s2 = try InstructionImporter(store: other).importFile(path: jsonl)
        XCTAssertEqual(s2.importedByFormat, [.alpaca: 1, .sharegpt: 1, .messages: 1])
        XCTAssertEqual(try conversations(other), [expected[2], expected[0], expected[1]])

        // Forced: only the records of that shape go in; the others are named.
        let forced = try makeStore("forced.lectern")
        let s3 = try InstructionImporter(store: forced).importFile(path: jsonl, format: .sharegpt)
        XCTAssertEqual(s3.imported, 1)
        XCTAssertEqual(s3.skipped, 2)
        assertProblem(s3.problems, "\(jsonl):1", "no \"conversations\" field")
        assertProblem(s3.problems, "\(jsonl):2", "no \"conversations\" field")
        let s4 = try InstructionImporter(store: forced).importFile(path: jsonl, format: .alpaca)
        assertProblem(s4.problems, "\(jsonl):1", "no \"instruction\" field (no user turn)")
        XCTAssertEqual(s4.imported, 1)
    }

    /// The same conversation is stored once, whichever file and shape it comes in; duplicates
    /// inside one file are counted too, and the first source keeps the row.
    func testDedupAcrossFilesAndShapes() throws {
        let a = try write("a.jsonl", """
            {"instruction": "Say yes", "output": "yes"}
            {"instruction": "Say no", "output": "no"}
            {"instruction": "Say yes", "output": "yes", "input": ""}
            """)
        let b = try write("b.json", """
            [{"messages": [{"role": "user", "content": "Say yes"}, {"role": "assistant", "content": "yes"}]},
             {"conversations": [{"from": "human", "value": "Say no  "}, {"from": "gpt", "value": "no"}]},
             {"conversations": [{"from": "human", "value": "Say  no"}, {"from": "gpt", "value": "no"}]},
             {"conversations": [{"from": "human", "value": "Say maybe"}, {"from": "gpt", "value": "maybe"}]}]
            """)
        let store = try makeStore()
        let first = try InstructionImporter(store: store).importFile(path: a)
        XCTAssertEqual(first.imported, 2)
        XCTAssertEqual(first.duplicates, 1)
        let second = try InstructionImporter(store: store).importFile(path: b)
        XCTAssertEqual(second.imported, 2, "inner whitespace is content (code indentation): \"Say  no\" is new")
        XCTAssertEqual(second.duplicates, 2)
        XCTAssertEqual(second.duplicatesByFormat, [.messages: 1, .sharegpt: 1])
        XCTAssertEqual(second.importedByFormat, [.sharegpt: 2])
        let sources = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT source || ' ' || format FROM instructions ORDER BY id") }
        XCTAssertEqual(sources, ["\(a) alpaca", "\(a) alpaca", "\(b) sharegpt", "\(b) sharegpt"])
    }

    // MARK: - Bad input

    /// Every kind of bad record in JSON Lines: each skipped with its line and reason, the good
    /// lines imported, and the rows already in the file untouched.
    func testBadRecordsInJSONLAreSkippedWithTheirLineAndReason() throws {
        let store = try makeStore()
        let existing = try write("existing.jsonl", #"{"instruction": "Keep me", "output": "kept"}"# + "\n")
        _ = try InstructionImporter(store: store).importFile(path: existing)
        let before = try dump(store)

        var lines: [Data] = [
            /* 1 */ #"{"instruction": "Good one", "output": "fine"}"#,
            /* 2 */ #"{"instruction": "broken", "output": "x""#,
            /* 3 */ #"{"instruction": "no comma" "output": "x"}"#,
            /* 4 */ "",  // replaced by invalid UTF-8 below
            /* 5 */ #"{"conversations": [{"from": "gpt", "value": "only me"}]}"#,
            /* 6 */ #"{"conversations": [{"from": "human", "value": "anyone?"}]}"#,
            /* 7 */ #"{"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "   "}]}"#,
            /* 8 */ #"{"conversations": [{"from": "human", "value": "Q"}, {"from": "tool", "value": "A"}]}"#,
            /* 9 */ #"{"messages": [{"role": "user", "content": "Q"}, {"role": "function", "content": "A"}]}"#,
            /* 10 */ #"{"instruction": "Q", "output": 42}"#,
            /* 11 */ #"{"conversations": "human: hi"}"#,
            /* 12 */ #"{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": null}]}"#,
            /* 13 */ #"{"id": {"x": 1}, "instruction": "Q", "output": "A"}"#,
            /* 14 */ #"["instruction", "output"]"#,
            /* 15 */ #"{"prompt": "Q", "completion": "A"}"#,
            /* 16 */ #"{"instruction": "Q", "output": "A", "messages": []}"#,
            /* 17 */ #"{"messages": [{"role": "user", "content": "Q"}, {"role": "system", "content": "late"}, {"role": "assistant", "content": "A"}]}"#,
            /* 18 */ #"{"messages": [{"role": "user", "content": "Q1"}, {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A"}]}"#,
            /* 19 */ #"{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}, {"role": "assistant", "content": "A"}]}"#,
            /* 20 */ #"{"instruction": "", "output": "A"}"#,
            /* 21 */ #"{"messages": []}"#,
            /* 22 */ #"{"conversations": [{"from": "human", "value": "Good two"}, {"from": "gpt", "value": "fine"}]}"#,
        ].map { Data($0.utf8) }
        lines[3] = Data(#"{"instruction": "bad "#.utf8) + Data([0xC3, 0x28]) + Data(#" bytes", "output": "x"}"#.utf8)
        let path = try write("bad.jsonl", lines.reduce(Data()) { $0 + $1 + Data([0x0A]) })

        let summary = try InstructionImporter(store: store).importFile(path: path)
        XCTAssertEqual(summary.records, 22)
        XCTAssertEqual(summary.imported, 2)
        XCTAssertEqual(summary.skipped, 20)
        XCTAssertEqual(summary.problems.count, 20)
        let p = summary.problems
        assertProblem(p, "\(path):2", "malformed JSON: unexpected end of input")
        assertProblem(p, "\(path):3", "malformed JSON: expected ',' or '}' at byte 28 of the line")
        assertProblem(p, "\(path):4", "invalid UTF-8 at byte 22 of the line")
        assertProblem(p, "\(path):5", "no user turn")
        assertProblem(p, "\(path):6", "no assistant turn")
        assertProblem(p, "\(path):7", "turn 2 (assistant) is empty")
        assertProblem(p, "\(path):8", "turn 2: unknown role \"tool\" in \"from\" (expected human, user, gpt, assistant, chatgpt, bing, bard or system)")
        assertProblem(p, "\(path):9", "message 2: unknown role \"function\" (expected system, user or assistant)")
        assertProblem(p, "\(path):10", "field \"output\" is a number, not a string")
        assertProblem(p, "\(path):11", "field \"conversations\" is a string, not an array")
        assertProblem(p, "\(path):12", "message 2: field \"content\" is null, not a string or an array of text parts")
        assertProblem(p, "\(path):13", "field \"id\" is an object, not a string or number")
        assertProblem(p, "\(path):14", "the record is an array, not a JSON object")
        assertProblem(p, "\(path):15", "cannot tell the record's shape: it has fields \"prompt\", \"completion\"")
        assertProblem(p, "\(path):16", "ambiguous shape: the record has both \"instruction\" and \"messages\"")
        assertProblem(p, "\(path):17", "message 2: a system message may only be the first message")
        assertProblem(p, "\(path):18", "message 2: two user turns in a row")
        assertProblem(p, "\(path):19", "message 1, content part 1: type \"image_url\"; only \"text\" parts are accepted")
        assertProblem(p, "\(path):20", "field \"instruction\" is empty (no user turn)")
        assertProblem(p, "\(path):21", "no messages: no user turn and no assistant turn")

        // The rows that were there are untouched; only the two good records were added after them.
        let after = try dump(store)
        XCTAssertEqual(Array(after.prefix(before.count)), before)
        XCTAssertEqual(after.count, before.count + 2)
        XCTAssertEqual(try conversations(store, where: "source = '\(path)'"), [
            [user("Good one"), assistant("fine")], [user("Good two"), assistant("fine")],
        ])
        // The run is complete, with every reason kept.
        let run = try stageRun(store, summary.stageRunID)
        XCTAssertEqual(run["status"] as String, "complete")
        XCTAssertEqual(run["n_skipped"] as Int, 20)
        XCTAssertEqual(run["n_processed"] as Int, 2)
        let error: String = run["error"]
        XCTAssertEqual(error.split(separator: "\n").count, 20)
        XCTAssertTrue(error.contains("\(path):4: invalid UTF-8"), error)
    }

    /// In a JSON array a bad record costs that record only: malformed elements, invalid UTF-8,
    /// a stray comma, a trailing comma; the messages give the record number and its line.
    func testBadRecordsInJSONArrayCostOnlyThemselves() throws {
        var text = Data("""
            [
              {"instruction": "First", "output": "one"},
              {"instruction": "Broken", "output": tru},
              {"instruction": "Second",
               "output": "two"},
              {"instruction": "Bad \\q escape", "output": "x"},
              ,
              {"instruction": "
            """.utf8)
        text += Data([0xFF]) + Data("""
            ", "output": "x"},
              {"instruction": "Third [with] {brackets}, and \\"quotes\\"", "output": "three"},
            ]
            """.utf8)
        let path = try write("array.json", text)
        let store = try makeStore()
        let summary = try InstructionImporter(store: store).importFile(path: path)
        XCTAssertEqual(summary.imported, 3, summary.problems.joined(separator: "\n"))
        XCTAssertEqual(summary.records, 8)
        XCTAssertEqual(summary.skipped, 5)
        let p = summary.problems
        assertProblem(p, "\(path):3: record 2", "malformed JSON: invalid literal")
        assertProblem(p, "\(path):6: record 4", "malformed JSON: invalid escape '\\q'")
        assertProblem(p, "\(path):7: record 5", "empty record: two ',' in a row")
        assertProblem(p, "\(path):8: record 6", "invalid UTF-8 at byte 18 of the record")
        assertProblem(p, "\(path):10: record 8", "empty record: a trailing ',' before the closing ']'")
        XCTAssertEqual(try conversations(store), [
            [user("First"), assistant("one")], [user("Second"), assistant("two")],
            [user("Third [with] {brackets}, and \"quotes\""), assistant("three")],
        ])
    }

    /// Issue 13 #7: "\r\n" and "\r" end lines in JSON Lines, and count as lines in the
    /// locations of a JSON array's records (Python's universal newlines).
    func testCRAndCRLFLineEnds() throws {
        let path = try write("cr.jsonl", #"{"instruction": "One", "output": "1"}"# + "\r" + #"{"instruction": "Two", "output": "2"}"# + "\r\n"
                             + "{broken\r" + #"{"instruction": "Four", "output": "4"}"# + "\r")
        let store = try makeStore()
        let summary = try InstructionImporter(store: store).importFile(path: path)
        XCTAssertEqual(summary.imported, 3, summary.problems.joined(separator: "\n"))
        XCTAssertEqual(summary.skipped, 1)
        assertProblem(summary.problems, "\(path):3", "malformed JSON")
        let array = try write("cr.json", "[\r" + #"{"instruction": "A", "output": "a"},"# + "\r" + #"{"instruction": "B", "output": tru},"# + "\r\n"
                              + #"{"instruction": "C", "output": "c"}"# + "\r]\r")
        let s2 = try InstructionImporter(store: store).importFile(path: array)
        XCTAssertEqual(s2.imported, 2, s2.problems.joined(separator: "\n"))
        assertProblem(s2.problems, "\(array):3: record 2", "malformed JSON: invalid literal")
    }

    /// A file cut short: the complete records before the cut are imported, the cut one is named.
    func testTruncatedArrayKeepsTheRecordsBeforeTheCut() throws {
        let path = try write("cut.json", #"[{"instruction": "A", "output": "a"}, {"instruction": "B", "output": "b"}, {"instruction": "C", "out"#)
        let store = try makeStore()
        let summary = try InstructionImporter(store: store).importFile(path: path)
        XCTAssertEqual(summary.imported, 2)
        XCTAssertEqual(summary.skipped, 1)
        assertProblem(summary.problems, "\(path):1: record 3", "the file ends inside this record (truncated file?)")

        let unclosed = try write("unclosed.json", #"[{"instruction": "D", "output": "d"}"# + "\n")
        let s2 = try InstructionImporter(store: store).importFile(path: unclosed)
        XCTAssertEqual(s2.imported, 1)
        XCTAssertEqual(s2.skipped, 0)
        XCTAssertTrue(s2.problems.contains { $0.contains("\(unclosed):2: the JSON array is not closed") }, "\(s2.problems)")

        let trailing = try write("trailing.json", #"[{"instruction": "E", "output": "e"}] {"instruction": "F"}"#)
        let s3 = try InstructionImporter(store: store).importFile(path: trailing)
        XCTAssertEqual(s3.imported, 1)
        XCTAssertTrue(s3.problems.contains { $0.contains("text after the end of the JSON array was ignored") }, "\(s3.problems)")
    }

    /// Files that cannot be instruction data fail with an error naming the file and what is
    /// wrong, and the file's rows stay as they were.
    func testUnusableFilesFailClearlyAndChangeNothing() throws {
        let store = try makeStore()
        let good = try write("good.jsonl", #"{"instruction": "Keep me", "output": "kept"}"#)
        _ = try InstructionImporter(store: store).importFile(path: good)
        let before = try dump(store)

        func assertFails(_ path: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try InstructionImporter(store: store).importFile(path: path), file: file, line: line) { error in
                XCTAssertTrue(error is InstructionImportError, "\(error)", file: file, line: line)
                let message = String(describing: error)
                XCTAssertTrue(message.hasPrefix(path + ": "), "names the file: \(message)", file: file, line: line)
                XCTAssertTrue(message.contains(text), "says \"\(text)\": \(message)", file: file, line: line)
            }
        }
        assertFails(dir.appendingPathComponent("nope.json").path, "no such file")
        assertFails(dir.path, "cannot read: it is a directory")
        assertFails(try write("empty.json", ""), "holds no records")
        assertFails(try write("blank.jsonl", "\n  \n\t\n"), "holds no records")
        assertFails(try write("emptyarray.json", " [ ]\n"), "holds no records")
        assertFails(try write("prose.txt", "Hello, this is not JSON.\n"), "not instruction data: expected a JSON array of objects or JSON Lines (one object per line); line 1 starts with \"Hello, this is not JSON.\"")
        assertFails(try write("binary.bin", Data([0x00, 0x01, 0x02, 0xFF, 0xFE])), "not instruction data")
        assertFails(try write("csv.csv", "\n\ninstruction,output\nQ,A\n"), "line 3 starts with \"instruction,output.Q,A.\"")
        // One pretty-printed object: JSON, but neither an array nor one object per line.
        let pretty = try write("pretty.json", "{\n  \"instruction\": \"Q\",\n  \"output\": \"A\"\n}\n")
        assertFails(pretty, "no record is valid JSON; the first: \(pretty):1: malformed JSON")
        let notGzip = try write("fake.gz", Data([0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02]))
        assertFails(notGzip, "cannot read")

        XCTAssertEqual(try dump(store), before)
        // A failure found after the run started is recorded on it.
        let failed = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT error FROM stage_runs WHERE status = 'failed'") }
        XCTAssertEqual(failed.count, 1)
        XCTAssertTrue(failed.first?.contains("no record is valid JSON") ?? false, "\(failed)")
        XCTAssertThrowsError(try InstructionImporter(store: store, batchSize: 0).importFile(path: good))
    }

    /// A UTF-8 byte order mark and CRLF line ends are no problem; `limit` counts records.
    func testBOMAndLimit() throws {
        let body = (1...10).map { #"{"instruction": "Q\#($0)", "output": "A\#($0)"}"# }.joined(separator: "\r\n")
        let path = try write("bom.jsonl", Data([0xEF, 0xBB, 0xBF]) + Data(body.utf8))
        let store = try makeStore()
        let first = try InstructionImporter(store: store, batchSize: 3).importFile(path: path, limit: 4)
        XCTAssertEqual(first.records, 4)
        XCTAssertEqual(first.imported, 4)
        let rest = try InstructionImporter(store: store, batchSize: 3).importFile(path: path)
        XCTAssertEqual(rest.imported, 6)
        XCTAssertEqual(rest.duplicates, 4)
        XCTAssertEqual(try conversations(store).map { $0[0]["content"]! }, (1...10).map { "Q\($0)" })
    }
}
