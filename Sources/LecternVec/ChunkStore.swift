import CSQLiteExt

/// One chunk's contents in process memory: `used` slots of vectors, their rowids and validity.
/// Vectors are contiguous and 64-byte aligned so a scan streams them. Built only from a chunk that
/// passed `ChunkStore.validate`, so `validity` covers `used` slots and `vectors` holds `used` vectors.
final class ChunkData {
    let chunkId: Int64
    let used: Int
    let validity: [UInt8]
    let rowids: [Int64]
    let vectors: UnsafeMutableRawPointer
    let byteCount: Int
    /// Set on a filtered view: the chunk whose vector memory this one shares (and keeps alive).
    private let owner: ChunkData?

    init(chunkId: Int64, used: Int, validity: [UInt8], rowids: [Int64], vectors: UnsafeRawBufferPointer, usedBytes: Int) {
        precondition(usedBytes <= vectors.count && validity.count * 8 >= used && rowids.count == used)
        self.chunkId = chunkId
        self.used = used
        self.validity = validity
        self.rowids = rowids
        byteCount = max(64, usedBytes)
        self.vectors = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        if usedBytes > 0, let src = vectors.baseAddress { self.vectors.copyMemory(from: src, byteCount: usedBytes) }
        owner = nil
    }

    /// A view of `base` that keeps only the valid slots also set in `mask` (a KNN row filter):
    /// the vectors are shared, not copied, so a filtered scan streams the cached chunk itself.
    init(_ base: ChunkData, keeping mask: [UInt8]) {
        chunkId = base.chunkId
        used = base.used
        rowids = base.rowids
        vectors = base.vectors
        byteCount = 0   // owned by base: not counted twice in the cache
        validity = base.validity.indices.map { $0 < mask.count ? base.validity[$0] & mask[$0] : 0 }
        owner = base
    }

    deinit { if owner == nil { vectors.deallocate() } }

    @inline(__always) func isValid(_ i: Int) -> Bool { (validity[i >> 3] >> UInt8(i & 7)) & 1 == 1 }
}

/// A chunk's small row and its rowids, validated: what a point lookup, an append or a delete
/// needs to trust a (chunk, slot) pair read from `<t>_rowids`.
struct ChunkMeta {
    let chunkId: Int64
    let listId: Int64
    let size: Int
    let used: Int
    var validity: [UInt8]
    /// The rowids of slots 0..<used.
    let rowids: [Int64]

    func isValid(_ i: Int) -> Bool { (validity[i >> 3] >> UInt8(i & 7)) & 1 == 1 }
}

/// Vectors in chunks of `size` slots, in two shadow tables of the host file:
/// `<prefix>_chunks` (small metadata row, cheap to update) and `<prefix>_vectors` (the contiguous
/// BLOBs, written slot by slot in place with incremental BLOB I/O). Each vector is stored once:
/// a chain of chunks is one (list, partition) pair, where the list is the vector's IVF list
/// (its nearest centroid) once an IVF index is trained and 0 otherwise, so an exact scan reads
/// every chunk and an IVF probe reads its lists' chunks only.
///
/// Every chunk read from the file goes through `validate` first (once per chunk, not per vector):
/// types, `0 <= list_id < listCount`, `size` equal to the table's chunk size, `0 <= used <= size`,
/// BLOB lengths exactly `size / 8`, `size * 8` and `size * vectorBytes`, no validity bit at or past `used`.
final class ChunkStore {
    let db: OpaquePointer
    let schema: String
    let prefix: String        // the table's name: chunks in `<prefix>_chunks`, BLOBs in `<prefix>_vectors`
    let chunkSize: Int
    let vectorBytes: Int
    /// List ids run from 0 to listCount - 1: 1 for a table without an IVF index, its declared
    /// `nlist` with one (a list id is never more, whatever nlist the last training chose).
    let listCount: Int64
    private var statements: [String: Statement] = [:]
    /// Validated chunk rows, when the owner says the file cannot have changed (see VecTable.cachingAllowed).
    private var metaCache: [Int64: ChunkMeta] = [:]
    /// Per (list, partition): chunks that may have an emptied slot below `used`, for `append` to
    /// fill before it grows the chain. Found by one read of the chain's chunk rows (not their
    /// BLOBs) the first time a transaction appends to it, then kept by `remove` and `append`;
    /// forgotten at every transaction boundary, so another connection's writes are never missed.
    private var holes: [HoleKey: [Int64]] = [:]
    /// Called with each chunk `append` creates: the table's other vector columns add their BLOB rows.
    var onNewChunk: ((Int64) throws -> Void)? = nil
    /// Set by every write (a chunk row, a BLOB, a slot), reset by xUpdate before each row: once
    /// set, a failure must undo the statement's earlier writes (see `VecModule`'s xUpdate).
    var wrote = false

