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
    let bytes = text.utf8.count
    if bytes > maxBytes {
        return "document is \(bytes) bytes, over the limit of \(maxBytes) bytes (raise --max-document-bytes or split it)"
    }
    var sawContent = false
    for b in text.utf8 {
        if b == 0 { return "text contains a NUL character" }
        if !sawContent && !(b == 0x20 || (b >= 0x09 && b <= 0x0D)) { sawContent = true }
    }
    if !sawContent { return "empty text" }
    return nil
}

/// Counts Unicode scalars from UTF-8 (every byte that is not a continuation byte).
func scalarCount(_ text: String) -> Int {
    var text = text
    return text.withUTF8 { buf in
        var n = 0
        for b in buf where b & 0xC0 != 0x80 { n += 1 }
        return n
    }
}
