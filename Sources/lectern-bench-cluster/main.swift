// Benchmark of Lectern's length-based clustering against exact-neighbour clustering, in one
// invocation: synthetic 384-d vectors with topic structure, token lengths drawn from the real
// PubMedQA abstracts (plus each abstract's own question and long answer as its QA pair), wall
// time, peak memory (getrusage) and quality of the fast path relative to the exact one.
//
// usage: lectern-bench-cluster [--n 100000] [--dim 384] [--exact-sample N] [--probes 8]
//                              [--walk] [--pubmedqa PATH] [--lmax 2048] [--dmax 16]
import Foundation
import LecternCluster
import LecternKernels

setvbuf(stdout, nil, _IOLBF, 0)  // progress lines appear as they happen, even into a file

func arg(_ name: String, _ def: String) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    return def
}
func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func peakMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024  // Linux reports KiB
}
/// CPU seconds of the process (user + system): on a shared machine, a steadier figure than wall time.
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}
func fmt(_ x: Double, _ p: Int = 2) -> String { String(format: "%.\(p)f", x) }

let n = Int(arg("--n", "100000"))!
let dim = Int(arg("--dim", "384"))!
let probes = Int(arg("--probes", "\(ClusterOptions.autoProbes)"))!
let exactSample = Int(arg("--exact-sample", "\(min(n, 100_000))"))!
let walk = CommandLine.arguments.contains("--walk")
let pubmedPath = arg("--pubmedqa", (ProcessInfo.processInfo.environment["LECTERN_SHARED_DATA"] ?? "../shared/data") + "/pubmedqa/ori_pqal.json")
var options = ClusterOptions(maxTokens: Int(arg("--lmax", "2048"))!, maxDocuments: Int(arg("--dmax", "16"))!, seed: 1)

// Token lengths: whitespace words x 1.3 (until the target tokenizer is wired in), abstract plus
// its question and long answer.
var realLengths: [Int] = []
do {
    let data = try Data(contentsOf: URL(fileURLWithPath: pubmedPath))
    guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
        fatalError("\(pubmedPath): expected an object of PubMedQA instances")
    }
    for (_, inst) in obj.sorted(by: { $0.key < $1.key }) {
        let ctx = (inst["CONTEXTS"] as? [String] ?? []).joined(separator: " ")
        let qa = (inst["QUESTION"] as? String ?? "") + " " + (inst["LONG_ANSWER"] as? String ?? "")
        let words = (ctx + " " + qa).split(whereSeparator: { $0.isWhitespace }).count
        realLengths.append(Int((Double(words) * 1.3).rounded()))
    }
} catch {
    FileHandle.standardError.write("cannot read PubMedQA at \(pubmedPath): \(error)\n".data(using: .utf8)!)
    exit(2)
}
print("lengths: \(realLengths.count) PubMedQA abstracts+QA, mean \(realLengths.reduce(0, +) / realLengths.count) tokens (words x 1.3), Lmax \(options.maxTokens), Dmax \(options.maxDocuments), threshold \(options.threshold)")

var t = now()
let vectors = SyntheticCorpus.vectors(count: n, dim: dim, topics: max(1, n / 50), seed: 2024)
let lengths = SyntheticCorpus.lengths(count: n, from: realLengths, seed: 2024)
let input = try ClusterInput(vectors: vectors, dim: dim, lengths: lengths, ids: (0..<n).map { Int64($0) })
print("generated \(n) x \(dim) vectors in \(fmt(now() - t))s, peak \(fmt(peakMiB(), 0)) MiB")

