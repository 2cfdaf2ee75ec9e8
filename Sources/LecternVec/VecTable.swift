import CSQLiteExt

/// One `lectern_vec` table on one connection: its configuration, its shadow tables, and an
/// in-memory cache of chunk contents so repeated queries stream RAM instead of re-reading pages.
final class VecTable {
    let db: OpaquePointer
    let schema: String
    var name: String
    let config: TableConfig
    var main: ChunkStore
    /// Slots per chunk: `<t>_info`'s `chunk_size` (written when the table is made), else, in
    /// files made before 2026-12-03, the declared `chunk_size` or 1024.
    var chunkSize: Int
    /// IVF state, read from `<t>_info`: centroids (nlist x dims, row-major) once trained.
    var centroids: [Float] = []
    var ivfTrained: Bool { !centroids.isEmpty }
    /// `<t>_info`'s layout version: 1 (any table made before 2026-12-03; an IVF index then kept
    /// a second copy of each vector in `<t>_ivf_*`) or 2 (an IVF table whose lists are its chunks).
    var format: Int64 = 1
    /// `<t>_info`'s `ivf_generation`, bumped by each 'compute-centroids' and 'clear-centroids', so a
    /// connection notices another's retraining (see ``refreshState()``).
    var ivfGeneration: Int64 = 0
    /// Whether the two-copy tables of a format-1 IVF table exist (they stay, emptied, after the
    /// upgrade: a virtual table cannot drop tables while a statement runs).
    var hasLegacyIVFTables = false
    /// Set when `<t>_info` is unusable: every statement on the table reports it (DROP TABLE still works).
    var formatError: VecError? = nil
    /// Set when the IVF centroids are unusable: IVF queries and inserts report it; exact queries,
    /// deletes, 'clear-centroids' and 'compute-centroids' (which repair it) still work.
    var ivfError: VecError? = nil
    /// The data version at the last ``refreshState()``, and whether this transaction has checked.
    var stateVersion: UInt32 = 0
    var stateChecked = false

    // Cache: valid while the file's data version is unchanged and no write transaction of ours is open.
    var cache: [Int64: ChunkData] = [:]
    /// The chunk ids a scan reads, per chain selection (all lists or one, a partition or all), so
    /// a repeated query does not step through hundreds of chunk rows in SQL (same validity as `cache`).
    var chunkIdCache: [String: [Int64]] = [:]
    var cachedBytes = 0
    /// The rowid map's metadata in memory, for KNN filters (see MetadataFilter.swift); same validity as the chunk cache.
    var metadataSnapshot: MetadataSnapshot? = nil
    /// Set when the snapshot would not fit `cache_mb`; reset with the caches.
    var metadataSnapshotTooLarge = false
    var cacheVersion: UInt32 = 0
    var inWrite = false

    // Column numbers in the declared schema. A visible `rowid` column comes first, as in
    // sqlite-vec: `INSERT INTO t VALUES (1, '[1,2]')` and `SELECT *` see it. The user's columns
    // follow in declaration order, then the hidden ones.
    static let rowidCol: Int32 = 0
    let vectorCol: Int32
    /// The partition key columns, in declaration order (empty: none).
    let partitionCols: [Int32]
    /// With several partition keys, a chunk's `partition` holds their combination
    /// (``compositePartition(_:)``) and `<t>_rowids` each key in `k0`, `k1`, ...
    var compositeKeys: Bool { partitionCols.count > 1 }
    var distanceCol: Int32 { Int32(config.columns.count) + 1 }
    var kCol: Int32 { distanceCol + 1 }
    var nprobeCol: Int32 { distanceCol + 2 }
    var commandCol: Int32 { distanceCol + 3 }

    /// The declared column behind a column number, nil for rowid and the hidden columns.
    func userColumn(_ i: Int32) -> UserColumn? {
        i >= 1 && Int(i) <= config.columns.count ? config.columns[Int(i) - 1] : nil
    }

    static let shadowSuffixes = ["info", "rowids", "chunks", "vectors", "ivf_centroids", "auxiliary"]
    /// The second copy of an IVF index in format-1 files (made before 2026-12-03).
    static let legacyIVFSuffixes = ["ivf_chunks", "ivf_vectors", "ivf_rowids"]
    /// This table's shadow tables: the common ones, `auxiliary` when it has such columns, one
    /// `vectors<j>` per further vector column, and the format-1 IVF tables where they exist.
    var allShadowSuffixes: [String] {
        VecTable.shadowSuffixes.filter { $0 != "auxiliary" || !config.auxiliary.isEmpty }
            + config.vectors.indices.dropFirst().map { "vectors\($0)" }
            + (hasLegacyIVFTables ? VecTable.legacyIVFSuffixes : [])
    }
    /// Whether `suffix` names one of lectern_vec's shadow tables (xShadowName).
    static func isShadowSuffix(_ suffix: String) -> Bool {
        if shadowSuffixes.contains(suffix) || legacyIVFSuffixes.contains(suffix) { return true }
        guard suffix.hasPrefix("vectors"), let j = Int(suffix.dropFirst(7)) else { return false }
        return j >= 1 && j < TableConfig.maxVectorColumns
    }

