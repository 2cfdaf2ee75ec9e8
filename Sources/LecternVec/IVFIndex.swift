import CSQLiteExt
import LecternKernels

// The IVF index: k-means centroids trained from the table's own vectors by
// `INSERT INTO t(t) VALUES ('compute-centroids')`, every vector moved into the chain of chunks of
// its nearest centroid (stored once: the lists are the table's chunks), queries scanning only the
// `nprobe` lists nearest the query.
// Cosine tables train spherical k-means (unit vectors, centroids renormalised) and assign by the
// largest inner product; every other metric trains and assigns by L2.

/// Lloyd iterations (assign + update) of k-means; 10 gets within a percent of converged recall on
/// embedding data. `KMeans.train` counts assignment passes, one more than updates.
let kmeansIterations = 10
/// Training vectors per centroid (a random sample beyond that): Faiss warns below 39.
let trainingPointsPerCentroid = 40

extension VecTable {
    var spherical: Bool { config.metric == .cosine }

    /// Indices of the `count` centroids nearest `x`, nearest first.
    func nearestCentroids(_ x: [Float], count: Int) -> [Int] {
        let d = config.dims, n = centroids.count / d
        var scores = [Float](repeating: 0, count: n)
        centroids.withUnsafeBufferPointer { c in
            x.withUnsafeBufferPointer { xp in
                for j in 0..<n {
                    scores[j] = spherical ? -dot(xp.baseAddress!, c.baseAddress! + j * d, d)
                                          : l2sqF32(xp.baseAddress!, c.baseAddress! + j * d, d)
                }
            }
        }
        if count == 1 {
            var best = 0
            for j in 1..<n where scores[j] < scores[best] { best = j }
            return [best]
        }
        return Array((0..<n).sorted { scores[$0] < scores[$1] }.prefix(count))
    }

