// Times the Swift MiniLM encoder on the 1000 PubMedQA abstracts (fp32, then bf16 where the CPU
// has AVX512_BF16), reports the FLOP floor against this CPU's measured peaks, and the bf16
// vectors' cosines to the fp32 ones. Run through benchmarks/embed/run.sh (which also times
// sentence-transformers and prints the ratio).
import Foundation
import LecternEmbed

func gf(_ x: Double) -> String { String(format: "%.1f", x / 1e9) }

let args = CommandLine.arguments
if args.contains("--probe-only") {
    let peak = KernelProbe.fmaPeak(), sgemm = try KernelProbe.sgemmThroughput()
    print("FMA peak AVX2 \(gf(peak)) GFLOP/s; AVX-512 \(KernelProbe.fmaPeakAVX512().map(gf) ?? "n/a"); "
          + "bf16 dot \(KernelProbe.bf16Peak().map(gf) ?? "n/a"); SGEMM (\(GemmKernel.fp32.rawValue)) \(gf(sgemm)) GFLOP/s")
    exit(0)
}
let pqal = args.count > 1 && !args[1].hasPrefix("-") ? args[1]
    : (ProcessInfo.processInfo.environment["LECTERN_SHARED_DATA"] ?? "../shared/data") + "/pubmedqa/ori_pqal.json"
guard let data = FileManager.default.contents(atPath: pqal),
      let json = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
    FileHandle.standardError.write("cannot read PubMedQA at \(pqal)\n".data(using: .utf8)!)
    exit(2)
}
// The same set as st_bench.py (order does not matter: both sort by length before batching).
let ids = json.keys.sorted()
let texts = ids.map { (json[$0]!["CONTEXTS"] as! [String]).joined(separator: " ") }

struct Timing { var total: Double; var tokenize: Double; var encode: Double; var vectors: [Float] }

/// Tokenize + encode all texts (the work of `lectern embed` minus SQLite), after a warm-up.
func time(_ e: MiniLMEmbedder) throws -> Timing {
    _ = try e.embed(Array(texts.prefix(16)))  // page in weights, spin up threads
    let t0 = Date()
    let tokenized = e.tokenizeAll(texts)
    let t1 = Date()
    let v = try e.embed(tokenized: tokenized)
    let t2 = Date()
    return Timing(total: t2.timeIntervalSince(t0), tokenize: t1.timeIntervalSince(t0), encode: t2.timeIntervalSince(t1), vectors: v)
}

let fp32 = try MiniLMEmbedder(install: true)
// (LECTERN_BENCH_TOKENS: token rows per forward pass, to try other batch sizes.)
if let t = ProcessInfo.processInfo.environment["LECTERN_BENCH_TOKENS"].flatMap(Int.init) { fp32.tokensPerBatch = t }
let tokens = texts.map { fp32.sequences(for: $0)[0].count }
let floor = tokens.reduce(0.0) { $0 + fp32.encoder.flops(tokens: $1) }
let n = Double(texts.count)

let f = try time(fp32)
// Peaks right after the run they judge (the machine is shared: nearby in time is the best we have).
let peak2 = KernelProbe.fmaPeak(), peak512 = KernelProbe.fmaPeakAVX512()
let sgemm = try KernelProbe.sgemmThroughput()
let peak = max(peak2, peak512 ?? 0)
let cores = ProcessInfo.processInfo.activeProcessorCount

print("swift fp32 (\(GemmKernel.fp32.rawValue) kernel): " + String(format: "%d docs in %.2f s = %.1f docs/s (tokenize %.2f s, encode %.2f s)",
             texts.count, f.total, n / f.total, f.tokenize, f.encode))
print(String(format: "swift: %d tokens (mean %.1f/doc, max %d); FLOP floor %.2f GFLOP/doc, %.2f TFLOP in all",
             tokens.reduce(0, +), Double(tokens.reduce(0, +)) / n, tokens.max() ?? 0, floor / n / 1e9, floor / 1e12))
print("swift: measured fp32 FMA peak (\(cores) cores): AVX2 \(gf(peak2)) GFLOP/s, AVX-512 \(peak512.map(gf) ?? "n/a") GFLOP/s")
print(String(format: "swift fp32: encoder %.1f GFLOP/s = %.0f%% of the AVX2 FMA peak, %.0f%% of the machine's fp32 peak (%.1f GFLOP/s); SGEMM alone %.1f GFLOP/s",
             floor / f.encode / 1e9, 100 * floor / f.encode / peak2, 100 * floor / f.encode / peak, peak / 1e9, sgemm / 1e9))
print(String(format: "SWIFT_DOCS_PER_S=%.3f", n / f.total))
print(String(format: "SWIFT_ENCODER_PCT_PEAK=%.1f", 100 * floor / f.encode / peak))

if args.contains("--fp32-only") {
    // (run.sh's first run: fp32 only)
} else if GemmKernel.cpuHasBF16 {
    let bf = try MiniLMEmbedder(install: true, precision: .bf16)
    let b = try time(bf)
    let bpeak = KernelProbe.bf16Peak() ?? 0
    var worst = 1.0, sum = 0.0
    for i in 0..<texts.count {
        var dot = 0.0, na = 0.0, nb = 0.0
        for c in 0..<384 {
            let x = Double(f.vectors[i * 384 + c]), y = Double(b.vectors[i * 384 + c])
            dot += x * y; na += x * x; nb += y * y
        }
        let cos = dot / (na.squareRoot() * nb.squareRoot())
        worst = min(worst, cos); sum += cos
    }
    print("swift bf16 (\(GemmKernel.bf16.rawValue) kernel): " + String(format: "%d docs in %.2f s = %.1f docs/s (tokenize %.2f s, encode %.2f s) = %.2fx fp32",
                 texts.count, b.total, n / b.total, b.tokenize, b.encode, f.total / b.total))
    print(String(format: "swift bf16: encoder %.1f GFLOP/s (measured vdpbf16ps peak %.1f GFLOP/s); cosine to fp32 vectors: min %.6f, mean %.6f",
                 floor / b.encode / 1e9, bpeak / 1e9, worst, sum / n))
    print(String(format: "SWIFT_BF16_DOCS_PER_S=%.3f", n / b.total))
} else {
    print("swift bf16: not measured (this CPU has no AVX512_BF16)")
}
