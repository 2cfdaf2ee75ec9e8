import LecternCluster
import XCTest
import LecternKernels

final class LengthClusteringTests: XCTestCase {
    /// The paper's loop written naively (a full scan of the remaining documents per step), as
    /// the reference the fast paths must reproduce.
    func naiveAlgorithm1(_ input: ClusterInput, _ o: ClusterOptions) -> [[Int32]] {
        var rng = SplitMix64(seed: o.seed)
        let order = rng.permutation(input.count)
        var remaining = Set(0..<Int32(input.count))
        var out: [[Int32]] = []
        for s in order where remaining.contains(s) {
            remaining.remove(s)
            var c: [Int32] = [s]
            var length = input.lengths[Int(s)]
            while length < o.maxTokens && c.count < o.maxDocuments {
                var best: Int32 = -1
                var bestSim = -Double.infinity
                for r in remaining.sorted() {
                    let sim = Fixture.sim(input, s, r)
                    if sim > bestSim { bestSim = sim; best = r }
                }
                if best < 0 || bestSim < Double(o.threshold) { break }
                if length + input.lengths[Int(best)] > o.maxTokens { break }
                remaining.remove(best)
                c.append(best)
                length += input.lengths[Int(best)]
            }
            out.append(c)
        }
        return out
    }

    func testMatchesNaiveAlgorithm1() throws {
        let input = try Fixture.corpus(n: 300)
        var o = ClusterOptions(maxTokens: 2048, maxDocuments: 6, seed: 3)
        o.search = .exact
        let ours = try LengthClustering.run(input, options: o).clusters.map { $0.members }
        XCTAssertEqual(ours, naiveAlgorithm1(input, o))
        XCTAssertTrue(ours.contains { $0.count > 1 }, "the fixture must form real clusters")
    }

    func testEveryDocumentOnceWithinBudgetAllModes() throws {
        let input = try Fixture.corpus(n: 600)
        for target in SimilarityTarget.allCases {
            for overflow in OverflowPolicy.allCases {
                for search in [NeighbourSearch.exact, .ivf] {
                    var o = ClusterOptions(maxTokens: 1500, maxDocuments: 5, seed: 11)
                    o.similarityTo = target
                    o.overflow = overflow
                    o.search = search
                    let c = try LengthClustering.run(input, options: o)
                    Fixture.assertPartition(c, input)
                    Fixture.assertBudget(c, input, o)
                }
            }
        }
    }

    func testThresholdRespectedSeedAndCentroid() throws {
        let input = try Fixture.corpus(n: 500)
        var o = ClusterOptions(maxTokens: 4096, maxDocuments: 10, threshold: 0.75, seed: 5)
        o.search = .exact
        for cl in try LengthClustering.run(input, options: o).clusters {
            for m in cl.members.dropFirst() {
                XCTAssertGreaterThanOrEqual(Fixture.sim(input, cl.members[0], m), 0.75 - 1e-5)
            }
        }
        o.similarityTo = .centroid
        for cl in try LengthClustering.run(input, options: o).clusters {
            var sum = [Double](repeating: 0, count: input.dim)
            for (j, m) in cl.members.enumerated() {
                if j > 0 {
                    let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    var s = 0.0
                    for k in 0..<input.dim { s += sum[k] / norm * Double(input.vectors[Int(m) * input.dim + k]) }
                    XCTAssertGreaterThanOrEqual(s, 0.75 - 1e-4, "member joined below the threshold to the centroid")
                }
                for k in 0..<input.dim { sum[k] += Double(input.vectors[Int(m) * input.dim + k]) }
            }
        }
    }