    /// Trains (or retrains) the index and rewrites every chunk: each (list, partition) pair becomes
    /// one chain of chunks, in rowid order, and `<t>_rowids` learns the new places. The vectors
    /// are stored once; an exact scan reads all lists, a probe only its own.
    func computeCentroids() throws {
        guard config.ivf else {
            throw VecError("lectern_vec: \(name) has no IVF index; create it with '... float[N] indexed by ivf(nlist=..., nprobe=...)'")
        }
        try checkUsable(ivf: false)
        let d = config.dims
        // 1. Every valid vector (of every vector column), its rowid and its partition group.
        var groupOfKey: [String: Int] = [:]
        var groupChunk: [Int64] = []           // a chunk holding each group's partition value
        var chunkGroup: [(Int64, Int)] = []
        let st = try main.statement("SELECT chunk_id, partition FROM \(shadow("chunks")) ORDER BY chunk_id")
        try st.bind([])
        while try st.step() {
            let key = partitionKey(st.value(1))
            let g: Int
            if let x = groupOfKey[key] { g = x } else { g = groupChunk.count; groupOfKey[key] = g; groupChunk.append(st.int(0)) }
            chunkGroup.append((st.int(0), g))
        }
        st.reset()
        var data: [Float] = []
        var rowids: [Int64] = []
        var groups: [Int] = []
        var sideData: [[UInt8]] = Array(repeating: [], count: sides.count)
        var seen = Set<Int64>()
        for (cid, g) in chunkGroup {
            let c = try main.load(chunkId: cid)
            let others = try sides.map { try $0.load(c) }
            let f = c.vectors.assumingMemoryBound(to: Float.self)
            for i in 0..<c.used where c.isValid(i) {
                guard seen.insert(c.rowids[i]).inserted else {
                    throw corrupt(name + "_vectors", "rowid \(c.rowids[i]) is in more than one filled slot (again in chunk \(cid), slot \(i))")
                }
                data.append(contentsOf: UnsafeBufferPointer(start: f + i * d, count: d))
                for (j, o) in others.enumerated() {
                    let n = sides[j].vectorBytes
                    sideData[j].append(contentsOf: UnsafeRawBufferPointer(start: o.vectors + i * n, count: n))
                }
                rowids.append(c.rowids[i])
                groups.append(g)
            }
        }
        let n = rowids.count
        // The filled slots must hold exactly the rows of <t>_rowids (a stray validity bit would bring
        // a deleted vector back; a row without a slot would lose its place): checked before anything
        // is deleted, since the rewrite moves every row.
        let all = try main.statement("SELECT rowid FROM \(shadow("rowids")) ORDER BY rowid")
        try all.bind([])
        var mapped: [Int64] = []
        while try all.step() { mapped.append(all.int(0)) }
        all.reset()
        guard mapped.count == n else {
            throw corrupt(name + "_chunks", "\(n) slots are marked filled but \(name)_rowids has \(mapped.count) rows")
        }
        for (a, b) in zip(rowids.sorted(), mapped) where a != b {
            throw corrupt(name + "_rowids", "rowid \(min(a, b)) is \(a < b ? "in a filled slot but has no row in \(name)_rowids" : "in \(name)_rowids but in no filled slot")")
        }
        guard n > 0 else { throw VecError("lectern_vec: cannot compute centroids for \(name): the table is empty") }
        let nlist = min(config.nlist, n)

        // 2. k-means on a sample (cosine: spherical, on the sampled rows scaled to unit length),
        // 3. then every vector to its nearest centroid.
        let km = data.withUnsafeBufferPointer { dp in
            KMeans.train(vectors: dp.baseAddress!, count: n, dim: d, lists: nlist, seed: 0x1ec7e5,
                         metric: spherical ? .innerProduct : .l2, iterations: kmeansIterations + 1,
                         samplePerList: trainingPointsPerCentroid, normalizeSample: spherical)
        }
        let full = data.withUnsafeBufferPointer { km.assign($0.baseAddress!, count: n).assignment }
        let cents = km.centroids

        // 4. Replace the centroids and every chunk; move each row in the rowid map. A failure from
        // here on is reported so that SQLite rolls the transaction back (see `VecModule`'s xUpdate):
        // a half-done rewrite would lose the chunks not yet rewritten.
        dropCache()
        try rewrite(n: n, d: d, nlist: nlist, cents: cents, full: full, groups: groups, rowids: rowids,
                    data: data, sideData: sideData, groupChunk: groupChunk)
        ivfGeneration += 1
        try main.statement("INSERT OR REPLACE INTO \(shadow("info"))(key, value) VALUES ('ivf_trained', 1), ('ivf_nlist', ?), ('format', 2), ('chunk_size', ?), ('ivf_generation', ?)")
            .bind([.int(Int64(nlist)), .int(Int64(chunkSize)), .int(ivfGeneration)]).run()
        format = 2
        centroids = cents
        ivfError = nil
    }

