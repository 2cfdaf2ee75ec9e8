import CSQLiteExt

/// One `lectern_vec` table on one connection: its configuration, its shadow tables, and an
/// in-memory cache of chunk contents so repeated queries stream RAM instead of re-reading pages.
final class VecTable {
    let db: OpaquePointer
    let schema: String
    var name: String
    let config: TableConfig
    var main: ChunkStore
    var ivfStore: ChunkStore
    /// IVF state, read from `<t>_info`: centroids (nlist x dims, row-major) once trained.
    var centroids: [Float] = []
    var ivfTrained: Bool { !centroids.isEmpty }

    // Cache: valid while the file's data version is unchanged and no write transaction of ours is open.
    var cache: [Int64: ChunkData] = [:]
    var ivfCache: [Int64: ChunkData] = [:]
    var cachedBytes = 0
    var cacheVersion: UInt32 = 0
    var inWrite = false

    // Column numbers in the declared schema.
    var partitionCol: Int32 { config.partitionColumn == nil ? -1 : 1 }
    var distanceCol: Int32 { config.partitionColumn == nil ? 1 : 2 }
    var kCol: Int32 { distanceCol + 1 }
    var nprobeCol: Int32 { distanceCol + 2 }
    var commandCol: Int32 { distanceCol + 3 }

    static let shadowSuffixes = ["info", "rowids", "chunks", "vectors", "ivf_centroids", "ivf_chunks", "ivf_vectors", "ivf_rowids"]

    init(db: OpaquePointer, schema: String, name: String, config: TableConfig) {
        self.db = db
        self.schema = schema
        self.name = name
        self.config = config
        main = ChunkStore(db: db, schema: schema, prefix: name, chunkSize: config.chunkSize, vectorBytes: config.vectorBytes)
        ivfStore = ChunkStore(db: db, schema: schema, prefix: name + "_ivf", chunkSize: 128, vectorBytes: config.vectorBytes)
    }

    var q: String { quoteIdent(schema) + "." }
    func shadow(_ suffix: String) -> String { q + quoteIdent(name + "_" + suffix) }

    /// The schema SQLite sees (hidden columns: distance, k, nprobe, and the command column named after the table).
    var declaration: String {
        var cols = [quoteIdent(config.vectorColumn)]
        if let p = config.partitionColumn { cols.append(quoteIdent(p)) }
        cols += ["distance HIDDEN", "k HIDDEN", "nprobe HIDDEN", quoteIdent(name) + " HIDDEN"]
        return "CREATE TABLE x(" + cols.joined(separator: ", ") + ")"
    }

    func createShadowTables() throws {
        var sql = [
            "CREATE TABLE \(shadow("info"))(key TEXT PRIMARY KEY, value)",
            "CREATE TABLE \(shadow("rowids"))(rowid INTEGER PRIMARY KEY, partition, chunk_id INTEGER NOT NULL, chunk_offset INTEGER NOT NULL)",
            "CREATE TABLE \(shadow("ivf_centroids"))(list_id INTEGER PRIMARY KEY, centroid BLOB NOT NULL)",
            "CREATE TABLE \(shadow("ivf_rowids"))(rowid INTEGER PRIMARY KEY, chunk_id INTEGER NOT NULL, chunk_offset INTEGER NOT NULL)",
        ]
        sql += ChunkStore.createSQL(schema: schema, prefix: name)
        sql += ChunkStore.createSQL(schema: schema, prefix: name + "_ivf")
        sql.append("INSERT INTO \(shadow("info"))(key, value) VALUES ('format', 1), ('ivf_trained', 0)")
        for s in sql {
            guard lx_exec(db, s) == SQLITE_OK else { throw VecError("lectern_vec: \(String(cString: lx_errmsg(db))) (in: \(s))") }
        }
    }

