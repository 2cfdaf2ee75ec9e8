// The loadable-library face of LecternVec: a thin target of its own so that the statically linked
// Swift runtime (-static-stdlib, see Package.swift) goes only into libLecternVec.so, never into
// the test bundle or the `lectern` executable that link LecternVec itself.
import CSQLiteExt
import LecternVec

/// The default entry point SQLite looks for in `.load PATH` / `load_extension(PATH)`.
@_cdecl("sqlite3_extension_init")
public func sqlite3_extension_init(
    _ db: OpaquePointer?, _ pzErrMsg: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ api: UnsafePointer<sqlite3_api_routines>?
) -> Int32 {
    lecternVecInit(db, pzErrMsg, api)
}
