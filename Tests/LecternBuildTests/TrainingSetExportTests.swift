import Foundation
import GRDB
import LecternBuild
import LecternStore
import LecternTestSupport
import XCTest

/// `lectern export set`: the files are read back with the real reader the engines use
/// (Hugging Face `datasets`, `$LECTERN_DATASETS_PYTHON`, installed by scripts/setup.d/50-datasets.sh),
/// not with our own parser, so "LLaMA-Factory / axolotl / TRL can load it" is what is tested.
final class TrainingSetExportTests: XCTestCase {
    // MARK: - Fixtures

    /// Texts that break naive JSON writers: quotes and backslashes, every control character,
    /// DEL, emoji (astral, ZWJ sequences, flags), CJK, U+2028/2029 (valid JSON, invalid JS),
    /// a decomposed é beside a composed one (must not be normalised), a BOM, the empty string,
    /// and special characters right at the 8-byte boundaries of the escaper's fast path.
    static let trickyTexts: [String] = [
        #"He said "hi" \ and \\ left \" with "quotes""#,
        "line1\nline2\r\nline3\ttabbed\u{8}back\u{C}feed",
        String(String.UnicodeScalarView((0..<0x20).map { Unicode.Scalar($0)! })) + "\u{7F}end",
        "emoji 😀 family 👩‍👩‍👧 flag 🇫🇷 astral 𝄞",
        "中文文本，日本語のテキスト、한국어 텍스트",
        "sep\u{2028}line\u{2029}para",
        "e\u{301} vs \u{E9}",
        "\u{FEFF}BOM at start, \u{FFFD} replacement",
        "",
        "</script><!-- {\"json\": [1, 2]} --> / slash",
        "1234567\"", "12345678\"", "123456789\\", "1234567é", "12345678\n9",
        "tail\u{0}",
    ]

    /// A text over the writer's 1 MiB buffer and the escaper's 128 KiB chunks, with characters
    /// to escape and multi-byte characters straddling every boundary.
    static let longText: String = {
        var s = ""
        var k = 0
        while s.utf8.count < 3_000_000 {
            s += "row \(k): \"quoted\" tab\t新しい 😀 \\ "
            k += 1
        }
        return s
    }()