    /// The column numbers of the vector columns, in `config.vectors` order.
    let vectorCols: [Int32]
    /// The second, third... vector columns' stores (`sides[j - 1]` for `config.vectors[j]`).
    var sides: [SideVectors] = []
    /// Cached chunks of the further vector columns, per column (same rules as `cache`).
    var sideCaches: [[Int64: ChunkData]] = []

    init(db: OpaquePointer, schema: String, name: String, config: TableConfig) {
        self.db = db
        self.schema = schema
        self.name = name
        self.config = config
        vectorCol = Int32(config.columns.firstIndex { $0.kind == .vector } ?? 0) + 1
        partitionCols = config.columns.indices.filter { config.columns[$0].kind == .partition }.map { Int32($0) + 1 }
        vectorCols = config.columns.indices.filter { config.columns[$0].kind == .vector }.map { Int32($0) + 1 }
        chunkSize = config.defaultChunkSize
        main = VecTable.mainStore(db, schema, name, config, chunkSize: chunkSize)
        makeSides()
    }

    /// The further vector columns' stores, tied to `main`'s chunks (a new chunk gets a BLOB in each).
    private func makeSides() {
        sides = config.vectors.indices.dropFirst().map { j in
            SideVectors(main: main, table: name + "_vectors\(j)", column: j, vectorBytes: config.vectors[j].bytes)
        }
        sideCaches = Array(repeating: [:], count: sides.count)
        let s = sides
        main.onNewChunk = s.isEmpty ? nil : { id in for x in s { try x.addChunk(id) } }
    }

    /// Which vector column (index into `config.vectors`) column number `col` is, if any.
    func vectorIndex(ofColumn col: Int32) -> Int? { vectorCols.firstIndex(of: col) }

    static func mainStore(_ db: OpaquePointer, _ schema: String, _ name: String, _ config: TableConfig, chunkSize: Int) -> ChunkStore {
        ChunkStore(db: db, schema: schema, prefix: name, chunkSize: chunkSize, vectorBytes: config.vectorBytes,
                   listCount: config.ivf ? Int64(config.nlist) : 1)
    }

    var q: String { quoteIdent(schema) + "." }
    func shadow(_ suffix: String) -> String { q + quoteIdent(name + "_" + suffix) }

    /// The schema SQLite sees: `rowid` (or the primary key's name), the declared columns in their
    /// order, then the hidden columns (distance, k, nprobe, and the command column named after the table).
    var declaration: String {
        var cols = [quoteIdent(config.rowidName)] + config.columns.map { quoteIdent($0.name) }
        cols += ["distance HIDDEN", "k HIDDEN", "nprobe HIDDEN", quoteIdent(name) + " HIDDEN"]
        return "CREATE TABLE x(" + cols.joined(separator: ", ") + ")"
    }

    func createShadowTables() throws {
        // Metadata lives in the rowid map, so a KNN filter is one query over it that yields the
        // (chunk, slot) pairs to scan; auxiliary values, never filtered, get a table of their own.
        // A text primary key is a UNIQUE column of the rowid map (its automatic index follows a RENAME).
        let meta = (config.textPrimaryKey ? ", pk TEXT NOT NULL UNIQUE" : "") + config.metadata.map { ", " + $0.storage }.joined()
            + (partitionCols.count > 1 ? config.partitionKeys.indices.map { ", k\($0)" }.joined() : "")
        var sql = [
            "CREATE TABLE \(shadow("info"))(key TEXT PRIMARY KEY, value)",
            "CREATE TABLE \(shadow("rowids"))(rowid INTEGER PRIMARY KEY, partition, chunk_id INTEGER NOT NULL, chunk_offset INTEGER NOT NULL\(meta))",
            "CREATE TABLE \(shadow("ivf_centroids"))(list_id INTEGER PRIMARY KEY, centroid BLOB NOT NULL)",
        ]
        if !config.auxiliary.isEmpty {
            sql.append("CREATE TABLE \(shadow("auxiliary"))(rowid INTEGER PRIMARY KEY\(config.auxiliary.map { ", " + $0.storage }.joined()))")
        }
        for side in sides { sql.append(SideVectors.createSQL(schema: schema, table: side.table)) }
        sql += ChunkStore.createSQL(schema: schema, prefix: name)
        // Format 2 only where it differs (IVF tables), so files without an IVF index stay readable
        // by earlier builds.
        sql.append("INSERT INTO \(shadow("info"))(key, value) VALUES ('format', \(config.ivf ? 2 : 1)), ('ivf_trained', 0), ('chunk_size', \(chunkSize))")
        for s in sql {
            guard lx_exec(db, s) == SQLITE_OK else { throw VecError("lectern_vec: \(String(cString: lx_errmsg(db))) (in: \(s))") }
        }
    }

