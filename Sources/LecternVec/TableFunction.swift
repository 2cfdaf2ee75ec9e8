import CSQLiteExt

// The parts every eponymous table-valued function of the extension shares (`vec_each`,
// `vec_npy_each`): one hidden argument column taken by `=`, a plain sqlite3_vtab, an error that
// shows the call when the argument is missing.

/// xConnect: declares the function's columns (`declaration`) and allocates its vtab.
func tableFunctionConnect(_ db: OpaquePointer?, _ declaration: String, _ ppVtab: UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab>?>?) -> Int32 {
    let rc = lx_declare_vtab(db, declaration)
    guard rc == SQLITE_OK else { return rc }
    let v = UnsafeMutablePointer<sqlite3_vtab>.allocate(capacity: 1)
    v.initialize(to: sqlite3_vtab())
    ppVtab?.pointee = v
    return SQLITE_OK
}

/// xBestIndex: the `=` constraint on the hidden `argument` column becomes argv[0]; without one,
/// an error that says how to call the function (`usage`).
func tableFunctionBestIndex(_ vtab: UnsafeMutablePointer<sqlite3_vtab>?, _ info: UnsafeMutablePointer<sqlite3_index_info>?,
                            argument: Int32, rows: Int64, usage: String) -> Int32 {
    guard let info else { return SQLITE_ERROR }
    for i in 0..<Int(info.pointee.nConstraint) {
        let c = info.pointee.aConstraint[i]
        guard c.iColumn == argument, Int32(c.op) == SQLITE_INDEX_CONSTRAINT_EQ else { continue }
        if c.usable == 0 { return SQLITE_CONSTRAINT }
        info.pointee.aConstraintUsage[i].argvIndex = 1
        info.pointee.aConstraintUsage[i].omit = 1
        info.pointee.idxNum = 1
        info.pointee.estimatedCost = Double(rows) / 10
        info.pointee.estimatedRows = rows
        return SQLITE_OK
    }
    setError(vtab, usage)
    return SQLITE_ERROR
}

/// xDisconnect: frees the vtab (and an error message left on it).
func tableFunctionDisconnect(_ vtab: UnsafeMutablePointer<sqlite3_vtab>?) -> Int32 {
    if let m = vtab?.pointee.zErrMsg { lx_free(m) }
    vtab?.deinitialize(count: 1)
    vtab?.deallocate()
    return SQLITE_OK
}

/// The Swift object behind a table function's cursor.
func tableFunctionCursor<T: AnyObject>(_ p: UnsafeMutablePointer<sqlite3_vtab_cursor>?, as: T.Type) -> T {
    let c = UnsafeMutableRawPointer(p!).assumingMemoryBound(to: lx_cursor.self)
    return Unmanaged<T>.fromOpaque(c.pointee.impl).takeUnretainedValue()
}
