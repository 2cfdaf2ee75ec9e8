import Crypto
import Foundation
import LecternCore

/// The training engine: `trainer/lectern_train.py` (transformers + PEFT on torch) run as a child
/// process. Lectern hands it a JSON configuration and the examples, reads its JSON-line events
/// (`ready`, `step`, `checkpoint`, `done`, `error`) and writes everything into the file itself: the
/// engine never opens the SQLite file. Its contract is `trainer/README.md`.
public struct TrainingEngine: Sendable {
    /// The Python interpreter with torch, transformers and PEFT.
    public let python: String
    /// `lectern_train.py`.
    public let script: String

    public init(python: String, script: String) {
        self.python = python
        self.script = script
    }

    /// Finds the engine: `LECTERN_TRAIN_PYTHON` (recorded by `scripts/setup.d/60-trainer.sh`) or the
    /// cache's venv, and `LECTERN_TRAINER` or `trainer/lectern_train.py` of the checkout this binary
    /// was built in (or of the current folder).
    public static func locate(environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> TrainingEngine {
        let fm = FileManager.default
        var pythons: [String] = []
        if let p = env["LECTERN_TRAIN_PYTHON"], !p.isEmpty { pythons.append(p) }
        pythons.append(cacheRoot(environment: env) + "/venv/bin/python")
        guard let python = pythons.first(where: { fm.isExecutableFile(atPath: $0) }) else {
            throw TrainError.engineMissing("no Python with the training engine's packages (looked for \(pythons.joined(separator: ", "))); "
                + "run scripts/setup.d/60-trainer.sh (scripts/test.sh and scripts/run.sh do) or set LECTERN_TRAIN_PYTHON")
        }
        var scripts: [String] = []
        if let s = env["LECTERN_TRAINER"], !s.isEmpty { scripts.append(s) }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<5 {
            scripts.append(dir.appendingPathComponent("trainer/lectern_train.py").path)
            dir = dir.deletingLastPathComponent()
        }
        scripts.append(fm.currentDirectoryPath + "/trainer/lectern_train.py")
        guard let script = scripts.first(where: { fm.fileExists(atPath: $0) }) else {
            throw TrainError.engineMissing("trainer/lectern_train.py not found (looked in \(scripts.joined(separator: ", "))); set LECTERN_TRAINER")
        }
        return TrainingEngine(python: python, script: script)
    }

    /// `$LECTERN_CACHE`, or `~/.cache/lectern`: where the venv and the models live.
    public static func cacheRoot(environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        env["LECTERN_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/lectern")
    }

    /// Where base models are converted and cached (`$LECTERN_CACHE/models`).
    public static var modelCache: String { cacheRoot() + "/models" }

    /// The last lines the engine wrote to stderr (its error line is the last one).
    final class StderrTail: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        let echo: Bool
        init(echo: Bool) { self.echo = echo }
        func add(_ line: String) {
            lock.lock(); lines.append(line); if lines.count > 40 { lines.removeFirst(lines.count - 40) }; lock.unlock()
            if echo { FileHandle.standardError.write(Data(("engine: " + line + "\n").utf8)) }
        }
        var errorLine: String? {
            lock.lock(); defer { lock.unlock() }
            return lines.last(where: { $0.hasPrefix("lectern_train: error:") }).map { String($0.dropFirst("lectern_train: error: ".count)) }
        }
        var text: String { lock.lock(); defer { lock.unlock() }; return lines.suffix(8).joined(separator: "\n") }
    }

