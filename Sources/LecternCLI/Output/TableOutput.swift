import Foundation
import GRDB
import LecternCore
import LecternIngest

/// Renders rows as an aligned text table, CSV, or JSON (the output modes of `status` and `sql`).
///
/// Rows come from arbitrary SQL, so nothing here may assume unique column names (`SELECT *`
/// over a join has two `id`s) or printable text (a tab in a value must not break the table).
enum TableOutput {
    /// A cell: text, a number, a blob or SQL NULL.
    enum Cell {
        case null
        case int(Int64)
        case double(Double)
        case text(String)
        case blob(Data)

        init(_ value: DatabaseValue) {
            switch value.storage {
            case .null: self = .null
            case .int64(let v): self = .int(v)
            case .double(let v): self = .double(v)
            case .string(let s): self = .text(s)
            case .blob(let d): self = .blob(d)
            }
        }

        /// The value as plain text: CSV fields and the `status` key column. BLOBs are hexadecimal
        /// with PostgreSQL's `\x` prefix (what `COPY ... CSV` writes for `bytea`), so no byte is lost.
        var plain: String {
            switch self {
            case .null: return "NULL"
            case .int(let v): return String(v)
            case .double(let v): return String(v)
            case .text(let s): return s
            case .blob(let d): return "\\x" + TableOutput.hex(d)
            }
        }

        /// Appends the value as a JSON value: BLOBs as `{"blob_base64": "..."}`, non-finite
        /// doubles as `null` (JSON has no NaN or infinity).
        func appendJSON(to out: inout String) {
            switch self {
            case .null: out += "null"
            case .int(let v): out += String(v)
            case .double(let v): out += v.isFinite ? String(v) : "null"
            case .text(let s): TableOutput.appendJSONString(s, to: &out)
            case .blob(let d):
                out += "{\"blob_base64\": "
                TableOutput.appendJSONString(d.base64EncodedString(), to: &out)
                out += "}"
            }
        }
    }

    /// An aligned table; values are cut to `maxWidth` characters, and control characters
    /// (tab, newline, carriage return, ...) are shown as escapes so every row stays one line.
    static func text(columns: [String], rows: [[Cell]], maxWidth: Int = 60) -> String {
        let maxWidth = max(maxWidth, 2)
        func clip(_ s: String) -> String {
            let flat = visible(s)
            return flat.count > maxWidth ? String(flat.prefix(maxWidth - 1)) + "…" : flat
        }
        let header = columns.map(clip)
        let cells = rows.map { $0.map { cell -> String in
            if case .blob(let d) = cell { return clip("x'" + hex(d) + "'") }
            return clip(cell.plain)
        } }
        var widths = header.map(\.count)
        for row in cells { for (i, c) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ values: [String]) -> String {
            var out = ""
            for (i, v) in values.enumerated() {
                if i > 0 { out += "  " }
                out += v
                if i < values.count - 1 { out += String(repeating: " ", count: max(0, widths[i] - v.count)) }
            }
            while out.last == " " { out.removeLast() }
            return out
        }
        var out = [line(header), line(widths.map { String(repeating: "-", count: $0) })]
        out += cells.map(line)
        return out.joined(separator: "\n")
    }

    /// RFC 4180 CSV: a header row, then one row per result row; NULL is an empty field, BLOBs are
    /// hexadecimal (`\x0102ff`).
    static func csv(columns: [String], rows: [[Cell]]) -> String {
        func field(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
                ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        var lines = [columns.map(field).joined(separator: ",")]
        for row in rows {
            lines.append(row.map { cell -> String in
                if case .null = cell { return "" }
                return field(cell.plain)
            }.joined(separator: ","))
        }
        return lines.joined(separator: "\n")
    }

    /// A JSON array of objects, one per row, keys in SELECT order. A name that occurs again gets
    /// a suffix (`id`, `id_2`, `id_3`; a suffix never takes a name that another column has), so
    /// `SELECT *` over a join keeps every column.
    static func json(columns: [String], rows: [[Cell]]) -> String {
        let keys = uniqueKeys(columns)
        var out = "["
        for (r, row) in rows.enumerated() {
            out += r == 0 ? "\n  {" : ",\n  {"
            for (i, cell) in row.enumerated() where i < keys.count {
                if i > 0 { out += ", " }
                appendJSONString(keys[i], to: &out)
                out += ": "
                cell.appendJSON(to: &out)
            }
            out += "}"
        }
        out += rows.isEmpty ? "]" : "\n]"
        return out
    }

    /// Column names made unique in order: a repeated name gets `_2`, `_3`, ... (skipping any
    /// suffixed name that is itself a column).
    static func uniqueKeys(_ columns: [String]) -> [String] {
        var taken = Set(columns)
        var seen: Set<String> = []
        var keys: [String] = []
        keys.reserveCapacity(columns.count)
        for name in columns {
            if seen.insert(name).inserted {
                keys.append(name)
                continue
            }
            var n = 2
            while taken.contains("\(name)_\(n)") { n += 1 }
            let key = "\(name)_\(n)"
            taken.insert(key)
            seen.insert(key)
            keys.append(key)
        }
        return keys
    }

    static func hex(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(data.count * 2)
        for b in data {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Control characters as escapes (`\t`, `\n`, `\r`, `\u{1b}`), so a value is one table line.
    static func visible(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case _ where u.value < 0x20 || u.value == 0x7F: out += "\\u{\(String(u.value, radix: 16))}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// A JSON string literal, written by the one JSON writer the JSONL readers use too.
    static func appendJSONString(_ s: String, to out: inout String) {
        out += JSONText.quote(s)
    }
}
