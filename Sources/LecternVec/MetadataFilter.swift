import CSQLiteExt

// A KNN query's row filter (`... AND k = 10 AND genre = 'x' AND year < 2000`) becomes, per chunk,
// a bitmap of the slots to scan. Two ways to compute it, with the same answers:
// - in memory, from a columnar snapshot of the rowid map (rowid, chunk, slot, metadata values),
//   read once and kept while the file's data version is unchanged, like the chunk cache: the
//   comparisons SQLite would make (=, !=, <, <=, >, >=, IN, IS [NOT] NULL) on values of the
//   column's own type class, about a nanosecond a row;
// - in SQL over `<t>_rowids`, for everything else (LIKE, GLOB, IS, a partition-key range, a bound
//   of another type class, a column holding a value of the wrong class, inside a write transaction).

/// One condition of a KNN query's row filter: `column op value(s)`, evaluated on the rowid map.
struct RowFilter {
    /// The SQL expression over `<t>_rowids r`: `r.rowid`, `r.partition` or `r.m<i>`.
    let column: String
    /// Which column: -1 the rowid, -2 the partition key, i >= 0 the i-th metadata column.
    let metadataIndex: Int
    let op: String
    /// The right-hand side: one value, several (IN), or none (IS [NOT] NULL).
    let values: [SQLArg]
    let isIn: Bool
}

/// A stored or given value, in the classes SQLite compares by.
enum Cell {
    case null, int(Int64), real(Double), text([UInt8]), other

    init(_ a: SQLArg) {
        switch a {
        case .int(let x): self = .int(x)
        case .double(let x): self = .real(x)
        case .text(let s): self = .text(Array(s.utf8))
        case .null: self = .null
        case .blob: self = .other
        case .value(let v): self = Cell(value: v)
        }
    }

    init(value: OpaquePointer?) {
        guard let v = value else { self = .null; return }
        switch lx_value_type(v) {
        case SQLITE_NULL: self = .null
        case SQLITE_INTEGER: self = .int(lx_value_int64(v))
        case SQLITE_FLOAT: self = .real(lx_value_double(v))
        case SQLITE_TEXT:
            let n = Int(lx_value_bytes(v))
            self = .text(n > 0 ? Array(UnsafeRawBufferPointer(start: lx_value_text(v), count: n)) : [])
        default: self = .other
        }
    }

    var isNumeric: Bool { if case .int = self { return true }; if case .real = self { return true }; return false }
    var isText: Bool { if case .text = self { return true }; return false }
}

/// SQLite's comparison of two numbers or two texts (BINARY collation: bytes, then length);
/// nil when either is NULL. Callers only pair values of one class.
@inline(__always)
func compareCells(_ a: Cell, _ b: Cell) -> Int? {
    switch (a, b) {
    case (.int(let x), .int(let y)): return x < y ? -1 : (x > y ? 1 : 0)
    case (.real(let x), .real(let y)): return x < y ? -1 : (x > y ? 1 : 0)
    case (.int(let x), .real(let y)): return compareIntReal(x, y)
    case (.real(let x), .int(let y)): return -compareIntReal(y, x)
    case (.text(let x), .text(let y)):
        if x.lexicographicallyPrecedes(y) { return -1 }
        return x == y ? 0 : 1
    default: return nil
    }
}

/// An INTEGER against a REAL, exactly (as SQLite's sqlite3IntFloatCompare: no rounding of large integers).
@inline(__always)
func compareIntReal(_ i: Int64, _ r: Double) -> Int {
    if r >= 9223372036854775808.0 { return -1 }
    if r < -9223372036854775808.0 { return 1 }
    let f = r.rounded(.down)
    let y = Int64(f)
    if i < y { return -1 }
    if i > y { return 1 }
    return r > f ? -1 : 0
}

