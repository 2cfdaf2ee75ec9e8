import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// The resumability contract, proven on a real process: `kill -9` a real `lectern ingest` at
/// random moments many times, re-run it each time, and the file ends up exactly as after one
/// uninterrupted run. No row lost, none duplicated, ids identical.
final class KillResumeTests: XCTestCase {
    func dump(_ path: String) throws -> [String] {
        try readVerified(path) { db in
            let docs = try String.fetchAll(db, sql: """
                SELECT id || '|' || hex(content_hash) || '|' || coalesce(title, '') || '|' || coalesce(external_id, '') || '|'
                       || coalesce(metadata, '') || '|' || n_chars || '|' || source || '|' || length(text) || '|' || hex(substr(text, 1, 64))
                FROM documents ORDER BY id
                """)
            let sources = try String.fetchAll(db, sql: """
                SELECT path || '|' || records_done || '|' || n_added || '|' || n_duplicates || '|' || n_skipped || '|' || status
                FROM sources ORDER BY id
                """)
            return docs + sources
        }
    }

    func testKillNineAtRandomPointsThenResumeEqualsCleanRun() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let corpus = dir.appendingPathComponent("corpus.jsonl")
        let lines = try CorpusFixture.write(to: corpus, repeats: 30)
        let gz = dir.appendingPathComponent("more.jsonl.gz")
        let small = dir.appendingPathComponent("more.jsonl")
        try CorpusFixture.write(to: small, repeats: 3)  // all duplicates of the first file's first copies
        XCTAssertEqual(try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c '\(small.path)' > '\(gz.path)'"]).status, 0)
        let args = [corpus.path, gz.path, "--batch-size", "40"]

        let clean = dir.appendingPathComponent("clean.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", clean, "--domain", "biomedicine"]).status, 0)
        let cleanRun = try TestSupport.run(lectern, ["ingest", clean] + args)
        XCTAssertEqual(cleanRun.status, 0, cleanRun.stderr)

        let killed = dir.appendingPathComponent("killed.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", killed, "--domain", "biomedicine"]).status, 0)
        var rng = TestRandom(seed: 20240114)
        var kills = 0
        var finished = false
        for attempt in 0..<60 where !finished {
            // Early attempts kill quickly (often mid-startup or mid-batch), later ones give more time.
            let delay = Double(rng.next() % 1000) / 1000 * (0.05 + 0.02 * Double(attempt))
            let outcome = try TestSupport.runAndKill(lectern, ["ingest", killed] + args, after: delay,
                                                     environment: ["PATH": "/usr/bin:/bin"])
            if outcome == .killed { kills += 1 }
            finished = outcome == .finished
        }
        if !finished {
            let last = try TestSupport.run(lectern, ["ingest", killed] + args)
            XCTAssertEqual(last.status, 0, last.stderr)
        }
        XCTAssertGreaterThanOrEqual(kills, 8, "the test must really interrupt the stage several times")

        let a = try dump(clean)
        let b = try dump(killed)
        XCTAssertGreaterThan(a.count, lines / 2)
        XCTAssertEqual(a.count, b.count, "row counts differ after \(kills) kills")
        XCTAssertEqual(a, b, "the file after \(kills) kills and re-runs differs from a clean run")

        // A further run adds nothing, and the interrupted runs are recorded as such.
        let again = try TestSupport.run(lectern, ["ingest", killed] + args)
        XCTAssertTrue(again.stdout.contains("already ingested"), again.stdout)
        XCTAssertEqual(try dump(killed), a)
        // (A kill during start-up, before the run is recorded, leaves no row; so at most `kills`.)
        let status = try TestSupport.run(lectern, ["sql", killed, "SELECT count(*) FILTER (WHERE status = 'interrupted'), count(*) FILTER (WHERE status = 'running') FROM stage_runs", "--csv"])
        let counts = (status.stdout.split(separator: "\n").last ?? "").split(separator: ",").compactMap { Int($0) }
        XCTAssertEqual(counts.count, 2, status.stdout)
        XCTAssertTrue((1...kills).contains(counts.first ?? 0), status.stdout)
        XCTAssertEqual(counts.last, 0, "no run is left marked running: \(status.stdout)")
    }
}

