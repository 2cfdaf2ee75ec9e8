import Foundation
import LecternCore

/// Plain text: one document per file. A directory stands for every regular file under it (and
/// symbolic links to files), hidden ones and hidden directories left out, in sorted path order.
///
/// A file's text is read as Python reads it in text mode and AdaptLLM then strips it
/// (`open(path).read().strip()`): "\r\n" and a lone "\r" become "\n", and the whitespace around
/// the whole text is removed. With `titleFirstLine`, the first line (stripped) is the title and
/// the rest the text, as AdaptLLM's `text.split('\n')[0]` and the lines after it.
enum TextFilesReader {
    /// Names the normalisation above in every text source's identity (``IngestOptions/ReadConfig``).
    static let normalisation = "universal-newlines,strip"

    /// What reading one file gave.
    enum Outcome {
        case document(DocumentRecord)
        /// The content cannot be a document (invalid UTF-8, NUL, empty, too large, damaged gzip).
        case bad(String)
        /// The file could not be opened or read: not the content's fault, so tried again next run.
        case unreadable(String)
    }

    /// The files under a directory, and the paths under it that could not be looked at (with
    /// what went wrong: "cannot list the directory: Permission denied").
    struct Listing {
        var files: [String]
        var problems: [(path: String, detail: String)]
    }

    /// The files a path stands for, sorted (a file stands for itself).
    static func listFiles(_ path: String) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw IngestError.missingPath(path) }
        return isDir.boolValue ? walk(path).files : [path]
    }

    /// Lists a directory recursively. Unlike FileManager's enumerator, which silently leaves out
    /// what it cannot open, every subdirectory that cannot be listed, broken link or path that
    /// cannot be looked at is returned as a problem. Links to directories are not followed
    /// (no cycles); sockets, FIFOs and devices are not text files and are left out.
    static func walk(_ root: String) -> Listing {
        var listing = Listing(files: [], problems: [])
        func visit(_ dir: String) {
            guard let handle = opendir(dir) else {
                listing.problems.append((dir, "cannot list the directory: " + String(cString: strerror(errno))))
                return
            }
            defer { closedir(handle) }
            while true {
                errno = 0
                guard let entry = readdir(handle) else {
                    if errno != 0 { listing.problems.append((dir, "cannot list the directory: " + String(cString: strerror(errno)))) }
                    return
                }
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                if name.hasPrefix(".") { continue }
                let full = dir.hasSuffix("/") ? dir + name : dir + "/" + name
                var st = stat()
                guard lstat(full, &st) == 0 else {
                    listing.problems.append((full, "cannot read: " + String(cString: strerror(errno))))
                    continue
                }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    visit(full)
                case S_IFREG:
                    listing.files.append(full)
                case S_IFLNK:
                    var target = stat()
                    if stat(full, &target) != 0 {
                        listing.problems.append((full, "a symbolic link to nothing readable: " + String(cString: strerror(errno))))
                    } else if (target.st_mode & S_IFMT) == S_IFREG {
                        listing.files.append(full)
                    }
                default:
                    continue
                }
            }
        }
        visit(root)
        listing.files.sort()
        listing.problems.sort { $0.path < $1.path }
        return listing
    }

    /// Reads one file into a document. `relative` is its path under the source (its external id).
    static func read(_ file: String, relative: String, titleFirstLine: Bool, maxBytes: Int) -> Outcome {
        var st = stat()
        if stat(file, &st) == 0, Int(st.st_size) > maxBytes * 4 + 4096 {
            return .bad("file is \(st.st_size) bytes, over the document limit of \(maxBytes) bytes (raise --max-document-bytes)")
        }
        let stream: ByteStream
        do {
            stream = try ByteStream(path: file)
        } catch {
            return .unreadable(detail(error))
        }
        var bytes: [UInt8] = []
        do {
            while try stream.read(into: &bytes) {}
        } catch {
            return stream.damaged ? .bad(detail(error)) : .unreadable(detail(error))
        }
        guard let content = String(validating: bytes, as: UTF8.self) else {
            let offset = bytes.withUnsafeBufferPointer { JSONScanner.firstInvalidUTF8($0) }
            return .bad("invalid UTF-8 at byte \(offset + 1)")
        }
        if content.utf8.contains(0) { return .bad("text contains a NUL character") }
        var text = stripped(universalNewlines(content))
        var title: String?
        if titleFirstLine {
            if let newline = text.utf8.firstIndex(of: 0x0A) {
                let first = stripped(Substring(text[..<newline]))
                title = first.isEmpty ? nil : first
                text = String(text[text.utf8.index(after: newline)...])
            } else {
                // One line: AdaptLLM's title, and nothing left for the text.
                return .bad(text.isEmpty ? "empty text" : "empty text: the file has one line, which --title-first-line takes as the title")
            }
        }
        if let problem = validateDocumentText(text, maxBytes: maxBytes) { return .bad(problem) }
        let meta = JSONText.object([("file", JSONText.quote(relative))])
        return .document(DocumentRecord(text: text, title: title, externalId: relative, metadata: meta))
    }

    /// An error's words without the path (the caller names the file).
    private static func detail(_ error: Error) -> String {
        if let e = error as? UnreadableFile { return e.detail }
        if case .unreadable(_, let detail)? = error as? IngestError { return detail }
        return "\(error)"
    }

    /// "\r\n" and lone "\r" as "\n" (Python's universal newlines).
    static func universalNewlines(_ text: String) -> String {
        guard text.utf8.contains(0x0D) else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var previousCR = false
        for b in text.utf8 {
            if b == 0x0D {
                out.append(0x0A)
                previousCR = true
            } else {
                if !(b == 0x0A && previousCR) { out.append(b) }
                previousCR = false
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Python's `str.strip()`: the whitespace at both ends removed (`str.isspace` characters).
    static func stripped<S: StringProtocol>(_ text: S) -> String {
        let s = Substring(text)
        let u = s.unicodeScalars
        var a = u.startIndex, b = u.endIndex
        while a < b && isPythonSpace(u[a].value) { a = u.index(after: a) }
        while b > a {
            let p = u.index(before: b)
            if !isPythonSpace(u[p].value) { break }
            b = p
        }
        return String(s[a..<b])
    }

    /// Python's `str.isspace()` for one code point.
    static func isPythonSpace(_ c: UInt32) -> Bool {
        if c < 0x80 { return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) }
        switch c {
        case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        case 0x2000...0x200A: return true
        default: return false
        }
    }
}
