import CLecternKernels
import Dispatch
import Foundation

/// Arithmetic of the encoder's linear layers (the embedder's fingerprint carries it when it is
/// not the default, so vectors of different precisions never mix).
public enum Precision: String, Codable, Sendable, CaseIterable {
    /// fp32 weights and activations, fp32 FMAs: the reference vectors' precision.
    case fp32
    /// Weights and the linear layers' inputs rounded to bfloat16, products summed in fp32
    /// (AVX512_BF16 `vdpbf16ps`); everything else (attention, GELU, LayerNorm, pooling) fp32.
    case bf16
}

/// Which GEMM kernel runs: chosen once per process from cpuid.
public enum GemmKernel: String, Sendable {
    /// The Swift 6x16 SIMD8 kernel (AVX2+FMA): every x86-64 CPU of the last decade.
    case avx2 = "avx2-swift"
    /// The C 12x32 zmm kernel (AVX-512F).
    case avx512 = "avx512-c"
    /// The C 12x32 `vdpbf16ps` kernel (AVX512_BF16).
    case bf16 = "avx512bf16-c"

    /// `LECTERN_EMBED_KERNEL=avx2` makes the process behave as on a CPU without AVX-512 (tests, benchmarks).
    static let pretendAVX2Only = ProcessInfo.processInfo.environment["LECTERN_EMBED_KERNEL"] == "avx2"
    /// The CPU has AVX-512F with zmm state enabled by the OS.
    public static let cpuHasAVX512 = !pretendAVX2Only && lectern_cpu_has_avx512f() != 0
    /// The CPU has AVX512_BF16.
    public static let cpuHasBF16 = !pretendAVX2Only && lectern_cpu_has_avx512bf16() != 0

    /// The fp32 kernel for this process: the AVX-512 C kernel on CPUs that have it (2.2-2.4x
    /// sentence-transformers end to end), else the portable Swift one.
    public static let fp32: GemmKernel = cpuHasAVX512 ? .avx512 : .avx2

    /// The kernel for `precision`, or a clear error where the CPU cannot run it.
    public static func kernel(for precision: Precision) throws -> GemmKernel {
        switch precision {
        case .fp32: return fp32
        case .bf16:
            guard cpuHasBF16 else {
                throw EmbedError.unsupportedCPU("--precision bf16 needs a CPU with AVX512_BF16 (Intel Cooper Lake or "
                    + "Sapphire Rapids and later, AMD Zen 4 and later); this one lacks it (cpuid leaf 7.1 EAX bit 5): use fp32")
            }
            return .bf16
        }
    }
}

/// A linear layer `y = x Wᵀ + b` with `W` (PyTorch layout, `outFeatures x inFeatures`) packed
/// once into panels of `nr` output columns: panel `p` holds, for each input index `k`, the
/// `nr` weights `W[nr·p ..< nr·p+nr][k]` contiguously (bf16: for each input pair, the pairs of
/// the 32 columns), so the micro-kernel streams it with aligned vector loads.
struct PackedLinear: @unchecked Sendable {
    let outFeatures: Int
    let inFeatures: Int
    let kernel: GemmKernel
    /// fp32 panels (avx2: 16 wide, avx512: 32 wide); empty for bf16.
    let panels: AlignedBuffer
    /// bf16 panels (32 wide), for the bf16 kernel only (in a float buffer of half the count).
    let panels16: UnsafeMutablePointer<UInt16>?
    let storage16: AlignedBuffer?
    let bias: AlignedBuffer

    var nr: Int { kernel == .avx2 ? 16 : 32 }

    /// `weight` is `outFeatures x inFeatures` row-major; `outFeatures` must be a multiple of 32.
    init(weight: [Float], bias: [Float], outFeatures: Int, inFeatures: Int, name: String, kernel: GemmKernel = .fp32) throws {
        guard outFeatures % 32 == 0, inFeatures % 2 == 0, weight.count == outFeatures * inFeatures, bias.count == outFeatures else {
            throw EmbedError.badModel(name, "linear layer \(outFeatures)x\(inFeatures) is not supported (output size must be a multiple of 32, input size even)")
        }
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.kernel = kernel
        self.bias = AlignedBuffer(bias)
        switch kernel {
        case .avx2:
            let panels = AlignedBuffer(count: outFeatures * inFeatures)
            weight.withUnsafeBufferPointer { w in
                for p in 0..<(outFeatures / 16) {
                    let dst = panels.pointer + p * inFeatures * 16
                    for k in 0..<inFeatures {
                        for c in 0..<16 { dst[k * 16 + c] = w[(p * 16 + c) * inFeatures + k] }
                    }
                }
            }
            self.panels = panels
            panels16 = nil
            storage16 = nil
        case .avx512:
            let panels = AlignedBuffer(count: outFeatures * inFeatures)
            weight.withUnsafeBufferPointer { lectern_pack_f32($0.baseAddress!, Int32(outFeatures), Int32(inFeatures), panels.pointer) }
            self.panels = panels
            panels16 = nil
            storage16 = nil
        case .bf16:
            let storage = AlignedBuffer(count: outFeatures * inFeatures / 2)
            let p16 = UnsafeMutableRawPointer(storage.pointer).assumingMemoryBound(to: UInt16.self)
            storage16 = storage
            weight.withUnsafeBufferPointer { lectern_pack_bf16($0.baseAddress!, Int32(outFeatures), Int32(inFeatures), p16) }
            panels = AlignedBuffer(count: 0)
            panels16 = p16
        }
    }

    /// `y[rows x out] = x[rows x in] Wᵀ + b` (then GELU with `gelu`), rows a multiple of `Sgemm.mr`; both cores.
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, gelu: Bool = false) {
        if Sgemm.run(a: x, rows: rows, lda: inFeatures, w: self, c: y, ldc: outFeatures, gelu: gelu) != gelu {
            let chunks = max(1, min(64, rows / 32)), w = outFeatures, addr = UInt(bitPattern: y)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let r0 = rows * c / chunks, r1 = rows * (c + 1) / chunks
                VectorMath.gelu(UnsafeMutablePointer<Float>(bitPattern: addr)! + r0 * w, count: (r1 - r0) * w)
            }
        }
    }
}