    /// Reads `<t>_info` and the IVF centroids. A damaged value does not fail the connection (that
    /// would make the table impossible to DROP); it is kept and reported by the statements it affects.
    func loadState() throws {
        formatError = nil
        let info = name + "_info"
        let f = try main.statement("SELECT key, value FROM \(shadow("info")) WHERE key IN ('format', 'chunk_size', 'ivf_generation')")
        try f.bind([])
        var formatValue: Int64? = nil, sizeValue: Int64? = nil
        var bad: VecError? = nil
        ivfGeneration = 0
        while try f.step() {
            let key = f.text(0) ?? ""
            let isInt = f.type(1) == SQLITE_INTEGER
            switch key {
            case "format":
                if isInt && (f.int(1) == 1 || f.int(1) == 2) { formatValue = f.int(1) } else {
                    bad = corrupt(info, "format is \(f.text(1).map { "'\($0)'" } ?? "NULL"), expected 1 or 2 (a newer lectern_vec may have made this table)")
                }
            case "chunk_size":
                if isInt && f.int(1) >= 8 && f.int(1) <= 65536 && f.int(1) % 8 == 0 { sizeValue = f.int(1) } else {
                    bad = bad ?? corrupt(info, "chunk_size is \(f.text(1).map { "'\($0)'" } ?? "NULL"), expected a multiple of 8 from 8 to 65536")
                }
            default:
                if isInt { ivfGeneration = f.int(1) }
            }
        }
        f.reset()
        if formatValue == nil && bad == nil { bad = corrupt(info, "no 'format' row") }
        format = formatValue ?? 1
        if let sizeValue, config.chunkSizeGiven, Int(sizeValue) != config.chunkSize {
            bad = bad ?? corrupt(info, "chunk_size is \(sizeValue), but the table is declared with chunk_size=\(config.chunkSize)")
        }
        formatError = bad
        let size = sizeValue.map { Int($0) } ?? config.chunkSize
        if size != chunkSize {
            chunkSize = size
            main.close()
            main = VecTable.mainStore(db, schema, name, config, chunkSize: size)
            makeSides()
        }
        let legacy = try main.statement("SELECT count(*) FROM \(q)sqlite_master WHERE type = 'table' AND name = ?")
        try legacy.bind([.text(name + "_ivf_rowids")])
        hasLegacyIVFTables = try legacy.step() && legacy.int(0) > 0
        legacy.reset()
        ivfError = nil
        centroids = []
        do { centroids = try readCentroids() } catch let e as VecError { ivfError = e }
        if format == 1 && !centroids.isEmpty {
            ivfError = VecError("lectern_vec: the IVF index of \(name) was built by an earlier lectern_vec, which kept a second copy of every vector; rebuild it with INSERT INTO \(quoteIdent(name))(\(quoteIdent(name))) VALUES ('compute-centroids') (or drop it with 'clear-centroids'); exact queries (nprobe = 0) still work")
        }
    }

    /// Re-reads the IVF state when another connection may have retrained or cleared the index
    /// (the file's data version moved) or this transaction has not looked yet (a rolled-back
    /// training leaves no trace in the data version): one point query in the common case.
    func refreshState() throws {
        let v = lx_data_version(db, schema)
        if stateChecked && v == stateVersion { return }
        let st = try main.statement("SELECT value FROM \(shadow("info")) WHERE key = 'ivf_generation'")
        try st.bind([])
        let g: Int64 = try st.step() && st.type(0) == SQLITE_INTEGER ? st.int(0) : 0
        st.reset()
        if g != ivfGeneration { try loadState() }
        stateVersion = v
        stateChecked = true
    }

    /// The centroids, checked: list_id 0, 1, 2, ... in order, each a BLOB of `dims` finite float32.
    private func readCentroids() throws -> [Float] {
        let table = name + "_ivf_centroids"
        let st = try main.statement("SELECT list_id, centroid FROM \(shadow("ivf_centroids")) ORDER BY list_id")
        try st.bind([])
        defer { st.reset() }
        var c: [Float] = []
        var n: Int64 = 0
        let d = config.dims
        while try st.step() {
            guard config.ivf else { throw corrupt(table, "has centroids but \(name) has no IVF index") }
            let list = try st.integer(0, table, "list_id", "centroid \(n)")
            guard list == n else { throw corrupt(table, "list_id \(list) where \(n) was expected (lists are numbered 0, 1, 2, ...)") }
            guard n < Int64(config.nlist) else { throw corrupt(table, "more than nlist (\(config.nlist)) centroids") }
            let b = try st.blob(1, table, "centroid", "list \(list)")
            guard b.count == d * 4 else { throw corrupt(table, "centroid of list \(list) is \(b.count) bytes, expected \(d * 4)") }
            for j in 0..<d {
                let x = b.loadUnaligned(fromByteOffset: j * 4, as: Float.self)
                guard x.isFinite else { throw corrupt(table, "centroid of list \(list) has a non-finite element \(j)") }
                c.append(x)
            }
            n += 1
        }
        return c
    }