/// The rowid map in columns, slot-aligned: what the in-memory filter reads.
final class MetadataSnapshot {
    var rowids: [Int64] = []
    var chunks: [Int64] = []
    var slots: [Int32] = []
    /// One array per metadata column, values in rowid order.
    var columns: [[Cell]] = []
    /// Whether each column holds only NULLs and values of its declared class (a file written by
    /// other hands may not): a column that does not is filtered in SQL.
    var uniform: [Bool] = []
    /// Per text column, built on its first filter: each row's rank among the column's distinct
    /// values in BINARY order (-1 for NULL) and those values sorted, so a comparison with a bound
    /// is one binary search per query and an integer comparison per row.
    private var ranks: [Int: (ranks: [Int], values: [[UInt8]])] = [:]

    func textRanks(_ j: Int) -> (ranks: [Int], values: [[UInt8]]) {
        if let r = ranks[j] { return r }
        var distinct = Set<[UInt8]>()
        for c in columns[j] { if case .text(let t) = c { distinct.insert(t) } }
        let values = distinct.sorted { $0.lexicographicallyPrecedes($1) }
        var index: [[UInt8]: Int] = [:]
        for (i, v) in values.enumerated() { index[v] = i }
        let r = columns[j].map { c -> Int in if case .text(let t) = c { return index[t] ?? -1 } else { return -1 } }
        ranks[j] = (r, values)
        return (r, values)
    }
}

/// Where `b` falls among sorted `values`: the number of values below it, and whether it is one of them.
func rankPosition(_ b: [UInt8], in values: [[UInt8]]) -> (pos: Int, found: Bool) {
    var lo = 0, hi = values.count
    while lo < hi {
        let mid = (lo + hi) / 2
        if values[mid].lexicographicallyPrecedes(b) { lo = mid + 1 } else { hi = mid }
    }
    return (lo, lo < values.count && values[lo] == b)
}

extension VecTable {
    /// Reads the snapshot: one scan of `<t>_rowids`. Nil when
    /// it would take more than `limit` bytes of memory (then filters run in SQL).
    func loadMetadataSnapshot(limit: Int) throws -> MetadataSnapshot? {
        let s = MetadataSnapshot()
        let meta = config.metadata
        let sql = "SELECT r.rowid, r.chunk_id, r.chunk_offset" + meta.map { ", r." + $0.storage }.joined() + " FROM \(shadow("rowids")) r"
        let st = try main.statement(sql)
        try st.bind([])
        defer { st.reset() }
        s.columns = Array(repeating: [], count: meta.count)
        s.uniform = Array(repeating: true, count: meta.count)
        let map = name + "_rowids"
        let first: Int32 = 3
        // About what a row costs: rowid, chunk, slot, a Cell per column, text bytes.
        let rowBytes = 20 + 24 * meta.count
        var bytes = 0
        while try st.step() {
            bytes += rowBytes
            if bytes > limit { return nil }
            let rowid = st.int(0)
            s.rowids.append(rowid)
            s.chunks.append(try st.integer(1, map, "chunk_id", "rowid \(rowid)"))
            s.slots.append(try slot32(st.integer(2, map, "chunk_offset", "rowid \(rowid)"), map))
            for (j, c) in meta.enumerated() {
                let i = first + Int32(j)
                let cell: Cell
                switch st.type(i) {
                case SQLITE_NULL: cell = .null
                case SQLITE_INTEGER: cell = .int(st.int(i))
                case SQLITE_FLOAT: cell = .real(lx_column_double(st.handle, i))
                case SQLITE_TEXT:
                    let b = st.bytes(i)
                    bytes += b.count
                    cell = .text(Array(b))
                default: cell = .other
                }
                if s.uniform[j] {
                    switch (c.kind, cell) {
                    case (_, .null): break
                    case (.metadata(.text), .text): break
                    case (.metadata(.text), _): s.uniform[j] = false
                    case (_, .int), (_, .real): break
                    default: s.uniform[j] = false
                    }
                }
                s.columns[j].append(cell)
            }
        }
        return s
    }

