/// CPython's `random.Random`, as far as AdaptLLM uses it: `seed(int)` and `shuffle(list)`, bit
/// for bit (MT19937 seeded by `init_by_array` over the integer's 32-bit words, `_randbelow` by
/// rejection over `getrandbits(k)`). AdaptLLM shuffles a document's sentences with
/// `random.seed(len(text)); random.shuffle(sents)` before it looks for keyword sentences; the
/// compatibility mode has to draw the same order to pick the same sentences.
struct PythonRandom {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `random.seed(n)` for a non-negative integer.
    init(seed n: UInt64) {
        var key: [UInt32] = []
        var v = n
        repeat { key.append(UInt32(truncatingIfNeeded: v)); v >>= 32 } while v != 0
        initGenrand(19_650_218)
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(truncatingIfNeeded: j)
            i += 1; j += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(truncatingIfNeeded: i)
            i += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
        }
        mt[0] = 0x8000_0000
        index = 624
    }

    private mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<624 { mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
        index = 624
    }

    /// `genrand_uint32`.
    mutating func next32() -> UInt32 {
        if index >= 624 {
            for k in 0..<624 {
                let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % 624] & 0x7FFF_FFFF)
                mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
            }
            index = 0
        }
        var y = mt[index]; index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// `_randbelow(n)` for 1 <= n < 2^32: `getrandbits(n.bit_length())` until below n.
    mutating func below(_ n: Int) -> Int {
        precondition(n >= 1 && n <= Int(UInt32.max))
        let k = Int.bitWidth - n.leadingZeroBitCount
        while true {
            let r = Int(next32() >> UInt32(32 - k))
            if r < n { return r }
        }
    }

    /// `random.shuffle(x)`: Fisher-Yates from the end.
    mutating func shuffle<T>(_ x: inout [T]) {
        guard x.count > 1 else { return }
        for i in stride(from: x.count - 1, through: 1, by: -1) {
            let j = below(i + 1)
            x.swapAt(i, j)
        }
    }
}
