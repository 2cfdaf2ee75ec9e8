import LecternKernels
/// The k smallest (distance, rowid) pairs seen so far: a max-heap on distance (ties: larger rowid
/// is "worse"), so each candidate costs one comparison against the root in the common case.
/// Each entry also carries where it was found (`chunk index << 32 | slot`), so the caller can
/// check the few results against the rowid maps instead of checking every vector.
struct TopK {
    let k: Int
    private(set) var dist: [Float] = []
    private(set) var ids: [Int64] = []
    private(set) var locs: [Int64] = []

    init(k: Int) {
        self.k = k
        dist.reserveCapacity(k)
        ids.reserveCapacity(k)
        locs.reserveCapacity(k)
    }

    @inline(__always) private func worse(_ i: Int, _ j: Int) -> Bool {
        dist[i] > dist[j] || (dist[i] == dist[j] && ids[i] > ids[j])
    }

    @inline(__always) private mutating func swap(_ i: Int, _ j: Int) {
        dist.swapAt(i, j); ids.swapAt(i, j); locs.swapAt(i, j)
    }

    /// The distance a candidate must beat once the heap is full.
    @inline(__always) var bound: Float { dist.count < k ? .infinity : dist[0] }

    @inline(__always) mutating func offer(_ d: Float, _ id: Int64, _ loc: Int64) {
        if dist.count < k {
            // NaN (non-finite vectors in a damaged file) sorts last instead of breaking the heap order.
            dist.append(d.isNaN ? .infinity : d); ids.append(id); locs.append(loc)
            var c = dist.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if worse(c, p) { swap(c, p); c = p } else { break }
            }
            return
        }
        // A NaN fails both comparisons, so it never enters a full heap.
        guard k > 0, d < dist[0] || (d == dist[0] && id < ids[0]) else { return }
        dist[0] = d; ids[0] = id; locs[0] = loc
        var p = 0
        let n = dist.count
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < n && worse(l, m) { m = l }
            if r < n && worse(r, m) { m = r }
            if m == p { break }
            swap(p, m); p = m
        }
    }

    mutating func merge(_ o: TopK) { for i in 0..<o.dist.count { offer(o.dist[i], o.ids[i], o.locs[i]) } }

    /// The results, nearest first (ties by rowid).
    func sorted() -> [KNNHit] {
        (0..<ids.count).map { KNNHit(rowid: ids[$0], distance: dist[$0], loc: locs[$0]) }.sorted {
            $0.distance < $1.distance || ($0.distance == $1.distance && $0.rowid < $1.rowid)
        }
    }
}

/// One KNN result and where the scan found it.
struct KNNHit {
    let rowid: Int64
    let distance: Float
    /// `chunk index << 32 | slot`: the index into the scanned chunk list and the slot in that chunk.
    let loc: Int64
    var chunkIndex: Int { Int(loc >> 32) }
    var slot: Int { Int(loc & 0xFFFF_FFFF) }
}

/// What a scan compares against: the query and its precomputed norm.
struct Query {
    let metric: Metric
    let type: ElementType
    let dims: Int
    let bytes: UnsafeMutableRawPointer
    let normSquared: Float

    init(vector: Vector, metric: Metric) {
        self.metric = metric
        type = vector.type
        dims = vector.dims
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(64, vector.bytes.count), alignment: 64)
        vector.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        bytes = p
        let f = p.assumingMemoryBound(to: Float.self)
        normSquared = vector.type == .float32 ? dot(f, f, vector.dims) : 0
    }

    func deallocate() { bytes.deallocate() }
}

