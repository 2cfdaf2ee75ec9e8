/// SplitMix64: a tiny, fast, well-mixed PRNG whose output depends only on its seed, on every
/// platform and Swift version (the system generator is neither seedable nor stable).
/// The miner seeds one per document from the run's seed and the document's id.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator for `seed`.
    public init(seed: UInt64) { state = seed }

    /// A generator for a (run seed, stream) pair, e.g. (config seed, document id).
    public init(seed: UInt64, stream: UInt64) {
        var s = SeededRandom(seed: seed ^ 0x6C65_6374_6572_6E21)
        state = s.next() ^ (stream &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<n` (n > 0), by Lemire's multiply-shift with rejection.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        while true {
            let r = next().multipliedFullWidth(by: bound)
            if r.low >= (0 &- bound) % bound { return Int(r.high) }
        }
    }

    /// An element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Fisher-Yates shuffle, the same sequence for the same seed.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(i, below(i + 1))
        }
    }

    /// An index drawn with the given weights (which need not sum to 1).
    public mutating func weighted(_ weights: [Double]) -> Int {
        let total = weights.reduce(0, +)
        let x = Double(next() >> 11) / Double(1 << 53) * total
        var acc = 0.0
        for (i, w) in weights.enumerated() {
            acc += w
            if x < acc { return i }
        }
        return weights.count - 1
    }
}
