import Foundation
import GRDB

/// Renders rows as an aligned text table, CSV, or JSON (the output modes of `status` and `sql`).
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

        var plain: String {
            switch self {
            case .null: return "NULL"
            case .int(let v): return String(v)
            case .double(let v): return String(v)
            case .text(let s): return s
            case .blob(let d): return "<blob \(d.count) bytes>"
            }
        }

        var json: Any {
            switch self {
            case .null: return NSNull()
            case .int(let v): return v
            case .double(let v): return v.isFinite ? v : NSNull()
            case .text(let s): return s
            case .blob(let d): return ["blob_base64": d.base64EncodedString()]
            }
        }
    }

    static func text(columns: [String], rows: [[Cell]], maxWidth: Int = 60) -> String {
        func clip(_ s: String) -> String {
            let flat = s.replacingOccurrences(of: "\n", with: "\\n")
            return flat.count > maxWidth ? String(flat.prefix(maxWidth - 1)) + "…" : flat
        }
        let cells = rows.map { $0.map { clip($0.plain) } }
        var widths = columns.map(\.count)
        for row in cells { for (i, c) in row.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ values: [String]) -> String {
            values.enumerated().map { i, v in v + String(repeating: " ", count: widths[i] - v.count) }
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = [line(columns), line(widths.map { String(repeating: "-", count: $0) })]
        out += cells.map(line)
        return out.joined(separator: "\n")
    }

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

    static func json(columns: [String], rows: [[Cell]]) throws -> String {
        let objects: [[String: Any]] = rows.map { row in
            Dictionary(uniqueKeysWithValues: zip(columns, row.map(\.json)))
        }
        let data = try JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
