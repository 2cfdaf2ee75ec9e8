import LecternKernels
/// Spherical k-means over unit vectors: the coarse quantiser of the IVF index.
///
/// Trains on a seeded sample (at most `samplePerList` points per list), then assigns every row
/// to its most similar centroid. Both steps use both cores.
struct KMeans {
    /// `lists * dim` unit centroids.
    var centroids: [Float]
    var lists: Int
    /// For each row, its list and its similarity to that list's centroid.
    var assignment: [Int32]
    var similarity: [Float]

    static func train(
        vectors: UnsafeBufferPointer<Float>, count n: Int, dim d: Int, lists requested: Int,
        seed: UInt64, iterations: Int = 8, samplePerList: Int = 48
    ) -> KMeans {
        let k = max(1, min(requested, n))
        var rng = SplitMix64(seed: seed ^ 0x4B4D_6561_6E73)  // "KMeans"
        let perm = rng.permutation(n)
        let sampleCount = min(n, max(k, k * samplePerList))
        let sample = Array(perm[0..<sampleCount]).sorted()
        let base = vectors.baseAddress!
        var centroids = [Float](repeating: 0, count: k * d)
        let initial = rng.permutation(sampleCount)
        for c in 0..<k {
            let src = base + Int(sample[Int(initial[c])]) * d
            for j in 0..<d { centroids[c * d + j] = src[j] }
        }
        var sampleAssign = [Int32](repeating: 0, count: sampleCount)
        var sampleSim = [Float](repeating: 0, count: sampleCount)
        for it in 0..<iterations {
            centroids.withUnsafeBufferPointer { cp in
                assign(rows: sample, base: base, d: d, centroids: cp.baseAddress!, k: k,
                       into: &sampleAssign, sims: &sampleSim)
            }
            if it == iterations - 1 { break }
            // Update: mean of members, renormalised; an empty list takes a random sample point.
            var sums = [Double](repeating: 0, count: k * d)
            var counts = [Int](repeating: 0, count: k)
            for (i, r) in sample.enumerated() {
                let c = Int(sampleAssign[i])
                counts[c] += 1
                let src = base + Int(r) * d
                for j in 0..<d { sums[c * d + j] += Double(src[j]) }
            }
            for c in 0..<k {
                if counts[c] == 0 {
                    let src = base + Int(sample[rng.below(sampleCount)]) * d
                    for j in 0..<d { centroids[c * d + j] = src[j] }
                    continue
                }
                var norm = 0.0
                for j in 0..<d { norm += sums[c * d + j] * sums[c * d + j] }
                norm = norm.squareRoot()
                if norm == 0 { continue }
                for j in 0..<d { centroids[c * d + j] = Float(sums[c * d + j] / norm) }
            }
        }
        var assignment = [Int32](repeating: 0, count: n)
        var similarity = [Float](repeating: 0, count: n)
        let all = (0..<n).map { Int32($0) }
        centroids.withUnsafeBufferPointer { cp in
            assign(rows: all, base: base, d: d, centroids: cp.baseAddress!, k: k,
                   into: &assignment, sims: &similarity)
        }
        return KMeans(centroids: centroids, lists: k, assignment: assignment, similarity: similarity)
    }

    /// For each of `rows`, the index and similarity of its most similar centroid (ties: lower index).
    static func assign(
        rows: [Int32], base: UnsafePointer<Float>, d: Int, centroids: UnsafePointer<Float>, k: Int,
        into out: inout [Int32], sims: inout [Float]
    ) {
        out.withUnsafeMutableBufferPointer { op in
            sims.withUnsafeMutableBufferPointer { sp in
                rows.withUnsafeBufferPointer { rp in
                    let o = op.baseAddress!, s = sp.baseAddress!, r = rp.baseAddress!
                    parallelChunks(count: rp.count, minChunk: 256) { _, range in
                        let buf = UnsafeMutablePointer<Float>.allocate(capacity: k)
                        defer { buf.deallocate() }
                        for i in range {
                            dotRows(base + Int(r[i]) * d, centroids, count: k, d, into: buf)
                            var best = 0
                            var bs = buf[0]
                            for c in 1..<max(1, k) where buf[c] > bs {
                                bs = buf[c]
                                best = c
                            }
                            o[i] = Int32(best)
                            s[i] = bs
                        }
                    }
                }
            }
        }
    }
}
