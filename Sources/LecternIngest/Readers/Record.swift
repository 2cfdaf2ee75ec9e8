import LecternCore
import LecternStore

/// A document as a reader found it, before deduplication.
struct DocumentRecord {
    var text: String
    var title: String?
    var externalId: String?
    /// A JSON object with the source's other fields, or nil.
    var metadata: String?
}

/// What one record of a source turned out to be.
enum ReadOutcome {
    case document(DocumentRecord)
    /// A record that cannot become a document; the message says why (the location is added).
    case bad(String)
    /// A blank line or similar: nothing to ingest, nothing wrong.
    case blank
}

/// Reads the records of one source in order. Records are numbered from 0 in the order they are
/// returned, which is what `sources.records_done` counts to resume a partly ingested source.
protocol RecordReader: AnyObject {
    /// The next record and where it is (`path:line` or similar), or nil at the end.
    func next() throws -> (location: String, outcome: ReadOutcome)?
    /// Skips `n` records cheaply (resuming).
    func skip(_ n: Int) throws
}

/// Checks a text every reader produces: not empty, no NUL character, not over the size limit.
func validateDocumentText(_ text: String, maxBytes: Int) -> String? {
    var text = text
    return text.withUTF8 { buf -> String? in
        if buf.count > maxBytes {
            return "document is \(buf.count) bytes, over the limit of \(maxBytes) bytes (raise --max-document-bytes or split it)"
        }
        if UTF8Scan.firstNUL(buf) != nil { return "text contains a NUL character" }
        return UTF8Scan.isBlank(buf) ? "empty text" : nil
    }
}

/// Counts Unicode scalars.
func scalarCount(_ text: String) -> Int {
    var text = text
    return text.withUTF8 { UTF8Scan.scalarCount($0) }
}