    private func slot32(_ v: Int64, _ map: String) throws -> Int32 {
        guard v >= -1, v < 65536 else { throw corrupt(map, "chunk_offset \(v) is outside the chunk") }
        return Int32(v)
    }

    /// The snapshot when the cache may be used now (read from the file at most once per data
    /// version), within the table's `cache_mb`; nil means "filter in SQL".
    func currentMetadataSnapshot() throws -> MetadataSnapshot? {
        guard cachingAllowed(), !metadataSnapshotTooLarge else { return nil }
        if let s = metadataSnapshot { return s }
        guard let s = try loadMetadataSnapshot(limit: config.cacheMB << 20) else {
            metadataSnapshotTooLarge = true
            return nil
        }
        metadataSnapshot = s
        return s
    }

    /// Whether the in-memory filter computes exactly what SQL would for these conditions.
    func filtersInMemory(_ filters: [RowFilter], _ s: MetadataSnapshot) -> Bool {
        for f in filters {
            guard f.metadataIndex >= -1 else { return false }                // a partition-key range
            guard ["=", "!=", "<", "<=", ">", ">=", "IN", "IS NULL", "IS NOT NULL"].contains(f.op) else { return false }
            let textColumn: Bool
            if f.metadataIndex == -1 {
                textColumn = false
            } else {
                guard f.metadataIndex < s.uniform.count, s.uniform[f.metadataIndex] else { return false }
                textColumn = config.metadata[f.metadataIndex].kind == .metadata(.text)
            }
            for v in f.values {
                let c = Cell(v)
                if case .null = c { continue }
                guard textColumn ? c.isText : c.isNumeric else { return false }
            }
        }
        return true
    }

    /// Per chunk, the slots whose row passes every filter, from the snapshot.
    func masksInMemory(_ filters: [RowFilter], _ s: MetadataSnapshot, size: Int, map: String) throws -> [Int64: [UInt8]] {
        let n = s.rowids.count
        var keep = [Bool](repeating: true, count: n)
        for f in filters {
            let bounds = f.values.map(Cell.init)
            if f.metadataIndex >= 0, config.metadata[f.metadataIndex].kind == .metadata(.text) {
                rankFilter(f.op, bounds, s.textRanks(f.metadataIndex), &keep)
                continue
            }
            let column: [Cell]? = f.metadataIndex >= 0 ? s.columns[f.metadataIndex] : nil
            @inline(__always) func cell(_ r: Int) -> Cell { column.map { $0[r] } ?? .int(s.rowids[r]) }
            switch f.op {
            case "IS NULL": for r in 0..<n where keep[r] { if case .null = cell(r) {} else { keep[r] = false } }
            case "IS NOT NULL": for r in 0..<n where keep[r] { if case .null = cell(r) { keep[r] = false } }
            case "IN":
                for r in 0..<n where keep[r] {
                    let c = cell(r)
                    keep[r] = bounds.contains { compareCells(c, $0) == 0 }
                }
            default:
                guard let b = bounds.first else { return [:] }
                let op = f.op
                for r in 0..<n where keep[r] {
                    guard let d = compareCells(cell(r), b) else { keep[r] = false; continue }
                    switch op {
                    case "=": keep[r] = d == 0
                    case "!=": keep[r] = d != 0
                    case "<": keep[r] = d < 0
                    case "<=": keep[r] = d <= 0
                    case ">": keep[r] = d > 0
                    default: keep[r] = d >= 0
                    }
                }
            }
        }
        var masks: [Int64: [UInt8]] = [:]
        let chunks = s.chunks, slots = s.slots
        var current: Int64 = -1
        var mask: [UInt8] = []
        for r in 0..<n where keep[r] {
            let c = chunks[r]
            let slot = Int(slots[r])
            guard slot >= 0, slot < size else { throw corrupt(map, "chunk_offset \(slot) of chunk \(c) is outside 0..<\(size)") }
            if c != current {
                if current >= 0 { masks[current] = mask }
                current = c
                mask = masks[c] ?? [UInt8](repeating: 0, count: size / 8)
            }
            mask[slot >> 3] |= 1 << UInt8(slot & 7)
        }
        if current >= 0 { masks[current] = mask }
        return masks
    }