    /// Throws the stored corruption that keeps this table (or its IVF index) from being used.
    func checkUsable(ivf: Bool) throws {
        if let formatError { throw formatError }
        if ivf, let ivfError { throw ivfError }
    }

    /// After ALTER TABLE ... RENAME: the shadow tables now carry the new name.
    func rename(to newName: String) {
        name = newName
        main = VecTable.mainStore(db, schema, newName, config, chunkSize: chunkSize)
        makeSides()
    }

    /// At transaction boundaries: the lists of emptied slots may be stale from here on, and the
    /// IVF state is checked again by the next statement.
    func forgetHoles() {
        main.forgetHoles()
        stateChecked = false
    }

    func close() {
        dropCache()
        main.close()
    }

    // MARK: cache

    func dropCache() {
        cache.removeAll()
        chunkIdCache.removeAll()
        for j in sideCaches.indices { sideCaches[j].removeAll() }
        cachedBytes = 0
        metadataSnapshot = nil
        metadataSnapshotTooLarge = false
        main.dropCache()
    }

    /// Whether cached chunks may be used now: not inside a write transaction, and only while the
    /// file's data version is the one they were read at (the caches are dropped when it moved).
    func cachingAllowed() -> Bool {
        if inWrite { return false }
        let v = lx_data_version(db, schema)
        if v != cacheVersion { dropCache(); cacheVersion = v }
        return true
    }

    /// The chunks with these ids holding vector column `column` (0: the first, whose chunks carry
    /// validity and rowids; j > 0: those chunks with column j's vectors), cached like `chunks`.
    func chunks(_ ids: [Int64], column: Int) throws -> [ChunkData] {
        if column == 0 { return try chunks(ids) }
        let side = sides[column - 1]
        let bases = try chunks(ids)
        if !cachingAllowed() { return try bases.map { try side.load($0) } }
        let limit = config.cacheMB << 20
        return try bases.map { b in
            if let c = sideCaches[column - 1][b.chunkId] { return c }
            let c = try side.load(b)
            if cachedBytes + c.byteCount <= limit {
                sideCaches[column - 1][b.chunkId] = c
                cachedBytes += c.byteCount
            }
            return c
        }
    }

    /// The chunks with these ids, from the cache when it is current.
    func chunks(_ ids: [Int64]) throws -> [ChunkData] {
        if !cachingAllowed() { return try ids.map { try main.load(chunkId: $0) } }
        let limit = config.cacheMB << 20
        var out: [ChunkData] = []
        out.reserveCapacity(ids.count)
        for id in ids {
            if let c = cache[id] { out.append(c); continue }
            let c = try main.load(chunkId: id)
            if cachedBytes + c.byteCount <= limit {
                cache[id] = c
                cachedBytes += c.byteCount
            }
            out.append(c)
        }
        return out
    }

    // MARK: writes

    /// Validates a vector for vector column `column` (index into `config.vectors`): type, dimensions, finite values.
    func vectorArgument(_ value: OpaquePointer?, column: Int = 0) throws -> Vector {
        let spec = config.vectors[column]
        if lx_value_type(value) == SQLITE_NULL {
            throw VecError("lectern_vec: \(name).\(spec.name) cannot be NULL")
        }
        let v: Vector
        do {
            // The value's subtype says its element type, as in sqlite-vec: a plain BLOB or JSON
            // text is float32, so int8 and bit vectors must come wrapped in vec_int8() / vec_bit().
            // Reading a float32 BLOB as int8 bytes would store four wrong elements per float.
            v = try vectorFromValue(value)
            guard v.type == spec.type else {
                let wrap = spec.type == .int8 ? " (wrap int8 values in vec_int8(...))" : spec.type == .bit ? " (wrap bit vectors in vec_bit(...))" : ""
                throw VecError("expected a \(spec.type.name) vector, got a \(v.type.name) vector\(wrap)")
            }
        } catch let e as VecError {
            throw VecError("lectern_vec: \(name).\(spec.name): \(e.message)")
        }
        guard v.dims == spec.dims else {
            throw VecError("lectern_vec: dimension mismatch for \(name).\(spec.name): expected \(spec.dims) dimensions, got \(v.dims)")
        }
        return v
    }

