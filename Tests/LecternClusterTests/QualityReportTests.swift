import LecternCluster
import XCTest

final class QualityReportTests: XCTestCase {
    func testMeanPairwiseMatchesExplicitPairs() throws {
        let input = try Fixture.corpus(n: 50)
        let rows: [Int32] = [0, 3, 7, 9, 20]
        var s = 0.0, p = 0
        for i in 0..<rows.count { for j in i + 1..<rows.count { s += Fixture.sim(input, rows[i], rows[j]); p += 1 } }
        XCTAssertEqual(QualityReport.meanPairwiseSimilarity(input, rows), s / Double(p), accuracy: 1e-5)
    }

    func testClusteringBeatsRandomBaseline() throws {
        let input = try Fixture.corpus(n: 1000)
        let o = ClusterOptions(maxTokens: 2048, maxDocuments: 8, seed: 1)
        let c = try LengthClustering.run(input, options: o)
        let r = QualityReport.make(input, c, maxTokens: o.maxTokens)
        XCTAssertEqual(r.clustering.sizeHistogram, r.randomBaseline.sizeHistogram)
        XCTAssertEqual(r.clustering.sizeHistogram.values.reduce(0, +), c.clusters.count)
        XCTAssertGreaterThan(r.clustering.meanIntraSimilarity, 0.7)
        XCTAssertLessThan(r.randomBaseline.meanIntraSimilarity, 0.3)
        XCTAssertLessThanOrEqual(r.clustering.meanFill, 1.0)
        print(r.text())
    }
}
