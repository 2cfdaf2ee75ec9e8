import CSQLiteExt
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The element types of sqlite-vec's vector BLOB format; raw values are its SQLite subtypes.
public enum ElementType: UInt32, Sendable {
    case float32 = 223
    case bit = 224
    case int8 = 225

    /// The name used in error messages and `CREATE VIRTUAL TABLE` (`float[N]`, `int8[N]`, `bit[N]`).
    var name: String {
        switch self {
        case .float32: return "float32"
        case .bit: return "bit"
        case .int8: return "int8"
        }
    }

    /// BLOB bytes for `dims` elements (bit vectors pack 8 elements a byte, LSB first).
    func byteCount(dims: Int) -> Int {
        switch self {
        case .float32: return dims * 4
        case .int8: return dims
        case .bit: return dims / 8
        }
    }
}

/// SQLite's subtype for JSON text (json() results): sqlite-vec reads those as float32 vectors.
let jsonSubtype: UInt32 = 74

/// A SQL-level error: the message is what the user sees.
struct VecError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A decoded vector: its element type, dimension count and raw little-endian bytes.
struct Vector {
    var type: ElementType
    var dims: Int
    var bytes: [UInt8]

    init(type: ElementType, dims: Int, bytes: [UInt8]) {
        self.type = type
        self.dims = dims
        self.bytes = bytes
    }

    init(floats: [Float]) {
        type = .float32
        dims = floats.count
        bytes = floats.withUnsafeBytes { Array($0) }
    }

    init(int8s: [Int8]) {
        type = .int8
        dims = int8s.count
        bytes = int8s.withUnsafeBytes { Array($0) }
    }

