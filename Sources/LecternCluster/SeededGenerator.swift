/// A small seeded random generator (SplitMix64), so that a seed gives the same clusters on
/// every machine and Swift version (the standard library's generator cannot be seeded).
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform integer in `0..<bound` (bound > 0), without the platform-dependent paths of
    /// `Int.random(in:using:)`.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        var x = next()
        while x >= limit { x = next() }
        return Int(x % b)
    }

    /// A Fisher-Yates permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int32] {
        var p = (0..<n).map { Int32($0) }
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                p.swapAt(i, nextInt(below: i + 1))
            }
        }
        return p
    }
}
