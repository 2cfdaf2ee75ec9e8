/// Lloyd's k-means over float32 rows: the coarse quantiser of the vector extension's IVF index
/// and of the clustering's IVF paths (the k-NN graph and the index of remaining rows).
///
/// Training draws a seeded sample (at most `samplePerList` rows per list), starts from `lists`
/// distinct sample rows, and alternates assignment and update; an emptied list takes a random
/// sample row, so no centroid is wasted. `assign` then gives every row its best centroid. Both
/// steps use every core. The result depends only on the rows, the parameters and the seed.
public struct KMeans: Sendable {
    /// How rows are compared with centroids.
    public enum Metric: Sendable {
        /// Spherical k-means: the largest inner product wins and centroids are renormalised to
        /// unit length after each update. Rows should be unit vectors (or `normalizeSample` set):
        /// the argmax is the same for any row norm, so unnormalised rows still assign correctly.
        case innerProduct
        /// Euclidean: the smallest squared distance wins (|c|^2 - 2 x.c); centroids are means.
        case l2
    }

    /// `lists * dim` centroids, row-major.
    public private(set) var centroids: [Float]
    /// Number of centroids: the requested count, capped at the number of rows (at least 1).
    public let lists: Int
    public let dim: Int
    public let metric: Metric
    /// |c|^2 per centroid (L2 assignment).
    private let norms: [Float]

    /// Trains `lists` centroids on `count` rows of width `dim` starting at `vectors`.
    ///
    /// - Parameters:
    ///   - iterations: assignment passes; the centroids are updated after every pass but the last.
    ///   - normalizeSample: scale each sampled row to unit length before training (spherical
    ///     k-means over rows that are not unit vectors: cosine tables of the vector extension).
    public static func train(
        vectors: UnsafePointer<Float>, count n: Int, dim d: Int, lists requested: Int,
        seed: UInt64, metric: Metric = .innerProduct, iterations: Int = 8, samplePerList: Int = 48,
        normalizeSample: Bool = false
    ) -> KMeans {
        precondition(n > 0 && d > 0, "k-means needs at least one row and one dimension")
        let k = max(1, min(requested, n))
        var rng = SplitMix64(seed: seed ^ 0x4B4D_6561_6E73)  // "KMeans"
        let perm = rng.permutation(n)
        let sampleCount = min(n, max(k, k &* samplePerList))
        let sample = Array(perm[0..<sampleCount]).sorted()
        // The sample, copied contiguous: the assignment passes then stream it.
        var rows = [Float](repeating: 0, count: sampleCount &* d)
        rows.withUnsafeMutableBufferPointer { rp in
            let out = rp.baseAddress!
            for (s, r) in sample.enumerated() {
                (out + s &* d).update(from: vectors + Int(r) &* d, count: d)
                if normalizeSample { normalize(out + s &* d, d) }
            }
        }
        var model = KMeans(centroids: [Float](repeating: 0, count: k &* d), lists: k, dim: d, metric: metric)
        let initial = rng.permutation(sampleCount)
        for c in 0..<k {
            let src = Int(initial[c]) &* d
            for j in 0..<d { model.centroids[c &* d &+ j] = rows[src &+ j] }
        }
        model = model.withCentroids(model.centroids)
        var sampleAssign = [Int32](repeating: 0, count: sampleCount)
        var sampleScore = [Float](repeating: 0, count: sampleCount)
        for it in 0..<max(1, iterations) {
            rows.withUnsafeBufferPointer { rp in
                model.assign(rp.baseAddress!, count: sampleCount, into: &sampleAssign, scores: &sampleScore)
            }
            if it == iterations - 1 { break }
            var sums = [Double](repeating: 0, count: k &* d)
            var counts = [Int](repeating: 0, count: k)
            for s in 0..<sampleCount {
                let c = Int(sampleAssign[s])
                counts[c] &+= 1
                for j in 0..<d { sums[c &* d &+ j] += Double(rows[s &* d &+ j]) }
            }
            var centroids = model.centroids
            for c in 0..<k {
                if counts[c] == 0 {
                    let src = rng.below(sampleCount) &* d
                    for j in 0..<d { centroids[c &* d &+ j] = rows[src &+ j] }
                    continue
                }
                switch metric {
                case .innerProduct:
                    // The mean's direction: the sum renormalised (in Double, then rounded once).
                    var norm = 0.0
                    for j in 0..<d { norm += sums[c &* d &+ j] * sums[c &* d &+ j] }
                    norm = norm.squareRoot()
                    if norm == 0 { continue }
                    for j in 0..<d { centroids[c &* d &+ j] = Float(sums[c &* d &+ j] / norm) }
                case .l2:
                    let inv = 1 / Double(counts[c])
                    for j in 0..<d { centroids[c &* d &+ j] = Float(sums[c &* d &+ j] * inv) }
                }
            }
            model = model.withCentroids(centroids)
        }
        return model
    }

