import CLecternKernels
import Dispatch
import Foundation

/// Measurements for the benchmark: this CPU's FMA peak and the SGEMM kernel's throughput, both
/// compiled with the encoder's flags so the comparison is like for like.
public enum KernelProbe {
    /// FLOP/s of independent SIMD8 FMA chains (12 per core: enough to hide FMA latency), all cores.
    public static func fmaPeak(iterations: Int = 20_000_000) -> Double {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: cores)
        defer { sink.deallocate() }
        let start = DispatchTime.now().uptimeNanoseconds
        let sinkAddr = UInt(bitPattern: sink)
        DispatchQueue.concurrentPerform(iterations: cores) { c in
            typealias V = SIMD8<Float>
            var a0 = V(repeating: 1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0
            var a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
            let y = V(repeating: 1e-7), x = V(repeating: -1e-7)
            for _ in 0..<iterations {
                a0 = a0.addingProduct(a0, y); a1 = a1.addingProduct(a1, y); a2 = a2.addingProduct(a2, y)
                a3 = a3.addingProduct(a3, y); a4 = a4.addingProduct(a4, y); a5 = a5.addingProduct(a5, y)
                a6 = a6.addingProduct(a6, x); a7 = a7.addingProduct(a7, x); a8 = a8.addingProduct(a8, x)
                a9 = a9.addingProduct(a9, x); a10 = a10.addingProduct(a10, x); a11 = a11.addingProduct(a11, x)
            }
            UnsafeMutablePointer<Float>(bitPattern: sinkAddr)![c] = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
        }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(cores * iterations * 12 * 8 * 2) / secs
    }

    /// FLOP/s of independent zmm FMA chains (AVX-512F), all cores; nil without AVX-512.
    public static func fmaPeakAVX512(iterations: Int = 20_000_000) -> Double? {
        guard GemmKernel.cpuHasAVX512 else { return nil }
        return allCores { lectern_fma_avx512_probe(iterations, $0) }
    }

    /// FLOP/s (2 per multiply-add) of independent `vdpbf16ps` chains, all cores; nil without AVX512_BF16.
    public static func bf16Peak(iterations: Int = 20_000_000) -> Double? {
        guard GemmKernel.cpuHasBF16 else { return nil }
        return allCores { lectern_bf16_probe(iterations, $0) }
    }

    private static func allCores(_ body: @Sendable (UnsafeMutablePointer<Float>) -> Double) -> Double {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let sink = UnsafeMutablePointer<Float>.allocate(capacity: cores)
        defer { sink.deallocate() }
        let sinkAddr = UInt(bitPattern: sink)
        let flops = UnsafeMutablePointer<Double>.allocate(capacity: cores)
        defer { flops.deallocate() }
        let fAddr = UInt(bitPattern: flops)
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: cores) { c in
            UnsafeMutablePointer<Double>(bitPattern: fAddr)![c] = body(UnsafeMutablePointer<Float>(bitPattern: sinkAddr)! + c)
        }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (0..<cores).reduce(0) { $0 + flops[$1] } / secs
    }

    /// FLOP/s of the packed SGEMM on the encoder's largest shape (rows x 384 -> 1536), both
    /// cores, with `kernel` (default: the fp32 kernel the encoder uses on this CPU).
    public static func sgemmThroughput(rows: Int = 3072, repeats: Int = 5, kernel: GemmKernel = .fp32) throws -> Double {
        let k = 384, n = 1536
        var w = [Float](repeating: 0, count: n * k)
        for i in w.indices { w[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
        let lin = try PackedLinear(weight: w, bias: [Float](repeating: 0.1, count: n), outFeatures: n, inFeatures: k, name: "probe", kernel: kernel)
        let a = AlignedBuffer(count: rows * k), c = AlignedBuffer(count: rows * n)
        for i in 0..<(rows * k) { a.pointer[i] = Float(i % 97) / 97 }
        lin.apply(a.pointer, rows: rows, into: c.pointer)
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<repeats { lin.apply(a.pointer, rows: rows, into: c.pointer) }
        let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Double(repeats) * 2 * Double(rows * k * n) / secs
    }
}
