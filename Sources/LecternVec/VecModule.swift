import CSQLiteExt

// The sqlite3_module glue: C callbacks that find the Swift objects behind SQLite's structs and
// turn thrown errors into SQLite error codes and messages. The logic lives in VecTable.
//
// Query plans (see docs/vector-extension.md, "idxNum and idxStr"): idxNum 1 = full scan,
// 2 = point lookup by rowid, 3 = KNN. idxStr is the plan digit followed by one 4-character
// block per condition, in argv order: "{___" query vector, "}___" k, "]A=_" partition key
// equality, "#___" nprobe, "!___" rowid, and "&CO_" a row filter of a KNN query: column C
// ('A' + column number) and operator O (see filterOps; "m" is IN, handed over whole). The unary
// filters (IS NULL, IS NOT NULL) take no argument; every other block takes the next one.

final class VecCursor {
    let table: VecTable
    var rowids: [Int64] = []
    var distances: [Float]? = nil
    var pos = 0
    init(table: VecTable) { self.table = table }
}

@inline(__always) private func table(_ p: UnsafeMutablePointer<sqlite3_vtab>?) -> VecTable {
    let v = UnsafeMutableRawPointer(p!).assumingMemoryBound(to: lx_vtab.self)
    return Unmanaged<VecTable>.fromOpaque(v.pointee.impl).takeUnretainedValue()
}

@inline(__always) private func cursor(_ p: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> VecCursor {
    let c = UnsafeMutableRawPointer(p!).assumingMemoryBound(to: lx_cursor.self)
    return Unmanaged<VecCursor>.fromOpaque(c.pointee.impl).takeUnretainedValue()
}

/// Sets a virtual table's error message (sqlite3_malloc'd, as SQLite frees it).
func setError(_ vtab: UnsafeMutablePointer<sqlite3_vtab>?, _ message: String) {
    guard let vtab else { return }
    if let old = vtab.pointee.zErrMsg { lx_free(old) }
    vtab.pointee.zErrMsg = lx_strdup(message)
}

/// xOpen's body for every module here: an `lx_cursor` owning `object` (retained until `closeCursor`).
func openCursor(_ object: AnyObject, _ pp: UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab_cursor>?>?) -> Int32 {
    let c = UnsafeMutablePointer<lx_cursor>.allocate(capacity: 1)
    c.initialize(to: lx_cursor())
    c.pointee.impl = Unmanaged.passRetained(object).toOpaque()
    pp?.pointee = UnsafeMutableRawPointer(c).assumingMemoryBound(to: sqlite3_vtab_cursor.self)
    return SQLITE_OK
}

/// xClose's body: releases the cursor's object and frees the `lx_cursor`.
func closeCursor(_ cur: UnsafeMutablePointer<sqlite3_vtab_cursor>?) -> Int32 {
    guard let cur else { return SQLITE_OK }
    let c = UnsafeMutableRawPointer(cur).assumingMemoryBound(to: lx_cursor.self)
    Unmanaged<AnyObject>.fromOpaque(c.pointee.impl).release()
    c.deinitialize(count: 1)
    c.deallocate()
    return SQLITE_OK
}

/// Runs a callback body; errors become an error code and the vtab's message.
private func guarded(_ vtab: UnsafeMutablePointer<sqlite3_vtab>?, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return SQLITE_OK
    } catch {
        let (message, code) = errorMessage(error)
        setError(vtab, message)
        return code
    }
}

/// The message and result code of an error thrown by the extension.
private func errorMessage(_ error: Error) -> (String, Int32) {
    switch error {
    case let e as ConstraintError: return (e.message, SQLITE_CONSTRAINT)
    case let e as VecError: return (e.message, SQLITE_ERROR)
    default: return ("lectern_vec: \(error)", SQLITE_ERROR)
    }
}

private typealias ConnectArgs = (OpaquePointer?, Int32, UnsafePointer<UnsafePointer<CChar>?>?,
                                 UnsafeMutablePointer<UnsafeMutablePointer<sqlite3_vtab>?>?,
                                 UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)

