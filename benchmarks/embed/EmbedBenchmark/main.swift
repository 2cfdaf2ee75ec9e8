// Times the Swift MiniLM encoder on the 1000 PubMedQA abstracts and reports the FLOP floor
// and this CPU's measured FMA peak. Run through benchmarks/embed/run.sh (which also times
// sentence-transformers and prints the ratio).
import Dispatch
import Foundation
import LecternEmbed

let args = CommandLine.arguments
let pqal = args.count > 1 ? args[1] : "/work/shared/data/pubmedqa/ori_pqal.json"
guard let data = FileManager.default.contents(atPath: pqal),
      let json = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
    FileHandle.standardError.write("cannot read PubMedQA at \(pqal)\n".data(using: .utf8)!)
    exit(2)
}
// The same set as st_bench.py (order does not matter: both sort by length before batching).
let ids = json.keys.sorted()
let texts = ids.map { (json[$0]!["CONTEXTS"] as! [String]).joined(separator: " ") }

let embedder = try MiniLMEmbedder(install: true)
_ = try embedder.embed(Array(texts.prefix(16)))  // warm-up: page in weights, spin up threads

let t0 = Date()
let tokenized = texts.map(embedder.sequences(for:))
let t1 = Date()
let vectors = try embedder.embed(tokenized: tokenized)
let t2 = Date()
precondition(vectors.count == texts.count * embedder.dimension)

let tokens = tokenized.map { $0[0].count }
let floor = tokens.reduce(0.0) { $0 + embedder.encoder.flops(tokens: $1) }
let total = t2.timeIntervalSince(t0)

/// FMA throughput of this CPU: 12 independent SIMD8 FMA chains per core, both cores.
func measurePeak() -> Double {
    let iters = 20_000_000
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let start = Date()
    let sink = UnsafeMutablePointer<Float>.allocate(capacity: cores)
    DispatchQueue.concurrentPerform(iterations: cores) { c in
        typealias V = SIMD8<Float>
        var a0 = V(repeating: 1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0
        let x = V(repeating: 0.9999999), y = V(repeating: 1e-7)
        for _ in 0..<iters {
            a0 = a0.addingProduct(a0, y); a1 = a1.addingProduct(a1, y); a2 = a2.addingProduct(a2, y); a3 = a3.addingProduct(a3, y)
            a4 = a4.addingProduct(a4, y); a5 = a5.addingProduct(a5, y); a6 = a6.addingProduct(a6, y); a7 = a7.addingProduct(a7, y)
            a8 = a8.addingProduct(a8, x); a9 = a9.addingProduct(a9, x); a10 = a10.addingProduct(a10, x); a11 = a11.addingProduct(a11, x)
        }
        sink[c] = (a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11).sum()
    }
    let secs = Date().timeIntervalSince(start)
    sink.deallocate()
    return Double(cores * iters * 12 * 8 * 2) / secs
}
let peak = measurePeak()

print(String(format: "swift: %d docs in %.2f s = %.1f docs/s (tokenize %.2f s, encode %.2f s)",
             texts.count, total, Double(texts.count) / total, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
print(String(format: "swift: %d tokens (mean %.1f/doc, max %d); FLOP floor %.2f GFLOP/doc, %.2f TFLOP in all",
             tokens.reduce(0, +), Double(tokens.reduce(0, +)) / Double(tokens.count), tokens.max() ?? 0,
             floor / Double(tokens.count) / 1e9, floor / 1e12))
print(String(format: "swift: achieved %.1f GFLOP/s; measured FMA peak (%d cores, AVX2) %.1f GFLOP/s = %.0f%% of peak; floor-bound max %.1f docs/s",
             floor / t2.timeIntervalSince(t1) / 1e9, ProcessInfo.processInfo.activeProcessorCount, peak / 1e9,
             100 * floor / t2.timeIntervalSince(t1) / peak, peak / (floor / Double(tokens.count))))
print(String(format: "SWIFT_DOCS_PER_S=%.3f", Double(texts.count) / total))
