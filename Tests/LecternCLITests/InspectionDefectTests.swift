import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// Looking inside a file (issue 13, items 1, 10, 11, 12, 15, 17): `sql` output that never traps
/// and loses nothing, read-only files, stale export files, messages and help. Real binary, real file.
final class InspectionDefectTests: XCTestCase {
    func lectern(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(try TestSupport.lecternExecutable(), args)
    }

    /// A small file: 3 documents from a JSONL source, one of them a bad record.
    func smallFile() throws -> (dir: URL, file: String) {
        let dir = try TestSupport.temporaryDirectory(self)
        let file = dir.appendingPathComponent("s.lectern").path
        XCTAssertEqual(try lectern(["init", file, "--domain", "law"]).status, 0)
        let src = dir.appendingPathComponent("docs.jsonl")
        try "{\"text\": \"First\\tdocument.\"}\n{\"text\": \"Second one.\"}\n{broken\n{\"text\": \"Third.\"}\n"
            .write(to: src, atomically: true, encoding: .utf8)
        let r = try lectern(["ingest", file, src.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (dir, file)
    }

    /// Item 1: two columns of one name, keys in SELECT order, no trap.
    func testSQLJSONKeepsDuplicateColumnsInSelectOrder() throws {
        let (_, file) = try smallFile()
        let r = try lectern(["sql", file, "SELECT d.id, s.id, d.n_chars AS z, s.path AS a FROM documents d JOIN sources s ON s.id = d.source_id ORDER BY d.id LIMIT 2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let firstLine = r.stdout.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        XCTAssertTrue(firstLine.hasPrefix("  {\"id\": 1, \"id_2\": 1, \"z\": "), firstLine)
        let zIndex = firstLine.range(of: "\"z\"")!.lowerBound, aIndex = firstLine.range(of: "\"a\"")!.lowerBound
        XCTAssertLessThan(zIndex, aIndex, "keys in SELECT order, not sorted")
        let rows = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(rows[1]["id"] as? Int, 2)
        // `SELECT *` over a join, and a suffix that would collide with a real column name.
        let star = try lectern(["sql", file, "SELECT 1 AS id, 2 AS id_2, 3 AS id", "--json"])
        XCTAssertEqual(star.status, 0, star.stderr)
        XCTAssertTrue(star.stdout.contains("{\"id\": 1, \"id_2\": 2, \"id_3\": 3}"), star.stdout)
    }

    /// Item 12: BLOBs survive CSV as hex; a tab does not break table alignment.
    func testSQLCSVWritesBlobsAsHexAndTablesEscapeTabs() throws {
        let (_, file) = try smallFile()
        let csv = try lectern(["sql", file, "SELECT X'00ff10' AS b, 'x' AS t", "--csv"])
        XCTAssertEqual(csv.status, 0, csv.stderr)
        XCTAssertEqual(csv.stdout, "b,t\n\\x00ff10,x\n")
        let table = try lectern(["sql", file, "SELECT text, id FROM documents WHERE id = 1"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertFalse(table.stdout.contains("\t"), table.stdout)
        XCTAssertTrue(table.stdout.contains("First\\tdocument."), table.stdout)
        let help = try lectern(["help", "sql"])
        XCTAssertTrue(help.stdout.contains("hexadecimal"), help.stdout)
    }

    /// Item 10: a file this user cannot write is still inspected (status, sql, export); a write
    /// through `sql` says the file is read-only. Run as an unprivileged user (root ignores modes).
    func testReadOnlyFilesCanBeInspected() throws {
        let (dir, file) = try smallFile()
        let setpriv = URL(fileURLWithPath: "/usr/bin/setpriv")
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: setpriv.path), "setpriv (util-linux)")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: file)
        let lectern = try TestSupport.lecternExecutable()
        // The binary must be reachable by `nobody`: copy it out of the build folder.
        let bin = dir.appendingPathComponent("lectern")
        try FileManager.default.copyItem(at: lectern, to: bin)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin.path)
        func asNobody(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try TestSupport.run(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", bin.path] + args,
                                environment: ["HOME": dir.path])
        }
        let status = try asNobody(["status", file])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertTrue(status.stdout.contains("documents"), status.stdout)
        let select = try asNobody(["sql", file, "SELECT count(*) FROM documents", "--csv"])
        XCTAssertEqual(select.status, 0, select.stderr)
        XCTAssertEqual(select.stdout, "count(*)\n3\n")
        let write = try asNobody(["sql", file, "DELETE FROM documents"])
        XCTAssertNotEqual(write.status, 0)
        XCTAssertTrue(write.stderr.contains("readonly"), write.stderr)

        // A read-only folder: SQLite cannot make the -shm file; the file is still readable.
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: dir.path)
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path) }
        let inFolder = try asNobody(["status", file, "--json"])
        XCTAssertEqual(inFolder.status, 0, inFolder.stderr)
        XCTAssertFalse(inFolder.stderr.contains("not a Lectern file"), inFolder.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(inFolder.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((object["file"] as? [String: Any])?["documents"] as? Int, 3)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int, 0o444)
    }

    /// Item 15: `status` shows the bad records it promises, and the messages are what was kept.
    func testStatusShowsBadRecords() throws {
        let (_, file) = try smallFile()
        let text = try lectern(["status", file])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("Bad input and errors"), text.stdout)
        XCTAssertTrue(text.stdout.contains("docs.jsonl:3: malformed JSON"), text.stdout)
        let json = try lectern(["status", file, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let problems = object["problems"] as! [[String: Any]]
        XCTAssertEqual(problems.count, 1)
        XCTAssertEqual(problems[0]["stage"] as? String, "ingest")
    }

    /// Item 17: help lists stages in pipeline order, marks required options, prints escaped
    /// defaults; `cluster --report` with no clustering says so instead of printing usage.
    func testHelpAndReportMessages() throws {
        let top = try lectern(["--help"])
        let order = ["init", "ingest", "import-instructions", "tokens", "mine", "generate", "embed", "cluster", "build", "export"]
        var last = top.stdout.startIndex
        for name in order {
            guard let r = top.stdout.range(of: "\n  \(name) ", range: last..<top.stdout.endIndex) else {
                XCTFail("`\(name)` missing or out of pipeline order in:\n\(top.stdout)"); return
            }
            last = r.upperBound
        }
        let cluster = try lectern(["cluster", "--help"])
        XCTAssertTrue(cluster.stdout.contains("USAGE: lectern cluster <file> --embedder <embedder>"), cluster.stdout)
        let generate = try lectern(["generate", "--help"])
        XCTAssertTrue(generate.stdout.contains(" --endpoint <endpoint> "), generate.stdout)
        XCTAssertFalse(generate.stdout.contains("[--endpoint <endpoint>"), generate.stdout)
        let build = try lectern(["build", "--help"])
        let flat = build.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        XCTAssertTrue(flat.contains("(default: \"\\n\\n\")"), build.stdout)

        let (_, file) = try smallFile()
        let report = try lectern(["cluster", file, "--report"])
        XCTAssertEqual(report.status, 1)
        XCTAssertTrue(report.stderr.contains("no complete clustering yet"), report.stderr)
        XCTAssertFalse(report.stderr.contains("Usage:"), report.stderr)
    }

    /// Item 11: an export removes the `.NAME.PID.partial` files that killed exports left, and
    /// leaves those of a live process alone.
    func testExportRemovesStalePartialFiles() throws {
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"] ?? ""),
                                         "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let (dir, file) = try smallFile()
        let gguf = ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"]!
        let build = try lectern(["build", file, "--recipe", "dapt", "--name", "s", "--tokenizer", gguf, "--ratio", "1:0"])
        XCTAssertEqual(build.status, 0, build.stderr)
        let out = dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        // pid_max is at most 4194304: these pids cannot be running.
        let stale = [".s.text.jsonl.4194301.partial", ".dataset_info.json.4194302.partial"]
        let live = ".s.text.jsonl.\(getpid()).partial"
        for name in stale + [live] { try "half".write(to: out.appendingPathComponent(name), atomically: false, encoding: .utf8) }
        let r = try lectern(["export", "set", file, out.path, "--set", "s", "--format", "text"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let left = try FileManager.default.contentsOfDirectory(atPath: out.path).filter { $0.hasSuffix(".partial") }
        XCTAssertEqual(left, [live])
    }
}