    private init(centroids: [Float], lists: Int, dim: Int, metric: Metric) {
        self.centroids = centroids
        self.lists = lists
        self.dim = dim
        self.metric = metric
        var norms = [Float](repeating: 0, count: lists)
        if metric == .l2 {
            centroids.withUnsafeBufferPointer { cp in
                for c in 0..<lists { norms[c] = dot(cp.baseAddress! + c &* dim, cp.baseAddress! + c &* dim, dim) }
            }
        }
        self.norms = norms
    }

    private func withCentroids(_ centroids: [Float]) -> KMeans {
        KMeans(centroids: centroids, lists: lists, dim: dim, metric: metric)
    }

    /// The best centroid of each of `count` contiguous rows, and its score: the inner product
    /// (`.innerProduct`) or the squared distance (`.l2`, clamped at 0). Ties go to the lower index.
    public func assign(
        _ rows: UnsafePointer<Float>, count: Int,
        into assignment: inout [Int32], scores: inout [Float]
    ) {
        precondition(assignment.count >= count && scores.count >= count, "assignment buffers too small")
        let k = lists, d = dim, l2 = metric == .l2
        // Enough rows per chunk that a thread has about a million multiply-adds to do.
        let minChunk = max(16, (1 << 20) / max(1, k &* d))
        assignment.withUnsafeMutableBufferPointer { ap in
            scores.withUnsafeMutableBufferPointer { sp in
                centroids.withUnsafeBufferPointer { cp in
                    norms.withUnsafeBufferPointer { np in
                        let a = ap.baseAddress!, s = sp.baseAddress!, c = cp.baseAddress!, nb = np.baseAddress!
                        parallelChunks(count: count, minChunk: minChunk) { _, range in
                            let buf = UnsafeMutablePointer<Float>.allocate(capacity: k)
                            defer { buf.deallocate() }
                            for i in range {
                                dotRows(rows + i &* d, c, count: k, d, into: buf)
                                var best = 0
                                if l2 {
                                    var bs = nb[0] - 2 * buf[0]
                                    for j in 1..<max(1, k) {
                                        let v = nb[j] - 2 * buf[j]
                                        if v < bs { bs = v; best = j }
                                    }
                                    let x = rows + i &* d
                                    s[i] = max(0, dot(x, x, d) + bs)
                                } else {
                                    var bs = buf[0]
                                    for j in 1..<max(1, k) where buf[j] > bs {
                                        bs = buf[j]
                                        best = j
                                    }
                                    s[i] = bs
                                }
                                a[i] = Int32(best)
                            }
                        }
                    }
                }
            }
        }
    }

    /// `assign` into new arrays.
    public func assign(_ rows: UnsafePointer<Float>, count: Int) -> (assignment: [Int32], scores: [Float]) {
        var a = [Int32](repeating: 0, count: count)
        var s = [Float](repeating: 0, count: count)
        assign(rows, count: count, into: &a, scores: &s)
        return (a, s)
    }
}
