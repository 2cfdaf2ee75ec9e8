/// Vectorised elementary functions for the encoder (Swift has no SIMD `exp`/`erf`; scalar
/// libm calls would cost more than the matrix multiplies they sit between).
enum VectorMath {
    typealias V = SIMD8<Float>

    /// e^x, relative error ~2e-7 on [-87, 88]: x = n·ln2 + r, |r| <= ln2/2, degree-6 polynomial.
    @inline(__always)
    static func exp(_ x: V) -> V {
        // Generic SIMD conversions (Int32(rounding:), clamped) are scalar loops in Swift's
        // stdlib; the magic-number trick keeps everything in vector registers:
        // t = x·log2e + 1.5·2^23 rounds to nearest and leaves n in the low mantissa bits.
        let lo = V(repeating: -87.3), hi = V(repeating: 88.3)
        var xc = x.replacing(with: lo, where: x .< lo)
        xc = xc.replacing(with: hi, where: xc .> hi)
        let magic = V(repeating: 12582912)  // 0x4B400000
        let t = xc * V(repeating: 1.442695041) + magic
        let n = t - magic
        var r = xc.addingProduct(n, V(repeating: -0.693145752))
        r = r.addingProduct(n, V(repeating: -1.428606765e-6))
        var p = V(repeating: 1.0 / 720) * r + V(repeating: 1.0 / 120)
        p = p * r + V(repeating: 1.0 / 24)
        p = p * r + V(repeating: 1.0 / 6)
        p = p * r + V(repeating: 0.5)
        p = p * r + V(repeating: 1)
        p = p * r + V(repeating: 1)
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((ni &+ 127) &<< 23, to: V.self)
        return p * scale
    }

    /// erf(x) by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), sign-symmetric.
    @inline(__always)
    static func erf(_ x: V) -> V {
        let ax = x.replacing(with: -x, where: x .< 0)
        let t = V(repeating: 1) / (V(repeating: 1) + V(repeating: 0.3275911) * ax)
        var y = V(repeating: 1.061405429)
        y = y * t + V(repeating: -1.453152027)
        y = y * t + V(repeating: 1.421413741)
        y = y * t + V(repeating: -0.284496736)
        y = y * t + V(repeating: 0.254829592)
        y = y * t
        let e = V(repeating: 1) - y * exp(-(ax * ax))
        return e.replacing(with: -e, where: x .< 0)
    }

    /// GELU with the exact erf form, as BERT's `hidden_act = "gelu"`: 0.5·x·(1 + erf(x/√2)), in place.
    static func gelu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        precondition(count % 8 == 0)
        let raw = UnsafeMutableRawPointer(p)
        var i = 0
        while i < count {
            let x = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
            let half = V(repeating: 0.5) * x
            let y = half + half * erf(x * V(repeating: 0.70710678118654752))
            raw.storeBytes(of: y, toByteOffset: i * 4, as: V.self)
            i += 8
        }
    }
}