    /// The further vector columns' values of a row, validated, as bytes (`values.vectors` order).
    func extraVectorBytes(_ values: ColumnValues) throws -> [[UInt8]] {
        try values.vectors.enumerated().map { try vectorArgument($0.element, column: $0.offset + 1).bytes }
    }

    /// A typed partition key takes values of its type or NULL (as sqlite-vec's "allow nulls"); a
    /// NULL-keyed vector is found by unfiltered queries only, since `key = NULL` matches nothing.
    func checkPartition(_ values: ColumnValues) throws {
        for (i, col) in config.partitionKeys.enumerated() where i < values.partitionKeys.count {
            let t = lx_value_type(values.partitionKeys[i])
            if t == SQLITE_NULL { continue }
            switch config.partitionTypes[i] {
            case "integer" where t != SQLITE_INTEGER:
                throw VecError("lectern_vec: partition key \(name).\(col) must be an INTEGER, got \(typeName(t))")
            case "text" where t != SQLITE_TEXT:
                throw VecError("lectern_vec: partition key \(name).\(col) must be TEXT, got \(typeName(t))")
            default: break
            }
        }
    }

    /// The chain value of several partition keys: each key `quote()`d (so 1, 1.0 and '1' stay
    /// apart, and NULL is a value of its own) and joined by U+001F, as a new value the caller
    /// frees with `lx_value_free`.
    func compositePartition(_ keys: [OpaquePointer?]) throws -> OpaquePointer? {
        let st = try main.statement("SELECT " + keys.indices.map { "quote(?\($0 + 1))" }.joined(separator: " || char(31) || "))
        try st.bind(keys.map { .value($0) })
        defer { st.reset() }
        guard try st.step(), let v = lx_value_dup(st.value(0)) else {
            throw VecError("lectern_vec: out of memory combining the partition keys of \(name)")
        }
        return v
    }

    func exists(_ rowid: Int64) throws -> Bool {
        let st = try main.statement("SELECT 1 FROM \(shadow("rowids")) WHERE rowid = ?")
        try st.bind([.int(rowid)])
        defer { st.reset() }
        return try st.step()
    }

    /// Checks the metadata and auxiliary values of a row against their declared types, with
    /// sqlite-vec's rules: a boolean is the integer 0 or 1, an integer an INTEGER, a float a REAL
    /// (or an INTEGER, widened: a superset), text TEXT, a blob a BLOB. NULL is accepted in both
    /// kinds (sqlite-vec 0.1.6 refuses it in metadata); it matches no comparison in a KNN filter.
    func checkColumns(_ values: ColumnValues) throws {
        for (c, v) in zip(config.metadata, values.metadata) {
            guard case .metadata(let t) = c.kind else { continue }
            let vt = lx_value_type(v)
            if vt == SQLITE_NULL { continue }
            let ok: Bool
            switch t {
            case .boolean: ok = vt == SQLITE_INTEGER && (lx_value_int64(v) == 0 || lx_value_int64(v) == 1)
            case .integer: ok = vt == SQLITE_INTEGER
            case .float: ok = vt == SQLITE_FLOAT || vt == SQLITE_INTEGER
            case .text: ok = vt == SQLITE_TEXT
            }
            guard ok else {
                let want = t == .boolean ? "0 or 1" : t.rawValue.uppercased()
                throw VecError("lectern_vec: metadata column \(name).\(c.name) is \(t.rawValue.uppercased()): expected \(want), got \(t == .boolean && vt == SQLITE_INTEGER ? String(lx_value_int64(v)) : typeName(vt))")
            }
        }
        for (c, v) in zip(config.auxiliary, values.auxiliary) {
            guard case .auxiliary(let t) = c.kind else { continue }
            let vt = lx_value_type(v)
            if vt == SQLITE_NULL || t == .any { continue }
            let want: Int32 = t == .text ? SQLITE_TEXT : t == .integer ? SQLITE_INTEGER : t == .float ? SQLITE_FLOAT : SQLITE_BLOB
            guard vt == want || (t == .float && vt == SQLITE_INTEGER) else {
                throw VecError("lectern_vec: auxiliary column \(name).\(c.name) is \(t.rawValue.uppercased()), got \(typeName(vt))")
            }
        }
    }

    /// A text primary key's value: TEXT, not NULL. Returns the text.
    func checkPrimaryKey(_ values: ColumnValues) throws {
        guard config.textPrimaryKey else { return }
        let t = lx_value_type(values.primaryKey)
        guard t == SQLITE_TEXT else {
            throw VecError("lectern_vec: primary key \(name).\(config.rowidName) must be TEXT, got \(typeName(t))")
        }
    }

