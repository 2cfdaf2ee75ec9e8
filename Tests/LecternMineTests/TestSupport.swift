import Foundation
import XCTest
import LecternTestSupport

/// Paths and helpers shared by the miner's tests.
enum TestSupport {
    /// The repository root (this file is Tests/LecternMineTests/TestSupport.swift).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The shared data folder: `$LECTERN_SHARED_DATA`, else `../shared/data` beside the checkout.
    static var dataDir: URL { LecternTestSupport.TestSupport.sharedData }

    /// Fails (under `LECTERN_REQUIRE_COMPONENTS=1`) or skips when a component is missing.
    static func missing(_ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> Never {
        try LecternTestSupport.TestSupport.missing(what, file: file, line: line)
    }

    /// A CPython 3 for reference runs (stdlib only): `$LECTERN_STDLIB_PYTHON`, /usr/bin/python3, or `python3` on PATH.
    static func python() throws -> String {
        let env = ProcessInfo.processInfo.environment
        var candidates = [env["LECTERN_STDLIB_PYTHON"], "/usr/bin/python3"].compactMap { $0 }
        for dir in (env["PATH"] ?? "").split(separator: ":") { candidates.append("\(dir)/python3") }
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) { return c }
        try missing("a Python 3 interpreter (set LECTERN_STDLIB_PYTHON, or apt-get install python3)")
    }

    /// The venv Python with the reference libraries of scripts/requirements/text.txt
    /// (sentencepiece, pysbd): `$LECTERN_PYTHON`, else `$LECTERN_CACHE/venv`.
    static func referencePython() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let cache = env["LECTERN_CACHE"] ?? NSHomeDirectory() + "/.cache/lectern"
        let py = env["LECTERN_PYTHON"] ?? cache + "/venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: py),
              FileManager.default.fileExists(atPath: cache + "/venv") || env["LECTERN_PYTHON"] != nil else {
            try missing("the reference venv with sentencepiece and pysbd (scripts/setup.d/10-models.sh; set LECTERN_PYTHON)")
        }
        return py
    }

    /// Runs `script` with the JSON `input` (written to a temp file) and returns its stdout.
    static func runPython(script: URL, input: Any, python chosen: String? = nil) throws -> Data {
        let py = try chosen ?? python()
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-mine-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: input).write(to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: py)
        proc.arguments = [script.path, tmp.path]
        let outFile = tmp.appendingPathExtension("out")
        _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outFile) }
        let outHandle = try FileHandle(forWritingTo: outFile)
        proc.standardOutput = outHandle
        let err = Pipe()
        proc.standardError = err
        try proc.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        try outHandle.close()
        guard proc.terminationStatus == 0 else {
            throw NSError(domain: "python", code: Int(proc.terminationStatus), userInfo: [
                NSLocalizedDescriptionKey: "\(script.lastPathComponent) failed: \(String(decoding: errData, as: UTF8.self))",
            ])
        }
        return try Data(contentsOf: outFile)
    }

    /// AdaptLLM's 12 sample inputs, by file name, read as Python's text mode reads them
    /// (universal newlines) and stripped.
    static func adaptLLMSamples() throws -> [(name: String, text: String)] {
        let dir = dataDir.appendingPathComponent("adaptllm-samples/input-raw-texts")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path), !names.isEmpty else {
            try missing("AdaptLLM samples at \(dir.path) (set LECTERN_SHARED_DATA)")
        }
        return try names.sorted().map { name in
            var t = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            t = t.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            return (name, t.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// PubMedQA's 1000 labelled instances: (id, question, abstract sections), ordered by id.
    static func pubMedQA() throws -> [(id: String, question: String, contexts: [String])] {
        let url = dataDir.appendingPathComponent("pubmedqa/ori_pqal.json")
        guard let data = try? Data(contentsOf: url) else { try missing("PubMedQA at \(url.path) (set LECTERN_SHARED_DATA)") }
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
            throw NSError(domain: "pubmedqa", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url.path): not an object of objects"])
        }
        return obj.keys.sorted().map { k in
            let e = obj[k]!
            return (k, e["QUESTION"] as? String ?? "", e["CONTEXTS"] as? [String] ?? [])
        }
    }
}
