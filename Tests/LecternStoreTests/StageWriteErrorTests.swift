import Foundation
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternStore

/// Issue 13, item 15: a full disk names the stage and the file, and keeps what was committed.
final class StageWriteErrorTests: XCTestCase {
    func testDiskFullNamesStageAndFileAndKeepsEarlierBatches() throws {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent("full.lectern").path
        let store = try Store.create(path: path, domain: "law")
        struct Config: Encodable { let n = 1 }
        let run = try StageRun.begin(store, stage: "ingest", config: Config())
        try run.commit(processed: 1) { db in
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('kept', 'yes')")
        }
        // SQLite's page limit on the writer connection stands in for a full disk: SQLITE_FULL.
        XCTAssertThrowsError(try run.commit(processed: 1) { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            try db.execute(sql: "PRAGMA max_page_count = \(pages + 1)")
            try db.execute(sql: "INSERT INTO lectern_meta(key, value) VALUES ('big', ?)", arguments: [String(repeating: "x", count: 1 << 20)])
        }) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("ingest: cannot write \(path): the disk is full"), message)
            XCTAssertTrue(message.contains("re-run"), message)
        }
        try store.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA max_page_count = 1073741823") }
        XCTAssertEqual(try store.meta("kept"), "yes")
        XCTAssertNil(try store.meta("big"))
    }
}