    /// Step 4 of `computeCentroids`: the destructive part.
    private func rewrite(n: Int, d: Int, nlist: Int, cents: [Float], full: [Int32], groups: [Int], rowids: [Int64],
                         data: [Float], sideData: [[UInt8]], groupChunk: [Int64]) throws {
        // Each group's partition value, copied before its chunks are deleted.
        var groupValues: [OpaquePointer?] = []
        defer { for v in groupValues { lx_value_free(v) } }
        let partStmt = try main.statement("SELECT partition FROM \(shadow("chunks")) WHERE chunk_id = ?")
        for cid in groupChunk {
            try partStmt.bind([.int(cid)])
            guard try partStmt.step(), let v = lx_value_dup(partStmt.value(0)) else {
                partStmt.reset()
                throw VecError("lectern_vec: cannot read the partition of chunk \(cid) of \(name)")
            }
            partStmt.reset()
            groupValues.append(v)
        }
        try main.clear()
        for side in sides { try side.clear() }
        if hasLegacyIVFTables {
            for suffix in VecTable.legacyIVFSuffixes { try main.statement("DELETE FROM \(shadow(suffix))").run() }
        }
        try main.statement("DELETE FROM \(shadow("ivf_centroids"))").run()
        let ins = try main.statement("INSERT INTO \(shadow("ivf_centroids"))(list_id, centroid) VALUES (?, ?)")
        for c in 0..<nlist {
            let bytes = cents[(c * d)..<((c + 1) * d)].withUnsafeBytes { Array($0) }
            try ins.bind([.int(Int64(c)), .blob(bytes)]).run()
        }
        var order = Array(0..<n)
        order.sort { (full[$0], groups[$0], rowids[$0]) < (full[$1], groups[$1], rowids[$1]) }
        let move = try main.statement("UPDATE \(shadow("rowids")) SET chunk_id = ?, chunk_offset = ? WHERE rowid = ?")
        let cap = chunkSize
        let vb = config.vectorBytes
        var i = 0
        var buf = [UInt8](repeating: 0, count: cap * vb)
        var sideBufs = sides.map { [UInt8](repeating: 0, count: cap * $0.vectorBytes) }
        while i < n {
            let list = full[order[i]], g = groups[order[i]]
            var j = i
            while j < n && full[order[j]] == list && groups[order[j]] == g && j - i < cap { j += 1 }
            var ids: [Int64] = []
            for (slot, o) in order[i..<j].enumerated() {
                ids.append(rowids[o])
                data.withUnsafeBytes { src in
                    buf.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: slot * vb).copyMemory(from: src.baseAddress!.advanced(by: o * vb), byteCount: vb) }
                }
                for s in sides.indices {
                    let w = sides[s].vectorBytes
                    sideBufs[s].replaceSubrange((slot * w)..<((slot + 1) * w), with: sideData[s][(o * w)..<((o + 1) * w)])
                }
            }
            let chunkId = try buf.withUnsafeBytes {
                try main.writeChunk(listId: Int64(list), partition: groupValues[g],
                                    rowids: ids, vectors: UnsafeRawBufferPointer(rebasing: $0[0..<(ids.count * vb)]))
            }
            for s in sides.indices { try sides[s].writeChunk(chunkId, sideBufs[s]) }
            for (slot, r) in ids.enumerated() { try move.bind([.int(chunkId), .int(Int64(slot)), .int(r)]).run() }
            i = j
        }
    }

    /// Drops the index: queries go back to exact search. The chunks stay in their lists (an exact
    /// scan reads every list); new rows go to list 0 until the next 'compute-centroids'.
    func clearCentroids() throws {
        try checkUsable(ivf: false)
        dropCache()
        main.wrote = true
        if hasLegacyIVFTables {
            for suffix in VecTable.legacyIVFSuffixes { try main.statement("DELETE FROM \(shadow(suffix))").run() }
        }
        try main.statement("DELETE FROM \(shadow("ivf_centroids"))").run()
        ivfGeneration += 1
        try main.statement("INSERT OR REPLACE INTO \(shadow("info"))(key, value) VALUES ('ivf_trained', 0), ('ivf_generation', ?)")
            .bind([.int(ivfGeneration)]).run()
        centroids = []
        ivfError = nil
    }
}

/// A text key identifying a partition value (type and content), for grouping without SQL.
func partitionKey(_ v: OpaquePointer?) -> String {
    switch lx_value_type(v) {
    case SQLITE_INTEGER: return "i:\(lx_value_int64(v))"
    case SQLITE_FLOAT: return "f:\(lx_value_double(v))"
    case SQLITE_TEXT: return "t:" + (lx_value_text(v).map { String(cString: $0) } ?? "")
    case SQLITE_BLOB:
        let n = Int(lx_value_bytes(v))
        let b = UnsafeRawBufferPointer(start: lx_value_blob(v), count: n)
        return "b:" + b.map { String($0, radix: 16) }.joined(separator: ".")
    default: return "n"
    }
}
