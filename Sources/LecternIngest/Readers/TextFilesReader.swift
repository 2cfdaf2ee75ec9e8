import Foundation

/// Plain text: one document per file. A directory source is every regular file under it (not
/// hidden ones), in sorted path order, so the record numbering is stable for resuming.
/// With `titleFirstLine`, the first line is the title and the rest the text, as AdaptLLM does.
final class TextFilesReader: RecordReader {
    let root: String
    let files: [String]
    let titleFirstLine: Bool
    let maxBytes: Int
    private var index = 0

    init(path: String, titleFirstLine: Bool, maxBytes: Int) throws {
        root = path
        self.titleFirstLine = titleFirstLine
        self.maxBytes = maxBytes
        files = try Self.listFiles(path)
    }

    /// The files a path stands for, sorted.
    static func listFiles(_ path: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw IngestError.missingPath(path) }
        guard isDir.boolValue else { return [path] }
        guard let walker = FileManager.default.enumerator(atPath: path) else {
            throw IngestError.unreadable(path: path, detail: "cannot list the directory")
        }
        var out: [String] = []
        while let rel = walker.nextObject() as? String {
            if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            let full = (path as NSString).appendingPathComponent(rel)
            var sub: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue { out.append(full) }
        }
        return out.sorted()
    }

    func skip(_ n: Int) throws { index = min(files.count, index + n) }

    func next() throws -> (location: String, outcome: ReadOutcome)? {
        guard index < files.count else { return nil }
        let file = files[index]
        index += 1
        var size = stat()
        if stat(file, &size) == 0, Int(size.st_size) > maxBytes * 4 + 4096 {
            return (file, .bad("file is \(size.st_size) bytes, over the document limit of \(maxBytes) bytes (raise --max-document-bytes)"))
        }
        let bytes: [UInt8]
        do {
            bytes = try ByteStream(path: file).readAll()
        } catch {
            return (file, .bad("\(error)"))
        }
        guard let content = String(validating: bytes, as: UTF8.self) else {
            let offset = bytes.withUnsafeBufferPointer { JSONScanner.firstInvalidUTF8($0) }
            return (file, .bad("invalid UTF-8 at byte \(offset + 1)"))
        }
        if content.utf8.contains(0) { return (file, .bad("text contains a NUL character")) }
        var text = content
        var title: String?
        if titleFirstLine {
            let parts = content.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            let first = parts.first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            title = first.isEmpty ? nil : first
            text = parts.count > 1 ? String(parts[1]) : ""
        }
        if let problem = validateDocumentText(text, maxBytes: maxBytes) { return (file, .bad(problem)) }
        let relative = file == root ? (file as NSString).lastPathComponent : String(file.dropFirst(root.count).drop { $0 == "/" })
        let meta = JSONText.object([("file", JSONText.quote(relative))])
        return (file, .document(DocumentRecord(text: text, title: title, externalId: relative, metadata: meta)))
    }
}
