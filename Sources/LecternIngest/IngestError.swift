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

    public var description: String {
        switch self {
        case .missingPath(let path): return "\(path): no such file or directory"
        case .unreadable(let path, let detail): return "\(path): cannot read: \(detail)"
        case .unsupportedFormat(let path, let detail): return "\(path): \(detail)"
        case .badRecord(let location, let message): return "\(location): \(message) (--strict stops at the first bad record)"
        }
    }
}