private func connect(_ a: ConnectArgs, create: Bool) -> Int32 {
    let (db, argc, argv, ppVtab, pzErr) = a
    guard let db, let argv, argc >= 3 else { return SQLITE_ERROR }
    let args = (0..<Int(argc)).map { String(cString: argv[$0]!) }
    do {
        let config = try TableConfig(args: Array(args.dropFirst(3)))
        let t = VecTable(db: db, schema: args[1], name: args[2], config: config)
        var rc = lx_declare_vtab(db, t.declaration)
        guard rc == SQLITE_OK else { throw VecError("lectern_vec: declare_vtab failed: \(String(cString: lx_errmsg(db)))") }
        rc = lx_vtab_config_constraint_support(db)
        if create { try t.createShadowTables() }
        try t.loadState()
        let v = UnsafeMutablePointer<lx_vtab>.allocate(capacity: 1)
        v.initialize(to: lx_vtab())
        v.pointee.impl = Unmanaged.passRetained(t).toOpaque()
        ppVtab?.pointee = UnsafeMutableRawPointer(v).assumingMemoryBound(to: sqlite3_vtab.self)
        return SQLITE_OK
    } catch let e as VecError {
        pzErr?.pointee = lx_strdup(e.message)
        return SQLITE_ERROR
    } catch {
        pzErr?.pointee = lx_strdup("lectern_vec: \(error)")
        return SQLITE_ERROR
    }
}

private func release(_ p: UnsafeMutablePointer<sqlite3_vtab>?) {
    guard let p else { return }
    let v = UnsafeMutableRawPointer(p).assumingMemoryBound(to: lx_vtab.self)
    let t = Unmanaged<VecTable>.fromOpaque(v.pointee.impl).takeRetainedValue()
    t.close()
    if let m = v.pointee.base.zErrMsg { lx_free(m) }
    v.deinitialize(count: 1)
    v.deallocate()
}

/// The operators a KNN query's row filter takes, with the character that encodes each in idxStr.
/// Unary ones (IS NULL, IS NOT NULL) take no argument.
private let filterOps: [Int32: (code: UInt8, sql: String)] = [
    Int32(SQLITE_INDEX_CONSTRAINT_EQ): (UInt8(ascii: "a"), "="),
    Int32(SQLITE_INDEX_CONSTRAINT_GT): (UInt8(ascii: "b"), ">"),
    Int32(SQLITE_INDEX_CONSTRAINT_LE): (UInt8(ascii: "c"), "<="),
    Int32(SQLITE_INDEX_CONSTRAINT_LT): (UInt8(ascii: "d"), "<"),
    Int32(SQLITE_INDEX_CONSTRAINT_GE): (UInt8(ascii: "e"), ">="),
    Int32(SQLITE_INDEX_CONSTRAINT_NE): (UInt8(ascii: "f"), "!="),
    Int32(SQLITE_INDEX_CONSTRAINT_LIKE): (UInt8(ascii: "g"), "LIKE"),
    Int32(SQLITE_INDEX_CONSTRAINT_GLOB): (UInt8(ascii: "h"), "GLOB"),
    Int32(SQLITE_INDEX_CONSTRAINT_IS): (UInt8(ascii: "i"), "IS"),
    Int32(SQLITE_INDEX_CONSTRAINT_ISNOT): (UInt8(ascii: "j"), "IS NOT"),
    Int32(SQLITE_INDEX_CONSTRAINT_ISNULL): (UInt8(ascii: "k"), "IS NULL"),
    Int32(SQLITE_INDEX_CONSTRAINT_ISNOTNULL): (UInt8(ascii: "l"), "IS NOT NULL"),
]
/// `x IN (...)` handed over whole (sqlite3_vtab_in).
private let inCode = UInt8(ascii: "m")
private let unaryCodes: Set<UInt8> = [UInt8(ascii: "k"), UInt8(ascii: "l")]

