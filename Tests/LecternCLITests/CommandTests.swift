import Foundation
import LecternTestSupport
import XCTest

/// The CLI as users run it: real processes on a real file.
final class CommandTests: XCTestCase {
    func testInitIngestStatusSQL() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let file = dir.appendingPathComponent("p.lectern").path
        let pubmed = try TestSupport.pubmedqaPath()
        XCTAssertEqual(try TestSupport.run(lectern, ["init", file, "--domain", "biomedicine"]).status, 0)
        XCTAssertEqual(try TestSupport.run(lectern, ["init", file, "--domain", "biomedicine"]).status, 0, "init is idempotent")
        let ingest = try TestSupport.run(lectern, ["ingest", file, pubmed])
        XCTAssertEqual(ingest.status, 0, ingest.stderr)
        XCTAssertTrue(ingest.stdout.contains("1000 added"), ingest.stdout)

        let status = try TestSupport.run(lectern, ["status", file, "--json"])
        XCTAssertEqual(status.status, 0, status.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        let fileInfo = object["file"] as! [String: Any]
        XCTAssertEqual(fileInfo["domain"] as? String, "biomedicine")
        XCTAssertEqual(fileInfo["documents"] as? Int, 1000)
        let stages = object["stages"] as! [[String: Any]]
        XCTAssertEqual(stages.first?["stage"] as? String, "ingest")
        XCTAssertEqual(stages.first?["status"] as? String, "complete")
        let text = try TestSupport.run(lectern, ["status", file])
        XCTAssertTrue(text.stdout.contains("Sources (") && text.stdout.contains("pubmedqa"), text.stdout)

        let csv = try TestSupport.run(lectern, ["sql", file, "SELECT json_extract(metadata, '$.final_decision') AS d, count(*) AS n FROM documents GROUP BY d ORDER BY d", "--csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertEqual(csv.stdout, "d,n\nmaybe,110\nno,338\nyes,552\n")
        let json = try TestSupport.run(lectern, ["sql", file, "SELECT id, title FROM documents WHERE id <= 2 ORDER BY id", "--json"])
        let rows = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[0]["id"] as? Int, 1)
        XCTAssertTrue(rows[0]["title"] is NSNull)
        let bad = try TestSupport.run(lectern, ["sql", file, "SELECT nope FROM documents"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("no such column: nope"), bad.stderr)
    }

    func testErrorsExitNonZeroWithAClearMessage() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let missing = try TestSupport.run(lectern, ["status", dir.appendingPathComponent("none.lectern").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no such file") && missing.stderr.contains("lectern init"), missing.stderr)
        let file = dir.appendingPathComponent("e.lectern").path
        XCTAssertEqual(try TestSupport.run(lectern, ["init", file, "--domain", "law"]).status, 0)
        let noSource = try TestSupport.run(lectern, ["ingest", file, dir.appendingPathComponent("nothing.jsonl").path])
        XCTAssertNotEqual(noSource.status, 0)
        XCTAssertTrue(noSource.stderr.contains("nothing.jsonl: no such file or directory"), noSource.stderr)
        let unwritable = try TestSupport.run(lectern, ["init", "/proc/lectern-test.lectern", "--domain", "law"])
        XCTAssertNotEqual(unwritable.status, 0)
        XCTAssertTrue(unwritable.stderr.contains("cannot write"), unwritable.stderr)
        let strictFile = dir.appendingPathComponent("bad.jsonl")
        try "{\"text\": \"ok\"}\n{oops\n".write(to: strictFile, atomically: true, encoding: .utf8)
        let strict = try TestSupport.run(lectern, ["ingest", file, strictFile.path, "--strict"])
        XCTAssertNotEqual(strict.status, 0)
        XCTAssertTrue(strict.stderr.contains("bad.jsonl:2: malformed JSON"), strict.stderr)
        let lenient = try TestSupport.run(lectern, ["ingest", file, strictFile.path])
        XCTAssertEqual(lenient.status, 0)
        XCTAssertTrue(lenient.stderr.contains("bad.jsonl:2: malformed JSON"), lenient.stderr)
        XCTAssertTrue(lenient.stdout.contains("1 added, 0 duplicates, 1 skipped"), lenient.stdout)
    }
}