    /// One condition on a text column, by ranks (`filtersInMemory` made sure the bounds are TEXT or NULL).
    private func rankFilter(_ op: String, _ bounds: [Cell], _ t: (ranks: [Int], values: [[UInt8]]), _ keep: inout [Bool]) {
        let ranks = t.ranks
        let n = ranks.count
        switch op {
        case "IS NULL": for r in 0..<n where keep[r] { keep[r] = ranks[r] < 0 }
        case "IS NOT NULL": for r in 0..<n where keep[r] { keep[r] = ranks[r] >= 0 }
        case "IN":
            var member = [Bool](repeating: false, count: t.values.count)
            for b in bounds {
                if case .text(let x) = b { let p = rankPosition(x, in: t.values); if p.found { member[p.pos] = true } }
            }
            for r in 0..<n where keep[r] { keep[r] = ranks[r] >= 0 && member[ranks[r]] }
        default:
            guard let first = bounds.first, case .text(let x) = first else {   // NULL bound: nothing compares
                for r in 0..<n { keep[r] = false }
                return
            }
            let (p32, found) = rankPosition(x, in: t.values)
            for r in 0..<n where keep[r] {
                let c = ranks[r]
                guard c >= 0 else { keep[r] = false; continue }
                switch op {
                case "=": keep[r] = found && c == p32
                case "!=": keep[r] = !(found && c == p32)
                case "<": keep[r] = c < p32
                case "<=": keep[r] = found ? c <= p32 : c < p32
                case ">": keep[r] = found ? c > p32 : c >= p32
                default: keep[r] = c >= p32
                }
            }
        }
    }

    /// The slots a KNN query's row filter keeps, per chunk (a validity-shaped bitmap). Chunks
    /// with no kept slot are not read at all.
    func filterMasks(_ filters: [RowFilter], partition: OpaquePointer?) throws -> [Int64: [UInt8]] {
        let size = chunkSize
        let map = name + "_rowids"
        // The partition equality is applied by the caller (it picks the partition's chunks).
        if let s = try currentMetadataSnapshot(), filtersInMemory(filters, s) {
            return try masksInMemory(filters, s, size: size, map: map)
        }
        var sql = "SELECT r.chunk_id, r.chunk_offset FROM \(shadow("rowids")) r"
        var conds: [String] = []
        var args: [SQLArg] = []
        if partition != nil {
            conds.append("r.partition = ?")
            args.append(.value(partition))
        }
        for f in filters {
            if f.isIn {
                conds.append(f.values.isEmpty ? "0" : "\(f.column) IN (" + Array(repeating: "?", count: f.values.count).joined(separator: ", ") + ")")
                args += f.values
            } else if f.values.isEmpty {
                conds.append("\(f.column) \(f.op)")
            } else {
                conds.append("\(f.column) \(f.op) ?")
                args += f.values
            }
        }
        sql += " WHERE " + conds.joined(separator: " AND ")
        // IN lists vary in length: their statements are not worth caching.
        let st = filters.contains { $0.isIn } ? try Statement(db, sql) : try main.statement(sql)
        try st.bind(args)
        defer { st.reset() }
        var masks: [Int64: [UInt8]] = [:]
        while try st.step() {
            let chunk = try st.integer(0, map, "chunk_id", "a filtered row")
            let slot = try st.integer(1, map, "chunk_offset", "chunk \(chunk)")
            guard slot >= 0, slot < Int64(size) else {
                throw corrupt(map, "chunk_offset \(slot) of chunk \(chunk) is outside 0..<\(size)")
            }
            let s = Int(slot)
            masks[chunk, default: [UInt8](repeating: 0, count: size / 8)][s >> 3] |= 1 << UInt8(s & 7)
        }
        return masks
    }
}