private func bestIndex(_ t: VecTable, _ vtab: UnsafeMutablePointer<sqlite3_vtab>?, _ info: UnsafeMutablePointer<sqlite3_index_info>) -> Int32 {
    let n = Int(info.pointee.nConstraint)
    var match: Int? = nil, matchColumn = 0, k: Int? = nil, nprobe: Int? = nil, rowid: Int? = nil, key: Int? = nil
    var parts: [Int: Int] = [:]   // partition key index -> constraint
    var matchUnusable = false, kUnusable = false
    for i in 0..<n {
        let c = info.pointee.aConstraint[i]
        let usable = c.usable != 0
        let op = Int32(c.op)
        if op == SQLITE_INDEX_CONSTRAINT_MATCH, let j = t.vectorIndex(ofColumn: c.iColumn) {
            if match != nil && usable && j != matchColumn {
                setError(vtab, "lectern_vec: a KNN query on \(t.name) can MATCH one vector column, not both \(t.config.vectors[matchColumn].name) and \(t.config.vectors[j].name)")
                return SQLITE_ERROR
            }
            if usable { match = i; matchColumn = j } else { matchUnusable = true }
        } else if c.iColumn == t.kCol && op == SQLITE_INDEX_CONSTRAINT_EQ {
            if usable { k = i } else { kUnusable = true }
        } else if c.iColumn == t.nprobeCol && op == SQLITE_INDEX_CONSTRAINT_EQ && usable {
            nprobe = i
        } else if let key = t.partitionCols.firstIndex(of: c.iColumn), op == SQLITE_INDEX_CONSTRAINT_EQ && usable
                    && parts[key] == nil && lx_vtab_in(info, Int32(i), -1) == 0 {
            parts[key] = i
        } else if (c.iColumn == -1 || c.iColumn == VecTable.rowidCol) && op == SQLITE_INDEX_CONSTRAINT_EQ && usable
                    && lx_vtab_in(info, Int32(i), -1) == 0 {
            if c.iColumn == VecTable.rowidCol && t.config.textPrimaryKey { key = i } else { rowid = i }
        }
    }
    if match == nil && matchUnusable { return SQLITE_CONSTRAINT }
    var plan = "1"
    var argi: Int32 = 0
    func use(_ i: Int, _ block: String, argument: Bool = true) {
        if argument {
            argi += 1
            info.pointee.aConstraintUsage[i].argvIndex = argi
        }
        info.pointee.aConstraintUsage[i].omit = 1
        plan += block
    }
    if let match {
        guard let k else {
            if kUnusable { return SQLITE_CONSTRAINT }
            setError(vtab, "lectern_vec: a KNN query on \(t.name) needs 'k = ?' (e.g. WHERE \(t.config.vectors[matchColumn].name) MATCH :q AND k = 10); LIMIT is not passed to virtual tables before SQLite 3.41")
            return SQLITE_ERROR
        }
        plan = "3"
        use(match, "{" + String(UnicodeScalar(UInt8(ascii: "A") + UInt8(matchColumn))) + "__")
        use(k, "}___")
        // The chain is read alone only when every partition key is given by `=`; otherwise the
        // keys' constraints filter rows like metadata.
        if parts.count != t.partitionCols.count { parts = [:] }
        for (key, i) in parts.sorted(by: { $0.key < $1.key }) { use(i, "]" + String(UnicodeScalar(UInt8(ascii: "A") + UInt8(key))) + "=_") }
        if let nprobe { use(nprobe, "#___") }
        // Every other constraint on rowid, the partition key or a metadata column filters rows
        // inside the scan: left to SQLite, it would drop rows from the k found and return fewer.
        let consumed = Set(parts.values)
        for i in 0..<n where !consumed.contains(i) {
            let c = info.pointee.aConstraint[i]
            // With a text primary key, column 0 is the key and the hidden rowid is left to SQLite.
            if c.iColumn == -1 && t.config.textPrimaryKey { continue }
            let col = c.iColumn == -1 ? VecTable.rowidCol : c.iColumn
            let filterable: Bool
            if col == VecTable.rowidCol {
                // `rowid = x` stays with SQLite: it is how a join reaches the table (`JOIN documents d
                // ON d.id = v.rowid`), and filtering the scan by it would turn "the k nearest, then
                // join" into one nearest per joined row. IN lists and ranges filter the scan.
                filterable = Int32(c.op) != SQLITE_INDEX_CONSTRAINT_EQ || lx_vtab_in(info, Int32(i), -1) != 0
            } else if t.partitionCols.contains(col) {
                filterable = true
            } else if let u = t.userColumn(col) {
                switch u.kind {
                case .metadata: filterable = true
                case .auxiliary:
                    setError(vtab, "lectern_vec: \(t.name).\(u.name) is an auxiliary column: a KNN query cannot filter on it (declare it without '+' as a metadata column to filter inside the scan)")
                    return SQLITE_ERROR
                case .vector, .partition: filterable = false
                }
            } else {
                filterable = false
            }
            guard filterable else { continue }
            let name = col == VecTable.rowidCol ? t.config.rowidName : (t.userColumn(col)?.name ?? "?")
            guard c.usable != 0 else { return SQLITE_CONSTRAINT }
            let colCode = String(UnicodeScalar(UInt8(ascii: "A") + UInt8(col)))
            let op = Int32(c.op)
            if op == SQLITE_INDEX_CONSTRAINT_EQ && lx_vtab_in(info, Int32(i), -1) != 0 {
                _ = lx_vtab_in(info, Int32(i), 1)
                use(i, "&" + colCode + String(UnicodeScalar(inCode)) + "_")
            } else if let f = filterOps[op] {
                use(i, "&" + colCode + String(UnicodeScalar(f.code)) + "_", argument: !unaryCodes.contains(f.code))
            } else {
                setError(vtab, "lectern_vec: a KNN query on \(t.name) cannot filter \(name) with this operator; use =, !=, <, <=, >, >=, IN, LIKE, GLOB, IS [NOT] or IS [NOT] NULL")
                return SQLITE_ERROR
            }
        }
        info.pointee.idxNum = 3
        info.pointee.estimatedCost = 10
        info.pointee.estimatedRows = 10
        if info.pointee.nOrderBy == 1, info.pointee.aOrderBy[0].iColumn == t.distanceCol, info.pointee.aOrderBy[0].desc == 0 {
            info.pointee.orderByConsumed = 1
        }
    } else if let rowid = rowid ?? key {
        plan = "2"
        use(rowid, rowid == key ? "!K__" : "!___")
        info.pointee.idxNum = 2
        info.pointee.estimatedCost = 1
        info.pointee.estimatedRows = 1
        info.pointee.idxFlags = SQLITE_INDEX_SCAN_UNIQUE
    } else {
        info.pointee.idxNum = 1
        info.pointee.estimatedCost = 1e7
        info.pointee.estimatedRows = 1_000_000
    }
    info.pointee.idxStr = lx_strdup(plan)
    info.pointee.needToFreeIdxStr = 1
    return SQLITE_OK
}

