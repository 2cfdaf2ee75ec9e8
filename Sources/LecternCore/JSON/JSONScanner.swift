/// A small, strict JSON scanner over UTF-8 bytes, written for ingest's hot path: a JSONL line
/// is scanned once; the few fields Lectern needs are decoded to `String`, the others are kept
/// as raw byte ranges (already valid JSON) and copied into the metadata object untouched.
/// Foundation's `JSONSerialization` would build a dictionary of boxed values per line and lose
/// the key order; this keeps both the speed and the order.
/// Package-visible: `import-instructions` (LecternBuild) parses its records with it too.
package struct JSONScanner {
    /// Where and why a text is not valid JSON.
    package struct Failure: Error, CustomStringConvertible {
        package let offset: Int
        package let reason: String
        package var description: String { "\(reason) at byte \(offset + 1)" }
    }

    /// A JSON value: strings decoded, numbers as written, containers in document order (so a
    /// file read and written back keeps its key order and its `1e-5`).
    package indirect enum Value: Equatable {
        case string(String)
        case number(String)
        case bool(Bool)
        case null
        case array([Value])
        case object([(key: String, value: Value)])

        package static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case let (.object(x), .object(y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            case let (.array(x), .array(y)): return x == y
            // Byte equality: Swift's String == would equate canonically equivalent spellings.
            case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
            case let (.number(x), .number(y)): return x == y
            case let (.bool(x), .bool(y)): return x == y
            case (.null, .null): return true
            default: return false
            }
        }

        package var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
        package subscript(key: String) -> Value? {
            if case .object(let entries) = self { return entries.first { $0.key == key }?.value }
            return nil
        }
        package var typeName: String {
            switch self {
            case .string: return "a string"
            case .number: return "a number"
            case .bool: return "a boolean"
            case .null: return "null"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }

    /// A top-level field of an object: its key, and the byte range of its raw value.
    package struct Field {
        package let key: String
        package let keyRange: Range<Int>
        package let valueRange: Range<Int>
        package let firstByte: UInt8
        /// The decoded value when it is a string (decoded once, while scanning).
        package let string: String?
    }

    package let bytes: UnsafeBufferPointer<UInt8>
    package var i: Int
    /// Containers open around `i`. Bounded, because the parser recurses: a line of a million
    /// `[` would otherwise overflow the stack instead of being a bad record.
    package var depth = 0
    package static let maxDepth = 512

    package init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.i = 0
    }

    package func fail(_ reason: String) -> Failure { Failure(offset: i, reason: reason) }

    package mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 { i += 1 } else { return }
        }
    }

    package mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipSpace()
        guard i < bytes.count, bytes[i] == byte else {
            throw fail(i < bytes.count ? "expected \(what)" : "unexpected end of input, expected \(what)")
        }
        i += 1
    }

    /// Scans the top-level object's fields without decoding their values.
    package mutating func topLevelFields() throws -> [Field] {
        try expect(UInt8(ascii: "{"), "'{' (each line must be a JSON object)")
        var fields: [Field] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skipSpace()
                let keyStart = i
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
                let key = try string()
                let keyEnd = i
                try expect(UInt8(ascii: ":"), "':' after field name")
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input, expected a value") }
                let first = bytes[i]
                let start = i
                var decoded: String?
                if first == UInt8(ascii: "\"") { decoded = try string() } else { try skipValue() }
                fields.append(Field(key: key, keyRange: keyStart..<keyEnd, valueRange: start..<i, firstByte: first, string: decoded))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input, expected ',' or '}'") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; break }
                throw fail("expected ',' or '}'")
            }
        }
        skipSpace()
        if i != bytes.count { throw fail("unexpected text after the JSON object") }
        return fields
    }

    /// Parses a whole document: one value, surrounded only by whitespace. A UTF-8 byte order
    /// mark is skipped (editors on Windows write one).
    package static func document(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Value {
        var scanner = JSONScanner(bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { scanner.i = 3 }
        let value = try scanner.value()
        scanner.skipSpace()
        guard scanner.i == bytes.count else { throw scanner.fail("unexpected text after the JSON value") }
        return value
    }

    package mutating func enter() throws {
        depth += 1
        guard depth <= Self.maxDepth else { throw fail("nested deeper than \(Self.maxDepth) levels") }
    }

    /// Parses one complete value (a whole document when called at the start).
    package mutating func value() throws -> Value {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "{"):
            try enter()
            defer { depth -= 1 }
            i += 1
            var entries: [(key: String, value: Value)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries) }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
                let key = try string()
                try expect(UInt8(ascii: ":"), "':' after field name")
                entries.append((key, try value()))
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input, expected ',' or '}'") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(entries) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            i += 1
            var items: [Value] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value())
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input, expected ',' or ']'") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            let start = i
            try literal()
            let word = bytes[start]
            return word == UInt8(ascii: "n") ? .null : .bool(word == UInt8(ascii: "t"))
        default:
            let start = i
            try number()
            return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
        }
    }

    /// Skips one value, checking its syntax (strings are checked for valid escapes and UTF-8).
    package mutating func skipValue() throws {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of input, expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = bytes[i] == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            try enter()
            defer { depth -= 1 }
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == close { i += 1; return }
            while true {
                if isObject {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a field name in double quotes") }
                    try skipString()
                    try expect(UInt8(ascii: ":"), "':' after field name")
                }
                try skipValue()
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input inside a container") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == close { i += 1; return }
                throw fail(isObject ? "expected ',' or '}'" : "expected ',' or ']'")
            }
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            try literal()
        default:
            try number()
        }
    }

    package mutating func literal() throws {
        for word in ["true", "false", "null"] {
            let w = Array(word.utf8)
            if i + w.count <= bytes.count, zip(w, bytes[i..<(i + w.count)]).allSatisfy({ $0 == $1 }) {
                i += w.count
                return
            }
        }
        throw fail("invalid literal")
    }

    /// RFC 8259's number grammar exactly (no `01`, `1.`, `.5`, `+1` or `1e`), so a value kept as
    /// text is one every JSON reader accepts.
    package mutating func number() throws {
        func digit() -> Bool { i < bytes.count && (0x30...0x39).contains(bytes[i]) }
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard digit() else { i = start; throw fail("invalid value") }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while digit() { i += 1 } }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard digit() else { throw fail("invalid number: no digit after '.'") }
            while digit() { i += 1 }
        }
        if i < bytes.count, bytes[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard digit() else { throw fail("invalid number: no digit in the exponent") }
            while digit() { i += 1 }
        }
    }

    package mutating func skipString() throws {
        // Validates by decoding: the cost is the same and the errors are the same as `string()`.
        _ = try string()
    }

    /// Decodes a string at `i` (which is at the opening quote).
    package mutating func string() throws -> String {
        i += 1
        let start = i
        // Fast path: no escapes. Eight bytes at a time until one may be a quote, a backslash or a
        // control character (SWAR: a zero byte in x ^ pattern marks an equal byte).
        let base = UnsafeRawPointer(bytes.baseAddress!)
        while i + 8 <= bytes.count {
            let x = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
            let q = x ^ 0x2222_2222_2222_2222, bs = x ^ 0x5C5C_5C5C_5C5C_5C5C
            let special = ((q &- ones) & ~q) | ((bs &- ones) & ~bs) | ((x &- 0x2020_2020_2020_2020) & ~x)
            if special & highs != 0 { break }
            i += 8
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<i])
                guard let s = String(validating: slice, as: UTF8.self) else {
                    throw Failure(offset: start + Self.firstInvalidUTF8(slice), reason: "invalid UTF-8")
                }
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("unescaped control character in a string") }
            i += 1
        }
        // Slow path: decode escapes into a byte buffer.
        var out = [UInt8](UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw Failure(offset: start, reason: "invalid UTF-8 in the string starting")
                }
                return s
            }
            if b < 0x20 { throw fail("unescaped control character in a string") }
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            i += 1
            guard i < bytes.count else { break }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired UTF-16 surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid UTF-16 surrogate pair in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired UTF-16 surrogate in \\u escape")
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
            default:
                i -= 1
                throw fail("invalid escape '\\\(Character(Unicode.Scalar(e)))'")
            }
        }
        throw fail("unterminated string")
    }

    package mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// Offset of the first byte that makes `slice` invalid UTF-8 (for error messages).
    package static func firstInvalidUTF8(_ slice: UnsafeBufferPointer<UInt8>) -> Int {
        var i = 0
        while i < slice.count {
            let b = slice[i]
            let len = b < 0x80 ? 1 : b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xF0 && b <= 0xF4 ? 4 : 0
            if len == 0 || i + len > slice.count { return i }
            if String(validating: UnsafeBufferPointer(rebasing: slice[i..<(i + len)]), as: UTF8.self) == nil { return i }
            i += len
        }
        return slice.count
    }
}