    func testSameSeedSameClustersOtherSeedOther() throws {
        let input = try Fixture.corpus(n: 400)
        var o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, seed: 42)
        let a = try LengthClustering.run(input, options: o)
        let b = try LengthClustering.run(input, options: o)
        XCTAssertEqual(a.clusters, b.clusters)
        o.seed = 43
        XCTAssertNotEqual(try LengthClustering.run(input, options: o).clusters, a.clusters)
    }

    func testUncappedIndexEqualsExactAndCappedMostlyAgrees() throws {
        let input = try Fixture.corpus(n: 1500, topics: 60)
        var o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, seed: 9)
        o.search = .exact
        let exact = try LengthClustering.run(input, options: o)
        o.search = .ivf
        o.ivfLists = 30
        XCTAssertEqual(try LengthClustering.run(input, options: o).clusters, exact.clusters)
        o.ivfMaxProbes = 4
        let approx = try LengthClustering.run(input, options: o)
        Fixture.assertPartition(approx, input)
        let exactSets = Set(exact.clusters.map { $0.members.sorted() })
        let same = approx.clusters.filter { exactSets.contains($0.members.sorted()) }.count
        let agreement = Double(same) / Double(exact.clusters.count)
        print("IVF 4 of 30 lists: \(same) of \(exact.clusters.count) clusters identical to exact (\(agreement))")
        XCTAssertGreaterThan(agreement, 0.9)
    }

    func testOversizeSingletonAndReject() throws {
        var lengths = [Int](repeating: 300, count: 100)
        lengths[7] = 5000
        let input = try Fixture.corpus(n: 100, lengths: lengths)
        var o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, threshold: -1, seed: 1)
        let c = try LengthClustering.run(input, options: o)
        let holder = c.clusters.first { $0.members.contains(7) }!
        XCTAssertEqual(holder.members, [7])
        Fixture.assertBudget(c, input, o)
        o.oversize = .reject
        XCTAssertThrowsError(try LengthClustering.run(input, options: o)) { error in
            XCTAssertEqual(error as? ClusterError, .oversizeDocument(id: 1007, length: 5000, maxTokens: 2048))
            XCTAssertTrue("\(error)".contains("document 1007"))
        }
    }

    func testSkipOverflowFillsAtLeastAsMuch() throws {
        let input = try Fixture.corpus(n: 800, topics: 10)
        var o = ClusterOptions(maxTokens: 2048, maxDocuments: 16, threshold: 0.5, seed: 2)
        let stop = try LengthClustering.run(input, options: o)
        o.overflow = .skip
        let skip = try LengthClustering.run(input, options: o)
        Fixture.assertBudget(skip, input, o)
        XCTAssertLessThanOrEqual(skip.clusters.count, stop.clusters.count)
    }

    func testBadInputIsNamed() {
        XCTAssertThrowsError(try ClusterInput(vectors: [1, 0, 0], dim: 2, lengths: [1], ids: [1]))
        XCTAssertThrowsError(try ClusterInput(vectors: [1, 0, 3, 4], dim: 2, lengths: [1, 1], ids: [1, 2])) {
            XCTAssertTrue("\($0)".contains("document 2"), "\($0)")
        }
        XCTAssertThrowsError(try ClusterInput(vectors: [1, 0, .nan, 0], dim: 2, lengths: [1, 1], ids: [1, 2]))
        XCTAssertThrowsError(try ClusterInput(vectors: [1, 0, 0, 1], dim: 2, lengths: [1, -3], ids: [1, 2])) {
            XCTAssertTrue("\($0)".contains("document 2"), "\($0)")
        }
        XCTAssertThrowsError(try ClusterInput(vectors: [1, 0, 0, 1], dim: 2, lengths: [1, 1], ids: [5, 5]))
        let ok = try! ClusterInput(vectors: [1, 0, 0, 1], dim: 2, lengths: [1, 1], ids: [1, 2])
        XCTAssertThrowsError(try LengthClustering.run(ok, options: ClusterOptions(maxTokens: 0, maxDocuments: 2)))
        XCTAssertThrowsError(try LengthClustering.run(ok, options: ClusterOptions(maxTokens: 10, maxDocuments: 2, threshold: 2)))
        XCTAssertEqual(try LengthClustering.run(try! ClusterInput(vectors: [], dim: 4, lengths: [], ids: []),
                                                options: ClusterOptions()).clusters.count, 0)
    }

    func testLengthsBeforeAndAfterGeneration() {
        XCTAssertEqual(ClusterInput.lengths(documentTokens: [100, 200], qaTokens: [40, nil], reservedQABudget: 60), [140, 260])
        XCTAssertEqual(ClusterInput.measuredQARatio(documentTokens: [100, 200, 50], qaTokens: [40, nil, 20]), 0.4)
        XCTAssertNil(ClusterInput.measuredQARatio(documentTokens: [100], qaTokens: [nil]))
    }
}
