import ArgumentParser
import Foundation
import GRDB
import LecternStore

/// `lectern sql FILE "SELECT ..."`
struct SQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run SQL on the file with all of Lectern's SQL functions loaded (the vector functions among them).",
        discussion: "Several statements may be given, separated by semicolons; each one that returns rows is printed.")

    @Argument(help: "The Lectern file.")
    var file: String

    @Argument(help: "SQL to run.")
    var sql: String

    @Flag(help: "Print CSV (RFC 4180) instead of a table; NULL is an empty field, BLOBs are hexadecimal with a \\x prefix.")
    var csv = false

    @Flag(help: "Print a JSON array of objects instead of a table: keys in SELECT order, a repeated column name suffixed (id, id_2), BLOBs as {\"blob_base64\": ...}.")
    var json = false

    @Option(help: "Widest column in table output (longer values are cut with …).")
    var maxWidth = 60

    func validate() throws {
        if csv && json { throw ValidationError("choose one of --csv and --json") }
    }

    func run() throws {
        // A file this process cannot write is opened read-only: SELECTs work, writes say why not.
        let writable = Store.isWritable(path: file)
        let store = try Store.open(path: file, access: writable ? .write : .read)
        let body: (Database) throws -> Void = { db in
            let statements = try db.allStatements(sql: sql)
            while let statement = try statements.next() {
                let columns = statement.columnNames
                if columns.isEmpty {
                    try statement.execute()
                    continue
                }
                var rows: [[TableOutput.Cell]] = []
                let cursor = try Row.fetchCursor(statement)
                while let row = try cursor.next() {
                    rows.append(Array(row.databaseValues.map(TableOutput.Cell.init)))
                }
                if json {
                    print(TableOutput.json(columns: columns, rows: rows))
                } else if csv {
                    print(TableOutput.csv(columns: columns, rows: rows))
                } else {
                    print(TableOutput.text(columns: columns, rows: rows, maxWidth: maxWidth))
                    print("(\(rows.count) row\(rows.count == 1 ? "" : "s"))")
                }
            }
        }
        if writable {
            try store.pool.writeWithoutTransaction(body)
        } else {
            try store.pool.read(body)
        }
    }
}
