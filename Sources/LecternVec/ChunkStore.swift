import CSQLiteExt

/// One chunk's contents in process memory: `used` slots of vectors, their rowids and validity.
/// Vectors are contiguous and 64-byte aligned so a scan streams them.
final class ChunkData {
    let chunkId: Int64
    let used: Int
    let validity: [UInt8]
    let rowids: [Int64]
    let vectors: UnsafeMutableRawPointer
    let byteCount: Int

    init(chunkId: Int64, used: Int, validity: [UInt8], rowids: [Int64], vectors: UnsafeRawBufferPointer, vectorBytes: Int) {
        self.chunkId = chunkId
        self.used = used
        self.validity = validity
        self.rowids = rowids
        byteCount = max(64, used * vectorBytes)
        self.vectors = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let n = min(vectors.count, used * vectorBytes)
        if n > 0 { self.vectors.copyMemory(from: vectors.baseAddress!, byteCount: n) }
    }

    deinit { vectors.deallocate() }

    @inline(__always) func isValid(_ i: Int) -> Bool { (validity[i >> 3] >> UInt8(i & 7)) & 1 == 1 }
}

/// Vectors in chunks of `size` slots, in two shadow tables of the host file:
/// `<prefix>_chunks` (small metadata row, cheap to update) and `<prefix>_vectors` (the contiguous
/// BLOBs, written slot by slot in place with incremental BLOB I/O). The exact index and each IVF
/// list use the same layout; `list_id` tells them apart (0 for the exact index).
final class ChunkStore {
    let db: OpaquePointer
    let schema: String
    let prefix: String        // e.g. "doc_vectors" or "doc_vectors_ivf"
    let chunkSize: Int
    let vectorBytes: Int
    private var statements: [String: Statement] = [:]

    var chunksTable: String { prefix + "_chunks" }
    var vectorsTable: String { prefix + "_vectors" }
    var q: String { quoteIdent(schema) + "." }

    init(db: OpaquePointer, schema: String, prefix: String, chunkSize: Int, vectorBytes: Int) {
        self.db = db
        self.schema = schema
        self.prefix = prefix
        self.chunkSize = chunkSize
        self.vectorBytes = vectorBytes
    }

