import CSQLiteExt
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A prepared statement on the host's connection, finalized on deinit. Errors carry SQLite's message.
final class Statement {
    let handle: OpaquePointer
    let db: OpaquePointer

    init(_ db: OpaquePointer, _ sql: String) throws {
        var p: OpaquePointer? = nil
        let rc = lx_prepare(db, sql, &p)
        guard rc == SQLITE_OK, let p else {
            throw VecError("lectern_vec: \(String(cString: lx_errmsg(db))) (in: \(sql))")
        }
        handle = p
        self.db = db
    }

    deinit { lx_finalize(handle) }

    /// Binds `values` (after a reset); a BLOB too large for SQLite's C int is an error, not a trap.
    @discardableResult
    func bind(_ values: [SQLArg]) throws -> Statement {
        lx_reset(handle)
        lx_clear_bindings(handle)
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            switch v {
            case .int(let x): lx_bind_int64(handle, idx, x)
            case .double(let x): lx_bind_double(handle, idx, x)
            case .text(let s): lx_bind_text(handle, idx, s)
            case .blob(let b):
                let n = try cInt(b.count, "BLOB parameter size")
                b.withUnsafeBytes { _ = lx_bind_blob(handle, idx, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), n) }
            case .value(let v): if let v { lx_bind_value(handle, idx, v) } else { lx_bind_null(handle, idx) }
            case .null: lx_bind_null(handle, idx)
            }
        }
        return self
    }

    /// Steps once: true when a row is available.
    func step() throws -> Bool {
        let rc = lx_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        let msg = String(cString: lx_errmsg(db))
        lx_reset(handle)
        throw VecError("lectern_vec: \(msg)")
    }

    /// Runs to completion, then resets so the statement releases its locks.
    func run() throws {
        defer { lx_reset(handle) }
        while try step() {}
    }

    func reset() { lx_reset(handle) }
    func int(_ i: Int32) -> Int64 { lx_column_int64(handle, i) }
    func type(_ i: Int32) -> Int32 { lx_column_type(handle, i) }
    func text(_ i: Int32) -> String? { lx_column_text(handle, i).map { String(cString: $0) } }
    func bytes(_ i: Int32) -> UnsafeRawBufferPointer {
        let p = lx_column_blob(handle, i)
        let n = Int(lx_column_bytes(handle, i))
        return UnsafeRawBufferPointer(start: p, count: p == nil ? 0 : n)
    }
    func value(_ i: Int32) -> OpaquePointer? { lx_column_value(handle, i) }
}

/// A value bound to a statement parameter.
enum SQLArg {
    case int(Int64), double(Double), text(String), blob([UInt8]), value(OpaquePointer?), null
}

/// Quotes an SQL identifier.
func quoteIdent(_ s: String) -> String { "\"" + s.replacingAll("\"", with: "\"\"") + "\"" }

/// Quotes an SQL string literal.
func quoteLiteral(_ s: String) -> String { "'" + s.replacingAll("'", with: "''") + "'" }

extension String {
    /// Foundation-free replace of every occurrence of one character.
    func replacingAll(_ c: Character, with r: String) -> String {
        var out = ""
        for ch in self { if ch == c { out += r } else { out.append(ch) } }
        return out
    }
}
