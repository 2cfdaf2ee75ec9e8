import LecternCore
/// PubMedQA's `ori_pqal.json` (an object of id -> instance). The document is the abstract: the
/// `CONTEXTS` sections joined by a single space. The question, long answer, decision and the other
/// fields are kept in the metadata so the evaluation stage can build the task from the same file.
final class PubMedQAReader: RecordReader {
    let path: String
    let maxBytes: Int
    private var entries: [(key: String, value: JSONScanner.Value)] = []
    private var index = 0

    init(path: String, maxBytes: Int) throws {
        self.path = path
        self.maxBytes = maxBytes
        let bytes = try ByteStream(path: path).readAll()
        let root: JSONScanner.Value
        do {
            root = try bytes.withUnsafeBufferPointer { buf in
                var scanner = JSONScanner(buf)
                let v = try scanner.value()
                scanner.skipSpace()
                if scanner.i != buf.count { throw scanner.fail("unexpected text after the JSON value") }
                return v
            }
        } catch {
            throw IngestError.unsupportedFormat(path: path, detail: "not valid JSON: \(error)")
        }
        guard case .object(let all) = root else {
            throw IngestError.unsupportedFormat(path: path, detail: "PubMedQA's ori_pqal.json is a JSON object of id -> instance; this is \(root.typeName)")
        }
        entries = all
    }

    /// Whether a parsed JSON document looks like PubMedQA (for format detection).
    static func looksLikePubMedQA(prefix: [UInt8]) -> Bool {
        let text = String(decoding: prefix, as: UTF8.self)
        return text.contains("\"CONTEXTS\"") && text.contains("\"QUESTION\"")
    }

    func skip(_ n: Int) throws { index = min(entries.count, index + n) }

    func next() throws -> (location: String, outcome: ReadOutcome)? {
        guard index < entries.count else { return nil }
        let (id, value) = entries[index]
        index += 1
        let location = "\(path): instance \(id)"
        guard case .object(let fields) = value else { return (location, .bad("instance is \(value.typeName), not an object")) }
        guard case .array(let contexts)? = value["CONTEXTS"] else { return (location, .bad("no \"CONTEXTS\" array")) }
        var parts: [String] = []
        for c in contexts {
            guard let s = c.stringValue else { return (location, .bad("\"CONTEXTS\" holds \(c.typeName), not only strings")) }
            parts.append(s)
        }
        let text = parts.joined(separator: " ")
        if let problem = validateDocumentText(text, maxBytes: maxBytes) { return (location, .bad(problem)) }
        let meta = fields.filter { $0.key != "CONTEXTS" }.map { ($0.key, JSONText.encode($0.value)) }
        return (location, .document(DocumentRecord(text: text, title: nil, externalId: id, metadata: JSONText.object(meta))))
    }
}
