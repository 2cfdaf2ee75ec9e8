import Foundation
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternStore

/// The checkpointer keeps a bulk write's WAL bounded, loses nothing, and hands the writer its
/// automatic checkpoints back.
final class BackgroundCheckpointerTests: XCTestCase {
    func testBulkWriteKeepsTheWALBoundedAndEveryRow() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("bulk.lectern").path
        let store = try Store.create(path: path, domain: "x")
        try store.pool.write { try $0.execute(sql: "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)") }
        let batchBytes = 1 << 20, restart = 4 << 20
        let checkpointer = try BackgroundCheckpointer(store: store, restartBytes: restart)
        XCTAssertEqual(try store.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") }, 0)
        var largestWAL = 0
        let body = Data((0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        for batch in 0..<48 {
            try store.pool.write { db in
                for i in 0..<(batchBytes / body.count) {
                    try db.execute(sql: "INSERT INTO blobs (id, body) VALUES (?, ?)", arguments: [batch * 1_000_000 + i, body])
                }
            }
            try checkpointer.committed(bytes: batchBytes)
            let size = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
            largestWAL = max(largestWAL, size)
        }
        try checkpointer.finish()
        // 48 MiB went through a WAL that restarts every 4 MiB: it must stay near restart + one batch
        // (pages carry overhead), far below what an unbounded WAL would reach.
        XCTAssertGreaterThan(largestWAL, 0)
        XCTAssertLessThan(largestWAL, 3 * (restart + batchBytes), "WAL grew to \(largestWAL) bytes")
        XCTAssertEqual(try store.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA wal_autocheckpoint") }, 1000)
        try store.pool.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM blobs"), 48 * (batchBytes / body.count))
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok")
        }
    }
}
