/// The one seeded random generator of Lectern (SplitMix64): a tiny, fast, well-mixed PRNG
/// whose output depends only on its seed, on every platform and Swift version (the standard
/// library's generator can be neither seeded nor relied on to stay the same).
///
/// Every random choice of the pipeline draws from one of these: k-means seeding and the
/// clustering's walks, the IVF index's training sample, the miner's templates, the build's
/// shuffles, packing and sampling. A choice that concerns one document is drawn from a
/// generator for the document's **content hash** (``init(seed:stream:)`` with
/// ``streamKey(_:)``), never its rowid, so a file built in shards and merged gets the same
/// choices as a file built in one go.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// The generator for `seed`.
    public init(seed: UInt64) { state = seed }

    /// An independent generator for one stream (one document, one cluster, one pass) under one
    /// seed, so a stream's draws do not depend on the order in which streams are processed.
    public init(seed: UInt64, stream: UInt64) {
        var g = SplitMix64(seed: seed ^ 0x5EED_1EC7_E000_0000)
        state = g.next() ^ (stream &* 0x9E37_79B9_7F4A_7C15)
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.finalise(state)
    }

    /// SplitMix64's output function: a bijective mix of 64 bits (a good hash of an integer key).
    @inline(__always)
    public static func finalise(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `finalise(x + golden ratio)`: the first output of a generator seeded with `x`.
    public static func mix(_ x: UInt64) -> UInt64 { finalise(x &+ 0x9E37_79B9_7F4A_7C15) }

    /// A 64-bit stream key from the leading bytes of a digest (a document's content hash):
    /// little-endian, zero-padded when shorter than 8 bytes.
    public static func streamKey<B: Collection>(_ digest: B) -> UInt64 where B.Element == UInt8 {
        var key: UInt64 = 0
        for (i, byte) in digest.prefix(8).enumerated() { key |= UInt64(byte) << (8 * UInt64(i)) }
        return key
    }

    /// Uniform integer in `0..<bound` (`bound > 0`), by rejection of the top remainder, without
    /// the platform-dependent paths of `Int.random(in:using:)`.
    public mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0, "below(_:) needs a positive bound")
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        var x = next()
        while x >= limit { x = next() }
        return Int(x % b)
    }

    /// An element of a non-empty array.
    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// Fisher-Yates shuffle: the same order for the same seed, on every platform.
    public mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }

    /// A Fisher-Yates permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int32] {
        var p = (0..<max(0, n)).map { Int32($0) }
        shuffle(&p)
        return p
    }

    /// An index drawn with the given non-negative weights (which need not sum to 1).
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

    /// A uniform float in [0, 1) from the top 24 bits.
    public mutating func unitFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