    var floats: [Float] {
        bytes.withUnsafeBytes { raw in (0..<dims).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
    }

    var int8s: [Int8] { bytes.map { Int8(bitPattern: $0) } }
}

// MARK: - Reading vectors from SQL values (sqlite-vec's rules)

/// Decodes a value the way sqlite-vec does: the subtype picks the element type (none, float32's or
/// JSON's means float32); BLOBs are raw, TEXT is a JSON array.
func vectorFromValue(_ value: OpaquePointer?) throws -> Vector {
    let subtype = lx_value_subtype(value)
    switch subtype {
    case 0, ElementType.float32.rawValue, jsonSubtype: return try float32FromValue(value)
    case ElementType.bit.rawValue: return try bitFromValue(value)
    case ElementType.int8.rawValue: return try int8FromValue(value)
    default: throw VecError("Unknown subtype: \(subtype)")
    }
}

func float32FromValue(_ value: OpaquePointer?) throws -> Vector {
    switch lx_value_type(value) {
    case SQLITE_BLOB:
        let n = Int(lx_value_bytes(value))
        if n == 0 { throw VecError("zero-length vectors are not supported.") }
        if n % 4 != 0 {
            throw VecError("invalid float32 vector BLOB length. Must be divisible by 4, found \(n)")
        }
        let bytes = Array(UnsafeRawBufferPointer(start: lx_value_blob(value), count: n))
        let v = Vector(type: .float32, dims: n / 4, bytes: bytes)
        try checkFinite(v)
        return v
    case SQLITE_TEXT:
        let floats = try parseJSONArray(value, elementName: "float32") { text in
            var end: UnsafeMutablePointer<CChar>? = nil
            let d = strtod(text, &end)
            return (d, end)
        }.map { Float($0) }
        for (i, f) in floats.enumerated() where !f.isFinite {
            throw VecError("invalid float32 vector: element \(i) is \(f.isNaN ? "NaN" : "Inf")")
        }
        return Vector(floats: floats)
    default:
        throw VecError("Input must have type BLOB (compact format) or TEXT (JSON), found \(typeName(lx_value_type(value)))")
    }
}

func int8FromValue(_ value: OpaquePointer?) throws -> Vector {
    switch lx_value_type(value) {
    case SQLITE_BLOB:
        let n = Int(lx_value_bytes(value))
        if n == 0 { throw VecError("zero-length vectors are not supported.") }
        return Vector(type: .int8, dims: n, bytes: Array(UnsafeRawBufferPointer(start: lx_value_blob(value), count: n)))
    case SQLITE_TEXT:
        let values = try parseJSONArray(value, elementName: "int8") { text in
            var end: UnsafeMutablePointer<CChar>? = nil
            let d = strtod(text, &end)
            return (d, end)
        }
        var out: [Int8] = []
        out.reserveCapacity(values.count)
        for (i, d) in values.enumerated() {
            guard d == d.rounded(), d >= -128, d <= 127 else {
                throw VecError("JSON parsing error: element \(i) (\(d)) is not an integer in int8 range [-128, 127]")
            }
            out.append(Int8(d))
        }
        return Vector(int8s: out)
    default:
        throw VecError("Unknown type for int8 vector: \(typeName(lx_value_type(value))); expected BLOB or JSON TEXT.")
    }
}

func bitFromValue(_ value: OpaquePointer?) throws -> Vector {
    guard lx_value_type(value) == SQLITE_BLOB else {
        throw VecError("Unknown type for bitvector: \(typeName(lx_value_type(value))); expected BLOB.")
    }
    let n = Int(lx_value_bytes(value))
    if n == 0 { throw VecError("zero-length vectors are not supported.") }
    return Vector(type: .bit, dims: n * 8, bytes: Array(UnsafeRawBufferPointer(start: lx_value_blob(value), count: n)))
}

func checkFinite(_ v: Vector) throws {
    guard v.type == .float32 else { return }
    try v.bytes.withUnsafeBytes { raw in
        for i in 0..<v.dims {
            let f = raw.loadUnaligned(fromByteOffset: i * 4, as: Float.self)
            if !f.isFinite { throw VecError("invalid float32 vector: element \(i) is \(f.isNaN ? "NaN" : "Inf")") }
        }
    }
}

func typeName(_ t: Int32) -> String {
    switch t {
    case SQLITE_INTEGER: return "INTEGER"
    case SQLITE_FLOAT: return "FLOAT"
    case SQLITE_TEXT: return "TEXT"
    case SQLITE_BLOB: return "BLOB"
    default: return "NULL"
    }
}

/// Parses a vector written as a JSON-like array of numbers, with sqlite-vec's leniencies:
/// `[1, 2.5e-3]`, and also a leading `+` or `.` (`[+1, .5]`), hexadecimal (`[0x10]`) and one
/// trailing comma (`[1, 2,]`), which sqlite-vec's `strtod` loop reads. Refused, with the byte
/// offset: `nan`/`inf` (a vector must be finite), empty elements (`[1,,2]`), a missing `]`, and
/// text after it, so a truncated or garbled vector never reads as a shorter one.
func parseJSONArray(
    _ value: OpaquePointer?, elementName: String,
    number: (UnsafePointer<CChar>) -> (Double, UnsafeMutablePointer<CChar>?)
) throws -> [Double] {
    guard let text = lx_value_text(value) else { throw VecError("zero-length vectors are not supported.") }
    let len = Int(lx_value_bytes(value))
    if len == 0 { throw VecError("zero-length vectors are not supported.") }
    return try text.withMemoryRebound(to: CChar.self, capacity: len + 1) { s -> [Double] in
        var i = 0
        func skipSpace() { while i < len, s[i] == 0x20 || s[i] == 0x09 || s[i] == 0x0A || s[i] == 0x0D { i += 1 } }
        skipSpace()
        guard i < len, s[i] == 0x5B /* [ */ else {
            throw VecError("JSON array parsing error: Input does not start with '['")
        }
        i += 1
        var out: [Double] = []
        skipSpace()
        if i < len, s[i] == 0x5D /* ] */ {
            throw VecError("zero-length vectors are not supported.")
        }
        while true {
            skipSpace()
            guard i < len else { throw VecError("JSON parsing error: unterminated array (missing ']')") }
            let c = s[i]
            // strtod also reads "nan" and "inf" (and "+nan"...): only a digit may follow the sign or '.'.
            func digit(_ j: Int) -> Bool { j < len && s[j] >= 0x30 && s[j] <= 0x39 }
            let start = c == 0x2D || c == 0x2B ? i + 1 : i
            let numeric = digit(start) || (start < len && s[start] == 0x2E && digit(start + 1))
            guard numeric else {
                throw VecError("JSON parsing error: expected a number at byte \(i) of the \(elementName) vector")
            }
            let (d, end) = number(s + i)
            guard let end, UnsafePointer(end) > s + i else {
                throw VecError("JSON parsing error: expected a number at byte \(i) of the \(elementName) vector")
            }
            i = UnsafePointer(end) - s
            if i > len { throw VecError("JSON parsing error: unterminated array (missing ']')") }
            out.append(d)
            skipSpace()
            guard i < len else { throw VecError("JSON parsing error: unterminated array (missing ']')") }
            if s[i] == 0x2C /* , */ {
                i += 1
                skipSpace()
                if i < len, s[i] == 0x5D { i += 1; break }   // one trailing comma, as sqlite-vec reads it
                continue
            }
            if s[i] == 0x5D { i += 1; break }
            throw VecError("JSON parsing error: expected ',' or ']' at byte \(i) of the \(elementName) vector")
        }
        skipSpace()
        if i != len { throw VecError("JSON parsing error: unexpected text after ']' at byte \(i)") }
        return out
    }
}