private func filter(_ c: VecCursor, _ idxNum: Int32, _ idxStr: String, _ argv: [OpaquePointer?]) throws {
    let t = c.table
    c.pos = 0
    c.distances = nil
    switch idxNum {
    case 3:
        var query: OpaquePointer? = nil, column = 0, k: Int64? = 0, part: OpaquePointer? = nil, hasPart = false, nprobe: Int64? = nil
        var keyValues: [Int: OpaquePointer?] = [:]
        var filters: [RowFilter] = []
        let blocks = Array(idxStr.utf8.dropFirst())
        var a = 0
        var b = 0
        while b + 4 <= blocks.count {
            let kind = blocks[b], colCode = blocks[b + 1], opCode = blocks[b + 2]
            b += 4
            let takesArgument = !(kind == UInt8(ascii: "&") && unaryCodes.contains(opCode))
            var v: OpaquePointer? = nil
            if takesArgument {
                guard a < argv.count else { throw VecError("lectern_vec: internal error: the query plan of \(t.name) names more arguments than SQLite passed") }
                v = argv[a]
                a += 1
            }
            switch kind {
            case UInt8(ascii: "{"):
                query = v
                // Older plans wrote "{___": the first vector column.
                let j = colCode == UInt8(ascii: "_") ? 0 : Int(colCode) - Int(UInt8(ascii: "A"))
                guard j >= 0, j < t.config.vectors.count else { throw VecError("lectern_vec: internal error: bad vector column in the query plan of \(t.name)") }
                column = j
            case UInt8(ascii: "}"): k = try knnCount(v, table: t.name)
            case UInt8(ascii: "]"):
                let key = Int(colCode) - Int(UInt8(ascii: "A"))
                guard key >= 0, key < max(1, t.partitionCols.count) else { throw VecError("lectern_vec: internal error: bad partition key in the query plan of \(t.name)") }
                keyValues[key] = v
                part = v; hasPart = true
            case UInt8(ascii: "#"):
                guard lx_value_type(v) == SQLITE_INTEGER else { throw VecError("lectern_vec: nprobe must be an INTEGER, got \(typeName(lx_value_type(v)))") }
                nprobe = lx_value_int64(v)
            case UInt8(ascii: "&"):
                let col = Int32(colCode) - Int32(UInt8(ascii: "A"))
                let column: String, index: Int
                if col == VecTable.rowidCol && t.config.textPrimaryKey { column = "r.pk"; index = -3 }
                else if col == VecTable.rowidCol { column = "r.rowid"; index = -1 }
                else if let key = t.partitionCols.firstIndex(of: col) { column = t.compositeKeys ? "r.k\(key)" : "r.partition"; index = -2 }
                else if let u = t.userColumn(col), case .metadata = u.kind,
                        let i = t.config.metadata.firstIndex(where: { $0.name == u.name }) { column = "r." + u.storage; index = i }
                else { throw VecError("lectern_vec: internal error: bad filter column \(col) in the query plan of \(t.name)") }
                if opCode == inCode {
                    // SQLite hands each IN value in the same sqlite3_value, overwritten by the next
                    // call: copy each one out.
                    var values: [SQLArg] = []
                    var x: OpaquePointer? = nil
                    var rc = lx_vtab_in_first(v, &x)
                    while rc == SQLITE_OK, let value = x {
                        values.append(copiedArg(value))
                        rc = lx_vtab_in_next(v, &x)
                    }
                    guard rc == SQLITE_OK || rc == SQLITE_DONE else {
                        throw VecError("lectern_vec: reading the IN list of a KNN query on \(t.name) failed (SQLite error \(rc))")
                    }
                    filters.append(RowFilter(column: column, metadataIndex: index, op: "IN", values: values, isIn: true))
                } else if let f = filterOps.values.first(where: { $0.code == opCode }) {
                    filters.append(RowFilter(column: column, metadataIndex: index, op: f.sql, values: takesArgument ? [.value(v)] : [], isIn: false))
                } else {
                    throw VecError("lectern_vec: internal error: bad filter operator in the query plan of \(t.name)")
                }
            default: break
            }
        }
        // Several keys: the chain is their combination; `key = NULL` on any of them matches nothing.
        var owned: OpaquePointer? = nil
        defer { if let owned { lx_value_free(owned) } }
        if hasPart && t.compositeKeys {
            let keys = (0..<t.partitionCols.count).map { keyValues[$0] ?? nil }
            if keys.contains(where: { lx_value_type($0) == SQLITE_NULL }) { c.rowids = []; c.distances = []; return }
            owned = try t.compositePartition(keys)
            part = owned
        }
        // k = NULL compares with nothing, as any `= NULL`: no rows (sqlite-vec's behaviour too).
        let r = try k.map { try t.knnQuery(vector: query, column: column, k: $0, partition: part, hasPartition: hasPart, nprobe: nprobe, filters: filters) } ?? []
        c.rowids = r.map { $0.rowid }
        c.distances = r.map { $0.distance }
    case 2:
        try t.checkUsable(ivf: false)
        let v = argv.first ?? nil
        if idxStr.utf8.dropFirst(2).first == UInt8(ascii: "K") {   // "2!K__": the text primary key
            c.rowids = try t.rowidOfKey(v).map { [$0] } ?? []
        } else {
            c.rowids = try integerKey(v).map { try t.allRowids(point: $0) } ?? []
        }
    default:
        try t.checkUsable(ivf: false)
        c.rowids = try t.allRowids(point: nil)
    }
}

