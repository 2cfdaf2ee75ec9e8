/// How good a clustering is: mean intra-cluster cosine similarity, fill ratio and size
/// histogram, next to the same figures for a random grouping of the same documents.
public struct QualityReport: Codable, Sendable, Equatable {
    public struct Figures: Codable, Sendable, Equatable {
        /// Mean over clusters with at least two members of their mean pairwise cosine similarity.
        public var meanIntraSimilarity: Double
        /// The same, weighted by each cluster's number of pairs.
        public var pairWeightedSimilarity: Double
        /// Mean over clusters of tokens / Lmax.
        public var meanFill: Double
        /// Total tokens / (clusters * Lmax).
        public var overallFill: Double
        public var clusters: Int
        public var singletons: Int
        /// Cluster size -> number of clusters.
        public var sizeHistogram: [String: Int]
    }

    public var documents: Int
    public var maxTokens: Int
    public var clustering: Figures
    /// The documents shuffled (seeded) and poured into clusters of the same sizes, so the
    /// histogram matches and the similarity difference is what the clustering bought.
    public var randomBaseline: Figures

    /// Computes the report; mean pairwise similarity uses |sum x|^2 = m + 2 * sum_{i<j} x_i·x_j
    /// for unit vectors, so it costs O(m d) per cluster.
    public static func make(_ input: ClusterInput, _ clustering: Clustering, maxTokens: Int, seed: UInt64 = 0) -> QualityReport {
        let real = figures(input, clustering.clusters.map { $0.members }, maxTokens: maxTokens)
        var rng = SplitMix64(seed: seed ^ 0x5241_4E44)  // "RAND"
        let perm = rng.permutation(input.count)
        var groups: [[Int32]] = []
        var at = 0
        for c in clustering.clusters {
            groups.append(Array(perm[at..<at + c.members.count]))
            at += c.members.count
        }
        let random = figures(input, groups, maxTokens: maxTokens)
        return QualityReport(documents: input.count, maxTokens: maxTokens, clustering: real, randomBaseline: random)
    }

    /// Mean pairwise cosine similarity of the given rows.
    public static func meanPairwiseSimilarity(_ input: ClusterInput, _ rows: [Int32]) -> Double {
        let m = rows.count
        if m < 2 { return 1 }
        let d = input.dim
        var sum = [Double](repeating: 0, count: d)
        var self2 = 0.0
        input.vectors.withUnsafeBufferPointer { vp in
            for r in rows {
                let p = vp.baseAddress! + Int(r) * d
                var n2 = 0.0
                for k in 0..<d {
                    sum[k] += Double(p[k])
                    n2 += Double(p[k]) * Double(p[k])
                }
                self2 += n2
            }
        }
        var tot2 = 0.0
        for k in 0..<d { tot2 += sum[k] * sum[k] }
        return (tot2 - self2) / Double(m * (m - 1))
    }

    static func figures(_ input: ClusterInput, _ groups: [[Int32]], maxTokens: Int) -> Figures {
        var simSum = 0.0, simCount = 0, pairSum = 0.0, pairs = 0.0
        var fillSum = 0.0, tokens = 0, singletons = 0
        var hist: [Int: Int] = [:]
        for g in groups {
            let t = g.reduce(0) { $0 + input.lengths[Int($1)] }
            tokens += t
            fillSum += Double(t) / Double(maxTokens)
            hist[g.count, default: 0] += 1
            if g.count < 2 {
                singletons += 1
                continue
            }
            let s = meanPairwiseSimilarity(input, g)
            let p = Double(g.count * (g.count - 1) / 2)
            simSum += s
            simCount += 1
            pairSum += s * p
            pairs += p
        }
        let c = groups.count
        return Figures(
            meanIntraSimilarity: simCount > 0 ? simSum / Double(simCount) : 0,
            pairWeightedSimilarity: pairs > 0 ? pairSum / pairs : 0,
            meanFill: c > 0 ? fillSum / Double(c) : 0,
            overallFill: c > 0 ? Double(tokens) / (Double(c) * Double(maxTokens)) : 0,
            clusters: c, singletons: singletons,
            sizeHistogram: Dictionary(uniqueKeysWithValues: hist.map { (String($0.key), $0.value) }))
    }

    /// A few lines for a terminal.
    public func text() -> String {
        func line(_ name: String, _ f: Figures) -> String {
            let sim = String(format: "%.4f", f.meanIntraSimilarity)
            let pw = String(format: "%.4f", f.pairWeightedSimilarity)
            let fill = String(format: "%.3f", f.meanFill)
            return "\(name): \(f.clusters) clusters (\(f.singletons) singletons), mean intra-cluster similarity \(sim) (pair-weighted \(pw)), mean fill \(fill) of Lmax"
        }
        let sizes = clustering.sizeHistogram.sorted { Int($0.key)! < Int($1.key)! }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
        return [
            "documents: \(documents), Lmax: \(maxTokens)",
            line("clustering", clustering),
            line("random    ", randomBaseline),
            "cluster sizes (size:count): \(sizes)",
        ].joined(separator: "\n")
    }
}

import Foundation
import LecternKernels
