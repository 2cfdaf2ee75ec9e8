import Foundation

/// A read-only view of a `.safetensors` file: an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range, then the raw tensor bytes.
///
/// Only what the encoder needs is supported: `F32` tensors are returned as `[Float]`; other
/// dtypes are listed but refused with a clear error when read.
public struct SafeTensors: Sendable {
    /// One tensor's entry in the header.
    public struct Entry: Sendable, Equatable {
        public let dtype: String
        public let shape: [Int]
        public let begin: Int
        public let end: Int
    }

    /// Where the file came from, for error messages.
    public let path: String
    /// Tensor name -> header entry.
    public let entries: [String: Entry]
    private let data: Data
    private let dataStart: Int

    /// Reads and validates the header of the file at `path` (the payload is memory-mapped).
    public init(path: String) throws {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else {
            throw EmbedError.badModel(path, "cannot read the file")
        }
        try self.init(data: data, path: path)
    }

    /// Parses safetensors bytes already in memory; `path` only labels errors.
    public init(data: Data, path: String = "<memory>") throws {
        self.path = path
        self.data = data
        guard data.count >= 8 else { throw EmbedError.badModel(path, "shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard n > 1, n <= UInt64(data.count - 8), n < 100_000_000 else {
            throw EmbedError.badModel(path, "header length \(n) does not fit a file of \(data.count) bytes")
        }
        dataStart = 8 + Int(n)
        let headerBytes = data.subdata(in: (data.startIndex + 8)..<(data.startIndex + dataStart))
        guard let json = try? JSONSerialization.jsonObject(with: headerBytes) as? [String: Any] else {
            throw EmbedError.badModel(path, "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        let payload = data.count - dataStart
        for (name, value) in json where name != "__metadata__" {
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = d["shape"] as? [Int], let offs = d["data_offsets"] as? [Int], offs.count == 2,
                  offs[0] >= 0, offs[0] <= offs[1], offs[1] <= payload
            else { throw EmbedError.badModel(path, "malformed header entry for tensor '\(name)'") }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
        }
        self.entries = entries
    }

    /// The F32 tensor `name`, checked against `shape`, as a flat row-major array.
    public func floats(_ name: String, shape: [Int]) throws -> [Float] {
        guard let e = entries[name] else { throw EmbedError.badModel(path, "missing tensor '\(name)'") }
        guard e.dtype == "F32" else {
            throw EmbedError.badModel(path, "tensor '\(name)' is \(e.dtype); only F32 is supported")
        }
        guard e.shape == shape else {
            throw EmbedError.badModel(path, "tensor '\(name)' has shape \(e.shape), expected \(shape)")
        }
        let count = shape.reduce(1, *)
        guard e.end - e.begin == count * 4 else {
            throw EmbedError.badModel(path, "tensor '\(name)' holds \(e.end - e.begin) bytes, expected \(count * 4)")
        }
        var out = [Float](repeating: 0, count: count)
        let start = data.startIndex + dataStart + e.begin
        out.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in
                // Little-endian F32 on a little-endian host: a plain copy (unaligned-safe).
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(start - data.startIndex)..<(start - data.startIndex + count * 4)]))
            }
        }
        return out
    }
}
