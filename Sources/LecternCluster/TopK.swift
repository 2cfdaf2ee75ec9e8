import LecternKernels
/// A bounded selection of the best (similarity, row) pairs under the order every path shares:
/// higher similarity first, then lower row index, so results never depend on scan order.
struct TopK {
    private(set) var sims: [Float] = []
    private(set) var rows: [Int32] = []
    let limit: Int  // Int.max: keep everything offered

    init(limit: Int) {
        self.limit = limit
        if limit < 1024 {
            sims.reserveCapacity(limit + 1)
            rows.reserveCapacity(limit + 1)
        }
    }

    @inline(__always)
    static func better(_ s1: Float, _ r1: Int32, than s2: Float, _ r2: Int32) -> Bool {
        s1 > s2 || (s1 == s2 && r1 < r2)
    }

    var isFull: Bool { sims.count >= limit }

    /// The worst kept similarity once full; candidates below it cannot enter.
    var floor: Float { isFull ? sims[sims.count - 1] : -.infinity }

    /// Offers a candidate; keeps the arrays sorted best first (insertion: limits are small).
    @inline(__always)
    mutating func offer(_ s: Float, _ r: Int32) {
        if isFull {
            let last = sims.count - 1
            if !TopK.better(s, r, than: sims[last], rows[last]) { return }
            sims.removeLast()
            rows.removeLast()
        }
        if limit == Int.max {
            // Unbounded: append now, sort once in `sorted()`.
            sims.append(s)
            rows.append(r)
            return
        }
        var i = sims.count
        sims.append(s)
        rows.append(r)
        while i > 0 && TopK.better(s, r, than: sims[i - 1], rows[i - 1]) {
            sims[i] = sims[i - 1]
            rows[i] = rows[i - 1]
            i -= 1
        }
        sims[i] = s
        rows[i] = r
    }

    mutating func merge(_ other: TopK) {
        for i in 0..<other.sims.count { offer(other.sims[i], other.rows[i]) }
    }

    /// Pairs best first.
    func sorted() -> [(sim: Float, row: Int32)] {
        var pairs = (0..<sims.count).map { (sim: sims[$0], row: rows[$0]) }
        if limit == Int.max {
            pairs.sort { TopK.better($0.sim, $0.row, than: $1.sim, $1.row) }
        }
        return pairs
    }
}