    var chunksTable: String { prefix + "_chunks" }
    var vectorsTable: String { prefix + "_vectors" }
    var q: String { quoteIdent(schema) + "." }

    init(db: OpaquePointer, schema: String, prefix: String, chunkSize: Int, vectorBytes: Int, listCount: Int64) {
        self.db = db
        self.schema = schema
        self.prefix = prefix
        self.chunkSize = chunkSize
        self.vectorBytes = vectorBytes
        self.listCount = listCount
    }

    static func createSQL(schema: String, prefix: String) -> [String] {
        let s = quoteIdent(schema) + "."
        return [
            // The (list, partition) index is a table constraint, so its automatic index is renamed
            // with the table by ALTER TABLE ... RENAME (a named index would keep the old name and
            // block a new table of that name; files made before 2026-12-03 have such a named one).
            "CREATE TABLE \(s)\(quoteIdent(prefix + "_chunks"))(chunk_id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL, partition, size INTEGER NOT NULL, used INTEGER NOT NULL, validity BLOB NOT NULL, UNIQUE(list_id, partition, chunk_id))",
            "CREATE TABLE \(s)\(quoteIdent(prefix + "_vectors"))(chunk_id INTEGER PRIMARY KEY, rowids BLOB NOT NULL, vectors BLOB NOT NULL)",
        ]
    }

    func statement(_ sql: String) throws -> Statement {
        if let s = statements[sql] { return s }
        let s = try Statement(db, sql)
        statements[sql] = s
        return s
    }

    /// Finalizes cached statements (before the connection closes).
    func close() {
        statements.removeAll()
        metaCache.removeAll()
    }

    func dropCache() { metaCache.removeAll() }

    /// At BEGIN, COMMIT and ROLLBACK: the hole lists may be stale from here on.
    func forgetHoles() { holes.removeAll() }

    // MARK: slot reuse

    /// Chunks of (list, partition) with an emptied slot below `used`, oldest first (the list is
    /// used from its end, so the newest holes are filled first).
    private func findHoles(listId: Int64, partition: OpaquePointer?) throws -> [Int64] {
        let st = try statement("SELECT chunk_id, used, validity FROM \(q)\(quoteIdent(chunksTable)) WHERE list_id = ? AND partition IS ? ORDER BY chunk_id")
        try st.bind([.int(listId), .value(partition)])
        defer { st.reset() }
        var out: [Int64] = []
        while try st.step() {
            let id = st.int(0)
            // Only a hint: `takeHole` validates the chunk before it writes, so odd values here are skipped.
            guard st.type(1) == SQLITE_INTEGER, st.type(2) == SQLITE_BLOB else { continue }
            let used = st.int(1)
            let v = st.bytes(2)
            guard used > 0, used <= Int64(chunkSize), v.count == chunkSize / 8 else { continue }
            var filled = 0
            for b in v { filled += b.nonzeroBitCount }
            if filled < Int(used) { out.append(id) }
        }
        return out
    }

    /// Whether chunk `c` holds this partition key value (a stale hint may name a reused chunk id).
    private func inChain(_ c: Int64, _ partition: OpaquePointer?) throws -> Bool {
        let st = try statement("SELECT partition IS ? FROM \(q)\(quoteIdent(chunksTable)) WHERE chunk_id = ?")
        try st.bind([.value(partition), .int(c)])
        defer { st.reset() }
        return try st.step() && st.int(0) == 1
    }

