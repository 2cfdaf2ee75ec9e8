/// The k smallest (distance, rowid) pairs seen so far: a max-heap on distance (ties: larger rowid
/// is "worse"), so each candidate costs one comparison against the root in the common case.
struct TopK {
    let k: Int
    private(set) var dist: [Float] = []
    private(set) var ids: [Int64] = []

    init(k: Int) {
        self.k = k
        dist.reserveCapacity(k)
        ids.reserveCapacity(k)
    }

    @inline(__always) private func worse(_ i: Int, _ j: Int) -> Bool {
        dist[i] > dist[j] || (dist[i] == dist[j] && ids[i] > ids[j])
    }

    /// The distance a candidate must beat once the heap is full.
    @inline(__always) var bound: Float { dist.count < k ? .infinity : dist[0] }

    @inline(__always) mutating func offer(_ d: Float, _ id: Int64) {
        if dist.count < k {
            dist.append(d); ids.append(id)
            var c = dist.count - 1
            while c > 0 {
                let p = (c - 1) / 2
                if worse(c, p) { dist.swapAt(c, p); ids.swapAt(c, p); c = p } else { break }
            }
            return
        }
        guard k > 0, d < dist[0] || (d == dist[0] && id < ids[0]) else { return }
        dist[0] = d; ids[0] = id
        var p = 0
        let n = dist.count
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < n && worse(l, m) { m = l }
            if r < n && worse(r, m) { m = r }
            if m == p { break }
            dist.swapAt(p, m); ids.swapAt(p, m); p = m
        }
    }

    mutating func merge(_ o: TopK) { for i in 0..<o.dist.count { offer(o.dist[i], o.ids[i]) } }

    /// The results, nearest first (ties by rowid).
    func sorted() -> [(rowid: Int64, distance: Float)] {
        zip(ids, dist).map { (rowid: $0.0, distance: $0.1) }.sorted {
            $0.distance < $1.distance || ($0.distance == $1.distance && $0.rowid < $1.rowid)
        }
    }
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
        normSquared = vector.type == .float32 ? dotF32(f, f, vector.dims) : 0
    }

    func deallocate() { bytes.deallocate() }
}

/// Scans one chunk into a TopK. The float32 metrics are inlined here (no per-vector switch);
/// the other types go through the shared distance function.
@inline(__always)
func scan(_ chunk: ChunkData, _ q: Query, vectorBytes: Int, into top: inout TopK) {
    let n = chunk.used
    switch (q.type, q.metric) {
    case (.float32, .l2):
        let qp = q.bytes.assumingMemoryBound(to: Float.self)
        let base = chunk.vectors.assumingMemoryBound(to: Float.self)
        for i in 0..<n where chunk.isValid(i) {
            let d = l2sqF32(qp, base + i * q.dims, q.dims)
            // Compare squared distances against the squared bound: one sqrt per kept result.
            let b = top.bound
            if d <= b * b || b == .infinity { top.offer(d.squareRoot(), chunk.rowids[i]) }
        }
    case (.float32, .cosine):
        let qp = q.bytes.assumingMemoryBound(to: Float.self)
        let base = chunk.vectors.assumingMemoryBound(to: Float.self)
        let qn = q.normSquared.squareRoot()
        for i in 0..<n where chunk.isValid(i) {
            let (dot, vn) = dotAndNormF32(qp, base + i * q.dims, q.dims)
            let d = 1 - dot / (qn * vn.squareRoot())
            top.offer(d.isNaN ? .infinity : d, chunk.rowids[i])   // zero vectors sort last
        }
    case (.float32, .dot):
        let qp = q.bytes.assumingMemoryBound(to: Float.self)
        let base = chunk.vectors.assumingMemoryBound(to: Float.self)
        for i in 0..<n where chunk.isValid(i) {
            top.offer(-dotF32(qp, base + i * q.dims, q.dims), chunk.rowids[i])
        }
    case (.int8, .l2):
        let qp = UnsafePointer(q.bytes.assumingMemoryBound(to: Int8.self))
        let base = UnsafePointer(chunk.vectors.assumingMemoryBound(to: Int8.self))
        for i in 0..<n where chunk.isValid(i) {
            let d = l2sqI8f(qp, base + i * q.dims, q.dims)
            let b = top.bound
            if d <= b * b || b == .infinity { top.offer(d.squareRoot(), chunk.rowids[i]) }
        }
    case (.int8, .cosine), (.int8, .dot):
        let qp = UnsafePointer(q.bytes.assumingMemoryBound(to: Int8.self))
        let base = UnsafePointer(chunk.vectors.assumingMemoryBound(to: Int8.self))
        let qn = dotNormI8f(qp, qp, q.dims).0.squareRoot()
        let isDot = q.metric == .dot
        for i in 0..<n where chunk.isValid(i) {
            let (dot, vn) = dotNormI8f(qp, base + i * q.dims, q.dims)
            let d = isDot ? -dot : 1 - dot / (qn * vn.squareRoot())
            top.offer(d.isNaN ? .infinity : d, chunk.rowids[i])
        }
    default:
        for i in 0..<n where chunk.isValid(i) {
            let d = distance(q.metric, q.type, UnsafeRawPointer(q.bytes), UnsafeRawPointer(chunk.vectors + i * vectorBytes), dims: q.dims)
            top.offer(d.isNaN ? .infinity : Float(d), chunk.rowids[i])
        }
    }
}

/// Exact k nearest neighbours over `chunks`, on both cores when the scan is large enough to pay
/// for a thread (about 4 MB of vectors).
func knn(_ chunks: [ChunkData], _ q: Query, k: Int, vectorBytes: Int) -> [(rowid: Int64, distance: Float)] {
    let total = chunks.reduce(0) { $0 + $1.used } * vectorBytes
    let threads = total >= 4 << 20 ? min(cpuCount, chunks.count) : 1
    if threads <= 1 {
        var top = TopK(k: k)
        for c in chunks { scan(c, q, vectorBytes: vectorBytes, into: &top) }
        return top.sorted()
    }
    let partials = UnsafeMutablePointer<TopK>.allocate(capacity: threads)
    for t in 0..<threads { (partials + t).initialize(to: TopK(k: k)) }
    defer { partials.deinitialize(count: threads); partials.deallocate() }
    // Contiguous stripes: each thread streams its own range of chunks.
    parallelFor(threads, threads: threads) { t in
        let lo = chunks.count * t / threads, hi = chunks.count * (t + 1) / threads
        var top = TopK(k: k)
        for i in lo..<hi { scan(chunks[i], q, vectorBytes: vectorBytes, into: &top) }
        partials[t] = top
    }
    var top = partials[0]
    for t in 1..<threads { top.merge(partials[t]) }
    return top.sorted()
}
