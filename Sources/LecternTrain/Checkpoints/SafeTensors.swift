import Foundation

/// One tensor of a safetensors file: its name, dtype (`F32`, `BF16`, ...), shape and raw
/// little-endian bytes, exactly as stored.
public struct StoredTensor: Sendable, Equatable {
    public var name: String
    public var dtype: String
    public var shape: [Int]
    public var data: Data

    public init(name: String, dtype: String, shape: [Int], data: Data) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.data = data
    }

    /// Bytes per element of the safetensors dtypes Lectern accepts.
    public static let elementSizes: [String: Int] = [
        "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
        "F8_E4M3": 1, "F8_E5M2": 1,
    ]

    /// Checks that the bytes hold exactly `shape`'s elements of `dtype` (a value read from a file
    /// or a table is input like any other). Returns the element count.
    @discardableResult
    public func validate(source: String) throws -> Int {
        guard let size = Self.elementSizes[dtype] else {
            throw SafeTensorsError.invalid(source, "tensor \(name): unknown dtype '\(dtype)'")
        }
        var count = 1
        for d in shape {
            guard d >= 0 else { throw SafeTensorsError.invalid(source, "tensor \(name): negative dimension in \(shape)") }
            let (m, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw SafeTensorsError.invalid(source, "tensor \(name): shape \(shape) overflows") }
            count = m
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, bytes == data.count else {
            throw SafeTensorsError.invalid(source, "tensor \(name): \(data.count) bytes for shape \(shape) of \(dtype) (expected \(overflow ? "too many" : String(bytes)))")
        }
        return count
    }
}

/// A safetensors file that cannot be read as one.
public enum SafeTensorsError: Error, CustomStringConvertible, Sendable {
    case invalid(String, String)
    public var description: String {
        switch self {
        case .invalid(let source, let detail): return "\(source): not a valid safetensors file: \(detail)"
        }
    }
}

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// naming each tensor's dtype, shape and byte range, then the bytes. Lectern reads the engine's
/// adapter files into `checkpoint_tensors` and writes them back out for export and resume; the
/// writer's layout (sorted names, contiguous data in that order, header padded with spaces to 8
/// bytes, `{"format": "pt"}` metadata) is what PEFT and vLLM load.
public enum SafeTensors {
    /// Largest header accepted (the format's own readers refuse above 100 MB).
    public static let maxHeaderBytes = 100_000_000

    /// Reads every tensor of the file at `path`, checking the header and every range.
    public static func read(path: String) throws -> (tensors: [StoredTensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SafeTensorsError.invalid(path, "cannot read the file")
        }
        return try parse(data, source: path)
    }

    /// Parses safetensors bytes; `source` names them in errors.
    public static func parse(_ data: Data, source: String) throws -> (tensors: [StoredTensor], metadata: [String: String]) {
        guard data.count >= 8 else { throw SafeTensorsError.invalid(source, "\(data.count) bytes, shorter than the 8-byte header length") }
        var n: UInt64 = 0
        for (i, b) in data.prefix(8).enumerated() { n |= UInt64(b) << (8 * UInt64(i)) }
        guard n <= UInt64(maxHeaderBytes), Int(n) <= data.count - 8 else {
            throw SafeTensorsError.invalid(source, "header length \(n) exceeds the file (\(data.count) bytes)")
        }
        let headerEnd = 8 + Int(n)
        let start = data.startIndex
        let header = data[(start + 8)..<(start + headerEnd)]
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw SafeTensorsError.invalid(source, "the header is not a JSON object")
        }
        let body = data.count - headerEnd
        var tensors: [StoredTensor] = []
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                for (k, v) in value as? [String: Any] ?? [:] { metadata[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Any], let offsets = entry["data_offsets"] as? [Any], offsets.count == 2 else {
                throw SafeTensorsError.invalid(source, "tensor \(name): needs dtype, shape and two data_offsets")
            }
            let dims = try shape.map { d -> Int in
                guard let i = (d as? NSNumber)?.int64Value, let v = Int(exactly: i) else {
                    throw SafeTensorsError.invalid(source, "tensor \(name): shape \(shape) is not a list of integers")
                }
                return v
            }
            guard let b = (offsets[0] as? NSNumber)?.int64Value, let e = (offsets[1] as? NSNumber)?.int64Value,
                  b >= 0, e >= b, e <= Int64(body) else {
                throw SafeTensorsError.invalid(source, "tensor \(name): data_offsets \(offsets) outside the \(body) data bytes")
            }
            let lo = start + headerEnd + Int(b), hi = start + headerEnd + Int(e)
            let t = StoredTensor(name: name, dtype: dtype, shape: dims, data: Data(data[lo..<hi]))
            try t.validate(source: source)
            tensors.append(t)
        }
        tensors.sort { $0.name < $1.name }
        return (tensors, metadata)
    }

    /// The file's bytes for `tensors` (validated first).
    public static func serialize(_ tensors: [StoredTensor], metadata: [String: String] = ["format": "pt"], source: String) throws -> Data {
        let sorted = tensors.sorted { $0.name < $1.name }
        var header: [String: Any] = [:]
        var offset = 0
        for t in sorted {
            try t.validate(source: source)
            header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.data.count]] as [String: Any]
            offset += t.data.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in sorted { out.append(t.data) }
        return out
    }

    /// Writes `tensors` to `path` atomically.
    public static func write(_ tensors: [StoredTensor], to path: String, metadata: [String: String] = ["format": "pt"]) throws {
        try serialize(tensors, metadata: metadata, source: path).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
