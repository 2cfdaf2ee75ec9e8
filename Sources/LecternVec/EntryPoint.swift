import CSQLiteExt

/// Initialises the extension on one connection: the `vec_*` functions, the `lectern_vec` module and
/// the `vec_each` table-valued function.
/// This is the body of every entry point; `api` is what SQLite hands an extension.
public func lecternVecInit(
    _ db: OpaquePointer?, _ pzErrMsg: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ api: UnsafePointer<sqlite3_api_routines>?
) -> Int32 {
    lx_set_api(api)
    guard lx_has_api() != 0 else { return SQLITE_ERROR }
    var rc = registerScalarFunctions(db)
    if rc == SQLITE_OK { rc = registerVecModule(db) }
    if rc == SQLITE_OK { rc = registerVecEach(db) }
    if rc == SQLITE_OK { rc = registerNumpy(db) }
    if rc != SQLITE_OK, let pzErrMsg {
        pzErrMsg.pointee = lx_strdup("lectern_vec: registration failed: \(String(cString: lx_errmsg(db)))")
    }
    return rc
}

/// The C entry point for in-app use: pass it to `sqlite3_auto_extension` (cast to the
/// `void (*)(void)` that function takes) so every connection the process opens gets the extension.
/// Also found by `load_extension` as `sqlite3_lecternvec_init`.
@_cdecl("sqlite3_lecternvec_init")
public func sqlite3_lecternvec_init(
    _ db: OpaquePointer?, _ pzErrMsg: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ api: UnsafePointer<sqlite3_api_routines>?
) -> Int32 {
    lecternVecInit(db, pzErrMsg, api)
}

/// `sqlite3_lecternvec_init` as a C function pointer, for `sqlite3_auto_extension`.
public let lecternVecEntryPoint: @convention(c) (
    OpaquePointer?, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, UnsafePointer<sqlite3_api_routines>?
) -> Int32 = sqlite3_lecternvec_init

/// The entry point typed as `sqlite3_auto_extension` wants it (`void (*)(void)`): in-app use is
/// `sqlite3_auto_extension(lecternVecAutoExtension)` before opening connections.
public let lecternVecAutoExtension: @convention(c) () -> Void = unsafeBitCast(lecternVecEntryPoint, to: (@convention(c) () -> Void).self)

/// The NumPy entry point, as sqlite-vec's `sqlite3_vec_numpy_init`: `vec_npy_each` and
/// `vec_npy_file`. The main entry point registers them already; loading this one after it (which
/// SQLite does inside a running `SELECT load_extension(...)`, where a function cannot be
/// redefined) keeps the registration there and succeeds.
public func lecternVecNumpyInit(
    _ db: OpaquePointer?, _ pzErrMsg: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ api: UnsafePointer<sqlite3_api_routines>?
) -> Int32 {
    lx_set_api(api)
    guard lx_has_api() != 0 else { return SQLITE_ERROR }
    let rc = registerNumpy(db)
    if rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_MISUSE { return SQLITE_OK }
    if let pzErrMsg { pzErrMsg.pointee = lx_strdup("lectern_vec: numpy registration failed: \(String(cString: lx_errmsg(db)))") }
    return rc
}

@_cdecl("sqlite3_lecternvec_numpy_init")
public func sqlite3_lecternvec_numpy_init(
    _ db: OpaquePointer?, _ pzErrMsg: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ api: UnsafePointer<sqlite3_api_routines>?
) -> Int32 {
    lecternVecNumpyInit(db, pzErrMsg, api)
}
