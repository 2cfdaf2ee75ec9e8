import LecternCore

/// Why an ingest could not proceed. Messages name the input and what is wrong.
public enum IngestError: Error, CustomStringConvertible, Sendable {
    /// A source path does not exist.
    case missingPath(String)
    /// A source cannot be read (permissions, I/O, corrupt compression).
    case unreadable(path: String, detail: String)
    /// The format of a source cannot be determined or is not supported.
    case unsupportedFormat(path: String, detail: String)
    /// A bad record, under `--strict`.
    case badRecord(location: String, message: String)
    /// Every source was tried, and some were not ingested completely: the summary says what
    /// each one gave and, in ``SourceSummary/failure``, why it failed. What was read is kept.
    case incomplete(IngestSummary)

    public var description: String {
        switch self {
        case .missingPath(let path): return "\(path): no such file or directory"
        case .unreadable(let path, let detail): return "\(path): cannot read: \(detail)"
        case .unsupportedFormat(let path, let detail): return "\(path): \(detail)"
        case .badRecord(let location, let message): return "\(location): \(message) (--strict stops at the first bad record)"
        case .incomplete(let summary):
            let failed = summary.sources.filter { $0.failure != nil }
            let lines = failed.map { $0.failure! }
            return "\(failed.count) of \(summary.sources.count) sources not ingested completely (what was read is kept; "
                + "run the same command again once they are fixed: only what is missing is read):\n  " + lines.joined(separator: "\n  ")
        }
    }

    /// `error` as a problem of one source (the ingest reports it and goes on with the other
    /// sources), or nil when it ends the ingest. A file that cannot be read on is one.
    static func ofOneSource(_ error: Error) -> IngestError? {
        if let e = error as? UnreadableFile { return .unreadable(path: e.path, detail: e.detail) }
        if let e = error as? IngestError, e.concernsOneSource { return e }
        return nil
    }

    /// A problem of one source: the ingest reports it and goes on with the other sources.
    var concernsOneSource: Bool {
        switch self {
        case .missingPath, .unreadable, .unsupportedFormat: return true
        case .badRecord, .incomplete: return false
        }
    }
}