    /// The internal rowid of the row with text primary key `pk`, if any.
    func rowidOfKey(_ pk: OpaquePointer?) throws -> Int64? {
        let st = try main.statement("SELECT rowid FROM \(shadow("rowids")) WHERE pk = ?")
        try st.bind([.value(pk)])
        defer { st.reset() }
        return try st.step() ? st.int(0) : nil
    }

    func insert(rowid: Int64?, vector: OpaquePointer?, values: ColumnValues, replace: Bool) throws -> Int64 {
        try checkPrimaryKey(values)
        let v = try vectorArgument(vector)
        let extra = try extraVectorBytes(values)
        try checkPartition(values)
        try checkColumns(values)
        return try insertBytes(rowid: rowid, bytes: v.bytes, extra: extra, values: values, replace: replace)
    }

    /// Inserts already validated vectors (the first column's `bytes`, the others' `extra`) with
    /// already validated column values.
    @discardableResult
    func insertBytes(rowid: Int64?, bytes: [UInt8], extra: [[UInt8]], values: ColumnValues, replace: Bool) throws -> Int64 {
        // Before any write (a REPLACE deletes first): an unusable IVF state refuses the row whole.
        try checkUsable(ivf: true)
        let partition = values.partition
        let v = Vector(type: config.type, dims: config.dims, bytes: bytes)
        if config.textPrimaryKey, let other = try rowidOfKey(values.primaryKey), other != rowid {
            guard replace else {
                let key = lx_value_text(values.primaryKey).map { String(cString: $0) } ?? ""
                throw ConstraintError("UNIQUE constraint failed on \(name) primary key (\(config.rowidName) '\(key.prefix(60))')")
            }
            try delete(rowid: other)
        }
        let id: Int64
        if let rowid {
            if try exists(rowid) {
                guard replace else { throw ConstraintError("UNIQUE constraint failed on \(name) primary key (rowid \(rowid))") }
                try delete(rowid: rowid)
            }
            id = rowid
        } else {
            let st = try main.statement("SELECT max(rowid) FROM \(shadow("rowids"))")
            try st.bind([])
            defer { st.reset() }
            _ = try st.step()
            if st.type(0) == SQLITE_NULL { id = 1 } else {
                let m = st.int(0)
                guard m < Int64.max else { throw VecError("lectern_vec: cannot choose a rowid for \(name): the largest rowid is in use; give one") }
                id = m + 1
            }
        }
        dropCache()
        // Once the IVF index is trained a row goes to the chain of its nearest centroid.
        let list = ivfTrained ? Int64(nearestCentroids(v.floats, count: 1)[0]) : 0
        let (chunk, slot) = try v.bytes.withUnsafeBytes { try main.append(listId: list, partition: partition, rowid: id, vector: $0.baseAddress!) }
        for (side, b) in zip(sides, extra) { try side.write(chunkId: chunk, slot: slot, b) }
        let meta = config.metadata
        // A float metadata column stores REAL even when given an integer, so comparisons and
        // reads see one type (sqlite-vec's column is f64).
        let metaValues: [SQLArg] = zip(meta, values.metadata).map { c, v in
            c.kind == .metadata(.float) && lx_value_type(v) == SQLITE_INTEGER ? .double(lx_value_double(v)) : .value(v)
        }
        let pk = config.textPrimaryKey
        let keys = compositeKeys ? values.partitionKeys : []
        try main.statement("INSERT INTO \(shadow("rowids"))(rowid, partition, chunk_id, chunk_offset\(pk ? ", pk" : "")\(meta.map { ", " + $0.storage }.joined())\(keys.indices.map { ", k\($0)" }.joined())) VALUES (?, ?, ?, ?\(pk ? ", ?" : "")\(String(repeating: ", ?", count: meta.count + keys.count)))")
            .bind([.int(id), .value(partition), .int(chunk), .int(Int64(slot))] + (pk ? [.value(values.primaryKey)] : []) + metaValues
                  + keys.map { .value($0) }).run()
        let aux = config.auxiliary
        if !aux.isEmpty {
            let auxValues: [SQLArg] = zip(aux, values.auxiliary).map { c, v in
                c.kind == .auxiliary(.float) && lx_value_type(v) == SQLITE_INTEGER ? .double(lx_value_double(v)) : .value(v)
            }
            try main.statement("INSERT INTO \(shadow("auxiliary"))(rowid\(aux.map { ", " + $0.storage }.joined())) VALUES (?\(String(repeating: ", ?", count: aux.count)))")
                .bind([.int(id)] + auxValues).run()
        }
        return id
    }

    func delete(rowid: Int64) throws {
        dropCache()
        guard let (chunk, slot) = try locate(rowid) else { return }
        // `remove` checks the slot before anything changes, so a corrupt map leaves the row intact.
        try main.remove(chunkId: chunk, slot: slot, rowid: rowid, mapTable: name + "_rowids")
        try main.statement("DELETE FROM \(shadow("rowids")) WHERE rowid = ?").bind([.int(rowid)]).run()
        if !config.auxiliary.isEmpty {
            try main.statement("DELETE FROM \(shadow("auxiliary")) WHERE rowid = ?").bind([.int(rowid)]).run()
        }
    }

