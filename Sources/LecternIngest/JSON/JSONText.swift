/// Writes JSON text (for metadata objects built from decoded values).
enum JSONText {
    static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func encode(_ value: JSONScanner.Value) -> String {
        switch value {
        case .string(let s): return quote(s)
        case .number(let n): return n
        case .bool(let b): return b ? "true" : "false"
        case .null: return "null"
        case .array(let items): return "[" + items.map(encode).joined(separator: ",") + "]"
        case .object(let entries): return object(entries.map { ($0.key, encode($0.value)) })
        }
    }

    /// An object from already-encoded values, keys in the given order.
    static func object(_ entries: [(String, String)]) -> String {
        "{" + entries.map { quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
