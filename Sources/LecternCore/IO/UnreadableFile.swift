/// A file that cannot be read on: it cannot be opened, an I/O error struck, or its gzip data is
/// corrupt. Thrown by ``ByteStream``; each stage that reads files (ingest, import-instructions)
/// reports it as its own error, naming the file.
public struct UnreadableFile: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    /// What went wrong, without the path.
    public var detail: String

    public init(path: String, detail: String) {
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): cannot read: \(detail)" }
}
