import Foundation
import LecternCore
import LecternIngest

/// Reads the records of an instruction file one at a time, whichever way it is laid out: one JSON
/// array of objects (how Alpaca and most Hugging Face exports ship) or JSON Lines (one object per
/// line), either optionally gzip-compressed (detected by magic bytes, through ingest's ByteStream).
///
/// A JSON array is split into its elements by a byte scanner that only tracks strings and nesting,
/// and each element is then parsed on its own. So a malformed record costs that record only, never
/// the rest of the file, and every message names the record and the line it starts on; the file is
/// streamed, so a multi-gigabyte dump needs memory for one record at a time, not for the file.
final class InstructionFileReader {
    enum Layout: String { case jsonArray = "JSON array", jsonLines = "JSON Lines" }

    /// A record as read, before any shape is looked at.
    struct Record {
        /// 1-based: index in the array, or line number in JSON Lines.
        var number: Int
        /// `path:LINE` (JSON Lines) or `path:LINE: record N` (array; LINE is where the record starts).
        var location: String
        /// The parsed JSON, or why the record is not JSON.
        var parsed: Parsed
    }

    enum Parsed {
        case value(JSONScanner.Value)
        case bad(String)
    }

    /// Deeper records are refused before parsing (the parser recurses; this bounds its stack).
    static let maxDepth = 256

    let path: String
    private(set) var layout: Layout = .jsonLines
    /// Problems that concern the file rather than one record (an array that is never closed,
    /// text after the array). The caller reports them; no record is lost to them.
    private(set) var fileProblems: [String] = []

    private let stream: ByteStream
    private var buffer: [UInt8] = []
    private var pos = 0
    private var eof = false
    /// Line number at `pos`.
    private var line = 1
    private var count = 0
    private var done = false
    /// Whether the byte before `buffer[0]` (dropped by ``compact()``) was a "\r".
    private var crBeforeBuffer = false

    /// Opens `path` and looks at its first non-blank byte: `[` is a JSON array, `{` JSON Lines.
    /// Throws for an unreadable file, an empty one and one that cannot be JSON.
    init(path: String) throws {
        self.path = path
        do {
            stream = try ByteStream(path: path)
        } catch let error as UnreadableFile {
            throw Self.wrap(error, path: path)
        }
        // A UTF-8 byte order mark is not content.
        _ = try fillUntil(3)
        if buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { pos = 3 }
        try skipWhitespace()
        guard pos < buffer.count else { throw InstructionImportError.empty(path: path) }
        switch buffer[pos] {
        case UInt8(ascii: "["):
            layout = .jsonArray
            pos += 1
            try skipWhitespace()
            if pos < buffer.count && buffer[pos] == UInt8(ascii: "]") { throw InstructionImportError.empty(path: path) }
        case UInt8(ascii: "{"):
            layout = .jsonLines
        default:
            let head = buffer[pos..<min(buffer.count, pos + 24)]
            let shown = String(decoding: head, as: UTF8.self).unicodeScalars
                .map { $0.value < 0x20 || $0 == "\u{FFFD}" ? "." : String($0) }.joined()
            throw InstructionImportError.notJSON(path: path, detail: "line \(line) starts with \"\(shown)\"")
        }
    }

    private static func wrap(_ error: UnreadableFile, path: String) -> InstructionImportError {
        .unreadable(path: path, detail: error.detail)
    }

    /// The next record, or nil at the end of the file.
    func next() throws -> Record? {
        guard !done else { return nil }
        compact()
        switch layout {
        case .jsonLines: return try nextLine()
        case .jsonArray: return try nextElement()
        }
    }

    // MARK: - Buffer

    /// Reads another chunk; false at the end of the file.
    private func fill() throws -> Bool {
        guard !eof else { return false }
        do {
            if try !stream.read(into: &buffer) { eof = true }
        } catch let error as UnreadableFile {
            throw Self.wrap(error, path: path)
        }
        return !eof
    }

    /// Reads until `pos + n` bytes are buffered or the file ends; whether they are.
    private func fillUntil(_ n: Int) throws -> Bool {
        while buffer.count < pos + n { if try !fill() { return false } }
        return true
    }

    /// Drops what was consumed, once it is most of the buffer (records are read in place).
    private func compact() {
        if pos > 0 && pos >= buffer.count / 2 {
            crBeforeBuffer = buffer[pos - 1] == 0x0D
            buffer.removeFirst(pos)
            pos = 0
        }
    }

    /// Whether the byte at `i` ends a line: "\r", or "\n" unless right after a "\r" (the two are
    /// one line end). Line numbers count "\n", "\r\n" and a lone "\r", as Python's universal
    /// newlines do.
    @inline(__always) private func endsLine(_ i: Int) -> Bool {
        let b = buffer[i]
        if b == 0x0D { return true }
        guard b == 0x0A else { return false }
        return i > 0 ? buffer[i - 1] != 0x0D : !crBeforeBuffer
    }

    private func skipWhitespace() throws {
        while true {
            while pos < buffer.count {
                let b = buffer[pos]
                if b == 0x0A || b == 0x0D {
                    if endsLine(pos) { line += 1 }
                } else if !(b == 0x20 || b == 0x09) {
                    return
                }
                pos += 1
            }
            if try !fill() { return }
        }
    }

    // MARK: - JSON Lines

