/// An immutable-after-build hash map from byte strings to token ids.
///
/// Tokenizers look up substrings of the input millions of times a second; hashing a Swift
/// `String` (grapheme-aware, allocating) is far too slow for that, so keys are raw UTF-8 bytes
/// stored in one arena and looked up straight from an `UnsafeBufferPointer` slice of the input.
struct ByteTable: Sendable {
    private var arena: [UInt8] = [0]  // one pad byte so baseAddress is never nil
    // Open addressing, linear probing; slot = (hash32 << 32 | entry index + 1), 0 = empty.
    private var slots: [UInt64]
    private var starts: [Int32] = []
    private var lengths: [Int32] = []
    private var values: [Int32] = []
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    var count: Int { values.count }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32 {
        // FNV-1a: short keys, good enough spread, no setup cost.
        var h: UInt32 = 2_166_136_261
        for i in 0..<n { h = (h ^ UInt32(p[i])) &* 16_777_619 }
        return h
    }

    /// Inserts `key -> value`; an existing key keeps its first value (like a vocab read in order).
    mutating func insert<C: Collection>(_ key: C, _ value: Int32) where C.Element == UInt8 {
        let bytes = Array(key)
        if bytes.withUnsafeBufferPointer({ lookup($0) }) != nil { return }
        if (values.count + 1) * 2 > slots.count { grow() }
        starts.append(Int32(arena.count))
        lengths.append(Int32(bytes.count))
        arena.append(contentsOf: bytes)
        values.append(value)
        let h = bytes.withUnsafeBufferPointer { Self.hash($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
        place(UInt64(h) << 32 | UInt64(values.count))
    }

    private mutating func place(_ slot: UInt64) {
        var i = Int(slot >> 32) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = slot
    }

    private mutating func grow() {
        let old = slots
        slots = [UInt64](repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        for s in old where s != 0 { place(s) }
    }

    /// The value of the key `bytes`, or nil.
    @inline(__always)
    func lookup(_ bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        guard let p = bytes.baseAddress else { return lookupEmpty() }
        return lookup(p, bytes.count)
    }

    private func lookupEmpty() -> Int32? {
        for (i, n) in lengths.enumerated() where n == 0 { return values[i] }
        return nil
    }

    /// The value of the `n` bytes at `p`, or nil.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        let h = Self.hash(p, n)
        return slots.withUnsafeBufferPointer { slots in
            arena.withUnsafeBufferPointer { arena in
                var i = Int(h) & mask
                while true {
                    let s = slots[i]
                    if s == 0 { return nil }
                    if UInt32(truncatingIfNeeded: s >> 32) == h {
                        let e = Int(UInt32(truncatingIfNeeded: s)) - 1
                        if Int(lengths[e]) == n {
                            let a = arena.baseAddress! + Int(starts[e])
                            var same = true
                            for k in 0..<n where a[k] != p[k] { same = false; break }
                            if same { return values[e] }
                        }
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }
}
