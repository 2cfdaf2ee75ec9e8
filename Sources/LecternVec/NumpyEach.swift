import CSQLiteExt
#if canImport(Glibc)
import Glibc
#endif

// `vec_npy_each(array)`: one row per vector of a NumPy `.npy` array of float32, as sqlite-vec's:
// `INSERT INTO t(rowid, e) SELECT rowid, vector FROM vec_npy_each(?)` loads an `np.save`d
// matrix in one statement; `vec_npy_each(vec_npy_file('embeddings.npy'))` reads a file instead
// (memory-mapped, so an array larger than SQLite's largest BLOB still loads).
// Accepted: format versions 1 to 3, `descr` '<f4' (or '|f4'-free little-endian float32),
// `fortran_order` False, shape (), (D,) (one vector) or (N, D); anything else is an error naming
// what is wrong. Rows: rowid = the vector's index, `vector` = a float32 blob (subtype float32).

/// The bytes of an array: a copy of a BLOB, or a file mapped read-only (unmapped on release).
final class NpyBytes {
    let base: UnsafeRawPointer?
    let count: Int
    private let mapped: Bool

    init(copying p: UnsafeRawPointer?, count: Int) {
        let m = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        if let p, count > 0 { m.copyMemory(from: p, byteCount: count) }
        base = UnsafeRawPointer(m); self.count = count; mapped = false
    }

