import LecternCluster
import XCTest

final class GraphWalkTests: XCTestCase {
    func testExactGraphMatchesBruteForce() throws {
        let input = try Fixture.corpus(n: 300)
        let g = KNNGraph.exact(input, k: 5)
        for i in 0..<input.count {
            let truth = (0..<Int32(input.count)).filter { $0 != Int32(i) }
                .map { (Fixture.sim(input, Int32(i), $0), $0) }
                .sorted { $0.0 > $1.0 }.prefix(5).map { $0.1 }
            // Allow a float near-tie to swap the last place.
            XCTAssertEqual(Array(g.neighbours[i * 5..<i * 5 + 4]), Array(truth.prefix(4)))
        }
    }

    func testIVFGraphRecall() throws {
        let input = try Fixture.corpus(n: 1500, topics: 60)
        let exact = KNNGraph.exact(input, k: 10)
        let approx = KNNGraph.ivf(input, k: 10, lists: 30, probes: 5, seed: 1)
        let recall = approx.recall(against: exact)
        print("IVF graph recall@10 (5 of 30 lists): \(recall)")
        XCTAssertGreaterThan(recall, 0.85)
    }

    func testWalkInvariants() throws {
        let input = try Fixture.corpus(n: 800)
        let o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, threshold: 0.7, seed: 4)
        let c = try GraphWalkClustering.run(input, options: o)
        Fixture.assertPartition(c, input)
        Fixture.assertBudget(c, input, o)
        // Threshold: each cluster is connected by edges of similarity >= threshold.
        for cl in c.clusters where cl.members.count > 1 {
            var reached: Set<Int32> = [cl.members[0]]
            var frontier = [cl.members[0]]
            while let a = frontier.popLast() {
                for b in cl.members where !reached.contains(b) && Fixture.sim(input, a, b) >= 0.7 - 1e-5 {
                    reached.insert(b)
                    frontier.append(b)
                }
            }
            XCTAssertEqual(reached.count, cl.members.count, "cluster not connected above the threshold")
        }
        XCTAssertEqual(try GraphWalkClustering.run(input, options: o).clusters, c.clusters)
    }

    func testMergeReducesUnderfilledClusters() throws {
        let input = try Fixture.corpus(n: 600, topics: 12)
        let o = ClusterOptions(maxTokens: 2048, maxDocuments: 4, threshold: 0.5, seed: 4)
        var w = GraphWalkClustering.Options()
        w.mergeLeftovers = false
        let raw = try GraphWalkClustering.run(input, options: o, walk: w)
        w.mergeLeftovers = true
        let merged = try GraphWalkClustering.run(input, options: o, walk: w)
        Fixture.assertBudget(merged, input, o)
        Fixture.assertPartition(merged, input)
        XCTAssertLessThanOrEqual(merged.clusters.count, raw.clusters.count)
    }
}
