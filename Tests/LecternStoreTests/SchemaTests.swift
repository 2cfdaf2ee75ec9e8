import Foundation
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternStore

/// `schema/schema.sql` documents exactly what the migrations produce.
final class SchemaTests: XCTestCase {
    /// Structure of every table as SQLite reports it: columns, strictness, indexes, foreign keys.
    func structure(_ db: Database) throws -> [String: String] {
        var out: [String: String] = [:]
        let tables = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations' ORDER BY name
            """)
        for table in tables {
            var lines: [String] = []
            for row in try Row.fetchAll(db, sql: "SELECT * FROM pragma_table_xinfo(?)", arguments: [table]) {
                lines.append("col \(row["name"] as String) \(row["type"] as String) notnull=\(row["notnull"] as Int) default=\(row["dflt_value"] as String? ?? "-") pk=\(row["pk"] as Int)")
            }
            if let list = try Row.fetchOne(db, sql: "SELECT strict, wr FROM pragma_table_list WHERE name = ?", arguments: [table]) {
                lines.append("strict=\(list["strict"] as Int) without_rowid=\(list["wr"] as Int)")
            }
            for index in try Row.fetchAll(db, sql: "SELECT name, \"unique\", origin, partial FROM pragma_index_list(?) ORDER BY name", arguments: [table]) {
                let name: String = index["name"]
                let cols = try String.fetchAll(db, sql: "SELECT coalesce(name, '<expr>') FROM pragma_index_info(?) ORDER BY seqno", arguments: [name])
                lines.append("index \(name) unique=\(index["unique"] as Int) origin=\(index["origin"] as String) partial=\(index["partial"] as Int) (\(cols.joined(separator: ",")))")
            }
            for fk in try Row.fetchAll(db, sql: "SELECT * FROM pragma_foreign_key_list(?) ORDER BY id, seq", arguments: [table]) {
                lines.append("fk \(fk["from"] as String) -> \(fk["table"] as String)(\(fk["to"] as String? ?? "pk")) on_delete=\(fk["on_delete"] as String)")
            }
            // CHECK constraints are only visible in the SQL text: compare it without comments and spacing.
            let sql = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [table]) ?? ""
            let checks = Self.normalise(sql).components(separatedBy: "CHECK").dropFirst().map { "CHECK" + $0.prefix(120) }
            lines.append(contentsOf: checks.map { "check \($0)" })
            out[table] = lines.joined(separator: "\n")
        }
        return out
    }

    static func normalise(_ sql: String) -> String {
        sql.split(separator: "\n").map { line -> Substring in
            if let r = line.range(of: "--") { return line[..<r.lowerBound] }
            return line
        }.joined(separator: " ").split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            .replacingOccurrences(of: "( ", with: "(").replacingOccurrences(of: " )", with: ")").replacingOccurrences(of: " ,", with: ",")
    }

    func testSchemaFileEqualsMigrations() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let migrated = try Store.create(path: dir.appendingPathComponent("m.lectern").path, domain: "test")
        let documented = try DatabaseQueue(path: dir.appendingPathComponent("s.sqlite").path)
        let schemaSQL = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("schema/schema.sql"), encoding: .utf8)
        try documented.write { db in try db.execute(sql: schemaSQL) }

        let a = try migrated.pool.read { try structure($0) }
        let b = try documented.read { try structure($0) }
        XCTAssertEqual(Set(a.keys), Set(b.keys), "tables differ between migrations/ and schema/schema.sql")
        XCTAssertGreaterThan(a.count, 20)
        for table in a.keys.sorted() where b[table] != nil {
            XCTAssertEqual(a[table], b[table], "table \(table) differs between migrations/ and schema/schema.sql")
        }
    }

    func testEveryTableAndColumnIsCommented() throws {
        let text = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("schema/schema.sql"), encoding: .utf8)
        let lines = text.components(separatedBy: "\n")
        var inTable: String?
        var uncommented: [String] = []
        for (n, line) in lines.enumerated() {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("CREATE TABLE") {
                let name = t.split(separator: " ")[2]
                inTable = String(name)
                let previous = n > 0 ? lines[n - 1].trimmingCharacters(in: .whitespaces) : ""
                if !previous.hasPrefix("--") { uncommented.append("table \(name) (no comment line above it)") }
                continue
            }
            guard let table = inTable else { continue }
            if t.hasPrefix(")") { inTable = nil; continue }
            let isConstraint = ["PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK"].contains { t.hasPrefix($0) }
            if !isConstraint, !t.isEmpty, !t.contains("--") {
                uncommented.append("\(table).\(t.split(separator: " ").first ?? "")")
            }
        }
        XCTAssertEqual(uncommented, [], "schema/schema.sql must comment every table and column")
    }

    func testMigrationsAreNumberedInOrder() {
        let ids = Migrations.identifiers
        XCTAssertFalse(ids.isEmpty)
        XCTAssertEqual(ids, ids.sorted())
        for (i, id) in ids.enumerated() {
            XCTAssertEqual(Migrations.version(of: id), i + 1, "migration \(id) should be number \(i + 1)")
        }
    }
}
