// Lectern side of benchmarks/generate/run.sh: the generate stage (client, parsing, validation,
// per-request writes to a Lectern file) over PubMedQA abstracts against one endpoint.
//
//   lectern-generate-bench dump --docs N --max-tokens T OUT.jsonl     request bodies, for the direct client
//   lectern-generate-bench run --url URL --docs N --max-tokens T --concurrency C
//       prints one JSON line: {"requests": ..., "completion_tokens": ..., "seconds": ..., "tokens_per_s": ...}
import Foundation
import GRDB
import LecternGenerate
import LecternStore

func arg(_ name: String, _ def: String? = nil) -> String {
    let a = CommandLine.arguments
    if let i = a.firstIndex(of: name), i + 1 < a.count { return a[i + 1] }
    guard let def else { FileHandle.standardError.write(Data("missing \(name)\n".utf8)); exit(2) }
    return def
}

let mode = CommandLine.arguments.dropFirst().first ?? ""
let nDocs = Int(arg("--docs", "32"))!
let maxTokens = Int(arg("--max-tokens", "128"))!
let maxDocChars = Int(arg("--max-doc-chars", "600"))!
let spec = GeneratorSpec(name: "bench", model: "smollm2", params: GenerationParams(
    domain: "biomedicine", maxTokens: maxTokens, temperature: 0, seed: 1,
    schema: QASchema(maxItems: 3, maxQuestionLength: 150, maxAnswerLength: 300), maxDocumentChars: maxDocChars))
let extra: [String: JSONValue] = ["cache_prompt": false]

func documents() throws -> [(title: String, text: String)] {
    let data = try Data(contentsOf: URL(fileURLWithPath: arg("--pubmedqa", (ProcessInfo.processInfo.environment["LECTERN_SHARED_DATA"] ?? "../shared/data") + "/pubmedqa/ori_pqal.json")))
    let all = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
    return all.keys.sorted().prefix(nDocs).map { k in
        (all[k]!["QUESTION"] as! String, (all[k]!["CONTEXTS"] as! [String]).joined(separator: " "))
    }
}

switch mode {
case "dump":
    // The exact bodies the stage sends (same JSON encoder), one per line.
    var out = ""
    for d in try documents() {
        let body = try spec.request(document: spec.documentText(text: d.text, title: d.title), extra: extra)
            .body(model: "smollm2")
        out += String(decoding: body, as: UTF8.self) + "\n"
    }
    try out.write(toFile: CommandLine.arguments.last!, atomically: true, encoding: .utf8)
case "run":
    let path = NSTemporaryDirectory() + "lectern-bench-\(getpid()).lectern"
    defer { try? FileManager.default.removeItem(atPath: path) }
    // A real Lectern file (every migration applied), as the stage requires.
    let store = try Store.create(path: path, domain: "biomedicine")
    let db = store.pool
    try db.write { db in
        for (i, d) in try documents().enumerated() {
            try db.execute(sql: """
                INSERT INTO documents (text, title, source, n_chars, content_hash, created_at)
                VALUES (?, ?, 'pubmedqa', ?, ?, '2026-01-01T00:00:00Z')
                """, arguments: [d.text, d.title, d.text.count, Data("doc-\(i)-padding-16".utf8.prefix(16))])
        }
    }
    let conc = Int(arg("--concurrency", "4"))!
    let endpoint = Endpoint(baseURL: URL(string: arg("--url"))!, model: "smollm2", maxInFlight: conc, timeout: 600)
    var stage = GenerateStage(store: store, client: try ChatClient(endpoints: [endpoint]), spec: spec,
                              options: GenerateOptions(concurrency: conc))
    stage.extraBody = extra
    let t0 = DispatchTime.now().uptimeNanoseconds
    let c = try await stage.run()
    let s = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    print(String(format: #"{"requests": %d, "ok": %d, "failed": %d, "completion_tokens": %d, "seconds": %.3f, "tokens_per_s": %.2f}"#,
                 c.requests, c.ok, c.failed, c.completionTokens, s, Double(c.completionTokens) / s))
default:
    FileHandle.standardError.write(Data("usage: lectern-generate-bench dump|run ...\n".utf8))
    exit(2)
}

