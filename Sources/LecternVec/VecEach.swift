import CSQLiteExt

// `vec_each(vector)`: a table-valued function with one row per element, as sqlite-vec's:
// `SELECT rowid, value FROM vec_each(vec_f32('[1,2,3]'))` gives (0, 1.0), (1, 2.0), (2, 3.0).
// float32 elements come back as REAL, int8 as INTEGER, bit vectors as 0 or 1 per bit.

private final class EachCursor {
    var vector: Vector? = nil
    var pos = 0
    var count: Int { vector?.dims ?? 0 }
}

@inline(__always) private func eachCursor(_ p: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> EachCursor {
    tableFunctionCursor(p, as: EachCursor.self)
}

/// Column 0 is `value`; column 1 the hidden argument.
private let eachValueCol: Int32 = 0
private let eachVectorCol: Int32 = 1

private let eachModule: UnsafeMutablePointer<sqlite3_module> = {
    let m = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
    m.initialize(to: sqlite3_module())
    // xCreate nil: eponymous-only, like json_each (no CREATE VIRTUAL TABLE ... USING vec_each).
    m.pointee.xConnect = { db, _, _, _, ppVtab, _ in tableFunctionConnect(db, "CREATE TABLE x(value, vector HIDDEN)", ppVtab) }
    m.pointee.xBestIndex = { vtab, info in
        tableFunctionBestIndex(vtab, info, argument: eachVectorCol, rows: 100,
                               usage: "vec_each: a vector argument is required, as in SELECT value FROM vec_each(:vector)")
    }
    m.pointee.xDisconnect = { vtab in tableFunctionDisconnect(vtab) }
    m.pointee.xOpen = { _, pp in openCursor(EachCursor(), pp) }
    m.pointee.xClose = { cur in closeCursor(cur) }
    m.pointee.xFilter = { cur, _, _, argc, argv in
        let c = eachCursor(cur)
        c.pos = 0
        c.vector = nil
        guard argc >= 1, let argv else { return SQLITE_OK }
        do {
            c.vector = try vectorFromValue(argv[0])
            return SQLITE_OK
        } catch let e as VecError {
            setError(cur?.pointee.pVtab, "vec_each: \(e.message)")
            return SQLITE_ERROR
        } catch {
            setError(cur?.pointee.pVtab, "vec_each: \(error)")
            return SQLITE_ERROR
        }
    }
    m.pointee.xNext = { cur in eachCursor(cur).pos += 1; return SQLITE_OK }
    m.pointee.xEof = { cur in let c = eachCursor(cur); return c.pos >= c.count ? 1 : 0 }
    m.pointee.xRowid = { cur, out in out?.pointee = Int64(eachCursor(cur).pos); return SQLITE_OK }
    m.pointee.xColumn = { cur, ctx, i in
        let c = eachCursor(cur)
        guard i == eachValueCol, let v = c.vector, c.pos < v.dims else { lx_result_null(ctx); return SQLITE_OK }
        let p = c.pos
        switch v.type {
        case .float32:
            lx_result_double(ctx, Double(v.bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p * 4, as: Float.self) }))
        case .int8:
            lx_result_int64(ctx, Int64(Int8(bitPattern: v.bytes[p])))
        case .bit:
            lx_result_int64(ctx, Int64((v.bytes[p / 8] >> UInt8(p % 8)) & 1))
        }
        return SQLITE_OK
    }
    return m
}()

/// Registers the eponymous `vec_each` table-valued function on one connection.
func registerVecEach(_ db: OpaquePointer?) -> Int32 {
    lx_create_module(db, "vec_each", eachModule, nil)
}
