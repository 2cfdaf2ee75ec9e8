import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// `lectern import-instructions` as users run it: its summary, its errors, and a real `kill -9`
/// in the middle of an import followed by a re-run.
final class ImportInstructionsCommandTests: XCTestCase {
    /// What an import decides, per row (created_at aside), in id order; plus the run bookkeeping.
    func dump(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok")
            return try String.fetchAll(db, sql: """
                SELECT id || '|' || source || '|' || format || '|' || coalesce(external_id, '') || '|' || n_chars
                       || '|' || hex(content_hash) || '|' || messages
                FROM instructions ORDER BY id
                """)
        }
    }

    /// `count` distinct ShareGPT conversations as JSON Lines, one bad line in every 1,000.
    func writeShareGPT(to url: URL, count: Int) throws {
        var text = ""
        for i in 0..<count {
            if i % 1000 == 999 {
                text += "{\"conversations\": [{\"from\": \"human\", \"value\": \"orphan \(i)\"}]}\n"
                continue
            }
            text += "{\"id\": \"c\(i)\", \"conversations\": [{\"from\": \"human\", \"value\": \"Question number \(i): what is \(i) squared?\"}, "
                + "{\"from\": \"gpt\", \"value\": \"\(i) squared is \(i * i).\"}, {\"from\": \"human\", \"value\": \"Thanks!\"}]}\n"
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func testSummaryAndErrors() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let file = dir.appendingPathComponent("i.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", file, "--domain", "biomedicine"]).status, 0)
        let source = dir.appendingPathComponent("mixed.jsonl")
        try """
            {"instruction": "Name a primary colour.", "output": "Red."}
            {"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}, {"from": "human", "value": "Bye"}]}
            {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
            {"messages": [{"role": "user", "content": "2+2?"}, {"role": "tool", "content": "4"}]}
            {"instruction": "Name a primary colour.", "output": "Red."}
            not json

            """.write(to: source, atomically: true, encoding: .utf8)
        let run = try TestSupport.run(lectern, ["import-instructions", file, source.path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let out = run.stdout
        XCTAssertTrue(out.contains("\(source.path): 6 records: 3 imported, 1 duplicates, 2 skipped"), out)
        XCTAssertTrue(out.contains("  alpaca: 1 imported, 1 duplicates"), out)
        XCTAssertTrue(out.contains("  sharegpt: 1 imported, 0 duplicates"), out)
        XCTAssertTrue(out.contains("  messages: 1 imported, 0 duplicates"), out)
        XCTAssertTrue(out.contains("1 edge turns dropped"), out)
        XCTAssertTrue(out.contains("\(source.path):4: message 2: unknown role \"tool\""), out)
        XCTAssertTrue(out.contains("\(source.path):6: malformed JSON"), out)
        XCTAssertTrue(out.hasSuffix("\(file): 3 instructions\n"), out)

        let limited = try TestSupport.run(lectern, ["import-instructions", file, source.path, "--format", "alpaca", "--limit", "2"])
        XCTAssertEqual(limited.status, 0, limited.stderr)
        XCTAssertTrue(limited.stdout.contains("2 records: 0 imported, 1 duplicates, 1 skipped"), limited.stdout)
        XCTAssertTrue(limited.stdout.contains(":2: no \"instruction\" field (no user turn)"), limited.stdout)

        let status = try TestSupport.run(lectern, ["status", file])
        XCTAssertTrue(status.stdout.contains("import-instructions"), status.stdout)

        let badFormat = try TestSupport.run(lectern, ["import-instructions", file, source.path, "--format", "csv"])
        XCTAssertNotEqual(badFormat.status, 0)
        XCTAssertTrue(badFormat.stderr.contains("--format"), badFormat.stderr)
        let missing = try TestSupport.run(lectern, ["import-instructions", file, dir.appendingPathComponent("none.json").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("none.json: no such file"), missing.stderr)
        let prose = dir.appendingPathComponent("prose.txt")
        try "just words\n".write(to: prose, atomically: true, encoding: .utf8)
        let notJSON = try TestSupport.run(lectern, ["import-instructions", file, prose.path])
        XCTAssertNotEqual(notJSON.status, 0)
        XCTAssertTrue(notJSON.stderr.contains("prose.txt: not instruction data"), notJSON.stderr)
        XCTAssertEqual(try dump(file).count, 3, "failed imports change nothing")
    }

    /// `kill -9` at several moments of a real import, then a re-run: the table is exactly that of
    /// one uninterrupted run (ids included), and the killed runs are marked interrupted.
    func testKillNineMidImportThenRerunEqualsCleanRun() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let source = dir.appendingPathComponent("sharegpt.jsonl")
        try writeShareGPT(to: source, count: 20_000)
        let args = [source.path, "--batch-size", "250"]

        let clean = dir.appendingPathComponent("clean.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", clean, "--domain", "biomedicine"]).status, 0)
        let start = Date()
        let cleanRun = try TestSupport.run(lectern, ["import-instructions", clean] + args)
        let cleanSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(cleanRun.status, 0, cleanRun.stderr)
        XCTAssertTrue(cleanRun.stdout.contains("20000 records: 19980 imported, 0 duplicates, 20 skipped"), cleanRun.stdout)
        let expected = try dump(clean)
        XCTAssertEqual(expected.count, 19980)

        let killed = dir.appendingPathComponent("killed.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", killed, "--domain", "biomedicine"]).status, 0)
        var rng = TestRandom(seed: 72840107)
        var kills = 0, midImport = 0
        var previous = 0
        for k in 1...5 {
            // Later each time (a re-run first reads again what is done), at a jittered moment.
            let fraction = 0.14 * Double(k) + Double(rng.next() % 60) / 1000
            let outcome = try TestSupport.runAndKill(lectern, ["import-instructions", killed] + args,
                                                     after: 0.05 + fraction * cleanSeconds, environment: ["PATH": "/usr/bin:/bin"])
            guard outcome == .killed else { break }
            kills += 1
            let rows = try dump(killed)
            XCTAssertGreaterThanOrEqual(rows.count, previous, "a kill never loses committed rows")
            XCTAssertEqual(rows, Array(expected.prefix(rows.count)), "what is there after a kill is a prefix of the clean run")
            if rows.count > previous && rows.count < expected.count { midImport += 1 }
            previous = rows.count
        }
        XCTAssertGreaterThanOrEqual(midImport, 2, "the test must really stop the import part-way, more than once")
        let last = try TestSupport.run(lectern, ["import-instructions", killed] + args)
        XCTAssertEqual(last.status, 0, last.stderr)
        XCTAssertEqual(try dump(killed), expected, "the file after \(kills) kills and a re-run differs from a clean run")

        let again = try TestSupport.run(lectern, ["import-instructions", killed] + args)
        XCTAssertTrue(again.stdout.contains("0 imported, 19980 duplicates, 20 skipped"), again.stdout)
        XCTAssertEqual(try dump(killed), expected)
        let runs = try TestSupport.run(lectern, ["sql", killed, "SELECT count(*) FILTER (WHERE status = 'interrupted'), count(*) FILTER (WHERE status = 'running') FROM stage_runs", "--csv"])
        let counts = (runs.stdout.split(separator: "\n").last ?? "").split(separator: ",").compactMap { Int($0) }
        XCTAssertEqual(counts.count, 2, runs.stdout)
        XCTAssertTrue((1...kills).contains(counts.first ?? 0), runs.stdout)
        XCTAssertEqual(counts.last, 0, "no run is left marked running: \(runs.stdout)")
    }
}
