import CLecternKernels
import Dispatch

/// Multi-head self-attention over packed sequences, one task per (sequence, head), both cores.
/// Keys are transposed per task so the scores of one query against all keys are SIMD FMAs
/// along the key axis (no horizontal sums); softmax uses `VectorMath.exp`.
enum Attention {
    typealias V = SIMD8<Float>

    /// `qkv` rows are `[q | k | v]` (3·hidden wide); writes the concatenated heads into `out`
    /// (hidden wide), for the rows of each sequence only.
    static func run(qkv: UnsafePointer<Float>, starts: [Int], lengths: [Int], hidden: Int, heads: Int,
                    into out: UnsafeMutablePointer<Float>, avx512: Bool = false) {
        let d = hidden / heads
        let scale = 1 / Float(d).squareRoot()
        let qAddr = UInt(bitPattern: qkv), oAddr = UInt(bitPattern: out)
        let tasks = starts.count * heads
        if avx512, d == 32 {
            // The C kernel: scores and context as 12x32 zmm tiles (two small GEMMs per head).
            DispatchQueue.concurrentPerform(iterations: tasks) { task in
                let qkv = UnsafePointer<Float>(bitPattern: qAddr)!, out = UnsafeMutablePointer<Float>(bitPattern: oAddr)!
                let s = task / heads, head = task % heads
                let n = Int32(lengths[s])
                KernelWorkspace.shared.withBuffer(floats: lectern_attention32_work_floats(n)) { work in
                    lectern_attention32_avx512(qkv + starts[s] * 3 * hidden + head * d, Int32(3 * hidden), Int32(hidden),
                                               n, scale, out + starts[s] * hidden + head * d, Int32(hidden), work)
                }
            }
            return
        }
        DispatchQueue.concurrentPerform(iterations: tasks) { task in
            let qkv = UnsafePointer<Float>(bitPattern: qAddr)!, out = UnsafeMutablePointer<Float>(bitPattern: oAddr)!
            let s = task / heads, head = task % heads
            let n = lengths[s], base = starts[s], stride = 3 * hidden
            let np = (n + 31) / 32 * 32
            let kT = UnsafeMutablePointer<Float>.allocate(capacity: d * np)
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: np)
            defer { kT.deallocate(); scores.deallocate() }
            kT.initialize(repeating: 0, count: d * np)
            for j in 0..<n {
                let krow = qkv + (base + j) * stride + hidden + head * d
                for c in 0..<d { kT[c * np + j] = krow[c] }
            }
            let sraw = UnsafeMutableRawPointer(scores), kraw = UnsafeRawPointer(kT)
            for i in 0..<n {
                let q = qkv + (base + i) * stride + head * d
                // 32 scores at a time: four independent FMA chains hide the FMA latency.
                var jb = 0
                while jb < np {
                    var s0 = V(), s1 = V(), s2 = V(), s3 = V()
                    for c in 0..<d {
                        let qc = V(repeating: q[c])
                        let row = kraw + (c * np + jb) * 4
                        s0 = s0.addingProduct(qc, row.loadUnaligned(as: V.self))
                        s1 = s1.addingProduct(qc, row.loadUnaligned(fromByteOffset: 32, as: V.self))
                        s2 = s2.addingProduct(qc, row.loadUnaligned(fromByteOffset: 64, as: V.self))
                        s3 = s3.addingProduct(qc, row.loadUnaligned(fromByteOffset: 96, as: V.self))
                    }
                    sraw.storeBytes(of: s0 * scale, toByteOffset: jb * 4, as: V.self)
                    sraw.storeBytes(of: s1 * scale, toByteOffset: jb * 4 + 32, as: V.self)
                    sraw.storeBytes(of: s2 * scale, toByteOffset: jb * 4 + 64, as: V.self)
                    sraw.storeBytes(of: s3 * scale, toByteOffset: jb * 4 + 96, as: V.self)
                    jb += 32
                }
                var mx = -Float.infinity
                for j in 0..<n { mx = max(mx, scores[j]) }
                for j in n..<np { scores[j] = -Float.infinity }
                var sum = V()
                jb = 0
                while jb < np {
                    let e = VectorMath.exp(sraw.loadUnaligned(fromByteOffset: jb * 4, as: V.self) - mx)
                    // Padding lanes hold -inf - mx; exp clamps, so zero them explicitly.
                    let masked = jb + 8 <= n ? e : e.replacing(with: 0, where: SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) &+ Int32(jb) .>= Int32(n))
                    sraw.storeBytes(of: masked, toByteOffset: jb * 4, as: V.self)
                    sum += masked
                    jb += 8
                }
                let inv = 1 / sum.sum()
                let o = out + (base + i) * hidden + head * d
                let oraw = UnsafeMutableRawPointer(o)
                // One pass over the value rows per 32 output dims (4 accumulators): each row is
                // a strided load, so touching it once instead of d/8 times is what matters.
                var c = 0
                while c + 32 <= d {
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                    for j in 0..<n {
                        let v = UnsafeRawPointer(qkv + (base + j) * stride + 2 * hidden + head * d + c)
                        let p = V(repeating: scores[j])
                        a0 = a0.addingProduct(p, v.loadUnaligned(as: V.self))
                        a1 = a1.addingProduct(p, v.loadUnaligned(fromByteOffset: 32, as: V.self))
                        a2 = a2.addingProduct(p, v.loadUnaligned(fromByteOffset: 64, as: V.self))
                        a3 = a3.addingProduct(p, v.loadUnaligned(fromByteOffset: 96, as: V.self))
                    }
                    oraw.storeBytes(of: a0 * inv, toByteOffset: c * 4, as: V.self)
                    oraw.storeBytes(of: a1 * inv, toByteOffset: c * 4 + 32, as: V.self)
                    oraw.storeBytes(of: a2 * inv, toByteOffset: c * 4 + 64, as: V.self)
                    oraw.storeBytes(of: a3 * inv, toByteOffset: c * 4 + 96, as: V.self)
                    c += 32
                }
                while c < d {
                    var acc = V()
                    for j in 0..<n {
                        let v = UnsafeRawPointer(qkv + (base + j) * stride + 2 * hidden + head * d + c).loadUnaligned(as: V.self)
                        acc = acc.addingProduct(V(repeating: scores[j]), v)
                    }
                    oraw.storeBytes(of: acc * inv, toByteOffset: c * 4, as: V.self)
                    c += 8
                }
            }
        }
    }
}