    static func messagesJSON(_ turns: [(String, String)]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: turns.map { ["role": $0.0, "content": $0.1] })
        return String(decoding: data, as: UTF8.self)
    }

    static func blob(_ ids: [Int32]) -> Data {
        var d = Data()
        for v in ids { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        return d
    }

    func makeStore() throws -> (store: Store, dir: URL) {
        let dir = try TestSupport.temporaryDirectory(self)
        return (try Store.create(path: dir.appendingPathComponent("t.lectern").path, domain: "test"), dir)
    }

    @discardableResult
    func insertSet(_ store: Store, name: String, fingerprint: String, status: String = "complete",
                   createdAt: String = "2026-01-01T00:00:00.000Z", tokenizer: Bool = false) throws -> Int64 {
        try store.pool.write { db in
            var tokenizerId: Int64?
            if tokenizer {
                try db.execute(sql: """
                    INSERT INTO tokenizers(name, kind, fingerprint, path, vocab_size, created_at)
                    VALUES ('tok', 'bytelevel-bpe', ?, NULL, 50000, ?) ON CONFLICT(fingerprint) DO NOTHING
                    """, arguments: ["tok-" + fingerprint, createdAt])
                tokenizerId = try Int64.fetchOne(db, sql: "SELECT id FROM tokenizers WHERE fingerprint = ?", arguments: ["tok-" + fingerprint])
            }
            try db.execute(sql: """
                INSERT INTO training_sets(name, recipe, tokenizer_id, params, fingerprint, status, created_at)
                VALUES (?, 'readcompre', ?, '{}', ?, ?, ?)
                """, arguments: [name, tokenizerId, fingerprint, status, createdAt])
            return db.lastInsertedRowID
        }
    }

    func insertExample(_ store: Store, set: Int64, position: Int, text: String, messages: String? = nil,
                       ids: Data? = nil, nTokens: Int? = nil) throws {
        // The text goes in as bytes cast to TEXT: GRDB binds a String up to its first NUL, and
        // the export must carry NULs (as \u0000) like any other character.
        try store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO training_examples(training_set_id, position, text, messages, input_ids, n_tokens)
                VALUES (?, ?, CAST(? AS TEXT), ?, ?, ?)
                """, arguments: [set, position, Data(text.utf8), messages, ids, nTokens])
        }
    }

    func export(_ store: Store, _ set: String, _ formats: [TrainingSetExportFormat]? = nil, to dir: URL) throws -> TrainingSetExportSummary {
        try store.pool.read { db in try TrainingSetExport.export(db, set: set, formats: formats, to: dir.path) }
    }

    func assertThrows(_ expression: @autoclosure () throws -> Any, containing parts: [String],
                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            let message = "\(error)"
            for p in parts { XCTAssertTrue(message.contains(p), "error «\(message)» lacks «\(p)»", file: file, line: line) }
        }
    }

    /// Files in `dir` (names), to check that nothing partial or temporary is left behind.
    func listing(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
    }

    // MARK: - Reading back with `datasets`

    func datasetsPython() throws -> String {
        let python = ProcessInfo.processInfo.environment["LECTERN_DATASETS_PYTHON"]
        try TestSupport.requireComponent(python != nil, "Hugging Face datasets (LECTERN_DATASETS_PYTHON, scripts/setup.d/50-datasets.sh)")
        return python!
    }

    /// Loads each file with `datasets.load_dataset("json", data_files=..., split="train")` and,
    /// given a dataset_info.json, each entry's file_name the way LLaMA-Factory does, checking the
    /// columns (and sharegpt tags) it maps. Returns what Python read, as JSON.
    static let readerScript = #"""
    import json, os, sys
    import datasets
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    args = json.loads(sys.argv[1])
    out = {"files": {}, "dataset_info": {}}
    for path in args["files"]:
        ds = datasets.load_dataset("json", data_files=path, split="train")
        out["files"][path] = {"num_rows": ds.num_rows, "columns": ds.column_names, "rows": ds.to_list()}
    info = args.get("dataset_info")
    if info:
        entries = json.load(open(info, encoding="utf-8"))
        for name, entry in entries.items():
            path = os.path.join(os.path.dirname(info), entry.get("file_name", ""))
            if "file_name" not in entry or not os.path.isfile(path):
                out["dataset_info"][name] = {"missing": True}
                continue
            ds = datasets.load_dataset("json", data_files=path, split="train")
            columns = entry.get("columns", {})
            result = {"num_rows": ds.num_rows, "formatting": entry.get("formatting", "alpaca"),
                      "missing_columns": [c for c in columns.values() if c not in ds.column_names]}
            if entry.get("formatting") == "sharegpt":
                tags = entry.get("tags", {})
                role, content = tags.get("role_tag", "from"), tags.get("content_tag", "value")
                allowed = {tags.get("user_tag", "human"), tags.get("assistant_tag", "gpt"), tags.get("system_tag", "system")}
                result["bad_messages"] = sum(1 for conversation in ds[columns.get("messages", "conversations")]
                                             for m in conversation
                                             if not isinstance(m.get(content), str) or m.get(role) not in allowed)
            out["dataset_info"][name] = result
    print(json.dumps(out, ensure_ascii=True))
    """#

    func readWithDatasets(files: [String], datasetInfo: String?, scratch: URL) throws -> [String: Any] {
        let python = try datasetsPython()
        let script = scratch.appendingPathComponent("read_export.py")
        try Self.readerScript.write(to: script, atomically: true, encoding: .utf8)
        var args: [String: Any] = ["files": files]
        if let datasetInfo { args["dataset_info"] = datasetInfo }
        let argText = String(decoding: try JSONSerialization.data(withJSONObject: args), as: UTF8.self)
        let hf = scratch.appendingPathComponent("hf").path
        let r = try TestSupport.run(URL(fileURLWithPath: python), [script.path, argText], environment: [
            "HF_HOME": hf, "HF_DATASETS_CACHE": hf + "/datasets", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        ])
        XCTAssertEqual(r.status, 0, "datasets could not read the export: \(r.stderr.suffix(3000))")
        guard r.status == 0, let out = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
            throw XCTSkip("no output from the datasets reader")
        }
        return out
    }

    // MARK: - Round trip

    func testEveryFormatRoundTripsThroughDatasetsAndLlamaFactoryEntries() throws {
        _ = try datasetsPython()
        let (store, dir) = try makeStore()
        let setId = try insertSet(store, name: "pubmed rc/v1", fingerprint: "ab12cd34" + String(repeating: "0", count: 56), tokenizer: true)
        var texts = Self.trickyTexts
        texts.insert(Self.longText, at: 3)
        var rng = SystemRandomNumberGenerator()
        var expectedIds: [[Int32]] = []
        var expectedMessages: [(position: Int, turns: [(String, String)])] = []
        // Inserted out of order: the export must follow position, not insertion.
        let positions = Array(0..<texts.count).reversed()
        for p in positions {
            let n = p == 5 ? 0 : Int.random(in: 1...300, using: &rng)
            var ids = (0..<n).map { _ in Int32.random(in: 0..<200_000, using: &rng) }
            if p == 1 { ids[0] = 0; ids[ids.count - 1] = Int32.max }
            var messages: String?
            if p % 3 != 2 {  // some examples have no messages: they stay out of the messages file
                var turns = [("user", texts[p]), ("assistant", "answer \(p) \u{1F}\"x\"")]
                if p % 2 == 0 { turns.insert(("system", "You are \"careful\".\n中文"), at: 0) }
                if p == 4 { turns += [("user", "again?"), ("assistant", texts[(p + 1) % texts.count])] }
                messages = Self.messagesJSON(turns)
                expectedMessages.append((p, turns))
            }
            try insertExample(store, set: setId, position: p, text: texts[p], messages: messages, ids: Self.blob(ids), nTokens: n)
            expectedIds.append(ids)
        }
        expectedIds.reverse()
        expectedMessages.sort { $0.position < $1.position }

        // An existing dataset_info.json with other people's entries, one of ours (stale), a
        // repeated key, a boolean, a number in exponent form and non-ASCII: all must survive.
        let infoPath = dir.appendingPathComponent("dataset_info.json")
        try #"""
        {
          "alpaca_en_demo": {"file_name": "alpaca_en_demo.json"},
          "pubmed_rc_v1_text": {"file_name": "stale.jsonl"},
          "dpo_zh_demo": {"file_name": "dpo_zh_demo.json", "ranking": true, "columns": {"prompt": "conversations", "chosen": "chosen"}, "lr": 1e-5, "note": "中文 \u00e9"}
        }
        """#.write(to: infoPath, atomically: true, encoding: .utf8)

        let summary = try export(store, "pubmed rc/v1", to: dir)
        XCTAssertEqual(summary.files.map(\.format), [.text, .messages, .inputIds])
        XCTAssertEqual(summary.files.map(\.rows), [texts.count, expectedMessages.count, texts.count])
        XCTAssertEqual(summary.files.map { URL(fileURLWithPath: $0.path).lastPathComponent },
                       ["pubmed_rc_v1.text.jsonl", "pubmed_rc_v1.messages.jsonl", "pubmed_rc_v1.input-ids.jsonl"])
        for f in summary.files {
            let size = try FileManager.default.attributesOfItem(atPath: f.path)[.size] as? Int
            XCTAssertEqual(size, f.bytes, f.path)
        }
        XCTAssertEqual(summary.datasetInfoEntries, ["pubmed_rc_v1_text", "pubmed_rc_v1_messages"])
        let names = try listing(dir)
        XCTAssertFalse(names.contains { $0.hasSuffix(".partial") }, "temporary files left: \(names)")

        let read = try readWithDatasets(files: summary.files.map(\.path), datasetInfo: infoPath.path, scratch: dir)
        let files = try XCTUnwrap(read["files"] as? [String: Any])

        // text: byte-equal (Swift's String == would accept a normalised é; bytes do not).
        let textFile = try XCTUnwrap(files[summary.files[0].path] as? [String: Any])
        XCTAssertEqual(textFile["columns"] as? [String], ["text"])
        let textRows = try XCTUnwrap(textFile["rows"] as? [[String: Any]])
        XCTAssertEqual(textRows.count, texts.count)
        for (k, row) in textRows.enumerated() {
            let got = try XCTUnwrap(row["text"] as? String, "row \(k)")
            XCTAssertEqual(Array(got.utf8), Array(texts[k].utf8), "text of position \(k) differs")
        }

        // messages: only the examples that have them, in position order, turns equal.
        let messageFile = try XCTUnwrap(files[summary.files[1].path] as? [String: Any])
        XCTAssertEqual(messageFile["columns"] as? [String], ["messages"])
        let messageRows = try XCTUnwrap(messageFile["rows"] as? [[String: Any]])
        XCTAssertEqual(messageRows.count, expectedMessages.count)
        for (row, expected) in zip(messageRows, expectedMessages) {
            let turns = try XCTUnwrap(row["messages"] as? [[String: Any]])
            XCTAssertEqual(turns.count, expected.turns.count, "position \(expected.position)")
            for (t, e) in zip(turns, expected.turns) {
                XCTAssertEqual(Array(Set(t.keys)).sorted(), ["content", "role"])
                XCTAssertEqual(t["role"] as? String, e.0)
                XCTAssertEqual((t["content"] as? String).map { Array($0.utf8) }, Array(e.1.utf8), "position \(expected.position)")
            }
        }

        // input-ids: the blobs, the mask all ones, labels = ids; exactly axolotl's three columns.
        let idFile = try XCTUnwrap(files[summary.files[2].path] as? [String: Any])
        XCTAssertEqual(Set(idFile["columns"] as? [String] ?? []), ["input_ids", "attention_mask", "labels"])
        let idRows = try XCTUnwrap(idFile["rows"] as? [[String: Any]])
        XCTAssertEqual(idRows.count, expectedIds.count)
        for (k, (row, ids)) in zip(idRows, expectedIds).enumerated() {
            let got = (row["input_ids"] as? [NSNumber])?.map(\.int64Value)
            XCTAssertEqual(got, ids.map(Int64.init), "input_ids of position \(k)")
            XCTAssertEqual((row["labels"] as? [NSNumber])?.map(\.int64Value), ids.map(Int64.init), "labels of position \(k)")
            XCTAssertEqual((row["attention_mask"] as? [NSNumber])?.map(\.int64Value), Array(repeating: 1, count: ids.count))
        }

        // dataset_info.json: our entries load, with the columns and tags they map.
        let info = try XCTUnwrap(read["dataset_info"] as? [String: Any])
        let textEntry = try XCTUnwrap(info["pubmed_rc_v1_text"] as? [String: Any])
        XCTAssertEqual(textEntry["num_rows"] as? Int, texts.count)
        XCTAssertEqual(textEntry["missing_columns"] as? [String], [])
        let messagesEntry = try XCTUnwrap(info["pubmed_rc_v1_messages"] as? [String: Any])
        XCTAssertEqual(messagesEntry["num_rows"] as? Int, expectedMessages.count)
        XCTAssertEqual(messagesEntry["formatting"] as? String, "sharegpt")
        XCTAssertEqual(messagesEntry["missing_columns"] as? [String], [])
        XCTAssertEqual(messagesEntry["bad_messages"] as? Int, 0)

        // ... exactly in LLaMA-Factory's schema, and the others' entries kept as written, in order.
        let infoText = try String(contentsOf: infoPath, encoding: .utf8)
        let merged = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(infoText.utf8)) as? [String: Any])
        XCTAssertEqual(merged["pubmed_rc_v1_text"] as? NSDictionary,
                       ["file_name": "pubmed_rc_v1.text.jsonl", "columns": ["prompt": "text"]] as NSDictionary)
        XCTAssertEqual(merged["pubmed_rc_v1_messages"] as? NSDictionary, [
            "file_name": "pubmed_rc_v1.messages.jsonl", "formatting": "sharegpt", "columns": ["messages": "messages"],
            "tags": ["role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                     "system_tag": "system"],
        ] as NSDictionary)
        XCTAssertEqual(merged["alpaca_en_demo"] as? NSDictionary, ["file_name": "alpaca_en_demo.json"] as NSDictionary)
        XCTAssertTrue(infoText.contains(#""ranking": true"#) && infoText.contains(#""lr": 1e-5"#) && infoText.contains("中文 é"), infoText)
        let order = ["alpaca_en_demo", "pubmed_rc_v1_text", "dpo_zh_demo", "pubmed_rc_v1_messages"]
            .map { infoText.range(of: "\"\($0)\"")!.lowerBound }
        XCTAssertEqual(order, order.sorted(), "entries reordered:\n\(infoText)")
    }

    /// A second export replaces our entries in place, adds none twice, and keeps the files' names.
    func testReExportReplacesOwnEntriesOnly() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "s", fingerprint: "f1" + String(repeating: "0", count: 62))
        try insertExample(store, set: id, position: 0, text: "one", messages: Self.messagesJSON([("user", "q"), ("assistant", "a")]))
        _ = try export(store, "s", to: dir)
        let first = try String(contentsOf: dir.appendingPathComponent("dataset_info.json"), encoding: .utf8)
        _ = try export(store, "s", to: dir)
        let second = try String(contentsOf: dir.appendingPathComponent("dataset_info.json"), encoding: .utf8)
        XCTAssertEqual(first, second)
        XCTAssertEqual(try listing(dir).filter { $0 != "t.lectern" && !$0.hasPrefix("t.lectern-") },
                       ["dataset_info.json", "s.messages.jsonl", "s.text.jsonl"])
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("s.text.jsonl"), encoding: .utf8), "{\"text\":\"one\"}\n")
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("s.messages.jsonl"), encoding: .utf8),
                       "{\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\",\"content\":\"a\"}]}\n")
    }

    // MARK: - Which set, which formats

    func testDefaultFormatsAreWhatTheSetHas() throws {
        let (store, dir) = try makeStore()
        let packed = try insertSet(store, name: "packed", fingerprint: "aa" + String(repeating: "0", count: 62))
        try insertExample(store, set: packed, position: 0, text: "plain")
        let chat = try insertSet(store, name: "chat", fingerprint: "bb" + String(repeating: "0", count: 62))
        try insertExample(store, set: chat, position: 0, text: "q a", messages: Self.messagesJSON([("user", "q"), ("assistant", "a")]))
        XCTAssertEqual(try export(store, "packed", to: dir).files.map(\.format), [.text])
        XCTAssertEqual(try export(store, "chat", to: dir).files.map(\.format), [.text, .messages])
        XCTAssertEqual(try export(store, "chat", [.messages], to: dir.appendingPathComponent("only")).files.map(\.format), [.messages])
        XCTAssertEqual(try TrainingSetExportFormat.parseList("all"), nil)
        XCTAssertEqual(try TrainingSetExportFormat.parseList("input-ids, text"), [.inputIds, .text])
        assertThrows(try TrainingSetExportFormat.parseList("parquet") as Any, containing: ["parquet", "text, messages, input-ids"])
    }

    func testNameMeansNewestCompleteSet() throws {
        let (store, dir) = try makeStore()
        let old = try insertSet(store, name: "s", fingerprint: "c1" + String(repeating: "0", count: 62), createdAt: "2026-01-01T00:00:00.000Z")
        let new = try insertSet(store, name: "s", fingerprint: "c2" + String(repeating: "0", count: 62), createdAt: "2026-02-01T00:00:00.000Z")
        try insertSet(store, name: "s", fingerprint: "c3" + String(repeating: "0", count: 62), status: "running", createdAt: "2026-03-01T00:00:00.000Z")
        try insertExample(store, set: old, position: 0, text: "old")
        try insertExample(store, set: new, position: 0, text: "new")
        let summary = try export(store, "s", to: dir)
        XCTAssertEqual(summary.set.id, new)
        XCTAssertEqual(try String(contentsOf: URL(fileURLWithPath: summary.files[0].path), encoding: .utf8), "{\"text\":\"new\"}\n")
        // A fingerprint prefix picks a set exactly, older or not (upper case accepted).
        XCTAssertEqual(try store.pool.read { try TrainingSetExport.resolve($0, "C1") }.id, old)
    }

    func testRunningSetIsRefused() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "wip", fingerprint: "d1" + String(repeating: "0", count: 62), status: "running")
        try insertExample(store, set: id, position: 0, text: "half")
        assertThrows(try export(store, "wip", to: dir), containing: ["wip", "incomplete: re-run lectern build"])
        assertThrows(try export(store, "d1", to: dir), containing: ["wip", "incomplete: re-run lectern build"])
        XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") }, [])
    }

    func testMissingSetListsTheSetsThereAre() throws {
        let (store, dir) = try makeStore()
        assertThrows(try export(store, "nope", to: dir), containing: ["nope", "none yet", "lectern build"])
        try insertSet(store, name: "alpha", fingerprint: "e1" + String(repeating: "0", count: 62))
        try insertSet(store, name: "beta", fingerprint: "e2" + String(repeating: "0", count: 62), status: "running")
        assertThrows(try export(store, "nope", to: dir), containing: ["'nope'", "alpha (fingerprint e10000000000", "beta", "running"])
    }

    func testAmbiguousPrefixListsCandidates() throws {
        let (store, dir) = try makeStore()
        let a = "f00d" + String(repeating: "1", count: 60), b = "f00d" + String(repeating: "2", count: 60)
        try insertSet(store, name: "one", fingerprint: a)
        try insertSet(store, name: "two", fingerprint: b)
        assertThrows(try export(store, "f00d", to: dir), containing: ["'f00d'", "2 training sets", a, b, "one", "two"])
        XCTAssertEqual(try store.pool.read { try TrainingSetExport.resolve($0, "f00d1") }.name, "one")
        // LIKE wildcards in what was typed are not wildcards.
        assertThrows(try export(store, "f00_", to: dir), containing: ["no training set named 'f00_'"])
    }

    // MARK: - Formats the set does not have

    func testMessagesOfPackedSetIsAnError() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "packed", fingerprint: "a1" + String(repeating: "0", count: 62))
        try insertExample(store, set: id, position: 0, text: "text only")
        assertThrows(try export(store, "packed", [.text, .messages], to: dir), containing: ["packed", "packed text", "chat format"])
        XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") || $0 == "dataset_info.json" }, [])
    }

    func testInputIdsOfSetWithoutTokenizerIsAnError() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "untok", fingerprint: "a2" + String(repeating: "0", count: 62))
        try insertExample(store, set: id, position: 0, text: "text only")
        assertThrows(try export(store, "untok", [.inputIds], to: dir), containing: ["untok", "without a tokenizer"])
        XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") }, [])
    }

    // MARK: - Corrupt rows: an error naming the example, and no partial file

    /// The bad row comes last, after a megabyte of good ones, so the temporary file has been
    /// flushed to disk before the error: it must still vanish, and the previous export under
    /// the final names must stay as it was.
    func assertCorruptionRefused(blob: Data, nTokens: Int?, expect parts: [String]) throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "s", fingerprint: "b1" + String(repeating: "0", count: 62), tokenizer: true)
        for p in 0..<2000 {
            try insertExample(store, set: id, position: p, text: String(repeating: "good \(p) ", count: 60),
                              ids: Self.blob([1, 2, 3]), nTokens: 3)
        }
        let previous = Data("{\"text\":\"previous export\"}\n".utf8)
        try previous.write(to: dir.appendingPathComponent("s.text.jsonl"))
        try insertExample(store, set: id, position: 2000, text: "bad", ids: blob, nTokens: nTokens)
        let bad = try store.pool.read { try Int64.fetchOne($0, sql: "SELECT id FROM training_examples WHERE position = 2000")! }
        assertThrows(try export(store, "s", to: dir), containing: ["position 2000", "training_examples.id \(bad)"] + parts)
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("s.text.jsonl")), previous)
        XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") || $0 == "dataset_info.json" },
                       ["s.text.jsonl"])
    }

    func testBlobNotMultipleOfFourIsAnError() throws {
        try assertCorruptionRefused(blob: Data([1, 0, 0, 0, 2, 0]), nTokens: 2, expect: ["6 bytes", "not a multiple of 4"])
    }

    func testBlobDisagreeingWithNTokensIsAnError() throws {
        try assertCorruptionRefused(blob: Self.blob([1, 2, 3]), nTokens: 4, expect: ["3 ids", "n_tokens is 4"])
        try assertCorruptionRefused(blob: Self.blob([1, 2, 3]), nTokens: nil, expect: ["n_tokens is NULL"])
    }

    func testMissingIdsInOneRowIsAnError() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "s", fingerprint: "b2" + String(repeating: "0", count: 62), tokenizer: true)
        try insertExample(store, set: id, position: 0, text: "a", ids: Self.blob([5]), nTokens: 1)
        try insertExample(store, set: id, position: 1, text: "b", nTokens: 1)
        assertThrows(try export(store, "s", [.inputIds], to: dir), containing: ["position 1", "no input_ids"])
        XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") }, [])
    }

    func testMessagesLlamaFactoryWouldDropAreRefused() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "s", fingerprint: "b3" + String(repeating: "0", count: 62))
        try insertExample(store, set: id, position: 0, text: "a", messages: Self.messagesJSON([("user", "q"), ("user", "q2"), ("assistant", "a")]))
        assertThrows(try export(store, "s", to: dir), containing: ["position 0", "[user, user, assistant]"])
        try store.pool.write { try $0.execute(sql: #"UPDATE training_examples SET messages = '[{"role": "user"}]'"#) }
        assertThrows(try export(store, "s", to: dir), containing: ["position 0", "no string \"content\""])
        XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") }, [])
    }

    func testTextThatIsNotUTF8IsAnError() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "s", fingerprint: "b4" + String(repeating: "0", count: 62))
        try store.pool.write { db in
            try db.execute(sql: "INSERT INTO training_examples(training_set_id, position, text) VALUES (?, 0, CAST(X'6F6BC328' AS TEXT))",
                           arguments: [id])
        }
        assertThrows(try export(store, "s", to: dir), containing: ["position 0", "not valid UTF-8 (byte 2)"])
    }

    // MARK: - dataset_info.json

    func testMalformedDatasetInfoIsLeftUntouched() throws {
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "s", fingerprint: "b5" + String(repeating: "0", count: 62), tokenizer: true)
        try insertExample(store, set: id, position: 0, text: "a", ids: Self.blob([1]), nTokens: 1)
        let infoPath = dir.appendingPathComponent("dataset_info.json")
        for malformed in ["{\"a\": {\"file_name\": \"x.json\"},}", "[1, 2]", "", "{\"a\": 1} trailing"] {
            try Data(malformed.utf8).write(to: infoPath)
            assertThrows(try export(store, "s", to: dir), containing: ["dataset_info.json", "not a valid dataset_info.json", "untouched"])
            XCTAssertEqual(try Data(contentsOf: infoPath), Data(malformed.utf8))
            XCTAssertEqual(try listing(dir).filter { $0.hasSuffix(".jsonl") || $0.hasSuffix(".partial") }, [])
        }
        // The input-ids format alone has no dataset_info.json entry, so does not need the file.
        let summary = try export(store, "s", [.inputIds], to: dir)
        XCTAssertNil(summary.datasetInfoPath)
        XCTAssertEqual(try Data(contentsOf: infoPath), Data("{\"a\": 1} trailing".utf8))
    }

    // MARK: - The command

    func testCommandWritesFilesAndSaysWhat() throws {
        let lectern = try TestSupport.lecternExecutable()
        let (store, dir) = try makeStore()
        let id = try insertSet(store, name: "cli-set", fingerprint: "9a" + String(repeating: "0", count: 62), tokenizer: true)
        for p in 0..<3 {
            try insertExample(store, set: id, position: p, text: "t\(p)", ids: Self.blob([Int32(p), 7]), nTokens: 2)
        }
        let out = dir.appendingPathComponent("out")
        let r = try TestSupport.run(lectern, ["export", "set", store.path, out.path, "--set", "cli-set"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\(out.path)/cli-set.text.jsonl: 3 examples"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(out.path)/cli-set.input-ids.jsonl: 3 examples"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\(out.path)/dataset_info.json: entries cli-set_text"), r.stdout)
        XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("cli-set.input-ids.jsonl"), encoding: .utf8),
                       (0..<3).map { "{\"input_ids\":[\($0),7],\"attention_mask\":[1,1],\"labels\":[\($0),7]}\n" }.joined())

        let bad = try TestSupport.run(lectern, ["export", "set", store.path, out.path, "--set", "cli-set", "--format", "messages"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("packed text"), bad.stderr)
        let badFormat = try TestSupport.run(lectern, ["export", "set", store.path, out.path, "--set", "cli-set", "--format", "csv"])
        XCTAssertNotEqual(badFormat.status, 0)
        XCTAssertTrue(badFormat.stderr.contains("unknown export format 'csv'"), badFormat.stderr)
    }
}
