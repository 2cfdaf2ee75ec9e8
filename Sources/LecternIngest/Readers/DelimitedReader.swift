import LecternCore
/// CSV (RFC 4180: quoted fields, doubled quotes, line breaks inside quotes) and TSV (tab-separated,
/// no quoting). The first row names the columns; the text, title and id columns are configurable
/// and the other columns go into the metadata object as strings.
final class DelimitedReader: RecordReader {
    let path: String
    let separator: UInt8
    let quoting: Bool
    let fields: FieldNames
    let maxBytes: Int
    private let lines: LineReader
    private var header: [String] = []
    private var textColumn = -1
    private var startLine = 0

    init(path: String, tabs: Bool, fields: FieldNames, maxBytes: Int) throws {
        self.path = path
        separator = tabs ? 0x09 : UInt8(ascii: ",")
        quoting = !tabs
        self.fields = fields
        self.maxBytes = maxBytes
        lines = LineReader(stream: try ByteStream(path: path))
        guard let row = try readRow() else {
            throw IngestError.unsupportedFormat(path: path, detail: "empty file: a header row naming the columns is needed")
        }
        guard case .success(let names) = row else {
            throw IngestError.unsupportedFormat(path: path, detail: "the header row is not valid UTF-8")
        }
        header = names
        guard let column = names.firstIndex(of: fields.text) else {
            throw IngestError.unsupportedFormat(
                path: path,
                detail: "no \"\(fields.text)\" column in the header (columns: \(names.joined(separator: ", "))); set --text-field")
        }
        textColumn = column
    }

    func skip(_ n: Int) throws {
        for _ in 0..<n where try readRow() != nil {}
    }

    func next() throws -> (location: String, outcome: ReadOutcome)? {
        let firstLine = lines.lineNumber + 1
        guard let row = try readRow() else { return nil }
        let location = "\(path):\(firstLine)"
        switch row {
        case .failure(let message):
            return (location, .bad(message))
        case .success(let values):
            if values.count == 1 && values[0].isEmpty { return (location, .blank) }
            guard values.count == header.count else {
                return (location, .bad("row has \(values.count) columns, the header has \(header.count)"))
            }
            let text = values[textColumn]
            if let problem = validateDocumentText(text, maxBytes: maxBytes) { return (location, .bad(problem)) }
            var record = DocumentRecord(text: text)
            var meta: [(String, String)] = []
            for (name, value) in zip(header, values) {
                switch name {
                case fields.text: continue
                case fields.title: record.title = value.isEmpty ? nil : value
                case fields.id: record.externalId = value.isEmpty ? nil : value
                default: meta.append((name, JSONText.quote(value)))
                }
            }
            record.metadata = meta.isEmpty ? nil : JSONText.object(meta)
            return (location, .document(record))
        }
    }

    enum Row { case success([String]), failure(String) }

    /// One logical row: for CSV, lines are joined while a quoted field is open.
    private func readRow() throws -> Row? {
        var fieldsOut: [[UInt8]] = [[]]
        var inQuotes = false
        var afterQuote = false
        var any = false
        var error: String?
        repeat {
            let got: Bool? = try lines.next { line in
                if inQuotes { fieldsOut[fieldsOut.count - 1].append(0x0A) }
                for b in line {
                    if quoting && inQuotes {
                        if b == UInt8(ascii: "\"") { inQuotes = false; afterQuote = true } else { fieldsOut[fieldsOut.count - 1].append(b) }
                    } else if quoting && b == UInt8(ascii: "\"") {
                        if afterQuote { fieldsOut[fieldsOut.count - 1].append(b); inQuotes = true; afterQuote = false }
                        else if fieldsOut[fieldsOut.count - 1].isEmpty { inQuotes = true }
                        else if error == nil { error = "stray double quote inside an unquoted field" }
                    } else if b == separator {
                        fieldsOut.append([])
                        afterQuote = false
                    } else {
                        if afterQuote && error == nil { error = "text after a closing double quote" }
                        fieldsOut[fieldsOut.count - 1].append(b)
                    }
                }
                return true
            }
            if got == nil {
                if !any { return nil }
                if inQuotes { return .failure("unterminated quoted field at the end of the file") }
                break
            }
            any = true
            if fieldsOut.reduce(0, { $0 + $1.count }) > maxBytes * 2 + 4096 {
                return .failure("row is over the document limit of \(maxBytes) bytes (raise --max-document-bytes)")
            }
        } while inQuotes
        if let error { return .failure(error) }
        var values: [String] = []
        for f in fieldsOut {
            guard let s = String(validating: f, as: UTF8.self) else {
                return .failure("invalid UTF-8 in column \(values.count + 1)")
            }
            values.append(s)
        }
        return .success(values)
    }
}
