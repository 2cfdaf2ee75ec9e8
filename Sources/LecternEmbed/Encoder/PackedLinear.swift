import Dispatch

/// A linear layer `y = x Wᵀ + b` with `W` (PyTorch layout, `outFeatures x inFeatures`) packed
/// once into panels of 16 output columns: panel `p` holds, for each input index `k`, the 16
/// weights `W[16p ..< 16p+16][k]` contiguously, so the micro-kernel streams it with aligned
/// `SIMD16` loads.
struct PackedLinear: @unchecked Sendable {
    static let nr = 16
    let outFeatures: Int
    let inFeatures: Int
    let panels: AlignedBuffer
    let bias: AlignedBuffer

    /// `weight` is `outFeatures x inFeatures` row-major; `outFeatures` must be a multiple of 16.
    init(weight: [Float], bias: [Float], outFeatures: Int, inFeatures: Int, name: String) throws {
        guard outFeatures % Self.nr == 0, weight.count == outFeatures * inFeatures, bias.count == outFeatures else {
            throw EmbedError.badModel(name, "linear layer \(outFeatures)x\(inFeatures) is not supported (output size must be a multiple of 16)")
        }
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        let panels = AlignedBuffer(count: outFeatures * inFeatures)
        weight.withUnsafeBufferPointer { w in
            for p in 0..<(outFeatures / Self.nr) {
                let dst = panels.pointer + p * inFeatures * Self.nr
                for k in 0..<inFeatures {
                    for c in 0..<Self.nr { dst[k * Self.nr + c] = w[(p * Self.nr + c) * inFeatures + k] }
                }
            }
        }
        self.panels = panels
        self.bias = AlignedBuffer(bias)
    }

    /// `y[rows x out] = x[rows x in] Wᵀ + b`, rows a multiple of `Sgemm.mr`; both cores.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Sgemm.run(a: x, rows: rows, lda: inFeatures, w: self, c: y, ldc: outFeatures)
    }
}
