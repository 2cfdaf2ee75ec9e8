// Times the Swift MiniLM encoder on the 1000 PubMedQA abstracts and reports the FLOP floor
// and this CPU's measured FMA peak. Run through benchmarks/embed/run.sh (which also times
// sentence-transformers and prints the ratio).
import Foundation
import LecternEmbed

let args = CommandLine.arguments
if args.contains("--probe-only") {
    let peak = KernelProbe.fmaPeak(), sgemm = try KernelProbe.sgemmThroughput()
    print(String(format: "FMA peak %.1f GFLOP/s; SGEMM %.1f GFLOP/s (%.0f%%)", peak / 1e9, sgemm / 1e9, 100 * sgemm / peak))
    exit(0)
}
let pqal = args.count > 1 ? args[1] : (ProcessInfo.processInfo.environment["LECTERN_SHARED_DATA"] ?? "../shared/data") + "/pubmedqa/ori_pqal.json"
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

let peak = KernelProbe.fmaPeak()
let sgemm = try KernelProbe.sgemmThroughput()

print(String(format: "swift: %d docs in %.2f s = %.1f docs/s (tokenize %.2f s, encode %.2f s)",
             texts.count, total, Double(texts.count) / total, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
print(String(format: "swift: %d tokens (mean %.1f/doc, max %d); FLOP floor %.2f GFLOP/doc, %.2f TFLOP in all",
             tokens.reduce(0, +), Double(tokens.reduce(0, +)) / Double(tokens.count), tokens.max() ?? 0,
             floor / Double(tokens.count) / 1e9, floor / 1e12))
print(String(format: "swift: achieved %.1f GFLOP/s; measured FMA peak (%d cores, AVX2) %.1f GFLOP/s = %.0f%% of peak; floor-bound max %.1f docs/s",
             floor / t2.timeIntervalSince(t1) / 1e9, ProcessInfo.processInfo.activeProcessorCount, peak / 1e9,
             100 * floor / t2.timeIntervalSince(t1) / peak, peak / (floor / Double(tokens.count))))
print(String(format: "swift: SGEMM kernel alone (3072x384 -> 1536) %.1f GFLOP/s = %.0f%% of the measured peak",
             sgemm / 1e9, 100 * sgemm / peak))
print(String(format: "SWIFT_DOCS_PER_S=%.3f", Double(texts.count) / total))