    // MARK: reads

    /// (chunk, slot) of a rowid in `<t>_rowids`, type-checked; nil when absent.
    /// The slot is not yet checked against its chunk: `ChunkStore.verifySlot` does that.
    func locate(_ rowid: Int64) throws -> (chunk: Int64, slot: Int64)? {
        let st = try main.statement("SELECT chunk_id, chunk_offset FROM \(shadow("rowids")) WHERE rowid = ?")
        try st.bind([.int(rowid)])
        defer { st.reset() }
        guard try st.step() else { return nil }
        let table = name + "_rowids"
        return (try st.integer(0, table, "chunk_id", "rowid \(rowid)"), try st.integer(1, table, "chunk_offset", "rowid \(rowid)"))
    }

    func resultVector(_ ctx: OpaquePointer?, rowid: Int64, column: Int = 0) throws {
        guard let (chunk, slot) = try locate(rowid) else { lx_result_null(ctx); return }
        _ = try main.verifySlot(chunkId: chunk, slot: slot, rowid: rowid, mapTable: name + "_rowids", useCache: cachingAllowed())
        let bytes = column == 0 ? try main.readVector(chunkId: chunk, slot: Int(slot))
                                : try sides[column - 1].read(chunkId: chunk, slot: Int(slot))
        let n = try cInt(bytes.count, "vector size")
        bytes.withUnsafeBytes { lx_result_blob(ctx, $0.baseAddress, n) }
        lx_result_subtype(ctx, config.vectors[column].type.rawValue)
    }

    /// Column 0: the rowid, or the text primary key.
    func resultKey(_ ctx: OpaquePointer?, rowid: Int64) throws {
        guard config.textPrimaryKey else { lx_result_int64(ctx, rowid); return }
        let st = try main.statement("SELECT pk FROM \(shadow("rowids")) WHERE rowid = ?")
        try st.bind([.int(rowid)])
        defer { st.reset() }
        if try st.step() { lx_result_value(ctx, st.value(0)) } else { lx_result_null(ctx) }
    }

    /// A metadata or auxiliary column's value (or the partition key's) for one row.
    func resultColumn(_ ctx: OpaquePointer?, _ column: UserColumn, rowid: Int64) throws {
        let sql: String
        switch column.kind {
        case .metadata: sql = "SELECT \(column.storage) FROM \(shadow("rowids")) WHERE rowid = ?"
        case .auxiliary: sql = "SELECT \(column.storage) FROM \(shadow("auxiliary")) WHERE rowid = ?"
        case .partition: sql = "SELECT \(compositeKeys ? column.storage : "partition") FROM \(shadow("rowids")) WHERE rowid = ?"
        case .vector:
            let j = config.vectors.firstIndex { $0.name == column.name } ?? 0
            return try resultVector(ctx, rowid: rowid, column: j)
        }
        let st = try main.statement(sql)
        try st.bind([.int(rowid)])
        defer { st.reset() }
        if try st.step() { lx_result_value(ctx, st.value(0)) } else { lx_result_null(ctx) }
    }

    func allRowids(point: Int64?) throws -> [Int64] {
        var out: [Int64] = []
        let st = try main.statement(point == nil
            ? "SELECT rowid FROM \(shadow("rowids")) ORDER BY rowid"
            : "SELECT rowid FROM \(shadow("rowids")) WHERE rowid = ?")
        try st.bind(point.map { [.int($0)] } ?? [])
        while try st.step() { out.append(st.int(0)) }
        st.reset()
        return out
    }

    /// Largest k accepted, as in sqlite-vec: a bigger k is almost always a mistake.
    static let maxK: Int64 = 4096

