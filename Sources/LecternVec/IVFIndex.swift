import CSQLiteExt
import LecternKernels

// The IVF index: k-means centroids trained from the table's own vectors by
// `INSERT INTO t(t) VALUES ('compute-centroids')`, every vector copied into the chunk list of its
// nearest centroid, queries scanning only the `nprobe` lists nearest the query.
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

    /// Trains (or retrains) the index and rebuilds every list.
    func computeCentroids() throws {
        guard config.ivf else {
            throw VecError("lectern_vec: \(name) has no IVF index; create it with '... float[N] indexed by ivf(nlist=..., nprobe=...)'")
        }
        try checkUsable(ivf: false)
        let d = config.dims
        // 1. Every valid vector, its rowid and its partition group.
        var groupOfKey: [String: Int] = [:]
        var groupChunk: [Int64] = []           // a main chunk holding each group's partition value
        var chunkGroup: [(Int64, Int)] = []
        let st = try main.statement("SELECT chunk_id, partition FROM \(shadow("chunks")) WHERE list_id = 0 ORDER BY chunk_id")
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
        var seen = Set<Int64>()
        for (cid, g) in chunkGroup {
            let c = try main.load(chunkId: cid)
            let f = c.vectors.assumingMemoryBound(to: Float.self)
            for i in 0..<c.used where c.isValid(i) {
                guard seen.insert(c.rowids[i]).inserted else {
                    throw corrupt(name + "_vectors", "rowid \(c.rowids[i]) is in more than one filled slot (again in chunk \(cid), slot \(i))")
                }
                data.append(contentsOf: UnsafeBufferPointer(start: f + i * d, count: d))
                rowids.append(c.rowids[i])
                groups.append(g)
            }
        }
        let n = rowids.count
        // Every filled slot must be a row of <t>_rowids: a stray validity bit would copy a deleted
        // vector into the index.
        let count = try main.statement("SELECT count(*) FROM \(shadow("rowids"))")
        try count.bind([])
        _ = try count.step()
        let rows = Int(count.int(0))
        count.reset()
        guard rows == n else {
            throw corrupt(name + "_chunks", "\(n) slots are marked filled but \(name)_rowids has \(rows) rows")
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

        // 4. Store centroids and lists, replacing any previous index.
        dropCache()
        try ivfStore.clear()
        try main.statement("DELETE FROM \(shadow("ivf_rowids"))").run()
        try main.statement("DELETE FROM \(shadow("ivf_centroids"))").run()
        let ins = try main.statement("INSERT INTO \(shadow("ivf_centroids"))(list_id, centroid) VALUES (?, ?)")
        for c in 0..<nlist {
            let bytes = cents[(c * d)..<((c + 1) * d)].withUnsafeBytes { Array($0) }
            try ins.bind([.int(Int64(c)), .blob(bytes)]).run()
        }
        var order = Array(0..<n)
        order.sort { (full[$0], groups[$0], rowids[$0]) < (full[$1], groups[$1], rowids[$1]) }
        let partStmt = try main.statement("SELECT partition FROM \(shadow("chunks")) WHERE chunk_id = ?")
        let mapStmt = try main.statement("INSERT INTO \(shadow("ivf_rowids"))(rowid, chunk_id, chunk_offset) VALUES (?, ?, ?)")
        let cap = ivfStore.chunkSize
        var i = 0
        var buf = [Float](repeating: 0, count: cap * d)
        while i < n {
            let list = full[order[i]], g = groups[order[i]]
            var j = i
            while j < n && full[order[j]] == list && groups[order[j]] == g && j - i < cap { j += 1 }
            var ids: [Int64] = []
            for (slot, o) in order[i..<j].enumerated() {
                ids.append(rowids[o])
                for t in 0..<d { buf[slot * d + t] = data[o * d + t] }
            }
            try partStmt.bind([.int(groupChunk[g])])
            _ = try partStmt.step()
            let chunkId = try buf.withUnsafeBytes {
                try ivfStore.writeChunk(listId: Int64(list), partition: partStmt.value(0),
                                        rowids: ids, vectors: UnsafeRawBufferPointer(rebasing: $0[0..<(ids.count * d * 4)]))
            }
            partStmt.reset()
            for (slot, r) in ids.enumerated() { try mapStmt.bind([.int(r), .int(chunkId), .int(Int64(slot))]).run() }
            i = j
        }
        try main.statement("INSERT OR REPLACE INTO \(shadow("info"))(key, value) VALUES ('ivf_trained', 1), ('ivf_nlist', ?)")
            .bind([.int(Int64(nlist))]).run()
        centroids = cents
        ivfError = nil
    }

    /// Drops the index: queries go back to exact search.
    func clearCentroids() throws {
        try checkUsable(ivf: false)
        dropCache()
        try ivfStore.clear()
        try main.statement("DELETE FROM \(shadow("ivf_rowids"))").run()
        try main.statement("DELETE FROM \(shadow("ivf_centroids"))").run()
        try main.statement("INSERT OR REPLACE INTO \(shadow("info"))(key, value) VALUES ('ivf_trained', 0)").run()
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
