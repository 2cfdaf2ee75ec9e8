import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// `lectern ingest` as users run it, on the cases of issue 13: CRLF text files, unreadable paths
/// inside a directory, damaged and empty sources among good ones.
final class IngestCommandTests: XCTestCase {
    func sql(_ file: String, _ query: String) throws -> [String] {
        try readVerified(file) { try String.fetchAll($0, sql: query) }
    }

    /// #7: 100 two-line CRLF files under --title-first-line all became "empty text".
    func testCRLFTextDirectoryWithTitleFirstLine() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let corpus = dir.appendingPathComponent("corpus")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        for i in 0..<100 {
            try Data("Title line \(i)\r\nBody one \(i). Body two.\r\n".utf8).write(to: corpus.appendingPathComponent(String(format: "%03d.txt", i)))
        }
        let file = dir.appendingPathComponent("t.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", file, "--domain", "biomedicine"]).status, 0)
        let run = try TestSupport.run(lectern, ["ingest", file, corpus.path, "--title-first-line"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("\(corpus.path): 100 added, 0 duplicates, 0 skipped"), run.stdout + run.stderr)
        XCTAssertEqual(try sql(file, "SELECT title || '|' || text FROM documents WHERE id IN (1, 100) ORDER BY id"),
                       ["Title line 0|Body one 0. Body two.", "Title line 99|Body one 99. Body two."])
        XCTAssertEqual(try sql(file, "SELECT count(*) FROM documents WHERE instr(text, char(13)) OR instr(title, char(13))"), ["0"])
        let again = try TestSupport.run(lectern, ["ingest", file, corpus.path, "--title-first-line"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("\(corpus.path): already ingested"), again.stdout)
    }

    /// How to run a command as an unprivileged user when the tests run as root (where mode 000
    /// does not stop reads): `setpriv` or `runuser`. Nil when the tests do not run as root.
    func unprivileged() throws -> (prefix: [String], uid: uid_t, gid: gid_t)? {
        guard getuid() == 0 else { return nil }
        guard let pw = getpwnam("nobody") else { throw XCTSkip("running as root and there is no user 'nobody' to drop privileges to") }
        let uid = pw.pointee.pw_uid, gid = pw.pointee.pw_gid
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            return (["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"], uid, gid)
        }
        for runuser in ["/usr/sbin/runuser", "/sbin/runuser"] where FileManager.default.isExecutableFile(atPath: runuser) {
            return ([runuser, "-u", "nobody", "--"], uid, gid)
        }
        throw XCTSkip("running as root, where chmod 000 does not stop reads, and neither setpriv nor runuser is installed to drop privileges")
    }

    /// #8: an unreadable subdirectory was skipped with no warning (exit 0), an unreadable file
    /// was warned twice, and once the permissions were fixed the directory was "already
    /// ingested" (chmod keeps the mtime), so those files were never read.
    func testUnreadablePathsAreReportedCountedAndReadOnceFixed() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let drop = try unprivileged()
        let corpus = dir.appendingPathComponent("corpus")
        let locked = corpus.appendingPathComponent("locked")
        try FileManager.default.createDirectory(at: locked, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: corpus.appendingPathComponent("open"), withIntermediateDirectories: true)
        try "A readable file.".write(to: corpus.appendingPathComponent("a.txt"), atomically: true, encoding: .utf8)
        try "Another readable file.".write(to: corpus.appendingPathComponent("open/c.txt"), atomically: true, encoding: .utf8)
        try "A file in a directory that cannot be listed.".write(to: locked.appendingPathComponent("b.txt"), atomically: true, encoding: .utf8)
        let secret = corpus.appendingPathComponent("secret.txt")
        try "A file that cannot be read.".write(to: secret, atomically: true, encoding: .utf8)
        let work = dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        if let drop { XCTAssertEqual(chown(work.path, drop.uid, drop.gid), 0) }
        let file = work.appendingPathComponent("u.lectern").path
        let prefix = drop?.prefix ?? []
        func lecternRun(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            prefix.isEmpty ? try TestSupport.run(lectern, args)
                : try TestSupport.run(URL(fileURLWithPath: prefix[0]), Array(prefix.dropFirst()) + [lectern.path] + args)
        }
        XCTAssertEqual(try lecternRun(["init", file, "--domain", "biomedicine"]).status, 0)
        XCTAssertEqual(chmod(locked.path, 0o000), 0)
        XCTAssertEqual(chmod(secret.path, 0o000), 0)
        defer { chmod(locked.path, 0o755); chmod(secret.path, 0o644) }

        let first = try lecternRun(["ingest", file, corpus.path])
        XCTAssertNotEqual(first.status, 0, "unreadable paths make the ingest fail: \(first.stdout)")
        XCTAssertTrue(first.stdout.contains("\(corpus.path): 2 added, 0 duplicates, 0 skipped, 2 unreadable"), first.stdout + first.stderr)
        for path in [locked.path, secret.path] {
            let lines = first.stderr.split(separator: "\n").filter { $0.contains(path) }
            XCTAssertEqual(lines.count, 1, "\(path) is reported once:\n\(first.stderr)")
            XCTAssertTrue(lines.first?.contains("Permission denied") ?? false, first.stderr)
        }
        XCTAssertEqual(try sql(file, "SELECT n_failed || ' ' || json_extract(counts, '$.unreadable') FROM stage_runs"), ["2 2"])

        // Fixed: chmod keeps every mtime, and the two files are read now; the others are not again.
        XCTAssertEqual(chmod(locked.path, 0o755), 0)
        XCTAssertEqual(chmod(secret.path, 0o644), 0)
        let second = try lecternRun(["ingest", file, corpus.path])
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        XCTAssertTrue(second.stdout.contains("\(corpus.path): 2 added, 0 duplicates, 0 skipped (text, 2 files already ingested)"), second.stdout)
        XCTAssertEqual(try sql(file, "SELECT count(*) FROM documents"), ["4"])
        let third = try lecternRun(["ingest", file, corpus.path])
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertTrue(third.stdout.contains("\(corpus.path): already ingested"), third.stdout)
    }

    /// #9: a truncated .jsonl.gz kept none of its records and stopped the sources after it; an
    /// empty source passed silently; its progress line said "(done)" before the error.
    func testDamagedAndEmptySourcesAmongGoodOnes() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let raw = dir.appendingPathComponent("long.jsonl")
        try ((0..<3000).map { #"{"text": "record \#($0) of a long gzip file with some words to compress", "id": "\#($0)"}"# }.joined(separator: "\n") + "\n")
            .write(to: raw, atomically: true, encoding: .utf8)
        let gz = dir.appendingPathComponent("long.jsonl.gz").path
        XCTAssertEqual(try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -c '\(raw.path)' > '\(gz)'"]).status, 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: gz))
        let cut = dir.appendingPathComponent("cut.jsonl.gz")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        let recovered = try TestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", "gzip -dc '\(cut.path)' 2>/dev/null | wc -l"])
        let complete = Int(recovered.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        XCTAssertGreaterThan(complete, 100)
        let good = dir.appendingPathComponent("good.jsonl")
        try (0..<10).map { #"{"text": "good document \#($0)"}"# }.joined(separator: "\n").write(to: good, atomically: true, encoding: .utf8)
        let empty = dir.appendingPathComponent("empty.jsonl")
        try Data().write(to: empty)

        let file = dir.appendingPathComponent("d.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", file, "--domain", "biomedicine"]).status, 0)
        let run = try TestSupport.run(lectern, ["ingest", file, cut.path, good.path, empty.path], environment: ["LECTERN_PROGRESS": "plain"])
        XCTAssertNotEqual(run.status, 0)
        XCTAssertTrue(run.stdout.contains("\(cut.path): \(complete) added"), run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("\(good.path): 10 added"), run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("\(cut.path)") && run.stderr.contains("truncated gzip file"), run.stderr)
        XCTAssertTrue(run.stderr.contains("\(empty.path): no valid record"), run.stderr)
        let progress = run.stderr.split(separator: "\n").filter { $0.hasPrefix("[ingest cut.jsonl.gz]") }
        XCTAssertFalse(progress.isEmpty, run.stderr)
        XCTAssertFalse(progress.contains { $0.contains("(done)") }, "no '(done)' for a source that failed:\n\(run.stderr)")
        XCTAssertEqual(try sql(file, "SELECT count(*) FROM documents"), ["\(complete + 10)"])

        // Alone, a source with no valid record fails too: empty, or binary under a JSONL name.
        let blob = dir.appendingPathComponent("blob.jsonl")
        var rng = TestRandom(seed: 13)
        try Data((0..<8192).map { _ in UInt8(truncatingIfNeeded: rng.next()) }).write(to: blob)
        for source in [empty, blob] {
            let alone = try TestSupport.run(lectern, ["ingest", file, source.path])
            XCTAssertNotEqual(alone.status, 0, "\(source.lastPathComponent): \(alone.stdout)")
            XCTAssertTrue(alone.stderr.contains("\(source.path): no valid record"), alone.stderr)
        }
        XCTAssertEqual(try sql(file, "SELECT count(*) FROM documents"), ["\(complete + 10)"])
    }

    /// A directory source is resumable file by file: `kill -9` at random moments and re-runs
    /// give the same file as one clean run.
    func testKillNineDuringDirectoryIngestThenResumeEqualsCleanRun() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let corpus = dir.appendingPathComponent("corpus")
        let docs = try CorpusFixture.abstracts()
        for (n, doc) in docs.enumerated() {
            let sub = corpus.appendingPathComponent("part\(n % 7)")
            try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
            let lineEnd = n % 2 == 0 ? "\r\n" : "\n"
            var bytes = Data("PubMed \(doc.id)\(lineEnd)\(doc.text)\(lineEnd)".utf8)
            if n % 101 == 0 { bytes = Data([0x41, 0xC3, 0x28]) }  // invalid UTF-8: a skipped file
            try bytes.write(to: sub.appendingPathComponent("\(doc.id).txt"))
            if n % 53 == 0 { try bytes.write(to: sub.appendingPathComponent("\(doc.id)-copy.txt")) }  // a duplicate
        }
        let args = [corpus.path, "--title-first-line", "--batch-size", "20"]
        func dump(_ path: String) throws -> [String] {
            try readVerified(path) { db in
                try String.fetchAll(db, sql: """
                    SELECT id || '|' || hex(content_hash) || '|' || coalesce(title, '') || '|' || coalesce(external_id, '') || '|'
                           || coalesce(metadata, '') || '|' || n_chars || '|' || source || '|' || source_id || '|' || hex(text)
                    FROM documents ORDER BY id
                    """)
                    + String.fetchAll(db, sql: """
                    SELECT id || '|' || path || '|' || fingerprint || '|' || records_done || '|' || n_added || '|' || n_duplicates
                           || '|' || n_skipped || '|' || status FROM sources ORDER BY id
                    """)
            }
        }
        let clean = dir.appendingPathComponent("clean.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", clean, "--domain", "biomedicine"]).status, 0)
        let cleanRun = try TestSupport.run(lectern, ["ingest", clean] + args)
        XCTAssertEqual(cleanRun.status, 0, cleanRun.stderr)

        let killed = dir.appendingPathComponent("killed.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", killed, "--domain", "biomedicine"]).status, 0)
        var rng = TestRandom(seed: 20261313)
        var kills = 0
        var finished = false
        for attempt in 0..<60 where !finished {
            let delay = Double(rng.next() % 1000) / 1000 * (0.05 + 0.02 * Double(attempt))
            let outcome = try TestSupport.runAndKill(lectern, ["ingest", killed] + args, after: delay, environment: ["PATH": "/usr/bin:/bin"])
            if outcome == .killed { kills += 1 }
            finished = outcome == .finished
        }
        if !finished {
            let last = try TestSupport.run(lectern, ["ingest", killed] + args)
            XCTAssertEqual(last.status, 0, last.stderr)
        }
        XCTAssertGreaterThanOrEqual(kills, 5, "the test must really interrupt the ingest several times")
        let a = try dump(clean), b = try dump(killed)
        XCTAssertGreaterThan(a.count, docs.count)
        XCTAssertEqual(a.count, b.count, "row counts differ after \(kills) kills")
        XCTAssertEqual(a, b, "the file after \(kills) kills and re-runs differs from a clean run")
        let again = try TestSupport.run(lectern, ["ingest", killed] + args)
        XCTAssertTrue(again.stdout.contains("already ingested"), again.stdout)
        XCTAssertEqual(try dump(killed), a)
    }
}
