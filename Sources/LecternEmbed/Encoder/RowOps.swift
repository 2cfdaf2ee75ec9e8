import Dispatch
import Foundation

/// Row-wise operations of the encoder: LayerNorm (with the residual add fused in) and the
/// final mean pooling + L2 normalisation.
enum RowOps {
    typealias V = SIMD8<Float>

    /// `x = LayerNorm(x)` over `rows` rows of `width`, both cores.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                          gamma: [Float], beta: [Float], eps: Float) {
        addLayerNorm(nil, residual: x, rows: rows, width: width, gamma: gamma, beta: beta, eps: eps)
    }

    /// `residual = LayerNorm(y + residual)` row by row (`y == nil`: LayerNorm of `residual`).
    static func addLayerNorm(_ y: UnsafePointer<Float>?, residual x: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                             gamma: [Float], beta: [Float], eps: Float) {
        precondition(width % 8 == 0)
        let yAddr = y.map { UInt(bitPattern: $0) }, xAddr = UInt(bitPattern: x)
        let chunks = max(1, min(64, rows / 16))
        gamma.withUnsafeBufferPointer { g in
            beta.withUnsafeBufferPointer { b in
                let graw = UnsafeRawPointer(g.baseAddress!), braw = UnsafeRawPointer(b.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    let x = UnsafeMutablePointer<Float>(bitPattern: xAddr)!
                    let y = yAddr.map { UnsafePointer<Float>(bitPattern: $0)! }
                    for r in (rows * c / chunks)..<(rows * (c + 1) / chunks) {
                        let xr = UnsafeMutableRawPointer(x + r * width)
                        let yr = y.map { UnsafeRawPointer($0 + r * width) }
                        var s = V()
                        var j = 0
                        while j < width {
                            var v = xr.loadUnaligned(fromByteOffset: j * 4, as: V.self)
                            if let yr { v += yr.loadUnaligned(fromByteOffset: j * 4, as: V.self) }
                            xr.storeBytes(of: v, toByteOffset: j * 4, as: V.self)
                            s += v
                            j += 8
                        }
                        let mean = s.sum() / Float(width)
                        var q = V()
                        j = 0
                        while j < width {
                            let dlt = xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) - mean
                            q = q.addingProduct(dlt, dlt)
                            j += 8
                        }
                        let inv = 1 / (q.sum() / Float(width) + eps).squareRoot()
                        j = 0
                        while j < width {
                            let v = (xr.loadUnaligned(fromByteOffset: j * 4, as: V.self) - mean) * inv
                            let o = v * graw.loadUnaligned(fromByteOffset: j * 4, as: V.self)
                                + braw.loadUnaligned(fromByteOffset: j * 4, as: V.self)
                            xr.storeBytes(of: o, toByteOffset: j * 4, as: V.self)
                            j += 8
                        }
                    }
                }
            }
        }
    }

    /// Mean of each sequence's rows, then L2-normalised (sentence-transformers' Pooling +
    /// Normalize). Accumulates in Double: pooling sums up to 512 rows.
    static func meanPoolNormalize(_ x: UnsafePointer<Float>, starts: [Int], lengths: [Int], width: Int) -> [Float] {
        var out = [Float](repeating: 0, count: starts.count * width)
        var acc = [Double](repeating: 0, count: width)
        for s in 0..<starts.count {
            for j in 0..<width { acc[j] = 0 }
            for r in starts[s]..<(starts[s] + lengths[s]) {
                let row = x + r * width
                for j in 0..<width { acc[j] += Double(row[j]) }
            }
            var norm = 0.0
            for j in 0..<width { acc[j] /= Double(lengths[s]); norm += acc[j] * acc[j] }
            let inv = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<width { out[s * width + j] = Float(acc[j] * inv) }
        }
        return out
    }
}