    /// Runs `lectern_train.py ARGS` (or under `torchrun` with `processes` > 1), calling `onEvent`
    /// for each JSON event line in order, on this thread. Returns when the process has exited;
    /// throws ``TrainError/engine(_:)`` with the engine's own error line when it failed.
    public func run(_ arguments: [String], processes: Int = 1, echoStderr: Bool = true,
                    onEvent: ([String: Any]) throws -> Void) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        if processes > 1 {
            process.arguments = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", String(processes), script] + arguments
        } else {
            process.arguments = [script] + arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["LECTERN_PARENT_PID"] = String(getpid())
        env["HF_HUB_OFFLINE"] = env["HF_HUB_OFFLINE"] ?? "1"
        env["PYTHONUNBUFFERED"] = "1"
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let tail = StderrTail(echo: echoStderr)
        let stderrDone = DispatchSemaphore(value: 0)
        do { try process.run() } catch {
            throw TrainError.engineMissing("cannot start \(python): \(error)")
        }
        Thread.detachNewThread {
            var reader = LineSplitter()
            let handle = err.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                for line in reader.feed(chunk) { tail.add(line) }
            }
            if let rest = reader.finish() { tail.add(rest) }
            stderrDone.signal()
        }
        var failure: Error?
        var engineError: String?
        var reader = LineSplitter()
        let stdout = out.fileHandleForReading
        func handle(_ line: String) {
            guard failure == nil, !line.isEmpty else { return }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let event = object["event"] as? String else {
                failure = TrainError.engine("the engine wrote a line that is not a JSON event: \(line.prefix(200))")
                return
            }
            if event == "error" { engineError = object["message"] as? String ?? line; return }
            do { try onEvent(object) } catch { failure = error }
        }
        while true {
            let chunk = stdout.availableData
            if chunk.isEmpty { break }
            for line in reader.feed(chunk) {
                handle(line)
                // A failure of ours (the file cannot be written): stop the engine, keep what is stored.
                if failure != nil, process.isRunning { process.terminate() }
            }
        }
        if let rest = reader.finish() { handle(rest) }
        process.waitUntilExit()
        stderrDone.wait()
        if let failure { throw failure }
        if let engineError { throw TrainError.engine(engineError) }
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how = process.terminationReason == .exit ? "exited with status \(process.terminationStatus)" : "was killed by signal \(process.terminationStatus)"
            throw TrainError.engine("the engine \(how)" + (tail.errorLine.map { ": \($0)" } ?? (tail.text.isEmpty ? "" : "; its last words:\n\(tail.text)")))
        }
    }

    /// A GGUF base converted once into an fp32 safetensors folder the engine can train, cached in
    /// `cache/converted/<sha256 of the GGUF, 16 hex>`.
    public func convertGGUF(_ gguf: String, cache: String) throws -> String {
        let digest = try FileDigest.sha256Hex(path: gguf)
        let dir = cache + "/converted/" + String(digest.prefix(16))
        if FileManager.default.fileExists(atPath: dir + "/lectern_source.json") { return dir }
        try FileManager.default.createDirectory(atPath: cache + "/converted", withIntermediateDirectories: true)
        FileHandle.standardError.write(Data("train: converting \(gguf) to safetensors once (about 20 s for SmolLM2-135M), cached in \(dir)\n".utf8))
        try run(["convert-gguf", gguf, dir]) { _ in }
        return dir
    }

    /// The engine's probe of `base` (+ `adapter`): the SHA-256 of the logits on `inputIDs`.
    public func probe(base: String, adapter: String?, inputIDs: [Int]) throws -> String {
        var args = ["probe", "--base", base, "--input-ids", inputIDs.map(String.init).joined(separator: ",")]
        if let adapter { args += ["--adapter", adapter] }
        var sha: String?
        try runPlain(args) { sha = $0["logits_sha256"] as? String }
        guard let sha else { throw TrainError.engine("probe printed no logits_sha256") }
        return sha
    }

    /// Subcommands whose one output line is not an event (`probe`).
    private func runPlain(_ arguments: [String], _ onLine: ([String: Any]) -> Void) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script] + arguments
        var env = ProcessInfo.processInfo.environment
        env["HF_HUB_OFFLINE"] = env["HF_HUB_OFFLINE"] ?? "1"
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stderrBox = DataBox()
        Thread.detachNewThread { stderrBox.set(err.fileHandleForReading.readDataToEndOfFile()) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: stderrBox.wait(), as: UTF8.self)
            throw TrainError.engine(text.split(separator: "\n").last.map(String.init) ?? "probe failed")
        }
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            if let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] { onLine(o) }
        }
    }
}

/// Bytes handed from a reader thread.
final class DataBox: @unchecked Sendable {
    private let sem = DispatchSemaphore(value: 0)
    private var data = Data()
    func set(_ d: Data) { data = d; sem.signal() }
    func wait() -> Data { sem.wait(); return data }
}

/// Splits a byte stream into lines (UTF-8, `\n`).
struct LineSplitter {
    private var pending = Data()
    mutating func feed(_ chunk: Data) -> [String] {
        pending.append(chunk)
        var lines: [String] = []
        while let nl = pending.firstIndex(of: 0x0A) {
            lines.append(String(decoding: pending[pending.startIndex..<nl], as: UTF8.self))
            pending.removeSubrange(pending.startIndex...nl)
        }
        return lines
    }
    mutating func finish() -> String? {
        defer { pending = Data() }
        return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
    }
}

/// SHA-256 of a file, streamed.
public enum FileDigest {
    public static func sha256Hex(path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw TrainError.badBase("\(path): cannot read the file") }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let chunk = handle.readData(ofLength: 8 << 20)
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
