import CLecternKernels
import Dispatch

/// The encoder's hot kernel: a blocked SGEMM `C = A · Wᵀ + bias` against weights pre-packed
/// by `PackedLinear`. Goto-style loop order: row blocks of `mc` rows are the parallel tasks
/// (A block stays in L2), `kc`-deep slices of the packed panel (16 KiB) stay in L1 while the
/// 6x16 micro-kernel walks the row block. The micro-kernel keeps 12 AVX2 accumulators
/// (6 rows x 2 halves of a SIMD16) and issues one broadcast + 2 FMAs per row per k.
///
/// On AVX-512 CPUs the C kernels of `CLecternKernels` (12x32 zmm, fp32 or bf16) do the same
/// with twice the vector width; this file then only splits the rows between the cores.
enum Sgemm {
    /// Rows are padded to a multiple of this (12: the C kernels' tile; the Swift one takes 6).
    static let mr = 12
    static let swiftMR = 6
    static let mc = 96   // rows per task (16 micro-tiles)
    static let kc = 256  // depth per pass: a 256 x 16 panel slice is 16 KiB

    /// `gelu`: the C kernels apply GELU before storing; the Swift path returns false and leaves it to the caller.
    @discardableResult
    static func run(a: UnsafePointer<Float>, rows: Int, lda: Int, w: PackedLinear,
                    c: UnsafeMutablePointer<Float>, ldc: Int, gelu: Bool = false) -> Bool {
        precondition(rows % mr == 0, "rows must be padded to a multiple of \(mr)")
        let k = w.inFeatures, n = w.outFeatures
        let blocks = (rows + mc - 1) / mc
        let bias = UnsafePointer(w.bias.pointer), packed = UnsafePointer(w.panels.pointer)
        let aAddr = UInt(bitPattern: a), cAddr = UInt(bitPattern: c)
        if w.kernel != .avx2 {
            let p16 = w.panels16.map { UnsafePointer($0) }
            DispatchQueue.concurrentPerform(iterations: blocks) { blk in
                let a = UnsafePointer<Float>(bitPattern: aAddr)!, c = UnsafeMutablePointer<Float>(bitPattern: cAddr)!
                let r0 = Int32(blk * mc), r1 = Int32(min(rows, blk * mc + mc))
                KernelWorkspace.shared.withBuffer(floats: lectern_sgemm_work_floats(r1 - r0)) { work in
                    if let p16 {
                        lectern_sgemm_bf16_avx512(a, Int32(lda), p16, bias, c, Int32(ldc), r0, r1, Int32(k), Int32(n), gelu ? 1 : 0, work)
                    } else {
                        lectern_sgemm_f32_avx512(a, Int32(lda), packed, bias, c, Int32(ldc), r0, r1, Int32(k), Int32(n), gelu ? 1 : 0, work)
                    }
                }
            }
            return gelu
        }
        let nr = 16, mr = swiftMR
        let panelCount = n / nr
        DispatchQueue.concurrentPerform(iterations: blocks) { blk in
            let a = UnsafePointer<Float>(bitPattern: aAddr)!, c = UnsafeMutablePointer<Float>(bitPattern: cAddr)!
            let r0 = blk * mc, r1 = min(rows, r0 + mc)
            var p0 = 0
            while p0 < k {
                let depth = min(kc, k - p0)
                for p in 0..<panelCount {
                    let panel = packed + p * k * nr + p0 * nr
                    let biasP: UnsafePointer<Float>? = p0 == 0 ? bias + p * nr : nil
                    var r = r0
                    while r < r1 {
                        kernel6x16(a: a + r * lda + p0, lda: lda, b: panel, depth: depth,
                                   c: c + r * ldc + p * nr, ldc: ldc, bias: biasP)
                        r += mr
                    }
                }
                p0 += depth
            }
        }
        return false
    }

    /// C[6 x 16] = (bias or C) + A[6 x depth] · B[depth x 16]. `bias == nil` accumulates onto C.
    @inline(__always)
    static func kernel6x16(a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, depth: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?) {
        typealias V = SIMD8<Float>
        var c00: V, c01: V, c10: V, c11: V, c20: V, c21: V, c30: V, c31: V, c40: V, c41: V, c50: V, c51: V
        if let bias {
            let lo = UnsafeRawPointer(bias).loadUnaligned(as: V.self)
            let hi = UnsafeRawPointer(bias + 8).loadUnaligned(as: V.self)
            c00 = lo; c01 = hi; c10 = lo; c11 = hi; c20 = lo; c21 = hi
            c30 = lo; c31 = hi; c40 = lo; c41 = hi; c50 = lo; c51 = hi
        } else {
            func ld(_ i: Int, _ h: Int) -> V { UnsafeRawPointer(c + i * ldc + 8 * h).loadUnaligned(as: V.self) }
            c00 = ld(0, 0); c01 = ld(0, 1); c10 = ld(1, 0); c11 = ld(1, 1); c20 = ld(2, 0); c21 = ld(2, 1)
            c30 = ld(3, 0); c31 = ld(3, 1); c40 = ld(4, 0); c41 = ld(4, 1); c50 = ld(5, 0); c51 = ld(5, 1)
        }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda
        let braw = UnsafeRawPointer(b)
        for kk in 0..<depth {
            let b0 = braw.load(fromByteOffset: kk * 64, as: V.self)
            let b1 = braw.load(fromByteOffset: kk * 64 + 32, as: V.self)
            var x = V(repeating: a0[kk]); c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
            x = V(repeating: a1[kk]); c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
            x = V(repeating: a2[kk]); c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
            x = V(repeating: a3[kk]); c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
            x = V(repeating: a4[kk]); c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
            x = V(repeating: a5[kk]); c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        }
        func st(_ i: Int, _ h: Int, _ v: V) { UnsafeMutableRawPointer(c + i * ldc + 8 * h).storeBytes(of: v, as: V.self) }
        st(0, 0, c00); st(0, 1, c01); st(1, 0, c10); st(1, 1, c11); st(2, 0, c20); st(2, 1, c21)
        st(3, 0, c30); st(3, 1, c31); st(4, 0, c40); st(4, 1, c41); st(5, 0, c50); st(5, 1, c51)
    }
}