    static func createSQL(schema: String, prefix: String) -> [String] {
        let s = quoteIdent(schema) + "."
        return [
            "CREATE TABLE \(s)\(quoteIdent(prefix + "_chunks"))(chunk_id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL, partition, size INTEGER NOT NULL, used INTEGER NOT NULL, validity BLOB NOT NULL)",
            "CREATE INDEX \(s)\(quoteIdent(prefix + "_chunks_list")) ON \(quoteIdent(prefix + "_chunks"))(list_id, partition)",
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
    func close() { statements.removeAll() }

    /// Puts one vector in the last chunk of (list, partition) with a free slot, making a new chunk
    /// when full. Returns where it went.
    func append(listId: Int64, partition: OpaquePointer?, rowid: Int64, vector: UnsafeRawPointer) throws -> (Int64, Int) {
        // The validity bitmap and the fill count change in one UPDATE of the small chunk row:
        // incremental BLOB handles cost a statement compile each, so only the two big BLOBs use them.
        let find = try statement("SELECT chunk_id, used, validity FROM \(q)\(quoteIdent(chunksTable)) WHERE list_id = ? AND partition IS ? AND used < size ORDER BY chunk_id DESC LIMIT 1")
        find.bind([.int(listId), .value(partition)])
        var chunkId: Int64
        var slot: Int
        var validity: [UInt8]
        if try find.step() {
            chunkId = find.int(0)
            slot = Int(find.int(1))
            validity = Array(find.bytes(2))
            find.reset()
        } else {
            find.reset()
            chunkId = try newChunk(listId: listId, partition: partition)
            slot = 0
            validity = [UInt8](repeating: 0, count: chunkSize / 8)
        }
        guard slot >> 3 < validity.count else { throw VecError("lectern_vec: chunk \(chunkId) of \(prefix) has a short validity bitmap (corrupt shadow tables?)") }
        try writeBlob(vectorsTable, "vectors", chunkId, offset: slot * vectorBytes, UnsafeRawBufferPointer(start: vector, count: vectorBytes))
        var r = rowid
        try withUnsafeBytes(of: &r) { try writeBlob(vectorsTable, "rowids", chunkId, offset: slot * 8, $0) }
        validity[slot >> 3] |= 1 << UInt8(slot & 7)
        try statement("UPDATE \(q)\(quoteIdent(chunksTable)) SET used = ?, validity = ? WHERE chunk_id = ?")
            .bind([.int(Int64(slot + 1)), .blob(validity), .int(chunkId)]).run()
        return (chunkId, slot)
    }

    private func newChunk(listId: Int64, partition: OpaquePointer?) throws -> Int64 {
        try statement("INSERT INTO \(q)\(quoteIdent(chunksTable))(list_id, partition, size, used, validity) VALUES (?, ?, ?, 0, zeroblob(?))")
            .bind([.int(listId), .value(partition), .int(Int64(chunkSize)), .int(Int64(chunkSize / 8))]).run()
        let id = lx_last_insert_rowid(db)
        try statement("INSERT INTO \(q)\(quoteIdent(vectorsTable))(chunk_id, rowids, vectors) VALUES (?, zeroblob(?), zeroblob(?))")
            .bind([.int(id), .int(Int64(chunkSize * 8)), .int(Int64(chunkSize * vectorBytes))]).run()
        return id
    }

    /// Writes a whole chunk at once (bulk loads: IVF lists after training).
    func writeChunk(listId: Int64, partition: OpaquePointer?, rowids: [Int64], vectors: UnsafeRawBufferPointer) throws {
        let n = rowids.count
        precondition(n <= chunkSize)
        var validity = [UInt8](repeating: 0, count: chunkSize / 8)
        for i in 0..<n { validity[i >> 3] |= 1 << UInt8(i & 7) }
        try statement("INSERT INTO \(q)\(quoteIdent(chunksTable))(list_id, partition, size, used, validity) VALUES (?, ?, ?, ?, ?)")
            .bind([.int(listId), .value(partition), .int(Int64(chunkSize)), .int(Int64(n)), .blob(validity)]).run()
        let id = lx_last_insert_rowid(db)
        var rb = [UInt8](repeating: 0, count: chunkSize * 8)
        rowids.withUnsafeBytes { src in rb.withUnsafeMutableBytes { $0.copyMemory(from: src) } }
        var vb = [UInt8](repeating: 0, count: chunkSize * vectorBytes)
        vb.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: vectors.baseAddress!, byteCount: vectors.count) }
        try statement("INSERT INTO \(q)\(quoteIdent(vectorsTable))(chunk_id, rowids, vectors) VALUES (?, ?, ?)")
            .bind([.int(id), .blob(rb), .blob(vb)]).run()
    }

    /// Marks a slot empty (its bytes stay until the chunk is rebuilt, as in sqlite-vec).
    func remove(chunkId: Int64, slot: Int) throws { try setValid(chunkId, slot, false) }

    private func setValid(_ chunkId: Int64, _ slot: Int, _ valid: Bool) throws {
        var byte: UInt8 = 0
        try withUnsafeMutableBytes(of: &byte) { try readBlob(chunksTable, "validity", chunkId, offset: slot >> 3, $0) }
        if valid { byte |= 1 << UInt8(slot & 7) } else { byte &= ~(1 << UInt8(slot & 7)) }
        try withUnsafeBytes(of: &byte) { try writeBlob(chunksTable, "validity", chunkId, offset: slot >> 3, $0) }
    }