    /// Maps the file at `path`; nil with the reason when it cannot be opened or mapped.
    init(mapping path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw VecError("vec_npy_each: cannot open numpy file '\(path)' (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw VecError("vec_npy_each: cannot read numpy file '\(path)' (\(String(cString: strerror(errno))))") }
        let n = Int(st.st_size)
        if n == 0 { base = nil; count = 0; mapped = false; return }
        guard let m = mmap(nil, n, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw VecError("vec_npy_each: cannot map numpy file '\(path)' (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(m); count = n; mapped = true
    }

    subscript(i: Int) -> UInt8 { base.map { $0.load(fromByteOffset: i, as: UInt8.self) } ?? 0 }

    deinit {
        if mapped, let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
        else if let base { UnsafeMutableRawPointer(mutating: base).deallocate() }
    }
}

/// A parsed `.npy` array: `count` vectors of `dims` float32s starting at `offset` of `bytes`.
struct NumpyArray {
    let bytes: NpyBytes
    let offset: Int
    let count: Int
    let dims: Int

    /// Parses the header of `bytes`; `what` names the input in errors.
    init(bytes: NpyBytes, what: String) throws {
        func bad(_ why: String) -> VecError { VecError("vec_npy_each: \(what): \(why)") }
        let b = (0..<min(12, bytes.count)).map { bytes[$0] }
        guard b.count >= 10 else { throw bad("too short to be a .npy array (\(bytes.count) bytes)") }
        guard b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else { throw bad("no .npy magic header (\\x93NUMPY)") }
        let major = b[6]
        let headerLength: Int, start: Int
        switch major {
        case 1: headerLength = Int(b[8]) | Int(b[9]) << 8; start = 10
        case 2, 3:
            guard b.count >= 12 else { throw bad("too short for a version \(major) header") }
            headerLength = Int(b[8]) | Int(b[9]) << 8 | Int(b[10]) << 16 | Int(b[11]) << 24; start = 12
        default: throw bad("unsupported .npy format version \(major)")
        }
        guard headerLength > 0, start + headerLength <= bytes.count else { throw bad("header length \(headerLength) runs past the end (\(bytes.count) bytes)") }
        guard let base = bytes.base else { throw bad("empty") }
        let header = String(decoding: UnsafeRawBufferPointer(start: base + start, count: headerLength), as: UTF8.self)
        let dict = try NumpyHeader.parse(header, what: what)
        for key in dict.keys where !["descr", "fortran_order", "shape"].contains(key) {
            throw bad("unknown key '\(key)' in the header (descr, fortran_order and shape are the keys of a .npy header)")
        }
        guard let descr = dict["descr"] else { throw bad("header has no 'descr'") }
        guard descr == "'<f4'" else { throw bad("only little-endian float32 arrays ('<f4') are supported, got descr \(descr)") }
        guard let order = dict["fortran_order"] else { throw bad("header has no 'fortran_order'") }
        guard order == "False" else { throw bad("only C-ordered arrays (fortran_order False) are supported") }
        guard let shape = dict["shape"], shape.hasPrefix("("), shape.hasSuffix(")") else { throw bad("header has no shape tuple") }
        // Python's tuple syntax: "(2)" is the number 2, a one-element tuple is "(2,)".
        if !shape.contains(",") && shape.dropFirst().dropLast().contains(where: { $0 != " " }) {
            throw bad("shape \(shape) is not a tuple (one element is written (\(shape.dropFirst().dropLast()),))")
        }
        let dimsList = try shape.dropFirst().dropLast().split(separator: ",").map { String($0).trimmed() }
            .filter { !$0.isEmpty }.map { s -> Int in
                guard let n = Int(s), n >= 0 else { throw bad("shape \(shape) is not a tuple of sizes") }
                return n
            }
        let count: Int, dims: Int
        switch dimsList.count {
        case 0: throw bad("a 0-d array (shape ()) holds no vector")
        case 1: (count, dims) = dimsList[0] == 0 ? (0, 0) : (1, dimsList[0])
        case 2: (count, dims) = (dimsList[0], dimsList[1])
        default: throw bad("shape \(shape): 1-d (one vector) or 2-d (one vector per row) arrays only")
        }
        let (cells, o1) = count.multipliedReportingOverflow(by: dims)
        let (needed, o2) = cells.multipliedReportingOverflow(by: 4)
        guard !o1, !o2, start + headerLength <= bytes.count, needed <= bytes.count - start - headerLength else {
            throw bad("shape \(shape) needs \(count) x \(dims) float32 values but \(bytes.count - start - headerLength) bytes follow the header")
        }
        guard count == 0 || dims > 0 else { throw bad("shape \(shape): vectors of 0 dimensions") }
        self.bytes = bytes; offset = start + headerLength; self.count = count; self.dims = dims
    }
}

/// The Python dict literal of a `.npy` header, read as key -> value source text (values kept as
/// written: `'<f4'`, `False`, `(2, 4)`).
enum NumpyHeader {
    static func parse(_ s: String, what: String) throws -> [String: String] {
        func bad(_ why: String) -> VecError { VecError("vec_npy_each: \(what): header \(why)") }
        let c = Array(s.unicodeScalars)
        var i = 0
        func skipSpaces() { while i < c.count && (c[i] == " " || c[i] == "\n" || c[i] == "\t") { i += 1 } }
        skipSpaces()
        guard i < c.count, c[i] == "{" else { throw bad("does not start with '{'") }
        i += 1
        var out: [String: String] = [:]
        while true {
            skipSpaces()
            guard i < c.count else { throw bad("ends before its closing '}'") }
            if c[i] == "}" { return out }
            guard c[i] == "'" || c[i] == "\"" else { throw bad("expects a quoted key at character \(i)") }
            let q = c[i]; i += 1
            var key = ""
            while i < c.count && c[i] != q { key.unicodeScalars.append(c[i]); i += 1 }
            guard i < c.count else { throw bad("has an unterminated key") }
            i += 1
            skipSpaces()
            guard i < c.count, c[i] == ":" else { throw bad("expects ':' after key '\(key)'") }
            i += 1
            skipSpaces()
            var value = ""
            var depth = 0
            var quote: Unicode.Scalar? = nil
            while i < c.count {
                let ch = c[i]
                if let qq = quote { value.unicodeScalars.append(ch); if ch == qq { quote = nil }; i += 1; continue }
                if ch == "'" || ch == "\"" { quote = ch } else if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
                else if (ch == "," || ch == "}") && depth == 0 { break }
                value.unicodeScalars.append(ch); i += 1
            }
            let v = value.trimmed()
            guard !v.isEmpty else { throw bad("has no value for key '\(key)'") }
            out[key] = v
            if i < c.count && c[i] == "," { i += 1 }
        }
    }
}

private final class NpyCursor {
    var array: NumpyArray? = nil
    var pos = 0
}

@inline(__always) private func npyCursor(_ p: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> NpyCursor {
    tableFunctionCursor(p, as: NpyCursor.self)
}

private let npyVectorCol: Int32 = 0
private let npyArrayCol: Int32 = 1

private let npyModule: UnsafeMutablePointer<sqlite3_module> = {
    let m = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
    m.initialize(to: sqlite3_module())
    m.pointee.xConnect = { db, _, _, _, ppVtab, _ in tableFunctionConnect(db, "CREATE TABLE x(vector, array HIDDEN)", ppVtab) }
    m.pointee.xBestIndex = { vtab, info in
        tableFunctionBestIndex(vtab, info, argument: npyArrayCol, rows: 1000,
                               usage: "vec_npy_each: an array argument is required, as in SELECT vector FROM vec_npy_each(:npy) or vec_npy_each(vec_npy_file('a.npy'))")
    }
    m.pointee.xDisconnect = { vtab in tableFunctionDisconnect(vtab) }
    m.pointee.xOpen = { _, pp in openCursor(NpyCursor(), pp) }
    m.pointee.xClose = { cur in closeCursor(cur) }
    m.pointee.xFilter = { cur, _, _, argc, argv in
        let c = npyCursor(cur)
        c.pos = 0
        c.array = nil
        guard argc >= 1, let argv else { return SQLITE_OK }
        do {
            let v = argv[0]
            if let path = lx_value_npy_file(v).map({ String(cString: $0) }) {
                c.array = try NumpyArray(bytes: try NpyBytes(mapping: path), what: "file '\(path)'")
            } else if lx_value_type(v) == SQLITE_BLOB {
                let n = Int(lx_value_bytes(v))
                c.array = try NumpyArray(bytes: NpyBytes(copying: lx_value_blob(v), count: n), what: "the BLOB argument")
            } else if lx_value_type(v) == SQLITE_NULL {
                return SQLITE_OK
            } else {
                throw VecError("vec_npy_each: the argument must be a .npy BLOB or vec_npy_file(path), got \(typeName(lx_value_type(v)))")
            }
            return SQLITE_OK
        } catch let e as VecError {
            setError(cur?.pointee.pVtab, e.message)
            return SQLITE_ERROR
        } catch {
            setError(cur?.pointee.pVtab, "vec_npy_each: \(error)")
            return SQLITE_ERROR
        }
    }
    m.pointee.xNext = { cur in npyCursor(cur).pos += 1; return SQLITE_OK }
    m.pointee.xEof = { cur in let c = npyCursor(cur); return c.pos >= (c.array?.count ?? 0) ? 1 : 0 }
    m.pointee.xRowid = { cur, out in out?.pointee = Int64(npyCursor(cur).pos); return SQLITE_OK }
    m.pointee.xColumn = { cur, ctx, i in
        let c = npyCursor(cur)
        guard i == npyVectorCol, let a = c.array, c.pos < a.count else { lx_result_null(ctx); return SQLITE_OK }
        let start = a.offset + c.pos * a.dims * 4
        guard let base = a.bytes.base, a.dims * 4 <= Int(Int32.max) else { lx_result_error(ctx, "vec_npy_each: vector too large"); return SQLITE_OK }
        lx_result_blob(ctx, base + start, Int32(truncatingIfNeeded: a.dims * 4))
        lx_result_subtype(ctx, ElementType.float32.rawValue)
        return SQLITE_OK
    }
    return m
}()

/// Registers `vec_npy_each` and `vec_npy_file` on one connection.
func registerNumpy(_ db: OpaquePointer?) -> Int32 {
    var rc = lx_create_module(db, "vec_npy_each", npyModule, nil)
    if rc == SQLITE_OK {
        rc = lx_create_function(db, "vec_npy_file", 1, SQLITE_UTF8, nil) { ctx, _, argv in
            guard let v = argv?[0], lx_value_type(v) == SQLITE_TEXT, let t = lx_value_text(v) else {
                lx_result_error(ctx, "vec_npy_file: the argument must be a file path (TEXT)")
                return
            }
            t.withMemoryRebound(to: CChar.self, capacity: 1) { lx_result_npy_file(ctx, $0) }
        }
    }
    return rc
}
