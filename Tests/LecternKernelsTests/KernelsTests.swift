import LecternKernels
import XCTest

/// The shared vector kernels: one accumulation order whatever the batch shape, k-means that
/// finds planted clusters under both metrics, and parallel loops that visit every index once.
final class KernelsTests: XCTestCase {
    /// `rows` random float vectors of width `d`.
    func randomRows(_ rows: Int, _ d: Int, seed: UInt64) -> [Float] {
        var g = SplitMix64(seed: seed)
        return (0..<(rows * d)).map { _ in Float(Double(g.next() >> 11) / Double(1 << 53)) * 2 - 1 }
    }

    func testBatchedDotProductsAreBitIdenticalToSingleOnes() {
        // Widths around the 16-lane step, with and without a tail.
        for d in [1, 15, 16, 17, 100, 384] {
            let q = randomRows(1, d, seed: UInt64(d)), rows = randomRows(9, d, seed: UInt64(d) + 1)
            var batched = [Float](repeating: .nan, count: 9)
            var tile = [Float](repeating: .nan, count: 9)
            q.withUnsafeBufferPointer { qp in
                rows.withUnsafeBufferPointer { rp in
                    dotRows(qp.baseAddress!, rp.baseAddress!, count: 9, d, into: &batched)
                    dotTile(qp.baseAddress!, na: 1, rp.baseAddress!, nb: 9, d, into: &tile, ldOut: 9)
                    for j in 0..<9 {
                        let single = dot(qp.baseAddress!, rp.baseAddress! + j * d, d)
                        XCTAssertEqual(batched[j].bitPattern, single.bitPattern, "d=\(d) row \(j)")
                        XCTAssertEqual(tile[j].bitPattern, single.bitPattern, "d=\(d) row \(j)")
                        // And close to the exact value in Double.
                        var exact = 0.0
                        for k in 0..<d { exact += Double(qp[k]) * Double(rp[j * d + k]) }
                        XCTAssertEqual(Double(single), exact, accuracy: 1e-4 * Double(d))
                    }
                }
            }
        }
    }

    /// Points around `k` well-separated centres; k-means must put each group in one list.
    func plantedClusters(k: Int, per: Int, d: Int, spread: Float, unit: Bool) -> (rows: [Float], truth: [Int]) {
        var g = SplitMix64(seed: 42)
        func noise() -> Float { Float(Double(g.next() >> 11) / Double(1 << 53)) * 2 - 1 }
        var rows: [Float] = [], truth: [Int] = []
        for c in 0..<k {
            var centre = [Float](repeating: 0, count: d)
            centre[c % d] = 10
            for _ in 0..<per {
                var v = centre.map { $0 + spread * noise() }
                if unit { v.withUnsafeMutableBufferPointer { _ = normalize($0.baseAddress!, d) } }
                rows += v
                truth.append(c)
            }
        }
        return (rows, truth)
    }

    /// Lloyd's k-means promises a local optimum, not the planted groups (random starts can put two
    /// seeds in one group): what it must do is assign every row to its best centroid, improve its
    /// objective with every pass, and give the same result for the same seed.
    func testKMeansAssignsToTheBestCentroidAndImprovesItsObjective() {
        for metric in [KMeans.Metric.innerProduct, .l2] {
            let (rows, truth) = plantedClusters(k: 6, per: 50, d: 24, spread: 4, unit: metric == .innerProduct)
            let n = truth.count, d = 24
            rows.withUnsafeBufferPointer { rp in
                let base = rp.baseAddress!
                func objective(_ km: KMeans) -> Double {
                    let s = km.assign(base, count: n).scores.map(Double.init).reduce(0, +) / Double(n)
                    return metric == .innerProduct ? s : -s   // higher is better
                }
                let one = KMeans.train(vectors: base, count: n, dim: d, lists: 6, seed: 3, metric: metric, iterations: 1)
                let ten = KMeans.train(vectors: base, count: n, dim: d, lists: 6, seed: 3, metric: metric, iterations: 10)
                XCTAssertGreaterThanOrEqual(objective(ten), objective(one) - 1e-6, "\(metric): Lloyd passes do not make it worse")
                XCTAssertEqual(ten.lists, 6)
                // Every row goes to its best centroid (ties: the lower index), checked by brute force in Double.
                let (assignment, scores) = ten.assign(base, count: n)
                ten.centroids.withUnsafeBufferPointer { cp in
                    for i in 0..<n {
                        var best = 0, bestValue = -Double.infinity
                        for c in 0..<6 {
                            var dot = 0.0, norm = 0.0
                            for j in 0..<d { dot += Double(base[i * d + j]) * Double(cp[c * d + j]); norm += Double(cp[c * d + j]) * Double(cp[c * d + j]) }
                            let value = metric == .innerProduct ? dot : 2 * dot - norm
                            if value > bestValue + 1e-4 { best = c; bestValue = value }
                        }
                        XCTAssertEqual(Int(assignment[i]), best, "\(metric): row \(i)")
                        if metric == .innerProduct { XCTAssertEqual(Double(scores[i]), bestValue, accuracy: 1e-4) }
                    }
                }
                if metric == .l2 { XCTAssertTrue(scores.allSatisfy { $0 >= 0 }, "squared distances") }
                // Deterministic: the same seed gives the same centroids, another seed others.
                let again = KMeans.train(vectors: base, count: n, dim: d, lists: 6, seed: 3, metric: metric, iterations: 10)
                XCTAssertEqual(again.centroids.map(\.bitPattern), ten.centroids.map(\.bitPattern))
                let other = KMeans.train(vectors: base, count: n, dim: d, lists: 6, seed: 4, metric: metric, iterations: 10)
                XCTAssertNotEqual(other.centroids.map(\.bitPattern), ten.centroids.map(\.bitPattern))
            }
        }
    }

    func testKMeansCapsListsAtTheNumberOfRows() {
        let rows = randomRows(3, 8, seed: 5)
        rows.withUnsafeBufferPointer { rp in
            let km = KMeans.train(vectors: rp.baseAddress!, count: 3, dim: 8, lists: 10, seed: 0)
            XCTAssertEqual(km.lists, 3)
            XCTAssertEqual(Set(km.assign(rp.baseAddress!, count: 3).assignment).count, 3, "each row its own list")
        }
    }

    func testParallelLoopsVisitEveryIndexExactlyOnce() {
        for count in [0, 1, 7, 1000, 100_003] {
            let hits = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, count))
            hits.initialize(repeating: 0, count: max(1, count))
            defer { hits.deallocate() }
            parallelChunks(count: count, minChunk: 10) { _, range in
                for i in range { hits[i] += 1 }
            }
            XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "parallelChunks, count \(count)")
        }
        let n = 5000
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        hits.initialize(repeating: 0, count: n)
        defer { hits.deallocate() }
        nonisolated(unsafe) let h = hits
        parallelFor(n, threads: 4) { i in h[i] += 1 }
        XCTAssertTrue((0..<n).allSatisfy { hits[$0] == 1 }, "parallelFor")
    }
}