/// A value copied out of SQLite's memory, to bind after the sqlite3_value it came from is reused.
private func copiedArg(_ v: OpaquePointer) -> SQLArg {
    switch lx_value_type(v) {
    case SQLITE_INTEGER: return .int(lx_value_int64(v))
    case SQLITE_FLOAT: return .double(lx_value_double(v))
    case SQLITE_TEXT: return .text(lx_value_text(v).map { String(cString: $0) } ?? "")
    case SQLITE_BLOB:
        let n = Int(lx_value_bytes(v))
        return .blob(n > 0 ? Array(UnsafeRawBufferPointer(start: lx_value_blob(v), count: n)) : [])
    default: return .null
    }
}

/// `k` of a KNN query, coerced as SQLite compares numbers: an INTEGER, a FLOAT (truncated toward
/// zero, as sqlite-vec does) or TEXT holding a number; nil for NULL. Anything else is an error.
func knnCount(_ v: OpaquePointer?, table: String) throws -> Int64? {
    func bad(_ what: String) -> VecError {
        VecError("lectern_vec: k must be an integer in a KNN query on \(table), got \(what)")
    }
    switch lx_value_type(v) {
    case SQLITE_INTEGER: return lx_value_int64(v)
    case SQLITE_NULL: return nil
    case SQLITE_FLOAT:
        let d = lx_value_double(v)
        guard d.isFinite, d > -9.2e18, d < 9.2e18 else { throw bad("\(d)") }
        return Int64(d.rounded(.towardZero))
    case SQLITE_TEXT:
        let s = (lx_value_text(v).map { String(cString: $0) } ?? "").trimmed()
        if let n = Int64(s) { return n }
        if let d = Double(s), d.isFinite, d > -9.2e18, d < 9.2e18 { return Int64(d.rounded(.towardZero)) }
        throw bad("the text '\(s.prefix(40))'")
    default: throw bad("a BLOB")
    }
}