    func knnQuery(vector value: OpaquePointer?, column: Int = 0, k: Int64, partition: OpaquePointer?, hasPartition: Bool, nprobe: Int64?,
                  filters: [RowFilter] = []) throws -> [(rowid: Int64, distance: Float)] {
        try checkUsable(ivf: false)
        if k < 0 { throw VecError("lectern_vec: k must be >= 0 in a KNN query on \(name), got \(k)") }
        if k > VecTable.maxK { throw VecError("lectern_vec: k value in KNN query on \(name) too large: \(k) (the limit is \(VecTable.maxK))") }
        let v: Vector
        do { v = try vectorArgument(value, column: column) } catch let e as VecError {
            throw VecError(e.message.replacingFirst("lectern_vec: ", with: "lectern_vec: query vector: "))
        }
        if k == 0 { return [] }
        if hasPartition && lx_value_type(partition) == SQLITE_NULL { return [] }
        let spec = config.vectors[column]
        let query = Query(vector: v, metric: spec.metric)
        defer { query.deallocate() }
        // The IVF index covers the first vector column; the others are always scanned exactly.
        let probes = column > 0 ? 0 : nprobe ?? Int64(config.nprobe)
        if probes < 0 { throw VecError("lectern_vec: nprobe must be >= 0, got \(probes)") }
        if probes > 0 { try checkUsable(ivf: true) }
        var ids: [Int64]
        let part = hasPartition ? HoleKey(listId: 0, partition: partition).partition : "*"
        if ivfTrained && probes > 0 {
            let lists = nearestCentroids(v.floats, count: min(Int(probes), centroids.count / config.dims))
            ids = []
            for l in lists {
                ids += try cachedChunkIds("\(l) \(part)") { try main.chunkIds(listIds: [Int64(l)], partition: partition, filterPartition: hasPartition) }
            }
        } else {
            ids = try cachedChunkIds("* \(part)") { try main.allChunkIds(partition: partition, filterPartition: hasPartition) }
        }
        let masks = filters.isEmpty ? nil : try filterMasks(filters, partition: hasPartition ? partition : nil)
        if let masks { ids = ids.filter { masks[$0] != nil } }
        let scanned = try chunks(ids, column: column).map { c in masks.map { ChunkData(c, keeping: $0[c.chunkId] ?? []) } ?? c }
        let hits = knn(scanned, query, k: Int(k), vectorBytes: spec.bytes)
        try verify(hits, scanned, partition: hasPartition ? partition : nil)
        return hits.map { ($0.rowid, $0.distance) }
    }

    /// The chunk ids of a chain selection, from `chunkIdCache` when caching is allowed.
    private func cachedChunkIds(_ key: String, _ read: () throws -> [Int64]) throws -> [Int64] {
        guard cachingAllowed() else { return try read() }
        if let ids = chunkIdCache[key] { return ids }
        let ids = try read()
        if chunkIdCache.count >= 65536 { chunkIdCache.removeAll() }
        chunkIdCache[key] = ids
        return ids
    }

    /// Checks the k results of a scan (not every scanned vector: the scan validated its chunks as
    /// wholes) against the rowid map: each result's rowid must live exactly where the scan found
    /// it, so a stray validity bit, a wrong rowid in `<t>_vectors` or a partition mismatch is an
    /// error instead of a deleted, duplicated or misfiled row in the answer.
    private func verify(_ hits: [KNNHit], _ scanned: [ChunkData], partition: OpaquePointer?) throws {
        let mapTable = name + "_rowids"
        let part = try main.statement("SELECT coalesce(partition = ?, 0) FROM \(shadow("rowids")) WHERE rowid = ?")
        for h in hits {
            let chunk = scanned[h.chunkIndex].chunkId
            guard let (c, s) = try locate(h.rowid) else {
                throw corrupt(mapTable, "rowid \(h.rowid) is in a filled slot (chunk \(chunk), slot \(h.slot)) of \(main.chunksTable) but has no row in \(mapTable)")
            }
            guard c == chunk, s == Int64(h.slot) else {
                throw corrupt(mapTable, "rowid \(h.rowid) is in chunk \(chunk) slot \(h.slot) of \(main.chunksTable), but \(mapTable) places it at chunk \(c) slot \(s)")
            }
            if let partition {
                try part.bind([.value(partition), .int(h.rowid)])
                defer { part.reset() }
                guard try part.step(), part.int(0) == 1 else {
                    throw corrupt(mapTable, "the partition of rowid \(h.rowid) differs from that of its chunk \(chunk) in \(main.chunksTable)")
                }
            }
        }
    }
}

/// A UNIQUE violation: reported with SQLITE_CONSTRAINT so `INSERT OR IGNORE` etc. behave.
struct ConstraintError: Error {
    let message: String
    init(_ m: String) { message = m }
}

extension String {
    func replacingFirst(_ a: String, with b: String) -> String {
        hasPrefix(a) ? b + String(dropFirst(a.count)) : self
    }
}

/// The values of one row's non-vector columns, as SQLite hands them to xUpdate: the partition
/// key (nil when the table has none), then metadata and auxiliary values in declaration order.
struct ColumnValues {
    /// The chain value: the partition key's value, or with several keys their combination.
    var partition: OpaquePointer? = nil
    /// Each partition key's value, in declaration order.
    var partitionKeys: [OpaquePointer?] = []
    var metadata: [OpaquePointer?] = []
    var auxiliary: [OpaquePointer?] = []
    /// The second, third... vector columns' values.
    var vectors: [OpaquePointer?] = []
    /// Column 0 of a table with a text primary key.
    var primaryKey: OpaquePointer? = nil
}
