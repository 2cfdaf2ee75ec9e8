import Foundation
import GRDB
import XCTest

/// Opens the Lectern file at `path` on its own connection, asserts that SQLite finds it intact
/// (`integrity_check`, `foreign_key_check`), and reads it with `body`: the first step of every
/// kill-and-resume comparison, since a kill must never leave a damaged file.
func readVerified<T>(_ path: String, file: StaticString = #filePath, line: UInt = #line,
                     _ body: (Database) throws -> T) throws -> T {
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    return try queue.read { db in
        XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok", file: file, line: line)
        XCTAssertEqual(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count, 0, file: file, line: line)
        return try body(db)
    }
}