/// A rowid to look up from `WHERE rowid = ?`: integers, and numbers written as text or as an
/// integral FLOAT, as SQLite's own rowid lookups take them; nil (no row) for anything else.
func integerKey(_ v: OpaquePointer?) -> Int64? {
    switch lx_value_type(v) {
    case SQLITE_INTEGER: return lx_value_int64(v)
    case SQLITE_FLOAT:
        let d = lx_value_double(v)
        return d.isFinite && d == d.rounded() && abs(d) < 9.2e18 ? Int64(d) : nil
    case SQLITE_TEXT:
        let s = (lx_value_text(v).map { String(cString: $0) } ?? "").trimmed()
        if let n = Int64(s) { return n }
        if let d = Double(s), d.isFinite, d == d.rounded(), abs(d) < 9.2e18 { return Int64(d) }
        return nil
    default: return nil
    }
}

private func update(_ t: VecTable, _ argc: Int32, _ argv: UnsafeMutablePointer<OpaquePointer?>, _ pRowid: UnsafeMutablePointer<sqlite3_int64>?) throws {
    // As SQLite's own rowids: an integer, or text or a FLOAT holding one ('5', 5.0).
    func rowidArg(_ v: OpaquePointer?) throws -> Int64 {
        if let n = integerKey(v) { return n }
        let shown = lx_value_type(v) == SQLITE_TEXT ? " '" + String((lx_value_text(v).map { String(cString: $0) } ?? "").prefix(40)) + "'" : ""
        throw VecError("lectern_vec: rowid of \(t.name) must be an integer, got \(typeName(lx_value_type(v)))\(shown)")
    }
    try t.checkUsable(ivf: false)
    if argc == 1 {
        try t.delete(rowid: try rowidArg(argv[0]))
        return
    }
    let cols = argv + 2
    let command = cols[Int(t.commandCol)]
    let vector = cols[Int(t.vectorCol)]
    let rowidColumn = cols[Int(VecTable.rowidCol)]
    var values = ColumnValues(partition: t.partitionCols.isEmpty ? nil : cols[Int(t.partitionCols[0])], partitionKeys: t.partitionCols.map { cols[Int($0)] })
    // Several keys: the chain value is their combination, made here and freed on return.
    var owned: OpaquePointer? = nil
    defer { if let owned { lx_value_free(owned) } }
    if t.compositeKeys {
        owned = try t.compositePartition(values.partitionKeys)
        values.partition = owned
    }
    if t.config.textPrimaryKey { values.primaryKey = rowidColumn }
    for (i, c) in t.config.columns.enumerated() {
        switch c.kind {
        case .metadata: values.metadata.append(cols[i + 1])
        case .auxiliary: values.auxiliary.append(cols[i + 1])
        case .vector: if Int32(i + 1) != t.vectorCol { values.vectors.append(cols[i + 1]) }
        case .partition: break
        }
    }
    let replace = lx_vtab_on_conflict(t.db) == SQLITE_REPLACE
    // The hidden query columns are not stored: a value given for one would be lost silently.
    // (An UPDATE passes distance at its current value when a KNN query chose the rows.)
    let inserting = lx_value_type(argv[0]) == SQLITE_NULL
    for (col, name) in [(t.distanceCol, "distance"), (t.kCol, "k"), (t.nprobeCol, "nprobe")]
    where lx_value_type(cols[Int(col)]) != SQLITE_NULL && (inserting || name != "distance") {
        throw VecError("lectern_vec: \(name) is a query column of \(t.name) and cannot be written (INSERT or UPDATE gave it a value)")
    }
    if lx_value_type(argv[0]) == SQLITE_NULL {
        if lx_value_type(command) != SQLITE_NULL {
            let cmd = lx_value_text(command).map { String(cString: $0) } ?? ""
            switch cmd.lowercased() {
            case "compute-centroids": try t.computeCentroids()
            case "clear-centroids": try t.clearCentroids()
            default: throw VecError("lectern_vec: unknown command '\(cmd)' for \(t.name); 'compute-centroids' or 'clear-centroids'")
            }
            return
        }
        // `INSERT INTO t(rowid, ...)` names the visible rowid column; `_rowid_` or `oid` the real one.
        let given = lx_value_type(rowidColumn) != SQLITE_NULL && !t.config.textPrimaryKey ? rowidColumn : argv[1]
        let rowid: Int64? = lx_value_type(given) == SQLITE_NULL ? nil : try rowidArg(given)
        pRowid?.pointee = try t.insert(rowid: rowid, vector: vector, values: values, replace: replace)
        return
    }
    // UPDATE: validate first so a bad value leaves the row as it was.
    try t.checkUsable(ivf: true)
    // An UPDATE passes unchanged columns at their current values: the visible rowid column moved
    // when it differs from the old rowid, otherwise `_rowid_` may have.
    let old = try rowidArg(argv[0])
    let newColumn = t.config.textPrimaryKey ? old : try rowidArg(rowidColumn)
    let new = newColumn != old ? newColumn : try rowidArg(argv[1])
    try t.checkPrimaryKey(values)
    _ = try t.vectorArgument(vector)
    let extra = try t.extraVectorBytes(values)
    try t.checkPartition(values)
    try t.checkColumns(values)
    if new != old, try t.exists(new), !replace {
        throw ConstraintError("UNIQUE constraint failed on \(t.name) primary key (rowid \(new))")
    }
    if t.config.textPrimaryKey, !replace, let other = try t.rowidOfKey(values.primaryKey), other != old {
        let key = lx_value_text(values.primaryKey).map { String(cString: $0) } ?? ""
        throw ConstraintError("UNIQUE constraint failed on \(t.name) primary key (\(t.config.rowidName) '\(key.prefix(60))')")
    }
    // Copy the new values before deleting: they may point into the row being removed.
    let vbytes = try t.vectorArgument(vector).bytes
    try t.delete(rowid: old)
    try t.insertBytes(rowid: new, bytes: vbytes, extra: extra, values: values, replace: replace)
}

