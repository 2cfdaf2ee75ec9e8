/// Unit vectors with cluster structure, for tests and benchmarks: `topics` random unit centres,
/// each document `normalize(centre + spread * noise)` with Gaussian noise of norm about 1 and a
/// per-topic spread drawn from `spreads`. Two documents of one topic then have cosine similarity
/// about `1 / (1 + spread^2)`: spread 0.3 gives about 0.92, 0.9 about 0.55, so some topics pass the
/// 0.7 threshold and some do not, as in real corpora.
public enum SyntheticCorpus {
    public static func vectors(
        count n: Int, dim d: Int, topics: Int, spreads: ClosedRange<Float> = 0.3...0.9, seed: UInt64
    ) -> [Float] {
        var rng = SplitMix64(seed: seed)
        let t = max(1, topics)
        var centres = [Float](repeating: 0, count: t * d)
        for i in 0..<t * d { centres[i] = gaussian(&rng) }
        centres.withUnsafeMutableBufferPointer { cp in
            for c in 0..<t { normalize(cp.baseAddress! + c * d, d) }
        }
        let spread = (0..<t).map { _ in spreads.lowerBound + (spreads.upperBound - spreads.lowerBound) * uniform(&rng) }
        var out = [Float](repeating: 0, count: n * d)
        let scale = 1 / Float(d).squareRoot()
        out.withUnsafeMutableBufferPointer { op in
            for i in 0..<n {
                let c = rng.below(t)
                let row = op.baseAddress! + i * d
                let s = spread[c] * scale
                for k in 0..<d { row[k] = centres[c * d + k] + s * gaussian(&rng) }
                normalize(row, d)
            }
        }
        return out
    }

    /// `n` lengths drawn with replacement from `sample` (e.g. the real token counts of PubMedQA
    /// abstracts), each plus `extra` (a reserved QA budget).
    public static func lengths(count n: Int, from sample: [Int], extra: Int = 0, seed: UInt64) -> [Int] {
        precondition(!sample.isEmpty)
        var rng = SplitMix64(seed: seed ^ 0x4C45_4E53)
        return (0..<n).map { _ in sample[rng.below(sample.count)] + extra }
    }

    static func uniform(_ rng: inout SplitMix64) -> Float {
        Float(rng.next() >> 40) / Float(1 << 24)
    }

    /// Box-Muller (one of the pair; simplicity over speed).
    static func gaussian(_ rng: inout SplitMix64) -> Float {
        let u1 = max(Float.leastNonzeroMagnitude, uniform(&rng))
        let u2 = uniform(&rng)
        return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
    }
}

import Foundation
import LecternKernels
