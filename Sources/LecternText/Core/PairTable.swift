/// BPE merges: (left id, right id) -> (rank, merged id), open addressing on a packed 64-bit key.
///
/// A Swift `Dictionary` of tuples costs a generic hash per probe; the BPE inner loop does one
/// probe per adjacent pair per merge step, so a flat table pays for itself.
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var vals: [UInt64]
    private var mask: Int
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        vals = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always) private static func slot(_ k: UInt64) -> Int {
        Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    /// Records a merge; the first (lowest-rank) entry for a pair wins, as in `tokenizers`.
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let k = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var i = Self.slot(k) & mask
        while keys[i] != Self.empty {
            if keys[i] == k { return }
            i = (i + 1) & mask
        }
        keys[i] = k
        vals[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        count += 1
    }

    /// (rank, merged id) packed as rank << 32 | merged, or nil.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> UInt64? {
        let k = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return keys.withUnsafeBufferPointer { keys in
            var i = Self.slot(k) & mask
            while true {
                let c = keys[i]
                if c == k { return vals[i] }
                if c == Self.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }
}
