import CSQLiteExt
import LecternKernels

// The IVF index: k-means centroids trained from the table's own vectors by
// `INSERT INTO t(t) VALUES ('compute-centroids')`, every vector copied into the chunk list of its
// nearest centroid, queries scanning only the `nprobe` lists nearest the query.
// Cosine tables train spherical k-means (unit vectors, centroids renormalised) and assign by the
// largest inner product; every other metric trains and assigns by L2.

/// Lloyd iterations of k-means; 10 gets within a percent of converged recall on embedding data.
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
                    scores[j] = spherical ? -dotF32(xp.baseAddress!, c.baseAddress! + j * d, d)
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

        // 2. k-means on a sample.
        var rng = SplitMix64(seed: 0x1ec7e5)
        let sampleCount = min(n, nlist * trainingPointsPerCentroid)
        var sampleIdx = Array(0..<n)
        for i in 0..<sampleCount { sampleIdx.swapAt(i, i + Int(rng.next() % UInt64(n - i))) }
        var sample = [Float](repeating: 0, count: sampleCount * d)
        for s in 0..<sampleCount {
            let src = sampleIdx[s] * d
            for j in 0..<d { sample[s * d + j] = data[src + j] }
            if spherical { normalizeInPlace(&sample, s * d, d) }
        }
        var cents = [Float](repeating: 0, count: nlist * d)
        for c in 0..<nlist { for j in 0..<d { cents[c * d + j] = sample[c * d + j] } }
        var assign = [Int32](repeating: 0, count: sampleCount)
        for _ in 0..<kmeansIterations {
            assignAll(sample, sampleCount, cents, nlist, &assign)
            var sums = [Double](repeating: 0, count: nlist * d)
            var counts = [Int](repeating: 0, count: nlist)
            for s in 0..<sampleCount {
                let c = Int(assign[s])
                counts[c] += 1
                for j in 0..<d { sums[c * d + j] += Double(sample[s * d + j]) }
            }
            for c in 0..<nlist {
                if counts[c] == 0 {
                    // An empty cluster takes a random training point: no centroid is wasted.
                    let s = Int(rng.next() % UInt64(sampleCount))
                    for j in 0..<d { cents[c * d + j] = sample[s * d + j] }
                } else {
                    for j in 0..<d { cents[c * d + j] = Float(sums[c * d + j] / Double(counts[c])) }
                    if spherical { normalizeInPlace(&cents, c * d, d) }
                }
            }
        }

        // 3. Every vector to its nearest centroid.
        var full = [Int32](repeating: 0, count: n)
        assignAll(data, n, cents, nlist, &full)

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

    /// Nearest centroid of each of `n` rows, on every core.
    private func assignAll(_ x: [Float], _ n: Int, _ cents: [Float], _ nlist: Int, _ out: inout [Int32]) {
        let d = config.dims
        var norms = [Float](repeating: 0, count: nlist)
        cents.withUnsafeBufferPointer { c in
            for j in 0..<nlist { norms[j] = dotF32(c.baseAddress! + j * d, c.baseAddress! + j * d, d) }
        }
        let sph = spherical
        let threads = n * nlist * d > 1 << 22 ? cpuCount : 1
        x.withUnsafeBufferPointer { xp in
            cents.withUnsafeBufferPointer { cp in
                norms.withUnsafeBufferPointer { np in
                    out.withUnsafeMutableBufferPointer { op in
                        let xb = xp.baseAddress!, cb = cp.baseAddress!, nb = np.baseAddress!, ob = op.baseAddress!
                        parallelFor(threads, threads: threads) { t in
                            let lo = n * t / threads, hi = n * (t + 1) / threads
                            var r = lo
                            // Four rows at a time share each centroid load (see dot4F32).
                            while r + 4 <= hi {
                                let rows = (xb + r * d, xb + (r + 1) * d, xb + (r + 2) * d, xb + (r + 3) * d)
                                var best = SIMD4<Int32>(repeating: 0)
                                var bestScore = SIMD4<Float>(repeating: .infinity)
                                for j in 0..<nlist {
                                    let dot = dot4F32(rows.0, rows.1, rows.2, rows.3, cb + j * d, d)
                                    // argmin |x - c|^2 = argmin |c|^2 - 2 x.c; spherical: argmax x.c
                                    let s = sph ? -dot : SIMD4<Float>(repeating: nb[j]) - 2 * dot
                                    let better = s .< bestScore
                                    bestScore.replace(with: s, where: better)
                                    best.replace(with: SIMD4<Int32>(repeating: Int32(j)), where: better)
                                }
                                ob[r] = best[0]; ob[r + 1] = best[1]; ob[r + 2] = best[2]; ob[r + 3] = best[3]
                                r += 4
                            }
                            while r < hi {
                                let row = xb + r * d
                                var best = 0
                                var bestScore = Float.infinity
                                for j in 0..<nlist {
                                    let dot = dotF32(row, cb + j * d, d)
                                    let s = sph ? -dot : nb[j] - 2 * dot
                                    if s < bestScore { bestScore = s; best = j }
                                }
                                ob[r] = Int32(best)
                                r += 1
                            }
                        }
                    }
                }
            }
        }
    }
}

private func normalizeInPlace(_ a: inout [Float], _ off: Int, _ d: Int) {
    var s: Float = 0
    for j in 0..<d { s += a[off + j] * a[off + j] }
    let inv = s > 0 ? 1 / s.squareRoot() : 0
    for j in 0..<d { a[off + j] *= inv }
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
