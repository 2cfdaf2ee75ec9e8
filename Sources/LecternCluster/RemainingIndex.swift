import LecternKernels
import Dispatch
import Foundation

/// The documents not yet placed in a cluster, searchable by similarity: "the remaining document
/// closest to c" of Algorithm 1.
///
/// Documents are kept in inverted lists (one list = brute force). Each list keeps its unit
/// centroid `mu` and the widest angle `alpha` between `mu` and a member, so a query can skip a
/// list when the spherical triangle inequality proves that no member can reach the cut-off: for
/// unit `q` at angle `theta` from `mu`, every member `x` has `q·x <= cos(max(0, theta - alpha))`.
/// Without a probe cap, lists are searched in order of that bound until it falls below the
/// cut-off: the exact answer. With a cap (`maxProbes`), the `maxProbes` lists whose centroids are
/// most similar to `q` are searched: the classic approximate IVF search, much faster.
final class RemainingIndex {
    let dim: Int
    let base: UnsafePointer<Float>
    private(set) var remaining: Int
    private var lists: [[Int32]]
    private var listOf: [Int32]
    private var position: [Int32]
    private let centroids: [Float]  // lists * dim; empty for brute force
    /// Per list: the widest angle between its centroid and a member (radians).
    private let alpha: [Float]
    let maxProbes: Int?
    /// Lists searched by queries so far (instrumentation for the benchmark).
    private(set) var probes = 0
    private(set) var queries = 0

    var listCount: Int { lists.count }

    /// Brute force: one list of every row.
    init(base: UnsafePointer<Float>, count n: Int, dim: Int) {
        self.dim = dim
        self.base = base
        remaining = n
        lists = [(0..<n).map { Int32($0) }]
        listOf = [Int32](repeating: 0, count: n)
        position = (0..<n).map { Int32($0) }
        centroids = []
        alpha = []
        maxProbes = nil
    }