/// Scans one chunk into a TopK. The float32 metrics are inlined here (no per-vector switch);
/// the other types go through the shared distance function.
@inline(__always)
func scan(_ chunk: ChunkData, index: Int, _ q: Query, vectorBytes: Int, into top: inout TopK) {
    let n = chunk.used
    let base = Int64(index) << 32
    switch (q.type, q.metric) {
    case (.float32, .l2):
        let qp = q.bytes.assumingMemoryBound(to: Float.self)
        let vbase = chunk.vectors.assumingMemoryBound(to: Float.self)
        for i in 0..<n where chunk.isValid(i) {
            let d = l2sqF32(qp, vbase + i * q.dims, q.dims)
            // Compare squared distances against the squared bound: one sqrt per kept result.
            let b = top.bound
            if d <= b * b || b == .infinity { top.offer(d.squareRoot(), chunk.rowids[i], base | Int64(i)) }
        }
    case (.float32, .cosine):
        let qp = q.bytes.assumingMemoryBound(to: Float.self)
        let vbase = chunk.vectors.assumingMemoryBound(to: Float.self)
        // Sums in float32, the quotient in double, the result as float32: sqlite-vec's arithmetic
        // (and vec_distance_cosine's), so KNN distances equal sqlite-vec's to the last bit where
        // the sums do; two double ops a vector beside a dims-long dot product cost nothing.
        let qn = Double(q.normSquared).squareRoot()
        for i in 0..<n where chunk.isValid(i) {
            let (dot, vn) = dotAndNormF32(qp, vbase + i * q.dims, q.dims)
            let d = Float(1 - Double(dot) / (qn * Double(vn).squareRoot()))
            top.offer(d.isNaN ? .infinity : d, chunk.rowids[i], base | Int64(i))   // zero vectors sort last
        }
    case (.float32, .dot):
        let qp = q.bytes.assumingMemoryBound(to: Float.self)
        let vbase = chunk.vectors.assumingMemoryBound(to: Float.self)
        for i in 0..<n where chunk.isValid(i) {
            top.offer(-dot(qp, vbase + i * q.dims, q.dims), chunk.rowids[i], base | Int64(i))
        }
    case (.int8, .l2):
        let qp = UnsafePointer(q.bytes.assumingMemoryBound(to: Int8.self))
        let vbase = UnsafePointer(chunk.vectors.assumingMemoryBound(to: Int8.self))
        for i in 0..<n where chunk.isValid(i) {
            let d = l2sqI8f(qp, vbase + i * q.dims, q.dims)
            let b = top.bound
            if d <= b * b || b == .infinity { top.offer(d.squareRoot(), chunk.rowids[i], base | Int64(i)) }
        }
    case (.int8, .cosine), (.int8, .dot):
        let qp = UnsafePointer(q.bytes.assumingMemoryBound(to: Int8.self))
        let vbase = UnsafePointer(chunk.vectors.assumingMemoryBound(to: Int8.self))
        let qn = dotNormI8f(qp, qp, q.dims).0.squareRoot()
        let isDot = q.metric == .dot
        for i in 0..<n where chunk.isValid(i) {
            let (dot, vn) = dotNormI8f(qp, vbase + i * q.dims, q.dims)
            let d = isDot ? -dot : 1 - dot / (qn * vn.squareRoot())
            top.offer(d.isNaN ? .infinity : d, chunk.rowids[i], base | Int64(i))
        }
    default:
        for i in 0..<n where chunk.isValid(i) {
            let d = distance(q.metric, q.type, UnsafeRawPointer(q.bytes), UnsafeRawPointer(chunk.vectors + i * vectorBytes), dims: q.dims)
            top.offer(d.isNaN ? .infinity : Float(d), chunk.rowids[i], base | Int64(i))
        }
    }
}

/// Exact k nearest neighbours over `chunks`, on both cores when the scan is large enough to pay
/// for a thread (about 4 MB of vectors).
func knn(_ chunks: [ChunkData], _ q: Query, k: Int, vectorBytes: Int) -> [KNNHit] {
    let total = chunks.reduce(0) { $0 + $1.used } * vectorBytes
    let threads = total >= 4 << 20 ? min(processorCount, chunks.count) : 1
    if threads <= 1 {
        var top = TopK(k: k)
        for (i, c) in chunks.enumerated() { scan(c, index: i, q, vectorBytes: vectorBytes, into: &top) }
        return top.sorted()
    }
    let partials = UnsafeMutablePointer<TopK>.allocate(capacity: threads)
    for t in 0..<threads { (partials + t).initialize(to: TopK(k: k)) }
    defer { partials.deinitialize(count: threads); partials.deallocate() }
    // Contiguous stripes: each thread streams its own range of chunks.
    parallelFor(threads, threads: threads) { t in
        let lo = chunks.count * t / threads, hi = chunks.count * (t + 1) / threads
        var top = TopK(k: k)
        for i in lo..<hi { scan(chunks[i], index: i, q, vectorBytes: vectorBytes, into: &top) }
        partials[t] = top
    }
    var top = partials[0]
    for t in 1..<threads { top.merge(partials[t]) }
    return top.sorted()
}
