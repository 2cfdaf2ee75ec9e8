import LecternKernels
import Dispatch

/// The k-nearest-neighbour graph of the documents (cosine), built once for the graph walk.
///
/// Exact: a blocked all-against-all similarity product (tiles of rows against cached blocks of
/// columns, both cores), keeping the top k per row. IVF: the same tiles, but each list's rows
/// are compared only with the rows of the `probes` lists whose centroids are closest to theirs.
public struct KNNGraph: Sendable {
    public let count: Int
    public let k: Int
    /// `count * k` neighbour rows, best first; -1 pads rows with fewer than k neighbours.
    public var neighbours: [Int32]
    /// Matching similarities (-infinity for padding).
    public var similarities: [Float]

    /// Brute force: every pair (O(n^2 d)).
    public static func exact(_ input: ClusterInput, k: Int) -> KNNGraph {
        let n = input.count
        let kk = max(1, min(k, max(1, n - 1)))
        var nbr = [Int32](repeating: -1, count: n * kk)
        var sim = [Float](repeating: -.infinity, count: n * kk)
        input.vectors.withUnsafeBufferPointer { vp in
            let base = vp.baseAddress!
            let all = (0..<n).map { Int32($0) }
            all.withUnsafeBufferPointer { ap in
                nbr.withUnsafeMutableBufferPointer { np in
                    sim.withUnsafeMutableBufferPointer { sp in
                        let out = Output(nbr: np.baseAddress!, sim: sp.baseAddress!, k: kk)
                        let rowBlock = 32
                        let blocks = (n + rowBlock - 1) / rowBlock
                        let gathered = GatheredRows(base: base, rows: ap, dim: input.dim)
                        DispatchQueue.concurrentPerform(iterations: blocks) { b in
                            let lo = b * rowBlock, hi = min(n, lo + rowBlock)
                            compare(rows: UnsafeBufferPointer(rebasing: ap[lo..<hi]), base: base, d: input.dim,
                                    against: [gathered], out: out)
                        }
                    }
                }
            }
        }
        return KNNGraph(count: n, k: kk, neighbours: nbr, similarities: sim)
    }

    /// Approximate: IVF lists from spherical k-means (`lists`, default about sqrt(n)); each list
    /// is compared with its `probes` nearest lists (itself included).
    public static func ivf(_ input: ClusterInput, k: Int, lists: Int? = nil, probes: Int = 8, seed: UInt64 = 0) -> KNNGraph {
        let n = input.count
        let d = input.dim
        let kk = max(1, min(k, max(1, n - 1)))
        var nbr = [Int32](repeating: -1, count: n * kk)
        var sim = [Float](repeating: -.infinity, count: n * kk)
        input.vectors.withUnsafeBufferPointer { vp in
            let base = vp.baseAddress!
            let km = KMeans.train(vectors: base, count: n, dim: d, lists: lists ?? max(1, Int(Double(n).squareRoot())), seed: seed)
            let assignment = km.assign(base, count: n).assignment
            var members = [[Int32]](repeating: [], count: km.lists)
            for i in 0..<n { members[Int(assignment[i])].append(Int32(i)) }
            // Each list's vectors, gathered once into contiguous blocks for the tiles.
            let gathered = members.map { GatheredRows(base: base, rows: $0, dim: d) }
            let p = min(probes, km.lists)
            var near = [[Int]](repeating: [], count: km.lists)
            km.centroids.withUnsafeBufferPointer { cp in
                var buf = [Float](repeating: 0, count: km.lists)
                for l in 0..<km.lists {
                    buf.withUnsafeMutableBufferPointer { bp in
                        dotRows(cp.baseAddress! + l * d, cp.baseAddress!, count: km.lists, d, into: bp.baseAddress!)
                    }
                    buf[l] = .infinity  // itself first
                    near[l] = Array((0..<km.lists).sorted { buf[$0] > buf[$1] || (buf[$0] == buf[$1] && $0 < $1) }.prefix(p))
                }
            }
            nbr.withUnsafeMutableBufferPointer { np in
                sim.withUnsafeMutableBufferPointer { sp in
                    let out = Output(nbr: np.baseAddress!, sim: sp.baseAddress!, k: kk)
                    // Work items: row blocks of every list, so both cores stay busy on uneven lists.
                    var items: [(list: Int, lo: Int, hi: Int)] = []
                    for l in 0..<km.lists {
                        var lo = 0
                        while lo < members[l].count {
                            items.append((l, lo, min(members[l].count, lo + 64)))
                            lo += 64
                        }
                    }
                    DispatchQueue.concurrentPerform(iterations: items.count) { t in
                        let it = items[t]
                        members[it.list].withUnsafeBufferPointer { mp in
                            compare(rows: UnsafeBufferPointer(rebasing: mp[it.lo..<it.hi]), base: base, d: d,
                                    against: near[it.list].map { gathered[$0] }, out: out)
                        }
                    }
                }
            }
        }
        return KNNGraph(count: n, k: kk, neighbours: nbr, similarities: sim)
    }

