import Foundation
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternStore

final class StoreTests: XCTestCase {
    func testInitIsIdempotentAndRecordsVersions() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("a.lectern").path
        let s1 = try Store.create(path: path, domain: "biomedicine")
        let created = try s1.meta("created_at")
        let s2 = try Store.create(path: path, domain: "biomedicine")
        XCTAssertEqual(try s2.meta("created_at"), created)
        XCTAssertEqual(s2.domain, "biomedicine")
        XCTAssertEqual(try s2.meta("schema_version"), String(Migrations.latestVersion))
        XCTAssertEqual(try s2.meta("last_written_by"), "lectern \(lecternVersion)")
        try s2.pool.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal")
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA foreign_keys"), 1)
            XCTAssertEqual(try Int.fetchOne(db, sql: "PRAGMA user_version"), Migrations.latestVersion)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"), Migrations.identifiers)
        }
        XCTAssertThrowsError(try Store.create(path: path, domain: "finance")) { error in
            XCTAssertTrue("\(error)".contains("already initialised for domain 'biomedicine'"), "\(error)")
        }
    }

    func testForeignKeysAndStrictTypesAreEnforced() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("fk.lectern").path
        let store = try Store.create(path: path, domain: "x")
        XCTAssertThrowsError(try store.pool.write { db in
            try db.execute(sql: "INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (999, 999, 0, 'q', 'a')")
        })
        XCTAssertThrowsError(try store.pool.write { db in
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('k', x'00')")
        }, "STRICT tables reject a BLOB in a TEXT column")
    }

    func testNewerSchemaIsRefusedAndFileUnchanged() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("new.lectern").path
        do {
            let store = try Store.create(path: path, domain: "x")
            try store.pool.write { db in
                try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('9999_from_the_future')")
                try db.execute(sql: "PRAGMA user_version = 9999")
            }
            try store.pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            try store.pool.close()
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Store.open(path: path)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("newer Lectern"), message)
            XCTAssertTrue(message.contains("9999_from_the_future"), message)
            XCTAssertTrue(message.contains("Upgrade lectern"), message)
        }
        XCTAssertThrowsError(try Store.create(path: path, domain: "x"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "a refused file must not change")
    }

    func testMissingNotLecternAndUnwritable() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        XCTAssertThrowsError(try Store.open(path: dir.appendingPathComponent("nope.lectern").path)) { error in
            XCTAssertTrue("\(error)".contains("no such file"), "\(error)")
            XCTAssertTrue("\(error)".contains("lectern init"), "\(error)")
        }
        let garbage = dir.appendingPathComponent("garbage.lectern")
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(to: garbage)
        XCTAssertThrowsError(try Store.open(path: garbage.path)) { error in
            XCTAssertTrue("\(error)".contains("not a Lectern file"), "\(error)")
        }
        let other = dir.appendingPathComponent("other.sqlite")
        try DatabaseQueue(path: other.path).write { db in try db.execute(sql: "CREATE TABLE t(x)") }
        XCTAssertThrowsError(try Store.open(path: other.path)) { error in
            XCTAssertTrue("\(error)".contains("not a Lectern file"), "\(error)")
        }
        XCTAssertThrowsError(try Store.create(path: other.path, domain: "x"))
        XCTAssertThrowsError(try Store.create(path: dir.appendingPathComponent("no/such/dir/x.lectern").path, domain: "x")) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        if getuid() != 0 {
            let ro = dir.appendingPathComponent("ro")
            try FileManager.default.createDirectory(at: ro, withIntermediateDirectories: true)
            chmod(ro.path, 0o555)
            XCTAssertThrowsError(try Store.create(path: ro.appendingPathComponent("x.lectern").path, domain: "x"))
        }
    }

    func testStageRunCountsCommitsAndMarksInterruptedRuns() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("s.lectern").path
        let store = try Store.create(path: path, domain: "x")
        struct Config: Codable { var a = 1; var b = "x" }
        // A run left 'running' by a process that no longer exists is marked interrupted by the next.
        try store.pool.write { db in
            try db.execute(sql: """
                INSERT INTO stage_runs(stage, fingerprint, config, status, pid, lectern_version, started_at)
                VALUES ('t', 'f', '{}', 'running', 2147483646, 'old', 'then')
                """)
        }
        let run = try StageRun.begin(store, stage: "t", config: Config(), inputs: 3)
        XCTAssertEqual(run.fingerprint, try StageRun.begin(store, stage: "t", config: Config()).fingerprint)
        XCTAssertNotEqual(run.fingerprint, try StageRun.begin(store, stage: "t", config: Config(a: 2)).fingerprint)
        try run.commit(processed: 2, skipped: 1) { db in
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('probe', '1')")
        }
        // A failing batch writes nothing: neither its outputs nor its counters.
        XCTAssertThrowsError(try run.commit(processed: 5) { db in
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('probe2', '1')")
            throw StoreError.missing(path: "boom")
        })
        run.note("bad line 1")
        try run.finish(counts: ["things": 2])
        try store.pool.read { db in
            let row = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM stage_runs WHERE id = ?", arguments: [run.id]))
            XCTAssertEqual(row["status"] as String, "complete")
            XCTAssertEqual(row["n_processed"] as Int, 2)
            XCTAssertEqual(row["n_skipped"] as Int, 1)
            XCTAssertEqual(row["n_inputs"] as Int, 3)
            XCTAssertEqual(row["counts"] as String, #"{"things":2}"#)
            XCTAssertEqual(row["error"] as String, "bad line 1")
            XCTAssertEqual(row["config"] as String, #"{"a":1,"b":"x"}"#)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT status FROM stage_runs WHERE pid = 2147483646"), "interrupted")
            XCTAssertNil(try String.fetchOne(db, sql: "SELECT value FROM lectern_meta WHERE key = 'probe2'"))
        }
    }
}

final class StoreExtensionTests: XCTestCase {
    /// Every connection the store opens has the vector extension: functions and the KNN table.
    func testVectorExtensionIsRegisteredOnEveryConnection() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("v.lectern").path
        let store = try Store.create(path: path, domain: "x")
        try store.pool.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE v USING lectern_vec(embedding float[3] distance_metric=cosine)")
            try db.execute(sql: "INSERT INTO v(rowid, embedding) VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')")
        }
        let ids = try store.pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT rowid FROM v WHERE embedding MATCH '[1,0,0]' AND k = 2 ORDER BY distance")
        }
        XCTAssertEqual(ids, [1, 3])
        let d = try store.pool.read { try Double.fetchOne($0, sql: "SELECT vec_distance_cosine('[1,0]', '[0,1]')") }
        XCTAssertEqual(d ?? -1, 1, accuracy: 1e-6)
    }
}
