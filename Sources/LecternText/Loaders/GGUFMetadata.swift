import Foundation

/// The key-value metadata of a GGUF file (versions 2 and 3), read without touching tensor data.
///
/// Only what tokenizers need is decoded eagerly; arrays of strings stay as `[String]`,
/// numeric arrays as `[Double]` (exact for the integer token types and scores involved).
public struct GGUFMetadata: Sendable {
    /// A metadata value.
    public enum Value: Sendable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String)
        case strings([String]), numbers([Double]), bools([Bool])

        public var int: Int? {
            switch self {
            case .int(let v): return Int(v)
            case .uint(let v): return Int(v)
            default: return nil
            }
        }
        public var string: String? { if case .string(let s) = self { return s } else { return nil } }
        public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    }

    public let version: UInt32
    public let values: [String: Value]

    public subscript(key: String) -> Value? { values[key] }

    /// Reads the metadata of the GGUF file at `path`.
    public init(path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw TokenizerError(path, "cannot read the GGUF file (\(error.localizedDescription))")
        }
        var r = Reader(data: data, path: path)
        guard try r.bytes(4) == Array("GGUF".utf8) else { throw TokenizerError(path, "not a GGUF file (bad magic)") }
        version = try r.u32()
        guard version == 2 || version == 3 else { throw TokenizerError(path, "unsupported GGUF version \(version) (2 or 3 expected)") }
        _ = try r.u64()  // tensor count
        let n = try r.u64()
        guard n < 1_000_000 else { throw TokenizerError(path, "implausible metadata count \(n)") }
        var values: [String: Value] = [:]
        for _ in 0..<n {
            let key = try r.string()
            let type = try r.u32()
            values[key] = try r.value(type: type, key: key)
        }
        self.values = values
    }

    private struct Reader {
        let data: Data
        let path: String
        var pos = 0

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, pos + n <= data.count else { throw TokenizerError(path, "truncated GGUF metadata at byte \(pos)") }
            defer { pos += n }
            return [UInt8](data[data.startIndex + pos ..< data.startIndex + pos + n])
        }

        mutating func le<T: FixedWidthInteger>(_: T.Type) throws -> T {
            let size = MemoryLayout<T>.size
            guard pos + size <= data.count else { throw TokenizerError(path, "truncated GGUF metadata at byte \(pos)") }
            var v: T = 0
            data.withUnsafeBytes { raw in
                v = raw.loadUnaligned(fromByteOffset: pos, as: T.self)
            }
            pos += size
            return T(littleEndian: v)
        }

        mutating func u32() throws -> UInt32 { try le(UInt32.self) }
        mutating func u64() throws -> UInt64 { try le(UInt64.self) }

        mutating func string() throws -> String {
            let n = try u64()
            guard n <= UInt64(data.count - pos) else { throw TokenizerError(path, "string length \(n) past the end of the file at byte \(pos)") }
            let b = try bytes(Int(n))
            return String(decoding: b, as: UTF8.self)
        }

        mutating func scalar(type: UInt32, key: String) throws -> Value {
            switch type {
            case 0: return .uint(UInt64(try le(UInt8.self)))
            case 1: return .int(Int64(try le(Int8.self)))
            case 2: return .uint(UInt64(try le(UInt16.self)))
            case 3: return .int(Int64(try le(Int16.self)))
            case 4: return .uint(UInt64(try le(UInt32.self)))
            case 5: return .int(Int64(try le(Int32.self)))
            case 6: return .float(Double(Float(bitPattern: try le(UInt32.self))))
            case 7: return .bool(try le(UInt8.self) != 0)
            case 8: return .string(try string())
            case 10: return .uint(try le(UInt64.self))
            case 11: return .int(try le(Int64.self))
            case 12: return .float(Double(bitPattern: try le(UInt64.self)))
            default: throw TokenizerError(path, "metadata key \(key): unknown value type \(type)")
            }
        }

        mutating func value(type: UInt32, key: String) throws -> Value {
            guard type == 9 else { return try scalar(type: type, key: key) }
            let elementType = try u32()
            let n = try u64()
            guard n <= UInt64(data.count - pos) else { throw TokenizerError(path, "metadata key \(key): array length \(n) past the end of the file") }
            switch elementType {
            case 8:
                var out: [String] = []; out.reserveCapacity(Int(n))
                for _ in 0..<n { out.append(try string()) }
                return .strings(out)
            case 7:
                var out: [Bool] = []; out.reserveCapacity(Int(n))
                for _ in 0..<n { out.append(try le(UInt8.self) != 0) }
                return .bools(out)
            case 9:
                throw TokenizerError(path, "metadata key \(key): nested arrays are not supported")
            default:
                var out: [Double] = []; out.reserveCapacity(Int(n))
                for _ in 0..<n {
                    switch try scalar(type: elementType, key: key) {
                    case .int(let v): out.append(Double(v))
                    case .uint(let v): out.append(Double(v))
                    case .float(let v): out.append(v)
                    default: break
                    }
                }
                return .numbers(out)
            }
        }
    }
}
