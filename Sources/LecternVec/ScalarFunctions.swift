import LecternKernels
import CSQLiteExt

typealias SQLFunction = @convention(c) (OpaquePointer?, Int32, UnsafeMutablePointer<OpaquePointer?>?) -> Void

/// SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS | SQLITE_SUBTYPE, as sqlite-vec registers them.
private let deterministicFlags: Int32 = 1 | 0x800 | 0x200000 | 0x100000

/// Registers the `vec_*` scalar functions on one connection.
func registerScalarFunctions(_ db: OpaquePointer?) -> Int32 {
    let functions: [(String, Int32, SQLFunction)] = [
        ("vec_f32", 1, { c, _, v in run(c) { try resultVector(c, float32FromValue(v![0])) } }),
        ("vec_int8", 1, { c, _, v in run(c) { try resultVector(c, int8FromValue(v![0])) } }),
        ("vec_bit", 1, { c, _, v in run(c) { try resultVector(c, bitFromValue(v![0])) } }),
        ("vec_length", 1, { c, _, v in run(c) { lx_result_int64(c, Int64(try vectorFromValue(v![0]).dims)) } }),
        ("vec_to_json", 1, { c, _, v in run(c) { try vecToJSON(c, vectorFromValue(v![0])) } }),
        ("vec_normalize", 1, { c, _, v in run(c) { try resultVector(c, normalize(vectorFromValue(v![0]))) } }),
        ("vec_add", 2, { c, _, v in run(c) { try resultVector(c, elementwise(v![0], v![1], op: "add", &+, +)) } }),
        ("vec_sub", 2, { c, _, v in run(c) { try resultVector(c, elementwise(v![0], v![1], op: "subtract", &-, -)) } }),
        ("vec_slice", 3, { c, _, v in run(c) { try resultVector(c, slice(vectorFromValue(v![0]), lx_value_int64(v![1]), lx_value_int64(v![2]))) } }),
        ("vec_distance_cosine", 2, { c, _, v in run(c) { try distanceFunction(c, v![0], v![1], .cosine) } }),
        ("vec_distance_l2", 2, { c, _, v in run(c) { try distanceFunction(c, v![0], v![1], .l2) } }),
        ("vec_distance_l1", 2, { c, _, v in run(c) { try distanceFunction(c, v![0], v![1], .l1) } }),
        ("vec_distance_hamming", 2, { c, _, v in run(c) { try distanceFunction(c, v![0], v![1], .hamming) } }),
        ("vec_distance_dot", 2, { c, _, v in run(c) { try distanceFunction(c, v![0], v![1], .dot) } }),
        ("vec_quantize_int8", 2, { c, _, v in run(c) { try resultVector(c, quantizeInt8(float32FromValue(v![0]), v![1])) } }),
        ("vec_quantize_binary", 1, { c, _, v in run(c) { try resultVector(c, quantizeBinary(vectorFromValue(v![0]))) } }),
        ("vec_type", 1, { c, _, v in run(c) { lx_result_text(c, try vectorFromValue(v![0]).type.name, -1) } }),
        ("lectern_vec_version", 0, { c, _, _ in lx_result_text(c, lecternVecVersion, -1) }),
        ("vec_version", 0, { c, _, _ in lx_result_text(c, sqliteVecCompatVersion, -1) }),
        ("vec_debug", 0, { c, _, _ in lx_result_text(c, vecDebug(), -1) }),
    ]
    for (name, n, f) in functions {
        let rc = lx_create_function(db, name, n, deterministicFlags, nil, f)
        if rc != SQLITE_OK { return rc }
    }
    return SQLITE_OK
}

/// The extension's version, returned by `lectern_vec_version()`.
public let lecternVecVersion = "0.1.0"

/// What `vec_version()` returns: the sqlite-vec release whose SQL surface this extension follows,
/// marked as ours (a "v" first, as tools that parse sqlite-vec's version expect; the suffix keeps
/// it from passing for sqlite-vec itself).
public let sqliteVecCompatVersion = "v0.1.6-lectern.\(lecternVecVersion)"

/// `vec_debug()`: four lines, as sqlite-vec's (version, date, commit, build flags).
private func vecDebug() -> String {
    var flags = ["swift"]
    #if arch(x86_64)
    flags.append("x86_64")
    #elseif arch(arm64)
    flags.append("arm64")
    #endif
    return "Version: \(sqliteVecCompatVersion)\nDate: (not recorded)\nCommit: (not recorded)\nBuild flags: \(flags.joined(separator: " "))"
}

@inline(__always)
private func run(_ c: OpaquePointer?, _ body: () throws -> Void) {
    do { try body() } catch let e as VecError { lx_result_error(c, e.message) } catch { lx_result_error(c, "\(error)") }
}

private func resultVector(_ c: OpaquePointer?, _ v: Vector) throws {
    let n = try cInt(v.bytes.count, "vector size")
    v.bytes.withUnsafeBytes { lx_result_blob(c, $0.baseAddress, n) }
    lx_result_subtype(c, v.type.rawValue)
}

private func vecToJSON(_ c: OpaquePointer?, _ v: Vector) {
    var s = "["
    switch v.type {
    case .float32:
        for (i, f) in v.floats.enumerated() {
            if i > 0 { s += "," }
            s += f.isNaN ? "null" : formatFixed6(Double(f))
        }
    case .int8:
        s += v.int8s.map { String($0) }.joined(separator: ",")
    case .bit:
        s += (0..<v.dims).map { String((v.bytes[$0 / 8] >> UInt8($0 % 8)) & 1) }.joined(separator: ",")
    }
    s += "]"
    lx_result_text(c, s, -1)
    lx_result_subtype(c, jsonSubtype)
}