    func loadState() throws {
        let st = try main.statement("SELECT centroid FROM \(shadow("ivf_centroids")) ORDER BY list_id")
        st.bind([])
        var c: [Float] = []
        while try st.step() {
            let b = st.bytes(0)
            guard b.count == config.dims * 4 else { st.reset(); throw VecError("lectern_vec: corrupt IVF centroid in \(name)_ivf_centroids") }
            c += (0..<config.dims).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
        st.reset()
        centroids = c
    }

    /// After ALTER TABLE ... RENAME: the shadow tables now carry the new name.
    func rename(to newName: String) {
        name = newName
        main = ChunkStore(db: db, schema: schema, prefix: newName, chunkSize: config.chunkSize, vectorBytes: config.vectorBytes)
        ivfStore = ChunkStore(db: db, schema: schema, prefix: newName + "_ivf", chunkSize: 128, vectorBytes: config.vectorBytes)
    }

    func close() {
        dropCache()
        main.close()
        ivfStore.close()
    }

    // MARK: cache

    func dropCache() {
        cache.removeAll()
        ivfCache.removeAll()
        cachedBytes = 0
    }

    /// The chunks with these ids, from the cache when it is current.
    func chunks(_ ids: [Int64], ivf: Bool) throws -> [ChunkData] {
        let store = ivf ? ivfStore : main
        if inWrite { return try ids.map { try store.load(chunkId: $0) } }
        let v = lx_data_version(db, schema)
        if v != cacheVersion { dropCache(); cacheVersion = v }
        let limit = config.cacheMB << 20
        var out: [ChunkData] = []
        out.reserveCapacity(ids.count)
        for id in ids {
            if let c = ivf ? ivfCache[id] : cache[id] { out.append(c); continue }
            let c = try store.load(chunkId: id)
            if cachedBytes + c.byteCount <= limit {
                if ivf { ivfCache[id] = c } else { cache[id] = c }
                cachedBytes += c.byteCount
            }
            out.append(c)
        }
        return out
    }

    // MARK: writes

    /// Validates a vector for this table: type, dimensions, finite values.
    func vectorArgument(_ value: OpaquePointer?) throws -> Vector {
        if lx_value_type(value) == SQLITE_NULL {
            throw VecError("lectern_vec: \(name).\(config.vectorColumn) cannot be NULL")
        }
        let v: Vector
        do {
            switch config.type {
            case .float32:
                let st = lx_value_subtype(value)
                if st == ElementType.int8.rawValue || st == ElementType.bit.rawValue {
                    throw VecError("expected a float32 vector, got \(st == ElementType.int8.rawValue ? "int8" : "bit")")
                }
                v = try float32FromValue(value)
            case .int8: v = try int8FromValue(value)
            case .bit: v = try bitFromValue(value)
            }
        } catch let e as VecError {
            throw VecError("lectern_vec: \(name).\(config.vectorColumn): \(e.message)")
        }
        guard v.dims == config.dims else {
            throw VecError("lectern_vec: dimension mismatch for \(name).\(config.vectorColumn): expected \(config.dims) dimensions, got \(v.dims)")
        }
        return v
    }

    func checkPartition(_ value: OpaquePointer?) throws {
        guard let col = config.partitionColumn else { return }
        let t = lx_value_type(value)
        switch config.partitionType {
        case "integer" where t != SQLITE_INTEGER:
            throw VecError("lectern_vec: partition key \(name).\(col) must be an INTEGER, got \(typeName(t))")
        case "text" where t != SQLITE_TEXT:
            throw VecError("lectern_vec: partition key \(name).\(col) must be TEXT, got \(typeName(t))")
        default: break
        }
    }

    func exists(_ rowid: Int64) throws -> Bool {
        let st = try main.statement("SELECT 1 FROM \(shadow("rowids")) WHERE rowid = ?")
        st.bind([.int(rowid)])
        defer { st.reset() }
        return try st.step()
    }

    func insert(rowid: Int64?, vector: OpaquePointer?, partition: OpaquePointer?, replace: Bool) throws -> Int64 {
        let v = try vectorArgument(vector)
        try checkPartition(partition)
        return try insertBytes(rowid: rowid, bytes: v.bytes, partition: partition, replace: replace)
    }

    /// Inserts an already validated vector.
    @discardableResult
    func insertBytes(rowid: Int64?, bytes: [UInt8], partition: OpaquePointer?, replace: Bool) throws -> Int64 {
        let v = Vector(type: config.type, dims: config.dims, bytes: bytes)
        let id: Int64
        if let rowid {
            if try exists(rowid) {
                guard replace else { throw ConstraintError("UNIQUE constraint failed on \(name) primary key (rowid \(rowid))") }
                try delete(rowid: rowid)
            }
            id = rowid
        } else {
            let st = try main.statement("SELECT coalesce(max(rowid), 0) + 1 FROM \(shadow("rowids"))")
            st.bind([])
            _ = try st.step()
            id = st.int(0)
            st.reset()
        }
        dropCache()
        let (chunk, slot) = try v.bytes.withUnsafeBytes { try main.append(listId: 0, partition: partition, rowid: id, vector: $0.baseAddress!) }
        try main.statement("INSERT INTO \(shadow("rowids"))(rowid, partition, chunk_id, chunk_offset) VALUES (?, ?, ?, ?)")
            .bind([.int(id), .value(partition), .int(chunk), .int(Int64(slot))]).run()
        if ivfTrained {
            let list = nearestCentroids(v.floats, count: 1)[0]
            let (ic, islot) = try v.bytes.withUnsafeBytes { try ivfStore.append(listId: Int64(list), partition: partition, rowid: id, vector: $0.baseAddress!) }
            try main.statement("INSERT INTO \(shadow("ivf_rowids"))(rowid, chunk_id, chunk_offset) VALUES (?, ?, ?)")
                .bind([.int(id), .int(ic), .int(Int64(islot))]).run()
        }
        return id
    }

    func delete(rowid: Int64) throws {
        dropCache()
        let st = try main.statement("SELECT chunk_id, chunk_offset FROM \(shadow("rowids")) WHERE rowid = ?")
        st.bind([.int(rowid)])
        guard try st.step() else { st.reset(); return }
        let chunk = st.int(0), slot = Int(st.int(1))
        st.reset()
        try main.remove(chunkId: chunk, slot: slot)
        try main.statement("DELETE FROM \(shadow("rowids")) WHERE rowid = ?").bind([.int(rowid)]).run()
        let iv = try main.statement("SELECT chunk_id, chunk_offset FROM \(shadow("ivf_rowids")) WHERE rowid = ?")
        iv.bind([.int(rowid)])
        if try iv.step() {
            let c = iv.int(0), s = Int(iv.int(1))
            iv.reset()
            try ivfStore.remove(chunkId: c, slot: s)
            try main.statement("DELETE FROM \(shadow("ivf_rowids")) WHERE rowid = ?").bind([.int(rowid)]).run()
        } else {
            iv.reset()
        }
    }

    // MARK: reads

    /// (partition value holder statement, chunk, slot) for a rowid; the caller reads column 0 as the partition.
    func locate(_ rowid: Int64) throws -> (chunk: Int64, slot: Int)? {
        let st = try main.statement("SELECT chunk_id, chunk_offset FROM \(shadow("rowids")) WHERE rowid = ?")
        st.bind([.int(rowid)])
        defer { st.reset() }
        guard try st.step() else { return nil }
        return (st.int(0), Int(st.int(1)))
    }

    func resultVector(_ ctx: OpaquePointer?, rowid: Int64) throws {
        guard let (chunk, slot) = try locate(rowid) else { lx_result_null(ctx); return }
        let bytes = try main.readVector(chunkId: chunk, slot: slot)
        bytes.withUnsafeBytes { lx_result_blob(ctx, $0.baseAddress, Int32($0.count)) }
        lx_result_subtype(ctx, config.type.rawValue)
    }

    func resultPartition(_ ctx: OpaquePointer?, rowid: Int64) throws {
        let st = try main.statement("SELECT partition FROM \(shadow("rowids")) WHERE rowid = ?")
        st.bind([.int(rowid)])
        defer { st.reset() }
        if try st.step() { lx_result_value(ctx, st.value(0)) } else { lx_result_null(ctx) }
    }

    func allRowids(point: Int64?) throws -> [Int64] {
        var out: [Int64] = []
        let st = try main.statement(point == nil
            ? "SELECT rowid FROM \(shadow("rowids")) ORDER BY rowid"
            : "SELECT rowid FROM \(shadow("rowids")) WHERE rowid = ?")
        st.bind(point.map { [.int($0)] } ?? [])
        while try st.step() { out.append(st.int(0)) }
        st.reset()
        return out
    }

    /// Largest k accepted, as in sqlite-vec: a bigger k is almost always a mistake.
    static let maxK: Int64 = 4096

    func knnQuery(vector value: OpaquePointer?, k: Int64, partition: OpaquePointer?, hasPartition: Bool, nprobe: Int64?) throws -> [(rowid: Int64, distance: Float)] {
        if k < 0 { throw VecError("lectern_vec: k must be >= 0 in a KNN query on \(name), got \(k)") }
        if k > VecTable.maxK { throw VecError("lectern_vec: k value in KNN query on \(name) too large: \(k) (the limit is \(VecTable.maxK))") }
        let v: Vector
        do { v = try vectorArgument(value) } catch let e as VecError {
            throw VecError(e.message.replacingFirst("lectern_vec: ", with: "lectern_vec: query vector: "))
        }
        if k == 0 { return [] }
        if hasPartition && lx_value_type(partition) == SQLITE_NULL { return [] }
        let query = Query(vector: v, metric: config.metric)
        defer { query.deallocate() }
        let probes = nprobe ?? Int64(config.nprobe)
        if probes < 0 { throw VecError("lectern_vec: nprobe must be >= 0, got \(probes)") }
        if ivfTrained && probes > 0 {
            let lists = nearestCentroids(v.floats, count: min(Int(probes), centroids.count / config.dims))
            let ids = try ivfStore.chunkIds(listIds: lists.map { Int64($0) }, partition: partition, filterPartition: hasPartition)
            return knn(try chunks(ids, ivf: true), query, k: Int(k), vectorBytes: config.vectorBytes)
        }
        let ids = try main.chunkIds(listIds: [0], partition: partition, filterPartition: hasPartition)
        return knn(try chunks(ids, ivf: false), query, k: Int(k), vectorBytes: config.vectorBytes)
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
