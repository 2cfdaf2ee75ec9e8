// The distance kernels of the vector extension (L2, L1, cosine's dot-and-norm, int8, bit),
// beside the inner products of Dot.swift. Sixteen floats a step in two independent accumulators
// (so the adds pipeline), unaligned SIMD loads straight from the chunk memory, no bounds checks:
// callers pass pointers with at least `n` elements.

@inlinable @inline(__always)
func load16(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Float>.self)
}

/// Squared Euclidean distance of two float32 vectors.
@inlinable @inline(__always)
public func l2sqF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        let d0 = load16(a, i) - load16(b, i)
        let d1 = load16(a, i + 16) - load16(b, i + 16)
        acc0 += d0 * d0
        acc1 += d1 * d1
        i += 32
    }
    if i + 16 <= n { let d = load16(a, i) - load16(b, i); acc0 += d * d; i += 16 }
    var s = (acc0 + acc1).sum()
    while i < n { let d = a[i] - b[i]; s += d * d; i += 1 }
    return s
}

/// Manhattan distance of two float32 vectors, each difference taken and summed in Double as
/// sqlite-vec does: |FLT_MAX - (-FLT_MAX)| is 6.8e38, not Inf.
@inlinable @inline(__always)
public func l1F32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc0 = SIMD8<Double>(), acc1 = SIMD8<Double>()
    var i = 0
    while i + 16 <= n {
        let x = load16(a, i), y = load16(b, i)
        let d0 = SIMD8<Double>(x.lowHalf) - SIMD8<Double>(y.lowHalf)
        let d1 = SIMD8<Double>(x.highHalf) - SIMD8<Double>(y.highHalf)
        acc0 += d0.replacing(with: -d0, where: d0 .< 0)
        acc1 += d1.replacing(with: -d1, where: d1 .< 0)
        i += 16
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += abs(Double(a[i]) - Double(b[i])); i += 1 }
    return s
}

/// Dot product and the squared norm of `b` in one pass (cosine against a query of known norm).
@inlinable @inline(__always)
public func dotAndNormF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
    var d0 = SIMD16<Float>(), d1 = SIMD16<Float>(), m0 = SIMD16<Float>(), m1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        let b0 = load16(b, i), b1 = load16(b, i + 16)
        d0 += load16(a, i) * b0
        d1 += load16(a, i + 16) * b1
        m0 += b0 * b0
        m1 += b1 * b1
        i += 32
    }
    if i + 16 <= n { let b0 = load16(b, i); d0 += load16(a, i) * b0; m0 += b0 * b0; i += 16 }
    var dot = (d0 + d1).sum(), mag = (m0 + m1).sum()
    while i < n { dot += a[i] * b[i]; mag += b[i] * b[i]; i += 1 }
    return (dot, mag)
}

@inlinable @inline(__always)
func load16i(_ p: UnsafePointer<Int8>, _ i: Int) -> SIMD16<Int32> {
    SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Int8>.self))
}

/// Inner product and both squared norms of two int8 vectors, exact in Int32 for d < 2^16.
@inlinable @inline(__always)
public func dotNormsI8(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> (Int32, Int32, Int32) {
    var d = SIMD16<Int32>(), ma = SIMD16<Int32>(), mb = SIMD16<Int32>()
    var i = 0
    while i + 16 <= n {
        let x = load16i(a, i), y = load16i(b, i)
        d &+= x &* y
        ma &+= x &* x
        mb &+= y &* y
        i += 16
    }
    var dot = d.wrappedSum(), na = ma.wrappedSum(), nb = mb.wrappedSum()
    while i < n {
        let x = Int32(a[i]), y = Int32(b[i])
        dot &+= x &* y; na &+= x &* x; nb &+= y &* y
        i += 1
    }
    return (dot, na, nb)
}

/// Squared Euclidean distance of two int8 vectors.
@inlinable @inline(__always)
public func l2sqI8(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
    var acc = SIMD16<Int32>()
    var i = 0
    while i + 16 <= n {
        let dv = load16i(a, i) &- load16i(b, i)
        acc &+= dv &* dv
        i += 16
    }
    var s = acc.wrappedSum()
    while i < n { let dv = Int32(a[i]) - Int32(b[i]); s &+= dv &* dv; i += 1 }
    return s
}

/// Manhattan distance of two int8 vectors.
@inlinable @inline(__always)
public func l1I8(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Int32 {
    var acc = SIMD16<Int32>()
    var i = 0
    while i + 16 <= n {
        let dv = load16i(a, i) &- load16i(b, i)
        acc &+= dv.replacing(with: 0 &- dv, where: dv .< 0)
        i += 16
    }
    var s = acc.wrappedSum()
    while i < n { s &+= abs(Int32(a[i]) - Int32(b[i])); i += 1 }
    return s
}

/// Number of differing bits of two bit vectors of `nBytes` bytes.
@inlinable @inline(__always)
public func hamming(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ nBytes: Int) -> Int {
    var s = 0
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= nBytes {
        s += (ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ rb.loadUnaligned(fromByteOffset: i, as: UInt64.self)).nonzeroBitCount
        i += 8
    }
    while i < nBytes { s += (a[i] ^ b[i]).nonzeroBitCount; i += 1 }
    return s
}

// int8 kernels for the scan, in float32 lanes: baseline x86-64 (SSE2) has no 32-bit integer
// multiply, while int8 -> float conversion and float multiply are cheap. Exact while the sums
// stay below 2^24 (e.g. L2 of 384-d vectors up to |diff| ~ 200 per element), float32-rounded beyond,
// which is the precision the distance column reports anyway.

@inlinable @inline(__always)
func load16f(_ p: UnsafePointer<Int8>, _ i: Int) -> SIMD16<Float> {
    SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<Int8>.self)))
}

/// Squared L2 of two int8 vectors, in float32 lanes.
@inlinable @inline(__always)
public func l2sqI8f(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let d = load16f(a, i) - load16f(b, i)
        acc += d * d
        i += 16
    }
    var s = acc.sum()
    while i < n { let d = Float(a[i]) - Float(b[i]); s += d * d; i += 1 }
    return s
}

/// Dot product and squared norm of `b`, int8 inputs, float32 lanes.
@inlinable @inline(__always)
public func dotNormI8f(_ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>, _ n: Int) -> (Float, Float) {
    var d = SIMD16<Float>(), m = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let y = load16f(b, i)
        d += load16f(a, i) * y
        m += y * y
        i += 16
    }
    var dot = d.sum(), mag = m.sum()
    while i < n { dot += Float(a[i]) * Float(b[i]); mag += Float(b[i]) * Float(b[i]); i += 1 }
    return (dot, mag)
}
