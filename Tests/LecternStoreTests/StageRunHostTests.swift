import Foundation
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternStore

/// Issue 14, item 6: `stage_runs` records the host beside the pid, so a run started on another
/// machine is never marked interrupted from here (its pid means nothing here), and a file
/// written before migration 0002 opens, upgrades and keeps its runs.
final class StageRunHostTests: XCTestCase {
    /// The pid of a process that has exited (spawned and reaped here), so it is dead on this host.
    func deadPid() throws -> Int64 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return Int64(p.processIdentifier)
    }

    func testRunsOfAnotherHostAreNeverMarkedInterruptedFromHere() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("h.lectern").path
        let store = try Store.create(path: path, domain: "x")
        let dead = try deadPid()
        let me = Int64(getpid())
        try store.pool.write { db in
            for (stage, pid, host) in [("elsewhere-dead", dead, "node-17.cluster.example"), ("elsewhere-mypid", me, "node-17.cluster.example"),
                                       ("here-dead", dead, StageRun.host)] {
                try db.execute(sql: """
                    INSERT INTO stage_runs(stage, fingerprint, config, status, pid, host, lectern_version, started_at)
                    VALUES (?, 'f', '{}', 'running', ?, ?, 'old', 'then')
                    """, arguments: [stage, pid, host])
            }
            // Recorded before migration 0002: no host; judged as a run of this machine.
            try db.execute(sql: """
                INSERT INTO stage_runs(stage, fingerprint, config, status, pid, lectern_version, started_at)
                VALUES ('legacy-dead', 'f', '{}', 'running', ?, 'old', 'then')
                """, arguments: [dead])
        }
        struct Config: Codable { var a = 1 }
        let run = try StageRun.begin(store, stage: "t", config: Config())
        try run.finish()
        let status = try store.pool.read { db in
            try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT stage, status FROM stage_runs").map {
                ($0["stage"] as String, $0["status"] as String)
            })
        }
        XCTAssertEqual(status["elsewhere-dead"], "running", "a run of another host is not judged from here")
        XCTAssertEqual(status["elsewhere-mypid"], "running", "our pid on another host is another process")
        XCTAssertEqual(status["here-dead"], "interrupted")
        XCTAssertEqual(status["legacy-dead"], "interrupted")
        XCTAssertEqual(try store.pool.read { db in try String.fetchOne(db, sql: "SELECT host FROM stage_runs WHERE id = ?", arguments: [run.id]) },
                       StageRun.host)
        XCTAssertFalse(StageRun.host.isEmpty)
        XCTAssertTrue(StageRun.mayBeAlive(pid: dead, host: "node-17.cluster.example"))
        XCTAssertFalse(StageRun.mayBeAlive(pid: dead, host: StageRun.host))
        XCTAssertFalse(StageRun.mayBeAlive(pid: dead, host: nil))
        XCTAssertTrue(StageRun.mayBeAlive(pid: me, host: nil))
        XCTAssertFalse(StageRun.mayBeAlive(pid: -5, host: nil), "a pid read from the file is validated, never trapped on")
        XCTAssertFalse(StageRun.mayBeAlive(pid: Int64.max, host: nil))
    }

    /// A file made by the previous version (migration 0001 only, a run recorded) opens, is
    /// upgraded to the latest version, and keeps its rows (host NULL).
    func testAVersion1FileUpgradesAndKeepsItsRuns() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("v1.lectern").path
        let queue = try DatabaseQueue(path: path)
        let first = try XCTUnwrap(Migrations.identifiers.first)
        XCTAssertEqual(first, "0001_initial")
        try Migrations.migrator().migrate(queue, upTo: first)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('domain', 'x'), ('schema_version', '1')")
            try db.execute(sql: "PRAGMA user_version = 1")
            try db.execute(sql: """
                INSERT INTO stage_runs(stage, fingerprint, config, status, pid, lectern_version, started_at, finished_at)
                VALUES ('ingest', 'f', '{}', 'complete', 1, 'v1', 'then', 'later')
                """)
        }
        try queue.close()

        let store = try Store.open(path: path)
        try store.pool.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA user_version"), Migrations.latestVersion)
            XCTAssertGreaterThanOrEqual(Migrations.latestVersion, 2)
            let row = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT stage, status, host FROM stage_runs"))
            XCTAssertEqual(row["stage"] as String, "ingest")
            XCTAssertEqual(row["status"] as String, "complete")
            XCTAssertNil(row["host"] as String?)
        }
    }
}
