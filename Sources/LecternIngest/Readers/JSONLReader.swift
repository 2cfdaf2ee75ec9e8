import LecternCore
/// JSON Lines: one object per line. The text, title and id fields are configurable; every other
/// field is kept, byte for byte, in the document's metadata object.
final class JSONLReader: RecordReader {
    let path: String
    let fields: FieldNames
    let maxBytes: Int
    private let lines: LineReader

    init(path: String, fields: FieldNames, maxBytes: Int) throws {
        self.path = path
        self.fields = fields
        self.maxBytes = maxBytes
        lines = LineReader(stream: try ByteStream(path: path))
    }

    func skip(_ n: Int) throws { try lines.skip(n) }

    func next() throws -> (location: String, outcome: ReadOutcome)? {
        guard let outcome = try lines.next({ parse($0) }) else { return nil }
        return ("\(path):\(lines.lineNumber)", outcome)
    }

    private func parse(_ line: UnsafeBufferPointer<UInt8>) -> ReadOutcome {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return .blank }
        if line.count > maxBytes + (maxBytes >> 2) + 4096 {
            return .bad("line is \(line.count) bytes, over the document limit of \(maxBytes) bytes (raise --max-document-bytes)")
        }
        var scanner = JSONScanner(line)
        let found: [JSONScanner.Field]
        do {
            found = try scanner.topLevelFields()
        } catch let failure as JSONScanner.Failure {
            return .bad("malformed JSON: \(failure)")
        } catch {
            return .bad("malformed JSON: \(error)")
        }
        var text: String?
        var title: String?
        var id: String?
        var meta: [(Range<Int>, Range<Int>)] = []
        for field in found {
            func decoded() -> JSONScanner.Value? {
                var s = JSONScanner(UnsafeBufferPointer(rebasing: line[field.valueRange]))
                return try? s.value()
            }
            switch field.key {
            case fields.text:
                guard field.firstByte == UInt8(ascii: "\"") else {
                    return .bad("field \"\(fields.text)\" is \(decoded()?.typeName ?? "not a string"), not a string")
                }
                text = field.string
            case fields.title:
                if let s = field.string { title = s; continue }
                switch decoded() {
                case .string(let s)?: title = s
                case .null?: title = nil
                case let other?: return .bad("field \"\(fields.title)\" is \(other.typeName), not a string")
                case nil: return .bad("field \"\(fields.title)\" cannot be decoded")
                }
            case fields.id:
                if let s = field.string { id = s; continue }
                switch decoded() {
                case .string(let s)?: id = s
                case .number(let n)?: id = n
                case .null?: id = nil
                case let other?: return .bad("field \"\(fields.id)\" is \(other.typeName), not a string or number")
                case nil: return .bad("field \"\(fields.id)\" cannot be decoded")
                }
            default:
                meta.append((field.keyRange, field.valueRange))
            }
        }
        guard let text else {
            let names = found.map { "\"\($0.key)\"" }.joined(separator: ", ")
            return .bad("no \"\(fields.text)\" field (the object has \(names.isEmpty ? "no fields" : names); set --text-field)")
        }
        if let problem = validateDocumentText(text, maxBytes: maxBytes) { return .bad(problem) }
        var metadata: String?
        if !meta.isEmpty {
            var bytes: [UInt8] = [UInt8(ascii: "{")]
            for (n, (k, v)) in meta.enumerated() {
                if n > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: line[k])
                bytes.append(UInt8(ascii: ":"))
                bytes.append(contentsOf: line[v])
            }
            bytes.append(UInt8(ascii: "}"))
            metadata = String(decoding: bytes, as: UTF8.self)
        }
        return .document(DocumentRecord(text: text, title: title, externalId: id, metadata: metadata))
    }
}

/// Which fields hold the text, the title and the id (JSONL and CSV/TSV).
public struct FieldNames: Codable, Sendable, Equatable {
    public var text: String
    public var title: String
    public var id: String
    public init(text: String = "text", title: String = "title", id: String = "id") {
        self.text = text
        self.title = title
        self.id = id
    }
}
