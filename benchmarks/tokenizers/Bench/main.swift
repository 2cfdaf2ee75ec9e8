// lectern-bench-tokenizers: single-threaded throughput of LecternText's tokenizers.
//   lectern-bench-tokenizers --tokenizer PATH --input texts.json [--repeat N] [--dump ids.json]
// Prints one JSON line: tokens, best seconds, tokens per second (encode, and count).
import Foundation
import LecternText

func arg(_ name: String) -> String? {
    let a = CommandLine.arguments
    guard let i = a.firstIndex(of: name), i + 1 < a.count else { return nil }
    return a[i + 1]
}

guard let path = arg("--tokenizer"), let input = arg("--input") else {
    FileHandle.standardError.write("usage: lectern-bench-tokenizers --tokenizer PATH --input texts.json [--repeat N]\n".data(using: .utf8)!)
    exit(2)
}
let repeats = Int(arg("--repeat") ?? "5") ?? 5
do {
    let tok = try TokenizerLoader.load(path: path)
    guard let texts = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: input))) as? [String] else {
        throw TokenizerError(input, "expected a JSON list of strings")
    }
    func best(_ body: () -> Int) -> (Int, Double) {
        var n = 0, t = Double.infinity
        for _ in 0..<repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            n = body()
            t = min(t, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return (n, t)
    }
    if let dump = arg("--dump") {
        // Ids with special tokens, for comparing with reference.py's output by hand.
        let ids = texts.map { tok.encode($0, addSpecialTokens: true).map { Int($0) } }
        try JSONSerialization.data(withJSONObject: ids).write(to: URL(fileURLWithPath: dump))
        exit(0)
    }
    _ = texts.reduce(0) { $0 + tok.count($1) }  // warm-up
    let (n, te) = best { texts.reduce(0) { $0 + tok.encode($1, addSpecialTokens: false).count } }
    let (_, tc) = best { texts.reduce(0) { $0 + tok.count($1) } }
    print("{\"tokens\": \(n), \"seconds\": \(te), \"tokens_per_second\": \(Double(n) / te), \"count_tokens_per_second\": \(Double(n) / tc)}")
} catch {
    FileHandle.standardError.write("lectern-bench-tokenizers: \(error)\n".data(using: .utf8)!)
    exit(1)
}
