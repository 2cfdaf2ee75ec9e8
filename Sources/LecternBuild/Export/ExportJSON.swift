import LecternCore
import LecternIngest

/// A parsed JSON value that keeps what a round trip through Foundation would lose: the order of
/// an object's keys and the exact spelling of numbers. It is ingest's `JSONScanner.Value`
/// (strict RFC 8259, valid UTF-8 only, bounded nesting), so a file it accepts is one every
/// engine's JSON reader accepts too.
///
/// Why not `JSONSerialization`: `dataset_info.json` is a file people edit by hand (LLaMA-Factory
/// ships one with hundreds of entries); merging our two entries into it must leave every other
/// entry as it was, in its place, `true` still `true` and `1e-5` still `1e-5`. Also used to read
/// the `messages` column, which is small per row.
typealias ExportJSON = JSONScanner.Value

extension JSONScanner.Value {
    /// Parses a whole UTF-8 JSON text; throws `JSONScanner.Failure` with the byte offset of the problem.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> ExportJSON {
        try JSONScanner.document(bytes.bindMemory(to: UInt8.self))
    }

    static func parse(_ bytes: [UInt8]) throws -> ExportJSON {
        try bytes.withUnsafeBytes { try parse($0) }
    }

    /// Pretty text in the layout of Python's `json.dump(indent=2, ensure_ascii=False)` (that of
    /// LLaMA-Factory's own dataset_info.json), non-ASCII kept as UTF-8, with a final newline.
    func prettyText() -> [UInt8] {
        var out: [UInt8] = []
        write(to: &out, indent: 0)
        out.append(0x0A)
        return out
    }

    private func write(to out: inout [UInt8], indent: Int) {
        func newline(_ level: Int) {
            out.append(0x0A)
            out.append(contentsOf: repeatElement(0x20, count: 2 * level))
        }
        switch self {
        case .object(let members):
            guard !members.isEmpty else { out.append(contentsOf: Array("{}".utf8)); return }
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                JSONText.appendString(m.key, to: &out)
                out.append(contentsOf: Array(": ".utf8))
                m.value.write(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        case .array(let items):
            guard !items.isEmpty else { out.append(contentsOf: Array("[]".utf8)); return }
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                item.write(to: &out, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .string(let s): JSONText.appendString(s, to: &out)
        case .number(let n): out.append(contentsOf: Array(n.utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .null: out.append(contentsOf: Array("null".utf8))
        }
    }
}