    /// An emptied slot to fill in (list, partition), or nil: (chunk, slot, validity).
    private func takeHole(_ key: HoleKey, listId: Int64, partition: OpaquePointer?) throws -> (Int64, Int, [UInt8])? {
        if holes[key] == nil { holes[key] = try findHoles(listId: listId, partition: partition) }
        while let c = holes[key]?.last {
            // A hint can be stale (a statement rolled back, a chunk rebuilt): a chunk that is gone
            // or does not validate is skipped here; appending to a chain validates its own chunk.
            guard let m = try? meta(c, useCache: false), try inChain(c, partition) else { holes[key]?.removeLast(); continue }
            if m.listId == listId, let slot = (0..<m.used).first(where: { !m.isValid($0) }) {
                // Drop the chunk from the list when this was its last hole.
                if !(slot + 1..<m.used).contains(where: { !m.isValid($0) }) { holes[key]?.removeLast() }
                return (c, slot, m.validity)
            }
            holes[key]?.removeLast()
        }
        return nil
    }

    // MARK: validation

    /// The columns `validate` reads, from `c` (the chunk row) and `v` (its vectors row, LEFT JOINed).
    /// `typeof` and `length` of the BLOBs do not read their (overflow) pages.
    static let validatedColumns = "c.list_id, c.size, c.used, c.validity, v.chunk_id, typeof(v.rowids), length(v.rowids), typeof(v.vectors), length(v.vectors)"

    /// Checks one chunk's row: `validatedColumns` at `st`'s current row, from column `base`.
    /// Returns (list_id, used, validity).
    private func validate(_ st: Statement, _ chunkId: Int64, base: Int32 = 0) throws -> (listId: Int64, used: Int, validity: [UInt8]) {
        let ct = chunksTable, vt = vectorsTable
        let row = "chunk \(chunkId)"
        let listId = try st.integer(base, ct, "list_id", row)
        try checkListId(listId, row)
        let size = try st.integer(base + 1, ct, "size", row)
        guard size == Int64(chunkSize) else { throw corrupt(ct, "size of \(row) is \(size), expected \(chunkSize)") }
        let used64 = try st.integer(base + 2, ct, "used", row)
        guard used64 >= 0, used64 <= size else { throw corrupt(ct, "used of \(row) is \(used64), expected 0 to \(size)") }
        let used = Int(used64)
        let validity = try st.blob(base + 3, ct, "validity", row)
        guard validity.count == chunkSize / 8 else {
            throw corrupt(ct, "validity bitmap of \(row) is \(validity.count) bytes, expected \(chunkSize / 8)")
        }
        // No slot at or past `used` was ever filled: a bit there is corruption (and would put a
        // never-written slot into scans).
        for byte in (used >> 3)..<validity.count {
            let firstSlot = byte << 3
            let mask: UInt8 = used > firstSlot ? ~UInt8((1 << (used - firstSlot)) - 1) : 0xFF
            if validity[byte] & mask != 0 {
                throw corrupt(ct, "validity bitmap of \(row) marks slots at or past used (\(used)) as filled")
            }
        }
        if st.type(base + 4) == SQLITE_NULL { throw corrupt(vt, "no row for \(row) (it has a row in \(ct))") }
        for (column, typeCol, expected) in [("rowids", base + 5, try checkedMul(chunkSize, 8, vt, "rowids size of \(row)")),
                                            ("vectors", base + 7, try checkedMul(chunkSize, vectorBytes, vt, "vectors size of \(row)"))] {
            let t = st.text(typeCol) ?? "null"
            guard t == "blob" else { throw corrupt(vt, "\(column) of \(row) is \(t.uppercased()), expected a BLOB") }
            let n = st.int(typeCol + 1)
            guard n == Int64(expected) else { throw corrupt(vt, "\(column) of \(row) is \(n) bytes, expected \(expected)") }
        }
        return (listId, used, Array(validity))
    }

    private func checkListId(_ listId: Int64, _ row: String) throws {
        guard listId >= 0, listId < listCount else {
            throw corrupt(chunksTable, "list_id of \(row) is \(listId), expected " + (listCount == 1 ? "0" : "0 to \(listCount - 1)"))
        }
    }

