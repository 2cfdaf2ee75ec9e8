import CSQLiteExt

// Everything read from a shadow table is input: a corrupted or crafted file must give an SQL
// error, never a trap or an out-of-bounds access. These helpers keep the checks short at the
// call sites; their messages all start with "corrupt shadow table <name>:".

/// The error for a shadow-table value that cannot be right.
func corrupt(_ table: String, _ what: String) -> VecError {
    VecError("corrupt shadow table \(table): \(what)")
}

/// `a * b`, or an error when it overflows (sizes computed from file values).
@inline(__always)
func checkedMul(_ a: Int, _ b: Int, _ table: String, _ what: @autoclosure () -> String) throws -> Int {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    if o { throw corrupt(table, "\(what()) overflows") }
    return r
}

/// An `Int32` for the SQLite C API, or an error: SQLite lengths and offsets are C ints.
@inline(__always)
func cInt(_ n: Int, _ what: @autoclosure () -> String) throws -> Int32 {
    guard let v = Int32(exactly: n) else { throw VecError("lectern_vec: \(what()) (\(n)) does not fit SQLite's 32-bit length") }
    return v
}

extension Statement {
    /// Column `i` as an INTEGER, or a corrupt-table error naming `column` of `row` when it holds
    /// another type (sqlite3_column_int64 would silently turn TEXT, REAL, BLOB or NULL into a number).
    func integer(_ i: Int32, _ table: String, _ column: String, _ row: @autoclosure () -> String) throws -> Int64 {
        let t = type(i)
        guard t == SQLITE_INTEGER else { throw corrupt(table, "\(column) of \(row()) is \(typeName(t)), expected an INTEGER") }
        return int(i)
    }

    /// Column `i` as a BLOB (an empty one included), or a corrupt-table error.
    func blob(_ i: Int32, _ table: String, _ column: String, _ row: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let t = type(i)
        guard t == SQLITE_BLOB else { throw corrupt(table, "\(column) of \(row()) is \(typeName(t)), expected a BLOB") }
        return bytes(i)
    }
}
