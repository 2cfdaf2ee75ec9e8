import CSQLiteExt

/// The vectors of a table's second, third... vector column. One BLOB per chunk of the exact index,
/// `<t>_vectors<j>(chunk_id INTEGER PRIMARY KEY, vectors BLOB NOT NULL)`, slot-aligned with
/// `<t>_chunks`: a row's vectors share its (chunk, slot), and the chunk's validity bitmap and
/// rowids (in `<t>_vectors`) are the first column's. These columns are scanned exactly (an IVF
/// index covers the first vector column only; its rewrite moves them with the first column's).
final class SideVectors {
    let main: ChunkStore
    /// The shadow table, unquoted (`<t>_vectors<j>`).
    let table: String
    let column: Int
    let vectorBytes: Int
    var chunkSize: Int { main.chunkSize }

    init(main: ChunkStore, table: String, column: Int, vectorBytes: Int) {
        self.main = main
        self.table = table
        self.column = column
        self.vectorBytes = vectorBytes
    }

    static func createSQL(schema: String, table: String) -> String {
        "CREATE TABLE \(quoteIdent(schema)).\(quoteIdent(table))(chunk_id INTEGER PRIMARY KEY, vectors BLOB NOT NULL)"
    }

    private var qualified: String { quoteIdent(main.schema) + "." + quoteIdent(table) }
    private var total: Int { get throws { try checkedMul(chunkSize, vectorBytes, table, "vectors size") } }

    /// A new chunk of the exact index gets its zeroed BLOB here too.
    func addChunk(_ id: Int64) throws {
        try main.statement("INSERT INTO \(qualified)(chunk_id, vectors) VALUES (?, zeroblob(?))").bind([.int(id), .int(Int64(try total))]).run()
    }

    /// A whole chunk's BLOB at once (the rewrite after IVF training).
    func writeChunk(_ id: Int64, _ bytes: [UInt8]) throws {
        let n = try total
        precondition(bytes.count == n)
        try main.statement("INSERT INTO \(qualified)(chunk_id, vectors) VALUES (?, ?)").bind([.int(id), .blob(bytes)]).run()
    }

    /// Drops every chunk's BLOB (the IVF rewrite writes them all again).
    func clear() throws {
        try main.statement("DELETE FROM \(qualified)").run()
    }

    func write(chunkId: Int64, slot: Int, _ bytes: [UInt8]) throws {
        precondition(bytes.count == vectorBytes)
        let offset = try checkedMul(slot, vectorBytes, table, "slot offset")
        try bytes.withUnsafeBytes { try main.writeBlob(table, "vectors", chunkId, offset: offset, expectedLength: try total, $0) }
    }

    /// One slot's vector (the slot was checked against the first column's chunk by the caller).
    func read(chunkId: Int64, slot: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: vectorBytes)
        let offset = try checkedMul(slot, vectorBytes, table, "slot offset")
        let n = try total
        try out.withUnsafeMutableBytes { try main.readBlob(table, "vectors", chunkId, offset: offset, expectedLength: n, $0) }
        return out
    }

    /// `base` (a validated chunk of the first column) with this column's vectors.
    func load(_ base: ChunkData) throws -> ChunkData {
        let st = try main.statement("SELECT vectors FROM \(qualified) WHERE chunk_id = ?")
        try st.bind([.int(base.chunkId)])
        defer { st.reset() }
        guard try st.step() else { throw corrupt(table, "no row for chunk \(base.chunkId) (it has a row in \(main.chunksTable))") }
        let b = try st.blob(0, table, "vectors", "chunk \(base.chunkId)")
        let n = try total
        guard b.count == n else { throw corrupt(table, "vectors of chunk \(base.chunkId) is \(b.count) bytes, expected \(n)") }
        return ChunkData(chunkId: base.chunkId, used: base.used, validity: base.validity, rowids: base.rowids, vectors: b,
                         usedBytes: try checkedMul(base.used, vectorBytes, table, "vectors of chunk \(base.chunkId)"))
    }
}