    /// The first `used` rowids of a validated chunk, from its `rowids` BLOB at column `i`.
    private func rowids(_ st: Statement, _ i: Int32, used: Int) -> [Int64] {
        let b = st.bytes(i)
        precondition(b.count >= used * 8)   // validate checked the length
        var out = [Int64](repeating: 0, count: used)
        out.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[0..<(used * 8)])) }
        for i in 0..<used { out[i] = Int64(littleEndian: out[i]) }
        return out
    }

    /// A chunk's validated row and rowids (cached while `useCache`).
    func meta(_ chunkId: Int64, useCache: Bool) throws -> ChunkMeta {
        if useCache, let m = metaCache[chunkId] { return m }
        let st = try statement("SELECT \(ChunkStore.validatedColumns), v.rowids FROM \(q)\(quoteIdent(chunksTable)) c LEFT JOIN \(q)\(quoteIdent(vectorsTable)) v ON v.chunk_id = c.chunk_id WHERE c.chunk_id = ?")
        try st.bind([.int(chunkId)])
        defer { st.reset() }
        guard try st.step() else { throw corrupt(chunksTable, "no row for chunk \(chunkId)") }
        let v = try validate(st, chunkId)
        let m = ChunkMeta(chunkId: chunkId, listId: v.listId, size: chunkSize, used: v.used, validity: v.validity, rowids: rowids(st, 9, used: v.used))
        if useCache {
            if metaCache.count >= 4096 { metaCache.removeAll() }
            metaCache[chunkId] = m
        }
        return m
    }

    /// Checks that `rowid` really lives at (`chunkId`, `slot`), as `mapTable` (`<t>_rowids`) says: a filled slot holding that rowid. Returns the chunk's row.
    func verifySlot(chunkId: Int64, slot: Int64, rowid: Int64, mapTable: String, useCache: Bool) throws -> ChunkMeta {
        let m = try meta(chunkId, useCache: useCache)
        guard slot >= 0, slot < Int64(m.used) else {
            throw corrupt(mapTable, "chunk_offset of rowid \(rowid) is \(slot), but chunk \(chunkId) of \(chunksTable) has \(m.used) filled slots")
        }
        let s = Int(slot)
        guard m.isValid(s) else {
            throw corrupt(mapTable, "rowid \(rowid) points to slot \(s) of chunk \(chunkId), which \(chunksTable) marks empty")
        }
        guard m.rowids[s] == rowid else {
            throw corrupt(mapTable, "rowid \(rowid) points to slot \(s) of chunk \(chunkId), which holds rowid \(m.rowids[s]) in \(vectorsTable)")
        }
        return m
    }

    // MARK: writes

    /// Puts one vector in the last chunk of (list, partition) with a free slot, making a new chunk
    /// when full. Returns where it went.
    func append(listId: Int64, partition: OpaquePointer?, rowid: Int64, vector: UnsafeRawPointer) throws -> (Int64, Int) {
        // The validity bitmap and the fill count change in one UPDATE of the small chunk row:
        // incremental BLOB handles cost a statement compile each, so only the two big BLOBs use them.
        // One statement finds the chunk and reads what validating it needs (not its BLOBs).
        let chunkId: Int64
        let slot: Int
        var validity: [UInt8]
        // A slot emptied by a DELETE (or an UPDATE, which moves the row) is filled first, so a
        // table that churns does not grow: its file stays the size of its live rows.
        let key = HoleKey(listId: listId, partition: partition)
        wrote = true
        if let (c, s, v) = try takeHole(key, listId: listId, partition: partition) {
            (chunkId, slot, validity) = (c, s, v)
            try fill(chunkId: chunkId, slot: slot, rowid: rowid, vector: vector)
            validity[slot >> 3] |= 1 << UInt8(slot & 7)
            try statement("UPDATE \(q)\(quoteIdent(chunksTable)) SET validity = ? WHERE chunk_id = ?")
                .bind([.blob(validity), .int(chunkId)]).run()
            metaCache[chunkId] = nil
            return (chunkId, slot)
        }
        let find = try statement("SELECT c.chunk_id, \(ChunkStore.validatedColumns) FROM \(q)\(quoteIdent(chunksTable)) c LEFT JOIN \(q)\(quoteIdent(vectorsTable)) v ON v.chunk_id = c.chunk_id WHERE c.list_id = ? AND c.partition IS ? AND c.used < c.size ORDER BY c.chunk_id DESC LIMIT 1")
        try find.bind([.int(listId), .value(partition)])
        if try find.step() {
            defer { find.reset() }
            chunkId = find.int(0)
            let m = try validate(find, chunkId, base: 1)
            guard m.used < chunkSize else { throw corrupt(chunksTable, "chunk \(chunkId) is full (used \(m.used) of \(chunkSize))") }
            slot = m.used
            validity = m.validity
        } else {
            find.reset()
            chunkId = try newChunk(listId: listId, partition: partition)
            slot = 0
            validity = [UInt8](repeating: 0, count: chunkSize / 8)
        }
        let used = slot + 1
        try fill(chunkId: chunkId, slot: slot, rowid: rowid, vector: vector)
        validity[slot >> 3] |= 1 << UInt8(slot & 7)
        try statement("UPDATE \(q)\(quoteIdent(chunksTable)) SET used = ?, validity = ? WHERE chunk_id = ?")
            .bind([.int(Int64(used)), .blob(validity), .int(chunkId)]).run()
        metaCache[chunkId] = nil
        return (chunkId, slot)
    }

    /// Writes one slot's vector and rowid in place.
    private func fill(chunkId: Int64, slot: Int, rowid: Int64, vector: UnsafeRawPointer) throws {
        let vectorsTotal = try checkedMul(chunkSize, vectorBytes, vectorsTable, "vectors size")
        try writeBlob(vectorsTable, "vectors", chunkId, offset: try checkedMul(slot, vectorBytes, vectorsTable, "slot offset"),
                      expectedLength: vectorsTotal, UnsafeRawBufferPointer(start: vector, count: vectorBytes))
        var r = rowid.littleEndian
        try withUnsafeBytes(of: &r) { try writeBlob(vectorsTable, "rowids", chunkId, offset: slot * 8, expectedLength: chunkSize * 8, $0) }
    }

    private func newChunk(listId: Int64, partition: OpaquePointer?) throws -> Int64 {
        let vectorsTotal = try checkedMul(chunkSize, vectorBytes, vectorsTable, "vectors size")
        try statement("INSERT INTO \(q)\(quoteIdent(chunksTable))(list_id, partition, size, used, validity) VALUES (?, ?, ?, 0, zeroblob(?))")
            .bind([.int(listId), .value(partition), .int(Int64(chunkSize)), .int(Int64(chunkSize / 8))]).run()
        let id = lx_last_insert_rowid(db)
        try statement("INSERT INTO \(q)\(quoteIdent(vectorsTable))(chunk_id, rowids, vectors) VALUES (?, zeroblob(?), zeroblob(?))")
            .bind([.int(id), .int(Int64(chunkSize * 8)), .int(Int64(vectorsTotal))]).run()
        try onNewChunk?(id)
        return id
    }

    /// Writes a whole chunk at once (bulk loads: the lists after IVF training). Returns its id.
    @discardableResult
    func writeChunk(listId: Int64, partition: OpaquePointer?, rowids: [Int64], vectors: UnsafeRawBufferPointer) throws -> Int64 {
        let n = rowids.count
        precondition(n <= chunkSize && vectors.count <= chunkSize * vectorBytes)
        wrote = true
        var validity = [UInt8](repeating: 0, count: chunkSize / 8)
        for i in 0..<n { validity[i >> 3] |= 1 << UInt8(i & 7) }
        try statement("INSERT INTO \(q)\(quoteIdent(chunksTable))(list_id, partition, size, used, validity) VALUES (?, ?, ?, ?, ?)")
            .bind([.int(listId), .value(partition), .int(Int64(chunkSize)), .int(Int64(n)), .blob(validity)]).run()
        let id = lx_last_insert_rowid(db)
        var rb = [UInt8](repeating: 0, count: chunkSize * 8)
        rowids.map { $0.littleEndian }.withUnsafeBytes { src in rb.withUnsafeMutableBytes { $0.copyMemory(from: src) } }
        var vb = [UInt8](repeating: 0, count: try checkedMul(chunkSize, vectorBytes, vectorsTable, "vectors size"))
        if let src = vectors.baseAddress, vectors.count > 0 {
            vb.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: src, byteCount: vectors.count) }
        }
        try statement("INSERT INTO \(q)\(quoteIdent(vectorsTable))(chunk_id, rowids, vectors) VALUES (?, ?, ?)")
            .bind([.int(id), .blob(rb), .blob(vb)]).run()
        return id
    }

    /// Marks `rowid`'s slot empty (its bytes stay until the chunk is rebuilt, as in sqlite-vec),
    /// after checking that the slot holds that rowid: a corrupt map never clears another row's bit.
    func remove(chunkId: Int64, slot: Int64, rowid: Int64, mapTable: String) throws {
        var m = try verifySlot(chunkId: chunkId, slot: slot, rowid: rowid, mapTable: mapTable, useCache: false)
        wrote = true
        let s = Int(slot)
        m.validity[s >> 3] &= ~(1 << UInt8(s & 7))
        try statement("UPDATE \(q)\(quoteIdent(chunksTable)) SET validity = ? WHERE chunk_id = ?")
            .bind([.blob(m.validity), .int(chunkId)]).run()
        metaCache[chunkId] = nil
        // Known chains learn of the new hole; unknown ones find it when they are first read.
        if !holes.isEmpty {
            let st = try statement("SELECT partition FROM \(q)\(quoteIdent(chunksTable)) WHERE chunk_id = ?")
            try st.bind([.int(chunkId)])
            defer { st.reset() }
            if try st.step() {
                let key = HoleKey(listId: m.listId, partition: st.value(0))
                if holes[key] != nil, holes[key]?.last != chunkId { holes[key]?.append(chunkId) }
            }
        }
    }

    // MARK: reads

    /// Reads one slot's vector bytes (the slot was checked by `verifySlot`).
    func readVector(chunkId: Int64, slot: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: vectorBytes)
        let offset = try checkedMul(slot, vectorBytes, vectorsTable, "slot offset")
        let total = try checkedMul(chunkSize, vectorBytes, vectorsTable, "vectors size")
        try out.withUnsafeMutableBytes { try readBlob(vectorsTable, "vectors", chunkId, offset: offset, expectedLength: total, $0) }
        return out
    }

    /// The ids of every chunk (an exact scan), optionally only one partition's. Each chunk row's
    /// list_id is checked, so a chunk moved out of range is an error rather than a chunk silently
    /// left out of exact search.
    func allChunkIds(partition: OpaquePointer?, filterPartition: Bool) throws -> [Int64] {
        var out: [Int64] = []
        let st = try statement("SELECT chunk_id, list_id FROM \(q)\(quoteIdent(chunksTable))" + (filterPartition ? " WHERE partition = ?" : "") + " ORDER BY chunk_id")
        try st.bind(filterPartition ? [.value(partition)] : [])
        defer { st.reset() }
        while try st.step() {
            let id = st.int(0)
            try checkListId(try st.integer(1, chunksTable, "list_id", "chunk \(id)"), "chunk \(id)")
            out.append(id)
        }
        return out
    }

    /// The ids of the chunks of some IVF lists (a probe), optionally only one partition's.
    func chunkIds(listIds: [Int64], partition: OpaquePointer?, filterPartition: Bool) throws -> [Int64] {
        var out: [Int64] = []
        let sql = "SELECT chunk_id FROM \(q)\(quoteIdent(chunksTable)) WHERE list_id = ?" + (filterPartition ? " AND partition = ?" : "") + " ORDER BY chunk_id"
        let st = try statement(sql)
        for l in listIds {
            try st.bind(filterPartition ? [.int(l), .value(partition)] : [.int(l)])
            while try st.step() { out.append(st.int(0)) }
            st.reset()
        }
        return out
    }

    /// Loads one chunk into memory, validated.
    func load(chunkId: Int64) throws -> ChunkData {
        let st = try statement("SELECT \(ChunkStore.validatedColumns), v.rowids, v.vectors FROM \(q)\(quoteIdent(chunksTable)) c LEFT JOIN \(q)\(quoteIdent(vectorsTable)) v ON v.chunk_id = c.chunk_id WHERE c.chunk_id = ?")
        try st.bind([.int(chunkId)])
        defer { st.reset() }
        guard try st.step() else { throw corrupt(chunksTable, "no row for chunk \(chunkId)") }
        let v = try validate(st, chunkId)
        let vb = st.bytes(10)
        return ChunkData(chunkId: chunkId, used: v.used, validity: v.validity, rowids: rowids(st, 9, used: v.used), vectors: vb,
                         usedBytes: try checkedMul(v.used, vectorBytes, vectorsTable, "vectors of chunk \(chunkId)"))
    }

    /// Drops every chunk (the IVF rebuild writes them all again).
    func clear() throws {
        wrote = true
        try statement("DELETE FROM \(q)\(quoteIdent(chunksTable))").run()
        try statement("DELETE FROM \(q)\(quoteIdent(vectorsTable))").run()
        metaCache.removeAll()
        holes.removeAll()
    }

    /// Incremental BLOB I/O at `offset`, after checking the BLOB is the length a valid chunk has.
    private func withBlob(_ table: String, _ column: String, _ rowid: Int64, writable: Bool, expectedLength: Int,
                          _ body: (OpaquePointer) -> Int32) throws {
        var b: OpaquePointer? = nil
        guard lx_blob_open(db, schema, table, column, rowid, writable ? 1 : 0, &b) == SQLITE_OK, let blob = b else {
            if let b { lx_blob_close(b) }
            let msg = String(cString: lx_errmsg(db))
            if msg.contains("no such rowid") { throw corrupt(table, "no row for chunk \(rowid)") }
            throw VecError("lectern_vec: cannot open \(table).\(column) of row \(rowid): \(msg)")
        }
        defer { lx_blob_close(blob) }
        let n = Int(lx_blob_bytes(blob))
        guard n == expectedLength else { throw corrupt(table, "\(column) of chunk \(rowid) is \(n) bytes, expected \(expectedLength)") }
        guard body(blob) == SQLITE_OK else {
            throw VecError("lectern_vec: cannot \(writable ? "write" : "read") \(table).\(column) of row \(rowid): \(String(cString: lx_errmsg(db)))")
        }
    }

    func readBlob(_ table: String, _ column: String, _ rowid: Int64, offset: Int, expectedLength: Int, _ buf: UnsafeMutableRawBufferPointer) throws {
        let (end, o) = offset.addingReportingOverflow(buf.count)
        guard offset >= 0, !o, end <= expectedLength else { throw corrupt(table, "offset \(offset) is outside \(column) of chunk \(rowid)") }
        let n = try cInt(buf.count, "BLOB read size"), off = try cInt(offset, "BLOB offset")
        try withBlob(table, column, rowid, writable: false, expectedLength: expectedLength) { lx_blob_read($0, buf.baseAddress, n, off) }
    }

    func writeBlob(_ table: String, _ column: String, _ rowid: Int64, offset: Int, expectedLength: Int, _ buf: UnsafeRawBufferPointer) throws {
        let (end, o) = offset.addingReportingOverflow(buf.count)
        guard offset >= 0, !o, end <= expectedLength else { throw corrupt(table, "offset \(offset) is outside \(column) of chunk \(rowid)") }
        let n = try cInt(buf.count, "BLOB write size"), off = try cInt(offset, "BLOB offset")
        wrote = true
        try withBlob(table, column, rowid, writable: true, expectedLength: expectedLength) { lx_blob_write($0, buf.baseAddress, n, off) }
    }
}

/// A chain of chunks: one IVF list (0 for the exact index) and one partition key value.
struct HoleKey: Hashable {
    let listId: Int64
    /// `partitionKey` of the value (SQLite's classes kept apart: 1 and '1' differ, as in `IS`).
    let partition: String

    init(listId: Int64, partition: OpaquePointer?) {
        self.listId = listId
        // nil: the table has no partition key (sqlite3_value_type must not see a NULL pointer).
        self.partition = partition.map(partitionKey) ?? "n"
    }
}