/// SQLite's own "%f" (as sqlite-vec formats), so the text matches it digit for digit.
func formatFixed6(_ x: Double) -> String {
    guard let p = lx_format_f(x) else { return "null" }
    defer { lx_free(p) }
    return String(cString: p)
}

private func normalize(_ v: Vector) throws -> Vector {
    guard v.type == .float32 else { throw VecError("only float32 vectors are supported when normalizing") }
    let f = v.floats
    var norm: Float = 0
    for x in f { norm += x * x }
    norm = norm.squareRoot()
    return Vector(floats: f.map { $0 / norm })
}

private func matched(_ a: OpaquePointer?, _ b: OpaquePointer?) throws -> (Vector, Vector) {
    let x: Vector, y: Vector
    do { x = try vectorFromValue(a) } catch let e as VecError { throw VecError("Error reading 1st vector: \(e.message)") }
    do { y = try vectorFromValue(b) } catch let e as VecError { throw VecError("Error reading 2nd vector: \(e.message)") }
    if x.type != y.type {
        throw VecError("Vector type mistmatch. First vector has type \(x.type.name), while the second has type \(y.type.name).")
    }
    if x.dims != y.dims {
        throw VecError("Vector dimension mistmatch. First vector has \(x.dims) dimensions, while the second has \(y.dims) dimensions.")
    }
    return (x, y)
}

private func elementwise(_ a: OpaquePointer?, _ b: OpaquePointer?, op: String,
                         _ i8: (Int8, Int8) -> Int8, _ f32: (Float, Float) -> Float) throws -> Vector {
    let (x, y) = try matched(a, b)
    switch x.type {
    case .bit: throw VecError("Cannot \(op) two bitvectors together.")
    case .float32: return Vector(floats: zip(x.floats, y.floats).map(f32))
    case .int8: return Vector(int8s: zip(x.int8s, y.int8s).map(i8))
    }
}

private func slice(_ v: Vector, _ start: Int64, _ end: Int64) throws -> Vector {
    if start < 0 { throw VecError("slice 'start' index must be a postive number.") }
    if end < 0 { throw VecError("slice 'end' index must be a postive number.") }
    if start > v.dims { throw VecError("slice 'start' index is greater than the number of dimensions") }
    if end > v.dims { throw VecError("slice 'end' index is greater than the number of dimensions") }
    if start > end { throw VecError("slice 'start' index is greater than 'end' index") }
    if start == end { throw VecError("slice 'start' index is equal to the 'end' index, vectors must have non-zero length") }
    let s = Int(start), e = Int(end)
    switch v.type {
    case .float32: return Vector(type: .float32, dims: e - s, bytes: Array(v.bytes[(s * 4)..<(e * 4)]))
    case .int8: return Vector(type: .int8, dims: e - s, bytes: Array(v.bytes[s..<e]))
    case .bit:
        if s % 8 != 0 { throw VecError("start index must be divisible by 8.") }
        if e % 8 != 0 { throw VecError("end index must be divisible by 8.") }
        return Vector(type: .bit, dims: e - s, bytes: Array(v.bytes[(s / 8)..<(e / 8)]))
    }
}

private func distanceFunction(_ c: OpaquePointer?, _ a: OpaquePointer?, _ b: OpaquePointer?, _ metric: Metric) throws {
    let (x, y) = try matched(a, b)
    switch (metric, x.type) {
    case (.hamming, .float32): throw VecError("Cannot calculate hamming distance between two float32 vectors.")
    case (.hamming, .int8): throw VecError("Cannot calculate hamming distance between two int8 vectors.")
    case (.cosine, .bit): throw VecError("Cannot calculate cosine distance between two bitvectors.")
    case (.l2, .bit): throw VecError("Cannot calculate L2 distance between two bitvectors.")
    case (.l1, .bit): throw VecError("Cannot calculate L1 distance between two bitvectors.")
    case (.dot, .bit): throw VecError("Cannot calculate dot distance between two bitvectors.")
    default: break
    }
    let d = x.bytes.withUnsafeBytes { xa in
        y.bytes.withUnsafeBytes { ya in distance(metric, x.type, xa.baseAddress!, ya.baseAddress!, dims: x.dims) }
    }
    if x.type == .int8 && (metric == .l1 || metric == .dot) {
        lx_result_int64(c, Int64(d))
    } else {
        lx_result_double(c, d)
    }
}

private func quantizeInt8(_ v: Vector, _ how: OpaquePointer?) throws -> Vector {
    guard lx_value_type(how) == SQLITE_TEXT, let t = lx_value_text(how),
          String(cString: t).lowercased() == "unit" else {
        throw VecError("2nd argument to vec_quantize_int8() must be 'unit'.")
    }
    let step = Float((1.0 - (-1.0)) / 255)
    return Vector(int8s: v.floats.map { x in
        var val = (Double(x) - (-1.0)) / Double(step) - 128
        if !(val <= 127.0) { val = 127 }
        if !(val >= -128.0) { val = -128 }
        return Int8(val)
    })
}

private func quantizeBinary(_ v: Vector) throws -> Vector {
    if v.type == .bit { throw VecError("Can only binary quantize float or int8 vectors") }
    if v.dims % 8 != 0 { throw VecError("Binary quantization requires vectors with a length divisible by 8") }
    var out = [UInt8](repeating: 0, count: v.dims / 8)
    switch v.type {
    case .float32: for (i, x) in v.floats.enumerated() where x > 0 { out[i / 8] |= 1 << UInt8(i % 8) }
    case .int8: for (i, x) in v.int8s.enumerated() where x > 0 { out[i / 8] |= 1 << UInt8(i % 8) }
    case .bit: break
    }
    return Vector(type: .bit, dims: v.dims, bytes: out)
}