    /// IVF: k-means lists over every row.
    init(base: UnsafePointer<Float>, count n: Int, dim: Int, lists requested: Int, seed: UInt64, maxProbes: Int?) {
        self.dim = dim
        self.base = base
        self.maxProbes = maxProbes
        remaining = n
        let km = KMeans.train(vectors: base, count: n, dim: dim, lists: requested, seed: seed)
        let (assignment, similarity) = km.assign(base, count: n)
        var lists = [[Int32]](repeating: [], count: km.lists)
        var minCos = [Float](repeating: 1, count: km.lists)
        var position = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let l = Int(assignment[i])
            position[i] = Int32(lists[l].count)
            lists[l].append(Int32(i))
            minCos[l] = min(minCos[l], similarity[i])
        }
        self.lists = lists
        self.listOf = assignment
        self.position = position
        self.centroids = km.centroids
        self.alpha = minCos.map { acos(max(-1, min(1, $0))) }
    }

    /// Removes row `i` (it joined a cluster). O(1): swap with the last member of its list.
    func remove(_ i: Int32) {
        let l = Int(listOf[Int(i)])
        let p = Int(position[Int(i)])
        precondition(p >= 0, "row \(i) removed twice")
        let last = lists[l].removeLast()
        if last != i {
            lists[l][p] = last
            position[Int(last)] = Int32(p)
        }
        position[Int(i)] = -1
        remaining -= 1
    }

    func contains(_ i: Int32) -> Bool { position[Int(i)] >= 0 }

    /// The remaining rows with `q·x >= threshold`, best first (ties: lower row), at most `limit`.
    /// `q` must be unit length for the list bound to hold.
    func search(_ q: UnsafePointer<Float>, threshold: Float, limit: Int) -> [(sim: Float, row: Int32)] {
        let (result, searched) = searchReadOnly(q, threshold: threshold, limit: limit, parallel: true)
        queries += 1
        probes += searched
        return result
    }

    /// Counts queries run through `searchReadOnly` (which, being safe to call from several
    /// threads at once, does not count them itself).
    func record(queries q: Int, listsSearched p: Int) {
        queries += q
        probes += p
    }

    /// `search` without bookkeeping: reads only, so several threads may run it at once while
    /// nobody removes. Returns the result and the number of lists searched.
    func searchReadOnly(_ q: UnsafePointer<Float>, threshold: Float, limit: Int, parallel: Bool) -> ([(sim: Float, row: Int32)], Int) {
        var top = TopK(limit: limit)
        if centroids.isEmpty {
            scan(list: 0, q, threshold: threshold, into: &top, parallel: parallel && lists[0].count >= 16_384)
            return (top.sorted(), 1)
        }
        let k = lists.count
        var sims = [Float](repeating: 0, count: k)
        centroids.withUnsafeBufferPointer { cp in
            sims.withUnsafeMutableBufferPointer { bp in
                let c = cp.baseAddress!, b = bp.baseAddress!, d = dim
                if parallel {
                    parallelChunks(count: k, minChunk: 1024) { _, r in
                        dotRows(q, c + r.lowerBound * d, count: r.count, d, into: b + r.lowerBound)
                    }
                } else {
                    dotRows(q, c, count: k, d, into: b)
                }
            }
        }
        @inline(__always) func bound(_ l: Int) -> Float {
            // A small margin covers rounding in the bound, keeping the search exact.
            cos(max(0, acos(max(-1, min(1, sims[l]))) - alpha[l])) + 1e-4
        }
        var searched = 0
        if let cap = maxProbes {
            // The `cap` lists with the most similar centroids (ties: lower list), then the bound
            // only for those: lists that cannot reach the cut-off are skipped.
            var best = TopK(limit: cap)
            for l in 0..<k where !lists[l].isEmpty && sims[l] >= best.floor { best.offer(sims[l], Int32(l)) }
            for (_, l32) in best.sorted() {
                let l = Int(l32)
                if bound(l) < max(threshold, top.floor) { continue }
                scan(list: l, q, threshold: threshold, into: &top, parallel: false)
                searched += 1
            }
        } else {
            var bounds = [Float](repeating: 0, count: k)
            var order: [Int] = []
            for l in 0..<k where !lists[l].isEmpty {
                bounds[l] = bound(l)
                // Lists that cannot reach the threshold never contribute: drop them before sorting.
                if bounds[l] >= threshold { order.append(l) }
            }
            order.sort { bounds[$0] > bounds[$1] || (bounds[$0] == bounds[$1] && $0 < $1) }
            for l in order {
                if bounds[l] < max(threshold, top.floor) { break }
                scan(list: l, q, threshold: threshold, into: &top, parallel: false)
                searched += 1
            }
        }
        return (top.sorted(), searched)
    }

    private func scan(list l: Int, _ q: UnsafePointer<Float>, threshold: Float, into top: inout TopK, parallel: Bool) {
        lists[l].withUnsafeBufferPointer { rp in
            let rows = rp.baseAddress!
            let n = rp.count
            if !parallel {
                scanRange(rows, 0..<n, q, threshold: threshold, into: &top)
                return
            }
            let cores = max(1, processorCount)
            var parts = [TopK](repeating: TopK(limit: top.limit), count: cores)
            parts.withUnsafeMutableBufferPointer { pp in
                let partsBase = pp.baseAddress!
                let per = (n + cores - 1) / cores
                DispatchQueue.concurrentPerform(iterations: cores) { c in
                    let lo = c * per, hi = min(n, lo + per)
                    if lo < hi { self.scanRange(rows, lo..<hi, q, threshold: threshold, into: &partsBase[c]) }
                }
            }
            for p in parts { top.merge(p) }
        }
    }

    private func scanRange(
        _ rows: UnsafePointer<Int32>, _ range: Range<Int>, _ q: UnsafePointer<Float>, threshold: Float,
        into top: inout TopK
    ) {
        let d = dim
        var j = range.lowerBound
        let end = range.upperBound
        while j &+ 4 <= end {
            let r0 = rows[j], r1 = rows[j &+ 1], r2 = rows[j &+ 2], r3 = rows[j &+ 3]
            let s = dot4(q, base + Int(r0) &* d, base + Int(r1) &* d, base + Int(r2) &* d, base + Int(r3) &* d, d)
            let cut = max(threshold, top.floor)
            if s[0] >= cut { top.offer(s[0], r0) }
            if s[1] >= cut { top.offer(s[1], r1) }
            if s[2] >= cut { top.offer(s[2], r2) }
            if s[3] >= cut { top.offer(s[3], r3) }
            j &+= 4
        }
        while j < end {
            let r = rows[j]
            let s = dot(q, base + Int(r) &* d, d)
            if s >= max(threshold, top.floor) { top.offer(s, r) }
            j &+= 1
        }
    }
}
