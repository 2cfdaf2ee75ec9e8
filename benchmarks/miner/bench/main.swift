// lectern-miner-bench: Lectern's miner over a directory of raw texts, the way AdaptLLM's
// raw2read.py reads one (sorted file names, each text stripped, first line = title), writing
// one reading-comprehension file per input. benchmarks/miner/run.sh runs it beside raw2read.py.
import Foundation
import LecternMine
import LecternText
#if canImport(Glibc)
import Glibc
#endif

/// Whole file as bytes (plain POSIX reads, like Python's `open().read()`).
func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { out.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count { break }
    }
    return out
}

/// Writes without fsync, as Python's `open(..., 'w').write()` does (Foundation's
/// `Data.write(to:)` fsyncs every file, which would time the disk, not the miner).
func writeFile(_ path: String, _ text: String) -> Bool {
    guard let f = fopen(path, "wb") else { return false }
    var t = text
    let ok = t.withUTF8 { fwrite($0.baseAddress, 1, $0.count, f) == $0.count }
    return fclose(f) == 0 && ok
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("lectern-miner-bench: \(message)\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name) else { return nil }
    guard i + 1 < args.count else { fail("\(name) needs a value") }
    let v = args[i + 1]
    args.removeSubrange(i...(i + 1))
    return v
}
let domainSPM = option("--domain-spm")
let generalSPM = option("--general-spm")
let compatMode = option("--compat")
let dumpPath = option("--dump")
var config = MinerConfig()
config.domain = option("--domain") ?? "biomedicine"
config.seed = UInt64(option("--seed") ?? "0") ?? 0
let threads = Int(option("--threads") ?? "") ?? ProcessInfo.processInfo.activeProcessorCount
guard args.count == 2 else {
    fail("usage: lectern-miner-bench INPUT_DIR OUTPUT_DIR [--domain-spm F --general-spm F] [--compat adaptllm] [--dump F.jsonl] [--domain D] [--seed N] [--threads N]")
}
let inputDir = URL(fileURLWithPath: args[0]), outputDir = URL(fileURLWithPath: args[1])

let t0 = Date()
var vocabulary: DomainVocabulary?
if let d = domainSPM, let g = generalSPM {
    do {
        vocabulary = DomainVocabulary.adaptLLM(domain: try SentencePieceModel(contentsOf: URL(fileURLWithPath: d)),
                                               general: try SentencePieceModel(contentsOf: URL(fileURLWithPath: g)))
    } catch { fail("\(error)") }
}
guard let names = try? FileManager.default.contentsOfDirectory(atPath: inputDir.path).sorted() else {
    fail("cannot list input directory \(inputDir.path)")
}
try? FileManager.default.createDirectory(at: outputDir, withIntermediateDirectories: true)
var compat: AdaptLLMCompat?
if let mode = compatMode {
    guard mode == "adaptllm" else { fail("--compat: unknown mode \(mode) (adaptllm is the one)") }
    guard let g = generalSPM else { fail("--compat adaptllm needs --general-spm (the general LLM's tokenizer.model)") }
    do {
        compat = try AdaptLLMCompat(general: try SentencePieceModel(contentsOf: URL(fileURLWithPath: g)), generalName: g,
                                    domain: try domainSPM.map { try SentencePieceModel(contentsOf: URL(fileURLWithPath: $0)) }, domainName: domainSPM)
    } catch { fail("\(error)") }
}
let miner = Miner(config: config, vocabulary: vocabulary, compat: compat)
/// What was mined from one document, in the shape benchmarks/miner/adaptllm_dump.py writes.
func dumpRow(file: String, text: String, key: UInt64) -> String {
    let (title, body, sentences) = miner.article(document: text, title: nil)
    var row: [String: Any] = ["file": file, "truncated": body, "title": title ?? NSNull(),
                              "sentences": sentences.map { String($0) }]
    for sub in ["Entail", "Contradict", "Neutral", "Cause-effect", "Effect-cause", "Similar", "Different", "definition", "topic"] { row[sub] = [[String]]() }
    for t in miner.mineTuples(in: body) {
        var list = row[t.subcategory ?? ""] as? [[String]] ?? []
        list.append([t.premise ?? "", t.verbalizer ?? "", t.hypothesis ?? ""])
        row[t.subcategory ?? ""] = list
    }
    var keywords: [[Any]] = []
    if let compat, compat.domain != nil {
        for t in miner.adaptLLMKeywordTuples(sentences: sentences, body: body, compat: compat) ?? [] {
            let (kw, _) = compat.keywords(in: Substring(t.hypothesis ?? ""))
            keywords.append([kw.sorted(), t.hypothesis ?? ""])
        }
    }
    row["keywords"] = keywords
    guard let data = try? JSONSerialization.data(withJSONObject: row, options: [.sortedKeys, .withoutEscapingSlashes]) else { return "{}" }
    return String(decoding: data, as: UTF8.self)
}
if args.contains("--rule-times") || ProcessInfo.processInfo.environment["MINER_RULE_TIMES"] != nil {
    // Time of each pattern over every document's truncated body (one thread): where mining goes.
    var bodies: [String] = []
    for name in names {
        guard let bytes = readFile(inputDir.path + "/" + name), let text = String(validating: bytes, as: UTF8.self) else { continue }
        bodies.append(miner.article(document: pythonStrip(text), title: nil).body)
    }
    for (rule, matcher) in AdaptLLMPatterns.compiled {
        let t = Date()
        var found = 0
        for var b in bodies { b.withUTF8 { matcher.forEachMatch(in: $0) { _ in found += 1 } } }
        print(String(format: "%-13@ %8.3f s  %d matches", rule.subcategory as NSString, Date().timeIntervalSince(t), found))
    }
}
let dumpRows = UnsafeMutableBufferPointer<String>.allocate(capacity: max(names.count, 1))
dumpRows.initialize(repeating: "")
let n = names.count
let results = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(n, 1))
results.initialize(repeating: 0)
let t1 = Date()
DispatchQueue.concurrentPerform(iterations: threads) { worker in
    var i = worker
    while i < n {
        let inPath = inputDir.path + "/" + names[i]
        guard let bytes = readFile(inPath) else { fail("cannot read \(inPath)") }
        guard var text = String(validating: bytes, as: UTF8.self) else { fail("\(inPath) is not valid UTF-8") }
        if text.utf8.contains(0x0D) { text = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") }
        text = pythonStrip(text)
        let rc = miner.mine(document: text, key: UInt64(i))
        guard writeFile(outputDir.path + "/" + names[i], rc.text) else { fail("cannot write \(outputDir.path)/\(names[i])") }
        results[i] = rc.tasks.count
        if dumpPath != nil { dumpRows[i] = dumpRow(file: names[i], text: text, key: UInt64(i)) }
        i += threads
    }
}
let t2 = Date()
if let dumpPath {
    guard writeFile(dumpPath, dumpRows.prefix(n).joined(separator: "\n") + "\n") else { fail("cannot write \(dumpPath)") }
}
let tasks = results.reduce(0, +)
let total = t2.timeIntervalSince(t0), mining = t2.timeIntervalSince(t1)
print(String(format: "lectern: %d docs, %d tasks, %.3f s total (%.3f s read+mine+write, %d threads), %.1f docs/s",
             n, tasks, total, mining, threads, Double(n) / total))
