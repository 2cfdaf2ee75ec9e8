import LecternKernels
/// Distance metrics of the virtual table and the `vec_distance_*` functions.
public enum Metric: String, Sendable, CaseIterable {
    case l2, cosine, l1, dot, hamming
}

/// The distance of two vectors of the same type and dimension count, as sqlite-vec defines it:
/// L2 is the Euclidean distance (not squared), cosine is 1 - cos, L1 the Manhattan distance,
/// dot the negative inner product (smaller is closer), hamming the count of differing bits.
@inline(__always)
func distance(_ metric: Metric, _ type: ElementType, _ a: UnsafeRawPointer, _ b: UnsafeRawPointer, dims: Int) -> Double {
    switch type {
    case .float32:
        let x = a.assumingMemoryBound(to: Float.self), y = b.assumingMemoryBound(to: Float.self)
        switch metric {
        case .l2: return Double(l2sqF32(x, y, dims).squareRoot())
        case .cosine:
            // Sums in float32, the quotient in Double, the result rounded to float32: sqlite-vec's
            // arithmetic (C's double sqrt(), returned as f32), so
            // `vec_distance_cosine('[1.1,1.0]','[1.2,1.2]')` is 0.001131898257881 to the last bit.
            let (d, nb) = dotAndNormF32(x, y, dims)
            let na = dot(x, x, dims)
            return Double(Float(1 - Double(d) / (Double(na).squareRoot() * Double(nb).squareRoot())))
        case .l1: return l1F32(x, y, dims)
        case .dot: return Double(-dot(x, y, dims))
        case .hamming: return .nan
        }
    case .int8:
        let x = a.assumingMemoryBound(to: Int8.self), y = b.assumingMemoryBound(to: Int8.self)
        switch metric {
        case .l2: return Double(Float(l2sqI8(x, y, dims)).squareRoot())
        case .cosine:
            let (d, na, nb) = dotNormsI8(x, y, dims)
            return Double(1 - Float(d) / (Float(na).squareRoot() * Float(nb).squareRoot()))
        case .l1: return Double(l1I8(x, y, dims))
        case .dot: return Double(-dotNormsI8(x, y, dims).0)
        case .hamming: return .nan
        }
    case .bit:
        return Double(hamming(a.assumingMemoryBound(to: UInt8.self), b.assumingMemoryBound(to: UInt8.self), dims / 8))
    }
}