    /// Reads one slot's vector bytes.
    func readVector(chunkId: Int64, slot: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: vectorBytes)
        try out.withUnsafeMutableBytes { try readBlob(vectorsTable, "vectors", chunkId, offset: slot * vectorBytes, $0) }
        return out
    }

    /// The ids of the chunks of one list, optionally only one partition's.
    func chunkIds(listIds: [Int64], partition: OpaquePointer?, filterPartition: Bool) throws -> [Int64] {
        var out: [Int64] = []
        let sql = "SELECT chunk_id FROM \(q)\(quoteIdent(chunksTable)) WHERE list_id = ?" + (filterPartition ? " AND partition = ?" : "") + " ORDER BY chunk_id"
        let st = try statement(sql)
        for l in listIds {
            st.bind(filterPartition ? [.int(l), .value(partition)] : [.int(l)])
            while try st.step() { out.append(st.int(0)) }
            st.reset()
        }
        return out
    }

    /// Loads one chunk into memory.
    func load(chunkId: Int64) throws -> ChunkData {
        let st = try statement("SELECT c.used, c.validity, v.rowids, v.vectors FROM \(q)\(quoteIdent(chunksTable)) c JOIN \(q)\(quoteIdent(vectorsTable)) v ON v.chunk_id = c.chunk_id WHERE c.chunk_id = ?")
        st.bind([.int(chunkId)])
        defer { st.reset() }
        guard try st.step() else { throw VecError("lectern_vec: chunk \(chunkId) of \(prefix) is missing (corrupt shadow tables?)") }
        let used = Int(st.int(0))
        let validity = Array(st.bytes(1))
        let rb = st.bytes(2), vb = st.bytes(3)
        guard used >= 0, used <= chunkSize, validity.count * 8 >= used, rb.count >= used * 8, vb.count >= used * vectorBytes else {
            throw VecError("lectern_vec: chunk \(chunkId) of \(prefix) has inconsistent sizes (corrupt shadow tables?)")
        }
        var rowids = [Int64](repeating: 0, count: used)
        rowids.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: rb[0..<(used * 8)])) }
        return ChunkData(chunkId: chunkId, used: used, validity: validity, rowids: rowids, vectors: vb, vectorBytes: vectorBytes)
    }

    /// Drops every chunk of this store (IVF rebuild).
    func clear() throws {
        try statement("DELETE FROM \(q)\(quoteIdent(chunksTable))").run()
        try statement("DELETE FROM \(q)\(quoteIdent(vectorsTable))").run()
    }

    private func readBlob(_ table: String, _ column: String, _ rowid: Int64, offset: Int, _ buf: UnsafeMutableRawBufferPointer) throws {
        var b: OpaquePointer? = nil
        guard lx_blob_open(db, schema, table, column, rowid, 0, &b) == SQLITE_OK else {
            if let b { lx_blob_close(b) }
            throw VecError("lectern_vec: cannot open \(table).\(column) of row \(rowid): \(String(cString: lx_errmsg(db)))")
        }
        defer { lx_blob_close(b) }
        guard lx_blob_read(b, buf.baseAddress, Int32(buf.count), Int32(offset)) == SQLITE_OK else {
            throw VecError("lectern_vec: cannot read \(table).\(column) of row \(rowid): \(String(cString: lx_errmsg(db)))")
        }
    }

    private func writeBlob(_ table: String, _ column: String, _ rowid: Int64, offset: Int, _ buf: UnsafeRawBufferPointer) throws {
        var b: OpaquePointer? = nil
        guard lx_blob_open(db, schema, table, column, rowid, 1, &b) == SQLITE_OK else {
            if let b { lx_blob_close(b) }
            throw VecError("lectern_vec: cannot open \(table).\(column) of row \(rowid): \(String(cString: lx_errmsg(db)))")
        }
        defer { lx_blob_close(b) }
        guard lx_blob_write(b, buf.baseAddress, Int32(buf.count), Int32(offset)) == SQLITE_OK else {
            throw VecError("lectern_vec: cannot write \(table).\(column) of row \(rowid): \(String(cString: lx_errmsg(db)))")
        }
    }
}