/// The `lectern_vec` module, allocated once for the process.
private let vecModule: UnsafeMutablePointer<sqlite3_module> = {
    let m = UnsafeMutablePointer<sqlite3_module>.allocate(capacity: 1)
    m.initialize(to: sqlite3_module())
    m.pointee.iVersion = 3
    m.pointee.xCreate = { db, _, argc, argv, pp, err in connect((db, argc, argv, pp, err), create: true) }
    m.pointee.xConnect = { db, _, argc, argv, pp, err in connect((db, argc, argv, pp, err), create: false) }
    m.pointee.xBestIndex = { vtab, info in bestIndex(table(vtab), vtab, info!) }
    m.pointee.xDisconnect = { vtab in release(vtab); return SQLITE_OK }
    m.pointee.xDestroy = { vtab in
        let t = table(vtab)
        for s in t.allShadowSuffixes {
            if lx_exec(t.db, "DROP TABLE IF EXISTS \(t.shadow(s))") != SQLITE_OK {
                setError(vtab, "lectern_vec: \(String(cString: lx_errmsg(t.db)))")
                return SQLITE_ERROR
            }
        }
        release(vtab)
        return SQLITE_OK
    }
    m.pointee.xOpen = { vtab, pp in openCursor(VecCursor(table: table(vtab)), pp) }
    m.pointee.xClose = { cur in closeCursor(cur) }
    m.pointee.xFilter = { cur, idxNum, idxStr, argc, argv in
        let c = cursor(cur)
        let args = (0..<Int(argc)).map { argv![$0] }
        return guarded(cur!.pointee.pVtab) {
            try c.table.refreshState()
            try filter(c, idxNum, idxStr.map { String(cString: $0) } ?? "", args)
        }
    }
    m.pointee.xNext = { cur in cursor(cur).pos += 1; return SQLITE_OK }
    m.pointee.xEof = { cur in let c = cursor(cur); return c.pos >= c.rowids.count ? 1 : 0 }
    m.pointee.xRowid = { cur, out in let c = cursor(cur); out?.pointee = c.rowids[c.pos]; return SQLITE_OK }
    m.pointee.xColumn = { cur, ctx, i in
        let c = cursor(cur), t = c.table
        let rowid = c.rowids[c.pos]
        return guarded(cur!.pointee.pVtab) {
            if i == VecTable.rowidCol { try t.resultKey(ctx, rowid: rowid) }
            else if let col = t.userColumn(i) { try t.resultColumn(ctx, col, rowid: rowid) }
            else if i == t.distanceCol, let d = c.distances { lx_result_double(ctx, Double(d[c.pos])) }
            else { lx_result_null(ctx) }
        }
    }
    m.pointee.xUpdate = { vtab, argc, argv, pRowid in
        let t = table(vtab)
        do {
            try t.refreshState()
            t.main.wrote = false
            try update(t, argc, argv!, pRowid)
            return SQLITE_OK
        } catch {
            let (message, code) = errorMessage(error)
            guard t.main.wrote else { setError(vtab, message); return code }
            // A row's write is several statements on the shadow tables, and SQLite keeps no
            // statement journal for a one-row write to a virtual table: returning a plain error
            // here would leave the writes made so far (a half-moved row, a half-rewritten IVF
            // index). SQLITE_INTERRUPT (or the I/O error that caused it) makes SQLite roll the
            // whole transaction back instead, as it does after an I/O error.
            let cause = lx_errcode(t.db) & 0xff
            setError(vtab, message + " (\(t.name) was being changed: the transaction was rolled back, so nothing is half-written)")
            return cause == SQLITE_IOERR || cause == SQLITE_FULL || cause == SQLITE_NOMEM ? cause : SQLITE_INTERRUPT
        }
    }
    m.pointee.xBegin = { vtab in let t = table(vtab); t.inWrite = true; t.dropCache(); t.forgetHoles(); return SQLITE_OK }
    m.pointee.xSync = { _ in SQLITE_OK }
    m.pointee.xCommit = { vtab in let t = table(vtab); t.inWrite = false; t.dropCache(); t.forgetHoles(); return SQLITE_OK }
    m.pointee.xRollback = { vtab in let t = table(vtab); t.inWrite = false; t.dropCache(); t.forgetHoles(); return SQLITE_OK }
    m.pointee.xRename = { vtab, zNew in
        let t = table(vtab)
        let newName = String(cString: zNew!)
        return guarded(vtab) {
            let sql = t.allShadowSuffixes.map { "ALTER TABLE \(t.shadow($0)) RENAME TO \(quoteIdent(newName + "_" + $0))" }
            for s in sql {
                guard lx_exec(t.db, s) == SQLITE_OK else { throw VecError("lectern_vec: \(String(cString: lx_errmsg(t.db)))") }
            }
            t.close()
            t.rename(to: newName)
        }
    }
    m.pointee.xShadowName = { name in
        guard let name else { return 0 }
        return VecTable.isShadowSuffix(String(cString: name)) ? 1 : 0
    }
    return m
}()

/// Registers the `lectern_vec` module on one connection.
func registerVecModule(_ db: OpaquePointer?) -> Int32 {
    lx_create_module(db, "lectern_vec", vecModule, nil)
}
