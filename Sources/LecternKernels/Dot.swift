// Inner products: the hot loop of the vector scan, the IVF indexes and every clustering path.
//
// One accumulation order for all of them: sixteen lanes a step into one SIMD16 accumulator
// (four independent vector registers on x86-64, enough to keep the adds pipelined), then the
// lanes summed, then the tail. `dot4`, `dotRows` and `dotTile` compute each row's result with
// exactly that arithmetic, so a similarity is bit-identical whichever batch shape produced it
// and the exact and index-based clustering paths break ties identically.
//
// No bounds checks: callers pass pointers with at least `d` readable elements.

@inlinable @inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// Inner product of two `d`-long float32 vectors.
@inlinable @inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ d: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i &+ 16 <= d {
        acc += load16(a + i) * load16(b + i)
        i &+= 16
    }
    var s = acc.sum()
    while i < d {
        s += a[i] * b[i]
        i &+= 1
    }
    return s
}

/// Inner products of `q` with four rows at once: each load of `q` feeds four accumulators, which
/// makes rows-by-centroids work compute-bound instead of load-bound. Each lane equals
/// `dot(q, row, d)` bit for bit.
@inlinable @inline(__always)
public func dot4(
    _ q: UnsafePointer<Float>, _ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>,
    _ r2: UnsafePointer<Float>, _ r3: UnsafePointer<Float>, _ d: Int
) -> SIMD4<Float> {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var i = 0
    while i &+ 16 <= d {
        let x = load16(q + i)
        a0 += x * load16(r0 + i)
        a1 += x * load16(r1 + i)
        a2 += x * load16(r2 + i)
        a3 += x * load16(r3 + i)
        i &+= 16
    }
    var s = SIMD4<Float>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
    while i < d {
        let x = q[i]
        s[0] += x * r0[i]
        s[1] += x * r1[i]
        s[2] += x * r2[i]
        s[3] += x * r3[i]
        i &+= 1
    }
    return s
}

/// `out[j] = q · rows[j]` for `count` contiguous rows of width `d`.
@inlinable
public func dotRows(
    _ q: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, count: Int, _ d: Int,
    into out: UnsafeMutablePointer<Float>
) {
    var j = 0
    while j &+ 4 <= count {
        let base = rows + j &* d
        let s = dot4(q, base, base + d, base + 2 &* d, base + 3 &* d, d)
        out[j] = s[0]
        out[j &+ 1] = s[1]
        out[j &+ 2] = s[2]
        out[j &+ 3] = s[3]
        j &+= 4
    }
    while j < count {
        out[j] = dot(q, rows + j &* d, d)
        j &+= 1
    }
}

/// Blocked similarity tile: `out[i * ldOut + j] = a[i] · b[j]` for `na` rows of `a` and `nb`
/// rows of `b`. Rows of `b` are walked in blocks (about 64 KiB) that stay in cache while every
/// row of `a` passes over them.
@inlinable
public func dotTile(
    _ a: UnsafePointer<Float>, na: Int, _ b: UnsafePointer<Float>, nb: Int, _ d: Int,
    into out: UnsafeMutablePointer<Float>, ldOut: Int
) {
    let blockB = max(4, (64 * 1024) / max(1, d &* 4))
    var j0 = 0
    while j0 < nb {
        let jn = min(blockB, nb &- j0)
        for i in 0..<na {
            dotRows(a + i &* d, b + j0 &* d, count: jn, d, into: out + i &* ldOut + j0)
        }
        j0 &+= jn
    }
}

/// Scales `v` to unit length in place (a zero vector stays zero); returns its original norm.
@inlinable
@discardableResult
public func normalize(_ v: UnsafeMutablePointer<Float>, _ d: Int) -> Float {
    let n = dot(v, v, d).squareRoot()
    if n > 0 {
        let inv = 1 / n
        for i in 0..<d { v[i] *= inv }
    }
    return n
}
