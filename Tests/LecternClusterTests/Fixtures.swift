import LecternCluster
import XCTest

/// Shared synthetic corpora: unit vectors with topic structure and PubMedQA-like lengths.
enum Fixture {
    static func corpus(n: Int, dim: Int = 64, topics: Int? = nil, seed: UInt64 = 7, lengths: [Int]? = nil) throws -> ClusterInput {
        let v = SyntheticCorpus.vectors(count: n, dim: dim, topics: topics ?? max(1, n / 20), seed: seed)
        let l = lengths ?? SyntheticCorpus.lengths(count: n, from: [180, 240, 310, 420, 520, 700], extra: 100, seed: seed)
        return try ClusterInput(vectors: v, dim: dim, lengths: l, ids: (0..<n).map { Int64(1000 + $0) })
    }

    /// Cosine similarity in Double, independent of the module's kernels.
    static func sim(_ input: ClusterInput, _ a: Int32, _ b: Int32) -> Double {
        var s = 0.0
        for k in 0..<input.dim {
            s += Double(input.vectors[Int(a) * input.dim + k]) * Double(input.vectors[Int(b) * input.dim + k])
        }
        return s
    }

    static func assertPartition(_ c: Clustering, _ input: ClusterInput, file: StaticString = #filePath, line: UInt = #line) {
        var seen = [Int](repeating: 0, count: input.count)
        for cl in c.clusters { for m in cl.members { seen[Int(m)] += 1 } }
        XCTAssertEqual(seen.filter { $0 != 1 }.count, 0, "every document in exactly one cluster", file: file, line: line)
        XCTAssertEqual(c.documentCount, input.count, file: file, line: line)
    }

    static func assertBudget(_ c: Clustering, _ input: ClusterInput, _ o: ClusterOptions, file: StaticString = #filePath, line: UInt = #line) {
        for cl in c.clusters {
            let tokens = cl.members.reduce(0) { $0 + input.lengths[Int($1)] }
            XCTAssertEqual(tokens, cl.tokens, file: file, line: line)
            XCTAssertLessThanOrEqual(cl.members.count, o.maxDocuments, file: file, line: line)
            if tokens > o.maxTokens {
                XCTAssertEqual(cl.members.count, 1, "only a single oversize document may exceed Lmax", file: file, line: line)
            }
        }
    }
}