    private func nextLine() throws -> Record? {
        while true {
            var scan = pos
            var stop = 0, next = 0
            while true {
                if let (end, after) = lineEnd(from: scan) {
                    stop = end
                    next = after
                    break
                }
                if eof {
                    guard pos < buffer.count else { done = true; return nil }
                    stop = buffer.count
                    next = buffer.count
                    break
                }
                // Search again from the last byte: a "\r" there may be the start of "\r\n".
                scan = max(pos, buffer.count - 1)
                _ = try fill()
            }
            let number = line
            let start = pos
            pos = next
            line += 1
            let record: Record? = buffer.withUnsafeBufferPointer { buf in
                let bytes = UnsafeBufferPointer(rebasing: buf[start..<stop])
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
                return Record(number: number, location: "\(path):\(number)", parsed: Self.parse(bytes, unit: "line", depth: Self.depth(bytes)))
            }
            if let record {
                count += 1
                return record
            }
        }
    }

    /// The first line end at or after `scan`: where the line stops and the next one starts.
    /// A line ends at "\n", "\r\n" or a lone "\r"; nil when there is none yet, or when the
    /// buffer ends with a "\r" and more may follow.
    private func lineEnd(from scan: Int) -> (Int, Int)? {
        buffer.withUnsafeBufferPointer { LineEnd.find(in: $0, from: scan, atEnd: eof) }
    }

    /// Maximum nesting of `bytes`, strings skipped.
    static func depth(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                depth += 1
                deepest = max(deepest, depth)
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                depth -= 1
            }
        }
        return deepest
    }

    // MARK: - JSON array

    private func nextElement() throws -> Record? {
        try skipWhitespace()
        guard pos < buffer.count else {
            done = true
            fileProblems.append("\(path):\(line): the JSON array is not closed with ']' (truncated file?); the records before were read")
            return nil
        }
        // (An empty array was refused when the file was opened: a ']' here ends an empty record.)
        count += 1
        let number = count
        let startLine = line
        let start = pos
        let location = "\(path):\(startLine): record \(number)"
        // Find the ',' or ']' that ends the element: outside strings, at nesting depth 0.
        var i = pos
        var depth = 0, deepest = 0
        var inString = false, escaped = false
        var terminator: UInt8 = 0
        scan: while true {
            while i < buffer.count {
                let b = buffer[i]
                if inString {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false } else if endsLine(i) { line += 1 }
                } else {
                    switch b {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                        deepest = max(deepest, depth)
                    case UInt8(ascii: "}"):
                        depth = max(0, depth - 1)
                    case UInt8(ascii: "]"):
                        if depth == 0 { terminator = b; break scan }
                        depth -= 1
                    case UInt8(ascii: ","):
                        if depth == 0 { terminator = b; break scan }
                    case 0x0A, 0x0D: if endsLine(i) { line += 1 }
                    default: break
                    }
                }
                i += 1
            }
            if try !fill() { break }
        }
        var end = i
        while end > start, [0x20, 0x09, 0x0A, 0x0D].contains(buffer[end - 1]) { end -= 1 }
        if terminator == 0 {
            // The file ended before a ',' or ']': either the array is not closed after a complete
            // record, or the file was cut inside this one.
            done = true
            pos = buffer.count
            let parsed = buffer.withUnsafeBufferPointer { Self.parse(UnsafeBufferPointer(rebasing: $0[start..<end]), unit: "record", depth: deepest) }
            if case .value = parsed {
                fileProblems.append("\(path):\(line): the JSON array is not closed with ']' (truncated file?)")
                return Record(number: number, location: location, parsed: parsed)
            }
            return Record(number: number, location: location,
                          parsed: .bad("the file ends inside this record (truncated file?); the records before it were read"))
        }
        pos = i + 1
        let parsed: Parsed
        if end == start {
            parsed = .bad(terminator == UInt8(ascii: "]") ? "empty record: a trailing ',' before the closing ']'" : "empty record: two ',' in a row")
        } else {
            parsed = buffer.withUnsafeBufferPointer { Self.parse(UnsafeBufferPointer(rebasing: $0[start..<end]), unit: "record", depth: deepest) }
        }
        if terminator == UInt8(ascii: "]") { try finishArray() }
        return Record(number: number, location: location, parsed: parsed)
    }

    /// After the closing ']': only whitespace may follow.
    private func finishArray() throws {
        done = true
        try skipWhitespace()
        if pos < buffer.count {
            fileProblems.append("\(path):\(line): text after the end of the JSON array was ignored")
        }
    }

    // MARK: - Parsing one record

    /// Parses one record's bytes; `unit` names them in messages ("line" or "record").
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, unit: String, depth: Int) -> Parsed {
        if depth > maxDepth { return .bad("malformed JSON: nested more than \(maxDepth) levels deep") }
        var scanner = JSONScanner(bytes)
        do {
            let value = try scanner.value()
            scanner.skipSpace()
            if scanner.i != bytes.count {
                return .bad("malformed JSON: unexpected text after the value at byte \(scanner.i + 1) of the \(unit)")
            }
            return .value(value)
        } catch let failure as JSONScanner.Failure {
            if failure.reason.hasPrefix("invalid UTF-8") {
                return .bad("invalid UTF-8 at byte \(failure.offset + 1) of the \(unit)")
            }
            return .bad("malformed JSON: \(failure.reason) at byte \(failure.offset + 1) of the \(unit)")
        } catch {
            return .bad("malformed JSON: \(error)")
        }
    }
}