func run(_ label: String, _ inp: ClusterInput, _ o: ClusterOptions) throws -> (Clustering, Double, QualityReport, Double) {
    var st = LengthClustering.Stats()
    let t0 = now(), c0 = cpuSeconds()
    let c = try LengthClustering.run(inp, options: o, stats: &st)
    let dt = now() - t0, cpu = cpuSeconds() - c0
    let r = QualityReport.make(inp, c, maxTokens: o.maxTokens)
    print("\(label): \(fmt(dt))s wall, \(fmt(cpu))s CPU (index \(fmt(st.indexSeconds))s, clustering \(fmt(st.clusterSeconds))s, \(st.queries) queries, \(fmt(Double(st.listsSearched) / Double(max(1, st.queries)), 1)) of \(st.lists) lists each), \(c.clusters.count) clusters, mean intra-sim \(fmt(r.clustering.meanIntraSimilarity, 4)), random \(fmt(r.randomBaseline.meanIntraSimilarity, 4)), fill \(fmt(r.clustering.meanFill, 3)), peak \(fmt(peakMiB(), 0)) MiB")
    return (c, dt, r, cpu)
}

// 1. The fast path on everything.
var fast = options
fast.search = .ivf
fast.ivfMaxProbes = probes
let (fullC, fullT, fullR, fullCPU) = try run("algorithm 1, IVF \(probes) probes, n=\(n)", input, fast)
print(fullR.text())

// 2. Exact vs fast on the same (sub)sample.
let sampleInput: ClusterInput
if exactSample < n {
    var rng = SplitMix64(seed: 99)
    let rows = rng.permutation(n).prefix(exactSample).sorted()
    var v = [Float](); v.reserveCapacity(exactSample * dim)
    for r in rows { v += vectors[Int(r) * dim..<(Int(r) + 1) * dim] }
    sampleInput = try ClusterInput(vectors: v, dim: dim, lengths: rows.map { lengths[Int($0)] }, ids: rows.map { Int64($0) })
    print("exact comparison on a random sample of \(exactSample) of the \(n) documents (exact on all is too slow)")
} else {
    sampleInput = input
}
var exactO = options
exactO.search = .exact
let (exC, exT, exR, exCPU) = try run("algorithm 1, exact (brute force), n=\(sampleInput.count)", sampleInput, exactO)
let (apC, apT, apR, apCPU) = exactSample < n ? try run("algorithm 1, IVF \(probes) probes, n=\(sampleInput.count)", sampleInput, fast) : (fullC, fullT, fullR, fullCPU)
let exactSets = Set(exC.clusters.map { $0.members.sorted() })
let same = apC.clusters.filter { exactSets.contains($0.members.sorted()) }.count
print("RESULT n=\(sampleInput.count): exact \(fmt(exT))s wall \(fmt(exCPU))s CPU, IVF \(fmt(apT))s wall \(fmt(apCPU))s CPU, speed-up x\(fmt(exT / apT)) wall x\(fmt(exCPU / apCPU)) CPU; mean intra-sim exact \(fmt(exR.clustering.meanIntraSimilarity, 4)) vs IVF \(fmt(apR.clustering.meanIntraSimilarity, 4)) (ratio \(fmt(apR.clustering.meanIntraSimilarity / exR.clustering.meanIntraSimilarity, 4))); \(same) of \(exC.clusters.count) exact clusters reproduced (\(fmt(100 * Double(same) / Double(exC.clusters.count), 1))%)")
print("RESULT n=\(n): IVF \(fmt(fullT))s wall, \(fmt(fullCPU))s CPU, peak memory \(fmt(peakMiB(), 0)) MiB")

if walk {
    var w = GraphWalkClustering.Options()
    w.graph = .ivf
    w.ivfProbes = probes
    let t0 = now(), c0 = cpuSeconds()
    let g = GraphWalkClustering.buildGraph(input, options: options, walk: w)
    let tg = now() - t0
    let c = GraphWalkClustering.walkGraph(input: input, graph: g, options: options, walk: w)
    let tw = now() - t0, cpu = cpuSeconds() - c0
    let r = QualityReport.make(input, c, maxTokens: options.maxTokens)
    print("RESULT knn-walk n=\(n): graph \(fmt(tg))s, total \(fmt(tw))s wall, \(fmt(cpu))s CPU, \(c.clusters.count) clusters, mean intra-sim \(fmt(r.clustering.meanIntraSimilarity, 4)) (random \(fmt(r.randomBaseline.meanIntraSimilarity, 4))), fill \(fmt(r.clustering.meanFill, 3)), peak \(fmt(peakMiB(), 0)) MiB")
}
