import Foundation
import GRDB
import XCTest

/// A row's write (and an IVF rewrite) is many statements on the shadow tables, and SQLite keeps no
/// statement journal for a one-row write to a virtual table. A failure after the first of them
/// must not leave the table half-changed: the transaction is rolled back instead. The failures are
/// injected with a trigger on a shadow table (what a full disk would do at the same point).
final class WriteAtomicityTests: XCTestCase {
    func makeTable(_ db: Database, rows: Int) throws -> [Int64: [Float]] {
        var rng = TestRNG(12)
        var vectors: [Int64: [Float]] = [:]
        try db.execute(sql: "CREATE VIRTUAL TABLE t USING lectern_vec(v float[4] indexed by ivf(nlist=4, nprobe=1), g text, +note text, chunk_size=16)")
        for i in Int64(1)...Int64(rows) {
            let v = rng.vector(4)
            vectors[i] = v
            try db.execute(sql: "INSERT INTO t(rowid, v, g, note) VALUES (?, ?, ?, ?)", arguments: [i, blob(v), "g\(i % 3)", "n\(i)"])
        }
        return vectors
    }

    /// The table's rows and the exact KNN answer, to compare before and after a failed write.
    func snapshot(_ db: Database) throws -> [String] {
        let rows = try Row.fetchAll(db, sql: "SELECT rowid, v, g, note FROM t ORDER BY rowid").map { "\($0)" }
        let knn = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM t WHERE v MATCH ? AND k = 20 AND nprobe = 0", arguments: [blob([Float](repeating: 0.5, count: 4))]).map { "\($0)" }
        return rows + knn
    }

    func testAFailureHalfWayRollsTheTransactionBack() throws {
        let q = try openQueue(tempPath("atomic.sqlite"))
        let before = try q.inDatabase { db -> [String] in
            _ = try makeTable(db, rows: 100)
            return try snapshot(db)
        }
        // (statement, trigger that makes its second or later shadow-table write fail)
        let cases: [(String, String)] = [
            ("INSERT INTO t(t) VALUES ('compute-centroids')",
             "CREATE TRIGGER boom BEFORE UPDATE ON t_rowids WHEN old.rowid = 70 BEGIN SELECT RAISE(ABORT, 'injected'); END"),
            ("UPDATE t SET rowid = 777 WHERE rowid = 5",   // deletes row 5, then fails to insert 777
             "CREATE TRIGGER boom BEFORE INSERT ON t_rowids WHEN new.rowid = 777 BEGIN SELECT RAISE(ABORT, 'injected'); END"),
            ("DELETE FROM t WHERE rowid = 9",              // clears the slot, then fails to drop the map row
             "CREATE TRIGGER boom BEFORE DELETE ON t_rowids BEGIN SELECT RAISE(ABORT, 'injected'); END"),
            ("INSERT INTO t(rowid, v, g, note) VALUES (500, X'0000803f0000803f0000803f0000803f', 'x', 'y')",  // fills a slot, then the auxiliary row fails
             "CREATE TRIGGER boom BEFORE INSERT ON t_auxiliary WHEN new.rowid = 500 BEGIN SELECT RAISE(ABORT, 'injected'); END"),
        ]
        for (sql, trigger) in cases {
            try q.inDatabase { db in
                try db.execute(sql: trigger)
                // In a transaction that already changed the table: SQLite rolls all of it back.
                try db.execute(sql: "BEGIN")
                try db.execute(sql: "INSERT INTO t(rowid, v, g, note) VALUES (400, ?, 'z', 'w')", arguments: [blob([Float](repeating: 0, count: 4))])
                XCTAssertThrowsError(try db.execute(sql: sql), sql) { e in
                    let m = (e as? DatabaseError)?.message ?? ""
                    XCTAssertTrue(m.contains("injected") && m.contains("rolled back"), m)
                }
                XCTAssertFalse(db.isInsideTransaction, "\(sql): the transaction was rolled back")
                XCTAssertEqual(try snapshot(db), before, sql)
                // Outside a transaction: the statement's own implicit transaction is rolled back.
                XCTAssertThrowsError(try db.execute(sql: sql), sql)
                XCTAssertEqual(try snapshot(db), before, sql)
                try db.execute(sql: "DROP TRIGGER boom")
            }
        }
        // Without the trigger each statement works, and a refused write (checked before anything
        // changes) stays an ordinary error that leaves the transaction open.
        try q.inDatabase { db in
            try db.execute(sql: "BEGIN")
            XCTAssertThrowsError(try db.execute(sql: "INSERT INTO t(rowid, v) VALUES (1, X'00')"))
            XCTAssertTrue(db.isInsideTransaction)
            for (sql, _) in cases { try db.execute(sql: sql) }
            try db.execute(sql: "COMMIT")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM t"), 100)
            XCTAssertNotNil(try Row.fetchOne(db, sql: "SELECT * FROM t WHERE rowid = 777"))
        }
    }
}
