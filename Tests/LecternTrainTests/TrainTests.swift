import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import LecternTestSupport
import XCTest
@testable import LecternTrain

/// `lectern train` with the real engine (transformers + PEFT on torch): a tiny random LLaMA with
/// SmolLM2's tokenizer for the fast cases (a step takes a fraction of a second), SmolLM2-135M
/// itself (from its GGUF) for the adapter served by llama-server. Every run is a real `lectern`
/// process on a real file built by the real pipeline.
final class TrainTests: XCTestCase {
    /// Built once: a file with a small pre-tokenised set (`small`: dapt, 128-token sequences, no
    /// instructions) and the tiny model.
    struct Fixture {
        var dir: URL
        var file: String
        var tiny: String
        var gguf: String
        var python: String
        var script: String
    }
    nonisolated(unsafe) static var shared: Fixture?
    static let lock = NSLock()

    var lectern: URL { get throws { try TestSupport.lecternExecutable() } }

    func fixture() throws -> Fixture {
        Self.lock.lock(); defer { Self.lock.unlock() }
        if let f = Self.shared { return f }
        let env = ProcessInfo.processInfo.environment
        let gguf = env["LECTERN_SMOLLM2_GGUF"] ?? ""
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: gguf), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let python = env["LECTERN_TRAIN_PYTHON"] ?? ""
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: python),
                                         "the training engine's Python (LECTERN_TRAIN_PYTHON)", setup: "scripts/setup.d/60-trainer.sh")
        let script = TestSupport.packageRoot.appendingPathComponent("trainer/lectern_train.py").path
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let data = try Data(contentsOf: URL(fileURLWithPath: try TestSupport.pubmedqaPath()))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        let lines = try json.keys.sorted().prefix(12).map { key -> String in
            let text = (json[key]?["CONTEXTS"] as? [String] ?? []).joined(separator: " ")
            return String(decoding: try JSONSerialization.data(withJSONObject: ["id": key, "text": text]), as: UTF8.self)
        }
        let corpus = dir.appendingPathComponent("corpus.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: corpus, atomically: true, encoding: .utf8)
        let file = dir.appendingPathComponent("base.lectern").path
        let l = try lectern
        for args in [["init", file, "--domain", "biomedicine"], ["ingest", file, corpus.path], ["tokens", file, "--tokenizer", gguf],
                     ["build", file, "--recipe", "dapt", "--context", "128", "--ratio", "1:0", "--name", "small", "--tokenizer", gguf]] {
            let r = try TestSupport.run(l, args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        let tiny = dir.appendingPathComponent("tiny").path
        let t = try TestSupport.run(URL(fileURLWithPath: python), [script, "tiny-model", tiny, "--tokenizer-from", gguf])
        XCTAssertEqual(t.status, 0, t.stderr)
        let f = Fixture(dir: dir, file: file, tiny: tiny, gguf: gguf, python: python, script: script)
        Self.shared = f
        return f
    }

    /// A fresh copy of the fixture's file.
    func copy(_ f: Fixture, _ name: String) throws -> String {
        let path = try TestSupport.temporaryDirectory(self).appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: f.file, toPath: path)
        return path
    }

    func query<T>(_ file: String, _ body: (Database) throws -> T) throws -> T {
        let q = try DatabaseQueue(path: file)
        defer { try? q.close() }
        return try q.read(body)
    }

    func losses(_ file: String, run: Int64 = 1) throws -> [Double] {
        try query(file) { try Double.fetchAll($0, sql: "SELECT value FROM training_metrics WHERE run_id = ? AND name = 'loss' ORDER BY step", arguments: [run]) }
    }

    func train(_ file: String, _ f: Fixture, _ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(try lectern, ["train", file, "--set", "small", "--base", f.tiny] + extra)
    }

    /// The loss goes down on a small set (full fine-tuning of the tiny model: LoRA barely moves a
    /// random 64-wide model in 24 steps, measured 10.83 -> 10.73); every step's metrics and every
    /// checkpoint are in the file; the stored tensors are the engine's bit for bit; the stage run
    /// is complete.
    func testTrainsAndStoresExactCheckpoints() throws {
        let f = try fixture()
        let file = try copy(f, "train.lectern")
        let options = ["--method", "full", "--learning-rate", "3e-3", "--steps", "24", "--checkpoint-every", "8", "--dropout", "0"]
        let r = try train(file, f, options + ["--keep-work"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let loss = try losses(file)
        XCTAssertEqual(loss.count, 24)
        let first = loss.prefix(6).reduce(0, +) / 6, last = loss.suffix(6).reduce(0, +) / 6
        XCTAssertLessThan(last, first - 0.5, "the loss goes down: \(loss)")
        try query(file) { db in
            XCTAssertEqual(try Int.fetchAll(db, sql: "SELECT step FROM checkpoints WHERE run_id = 1 ORDER BY step"), [8, 16, 24])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT status FROM training_runs WHERE id = 1"), "complete")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT status FROM stage_runs WHERE stage = 'train'"), "complete")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(DISTINCT name) FROM training_metrics"), 7)
            // The engine's checkpoint folders were kept (--keep-work): the stored tensors are theirs, bit for bit.
            let fp = try String.fetchOne(db, sql: "SELECT fingerprint FROM training_runs WHERE id = 1")!
            for (id, step) in try Row.fetchAll(db, sql: "SELECT id, step FROM checkpoints ORDER BY step").map({ ($0[0] as Int64, $0[1] as Int) }) {
                let folder = "\(file).train/\(fp.prefix(16))/checkpoints/checkpoint-\(step)"
                let engine = try SafeTensors.read(path: folder + "/model.safetensors").tensors
                let stored = try CheckpointStore.tensors(db, checkpointID: id)
                XCTAssertGreaterThan(stored.count, 10)
                XCTAssertEqual(stored, engine, "checkpoint \(step): stored tensors equal the engine's")
            }
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM checkpoint_state"), 0, "a complete run keeps no resume state")
        }
        // The same command again: the run is complete, nothing is trained.
        let again = try train(file, f, options)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("already complete"), again.stdout)
    }

    /// The exported adapter, loaded by PEFT, gives the logits the engine had at that step; an
    /// adapter imported into another file is stored bit for bit.
    func testExportedAdapterLoadsInPEFTAndImportsBack() throws {
        let f = try fixture()
        let file = try copy(f, "export.lectern")
        let r = try train(file, f, ["--rank", "8", "--steps", "4", "--checkpoint-every", "2", "--learning-rate", "1e-2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try TestSupport.temporaryDirectory(self).appendingPathComponent("adapter").path
        for step in [2, 4] {
            let e = try TestSupport.run(try lectern, ["export", "adapter", file, out, "--run", "1", "--step", String(step)])
            XCTAssertEqual(e.status, 0, e.stderr)
            let (sha, ids) = try query(file) { db -> (String, String) in
                let probe = try String.fetchOne(db, sql: "SELECT probe FROM checkpoints WHERE step = ?", arguments: [step])!
                let o = try JSONSerialization.jsonObject(with: Data(probe.utf8)) as! [String: Any]
                return (o["logits_sha256"] as! String, (o["input_ids"] as! [Int]).map(String.init).joined(separator: ","))
            }
            let p = try TestSupport.run(URL(fileURLWithPath: f.python), [f.script, "probe", "--base", f.tiny, "--adapter", out, "--input-ids", ids])
            XCTAssertEqual(p.status, 0, p.stderr)
            let probe = try JSONSerialization.jsonObject(with: Data(p.stdout.utf8)) as! [String: Any]
            XCTAssertEqual(probe["logits_sha256"] as? String, sha, "step \(step): PEFT on the exported adapter gives the engine's logits")
        }
        let other = try copy(f, "import.lectern")
        for _ in 0..<2 {
            let i = try TestSupport.run(try lectern, ["import", "adapter", other, out, "--set", "small", "--step", "4"])
            XCTAssertEqual(i.status, 0, i.stderr)
        }
        let original = try query(file) { try CheckpointStore.tensors($0, checkpointID: try Int64.fetchOne($0, sql: "SELECT id FROM checkpoints WHERE step = 4")!) }
        try query(other) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM training_runs WHERE engine = 'external'"), 1, "imported once")
            XCTAssertEqual(try CheckpointStore.tensors(db, checkpointID: try Int64.fetchOne(db, sql: "SELECT id FROM checkpoints")!), original)
        }
    }

    /// `kill -9` of `lectern train` at random moments, several times: each re-run continues from
    /// the last checkpoint in the file, the engine does not outlive Lectern, and the resumed loss
    /// curve is the uninterrupted one, step for step.
    func testKillNineThenResumeContinuesTheLossCurve() throws {
        let f = try fixture()
        let args = ["--rank", "8", "--steps", "16", "--checkpoint-every", "2", "--learning-rate", "5e-3", "--dropout", "0.1"]
        let clean = try copy(f, "clean.lectern")
        XCTAssertEqual(try train(clean, f, args).status, 0)
        let reference = try losses(clean)
        XCTAssertEqual(reference.count, 16)

        let killed = try copy(f, "killed.lectern")
        var kills = 0
        for target in [2, 6, 10] {
            let p = Process()
            p.executableURL = try lectern
            p.arguments = ["train", killed, "--set", "small", "--base", f.tiny] + args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            let deadline = Date().addingTimeInterval(300)
            while Date() < deadline, p.isRunning {
                let stored = (try? query(killed) { try Int.fetchOne($0, sql: "SELECT coalesce(max(step), 0) FROM checkpoints") ?? 0 }) ?? 0
                if stored >= target { break }
                Thread.sleep(forTimeInterval: 0.05)
            }
            XCTAssertTrue(p.isRunning, "the run ended before checkpoint \(target)")
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            kills += 1
            // The engine notices within a second or two that Lectern is gone, and stops.
            let gone = Date().addingTimeInterval(10)
            while Date() < gone, Self.enginesRunning(on: killed) { Thread.sleep(forTimeInterval: 0.2) }
            XCTAssertFalse(Self.enginesRunning(on: killed), "no engine outlives a killed lectern")
            // Only the newest checkpoint keeps a resume state, and it is whole.
            try query(killed) { db in
                let withState = try Int.fetchAll(db, sql: "SELECT DISTINCT c.step FROM checkpoints c JOIN checkpoint_state s ON s.checkpoint_id = c.id")
                XCTAssertEqual(withState, [try Int.fetchOne(db, sql: "SELECT max(step) FROM checkpoints") ?? -1])
            }
        }
        XCTAssertEqual(kills, 3)
        let finish = try train(killed, f, args)
        XCTAssertEqual(finish.status, 0, finish.stderr)
        XCTAssertTrue(finish.stderr.contains("resuming run 1 from its checkpoint at step"), finish.stderr)
        XCTAssertEqual(try losses(killed), reference, "the resumed curve is the uninterrupted one")
        try query(killed) { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM training_runs"), 1)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT status FROM stage_runs WHERE stage = 'train' ORDER BY id"),
                           ["interrupted", "interrupted", "interrupted", "complete"])
        }
    }

    static func enginesRunning(on file: String) -> Bool {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for pid in procs where Int(pid) != nil {
            guard let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let text = String(decoding: cmd.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            if text.contains("lectern_train.py") && text.contains(file + ".train") { return true }
        }
        return false
    }

    /// Two processes (torchrun, gloo) train exactly as one: the same losses step for step.
    func testTwoProcessesTrainLikeOne() throws {
        let f = try fixture()
        let args = ["--rank", "8", "--steps", "4", "--batch-size", "1", "--grad-accum", "2", "--dropout", "0", "--checkpoint-every", "4"]
        let one = try copy(f, "one.lectern"), two = try copy(f, "two.lectern")
        XCTAssertEqual(try train(one, f, args).status, 0)
        let r = try train(two, f, args + ["--processes", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try losses(two), try losses(one))
        let worlds = try query(two) { try String.fetchOne($0, sql: "SELECT json_extract(params, '$.engine.world_size') FROM training_runs") }
        XCTAssertEqual(worlds, "2")
    }

    /// Bad input is refused with the input named, before anything is written.
    func testBadInputFailsClearlyAndWritesNothing() throws {
        let f = try fixture()
        let file = try copy(f, "bad.lectern")
        func rows() throws -> [Int] {
            try query(file) { db in
                [try Int.fetchOne(db, sql: "SELECT count(*) FROM training_runs") ?? -1,
                 try Int.fetchOne(db, sql: "SELECT count(*) FROM stage_runs WHERE stage = 'train'") ?? -1]
            }
        }
        // Another tokenizer: a tiny model with MiniLM's WordPiece vocabulary.
        let env = ProcessInfo.processInfo.environment
        let minilm = (env["LECTERN_CACHE"] ?? (NSHomeDirectory() + "/.cache/lectern")) + "/models/all-minilm-l6-v2"
        let otherTok = try TestSupport.temporaryDirectory(self).appendingPathComponent("other-tiny").path
        let t = try TestSupport.run(URL(fileURLWithPath: f.python), [f.script, "tiny-model", otherTok, "--tokenizer-from", minilm])
        XCTAssertEqual(t.status, 0, t.stderr)
        let cases: [([String], String)] = [
            (["--base", "/nonexistent/model"], "no such file"),
            (["--base", otherTok], "tokenizer is not the set's"),
            (["--base", f.tiny, "--rank", "1000"], "larger than the base's"),
            (["--base", f.tiny, "--set", "no-such-set"], "no-such-set"),
            (["--base", f.tiny, "--rank", "8", "--loss", "assistant"], "chat-format set"),
        ]
        for (extra, expected) in cases {
            var args = ["train", file, "--set", "small", "--steps", "2"]
            if extra.contains("--set") { args = ["train", file, "--steps", "2"] }
            let r = try TestSupport.run(try lectern, args + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(expected), "\(extra): \(r.stderr)")
            XCTAssertEqual(try rows(), [0, 0], "\(extra): nothing written")
        }
        // A set without token ids.
        let q = try DatabaseQueue(path: file)
        try q.write { try $0.execute(sql: "UPDATE training_examples SET input_ids = NULL WHERE position = 0") }
        try q.close()
        let r = try train(file, f, ["--steps", "2"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("have no input_ids"), r.stderr)
        XCTAssertEqual(try rows(), [0, 0])
    }

    /// SmolLM2-135M from its GGUF: trained a few steps, its adapter exported to GGUF with llama.cpp's
    /// converter changes what llama-server answers for a fixed prompt (greedy), and not at scale 0.
    func testSmolLM2AdapterChangesLlamaServersAnswer() throws {
        let f = try fixture()
        let env = ProcessInfo.processInfo.environment
        let server = env["LECTERN_LLAMA_SERVER"] ?? ""
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: server), "llama-server (LECTERN_LLAMA_SERVER)")
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: env["LECTERN_LLAMA_CONVERT_LORA"] ?? ""),
                                         "llama.cpp's convert_lora_to_gguf.py (LECTERN_LLAMA_CONVERT_LORA)", setup: "scripts/setup.d/60-trainer.sh")
        let file = try copy(f, "smol.lectern")
        let r = try TestSupport.run(try lectern, ["train", file, "--set", "small", "--base", f.gguf, "--rank", "8", "--steps", "3",
                                                  "--learning-rate", "2e-2", "--warmup-ratio", "0", "--checkpoint-every", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try TestSupport.temporaryDirectory(self).appendingPathComponent("smol-adapter").path
        let e = try TestSupport.run(try lectern, ["export", "adapter", file, out, "--run", "1", "--format", "gguf"])
        XCTAssertEqual(e.status, 0, e.stderr)
        let adapter = out + "/adapter.gguf"
        XCTAssertTrue(FileManager.default.fileExists(atPath: adapter))

        let port = 18_000 + Int(getpid() % 2000)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: server)
        p.arguments = ["-m", f.gguf, "--lora", adapter, "--host", "127.0.0.1", "--port", String(port), "-c", "1024",
                       "--no-webui", "-t", "2"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        let url = "http://127.0.0.1:\(port)"
        let up = Date().addingTimeInterval(60)
        while Date() < up, (try? Self.http(url + "/health", body: nil)) == nil { Thread.sleep(forTimeInterval: 0.2) }
        func answer(scale: Double) throws -> String {
            let body: [String: Any] = ["prompt": "Question: What does the hippocampus do?\nAnswer:", "n_predict": 24, "temperature": 0,
                                       "cache_prompt": false, "lora": [["id": 0, "scale": scale]]]
            let data = try Self.http(url + "/completion", body: try JSONSerialization.data(withJSONObject: body))
            return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["content"] as? String ?? ""
        }
        let without = try answer(scale: 0), with = try answer(scale: 1), withoutAgain = try answer(scale: 0)
        XCTAssertEqual(without, withoutAgain, "greedy answers are reproducible")
        XCTAssertNotEqual(with, without, "the adapter changes the answer: '\(with)' vs '\(without)'")
    }

    static func http(_ url: String, body: Data?) throws -> Data {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 120
        if let body { request.httpMethod = "POST"; request.httpBody = body; request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<Data, Error> = .failure(URLError(.unknown))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error { result = .failure(error) } else if (response as? HTTPURLResponse)?.statusCode == 200, let data { result = .success(data) }
            else { result = .failure(URLError(.badServerResponse)) }
            done.signal()
        }.resume()
        done.wait()
        return try result.get()
    }
}