    /// In-degree of every row (how many rows list it among their k nearest).
    public func inDegree() -> [Int32] {
        var deg = [Int32](repeating: 0, count: count)
        for r in neighbours where r >= 0 { deg[Int(r)] += 1 }
        return deg
    }

    /// Fraction of true k-nearest neighbours that `self` found (recall@k against `exact`).
    public func recall(against exact: KNNGraph) -> Double {
        precondition(exact.count == count && exact.k == k)
        var hit = 0, total = 0
        for i in 0..<count {
            let truth = Set(exact.neighbours[i * k..<(i + 1) * k].filter { $0 >= 0 })
            total += truth.count
            for r in neighbours[i * k..<(i + 1) * k] where truth.contains(r) { hit += 1 }
        }
        return total == 0 ? 1 : Double(hit) / Double(total)
    }

    struct Output: @unchecked Sendable {
        let nbr: UnsafeMutablePointer<Int32>
        let sim: UnsafeMutablePointer<Float>
        let k: Int
    }

    /// Rows copied into one contiguous block (kept alive by the owning array).
    final class GatheredRows: @unchecked Sendable {
        let rows: [Int32]
        let data: UnsafeMutablePointer<Float>
        init(base: UnsafePointer<Float>, rows: [Int32], dim d: Int) {
            self.rows = rows
            data = .allocate(capacity: max(1, rows.count * d))
            for (j, r) in rows.enumerated() {
                (data + j * d).update(from: base + Int(r) * d, count: d)
            }
        }
        convenience init(base: UnsafePointer<Float>, rows: UnsafeBufferPointer<Int32>, dim d: Int) {
            self.init(base: base, rows: Array(rows), dim: d)
        }
        deinit { data.deallocate() }
    }

    /// Top-k of each of `rows` over the rows of every block in `against` (self excluded).
    private static func compare(
        rows: UnsafeBufferPointer<Int32>, base: UnsafePointer<Float>, d: Int, against: [GatheredRows], out: Output
    ) {
        let na = rows.count
        if na == 0 { return }
        let k = out.k
        let a = UnsafeMutablePointer<Float>.allocate(capacity: na * d)
        defer { a.deallocate() }
        for (i, r) in rows.enumerated() { (a + i * d).update(from: base + Int(r) * d, count: d) }
        let colBlock = 512
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: na * colBlock)
        defer { tile.deallocate() }
        var tops = [TopK](repeating: TopK(limit: k), count: na)
        for g in against {
            let nb = g.rows.count
            var j0 = 0
            while j0 < nb {
                let jn = min(colBlock, nb - j0)
                dotTile(a, na: na, g.data + j0 * d, nb: jn, d, into: tile, ldOut: colBlock)
                for i in 0..<na {
                    let self_ = rows[i]
                    var floor = tops[i].floor
                    let trow = tile + i * colBlock
                    for j in 0..<jn where trow[j] >= floor {
                        let r = g.rows[j0 + j]
                        if r == self_ { continue }
                        tops[i].offer(trow[j], r)
                        floor = tops[i].floor
                    }
                }
                j0 += jn
            }
        }
        for i in 0..<na {
            let row = Int(rows[i])
            for (m, p) in tops[i].sorted().enumerated() {
                out.nbr[row * k + m] = p.row
                out.sim[row * k + m] = p.sim
            }
        }
    }
}
