import Foundation
import GRDB
import LecternBuild
import LecternCore
import LecternStore
import LecternText
import LecternTokens

/// `lectern train`: LoRA (or full fine-tuning) of a base model on a training set, by the PEFT
/// engine, with its metrics and checkpoints in the file.
///
/// A run is identified by the fingerprint of the set, the base model (its weights' hash) and the
/// options that change the result, so running the same command again continues the same run from
/// its last checkpoint in the file: the checkpoint is written back out (adapter from the stored
/// tensors, the engine's resume state from its parts) and handed to the engine, which continues
/// with the same data order and RNG states. A `kill -9` loses at most the steps since the last
/// checkpoint. Lectern is the only writer of the file: each step's metrics are one short
/// transaction, each checkpoint another.
public struct TrainStage: Stage {
    public static let name = "train"
    public let store: Store
    /// Training set: name (newest complete) or fingerprint prefix.
    public let set: String
    /// Base model: a Hugging Face folder or a GGUF file.
    public let base: String
    public let options: TrainOptions
    public let runtime: TrainOptions.Runtime
    public let engine: TrainingEngine
    /// Where GGUF bases are converted (`$LECTERN_CACHE/models`).
    public let cache: String
    /// Progress and engine log lines.
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(("train: " + $0 + "\n").utf8)) }
    /// The engine's stderr is echoed (with an `engine:` prefix) unless false.
    public var echoEngine = true

    public init(store: Store, set: String, base: String, options: TrainOptions, runtime: TrainOptions.Runtime,
                engine: TrainingEngine, cache: String) {
        self.store = store
        self.set = set
        self.base = base
        self.options = options
        self.runtime = runtime
        self.engine = engine
        self.cache = cache
    }

    /// Everything that decides the result (the run's fingerprint).
    public struct Config: Codable, Sendable {
        var stage = "train-v1"
        var engine = "peft"
        public var set: String
        public var base: String
        public var options: TrainOptions
        /// Resolved: the loss mode, precision, alpha, total and warm-up steps.
        public var loss: String
        public var dtype: String
        public var alpha: Double
        public var totalSteps: Int
        public var warmupSteps: Int
    }

    /// What `prepare` resolved.
    public struct Prepared {
        let setRef: TrainingSetRef
        let chat: Bool
        let examples: Int
        let base: BaseModel
        let existingRun: Int64?
        let lastCheckpoint: (id: Int64, step: Int)?
        let complete: Bool
        /// The step of the last checkpoint in the file (nil: the run starts from scratch).
        public var lastCheckpointStep: Int? { lastCheckpoint?.step }
    }

    /// What a run did.
    public struct Summary: StageOutput, Sendable {
        public var runID: Int64
        public var fingerprint: String
        public var totalSteps: Int
        /// Steps done by this invocation, and the step it resumed from.
        public var stepsRun: Int
        public var resumedFrom: Int
        public var checkpoints: Int
        public var lastLoss: Double?
        public var alreadyComplete: Bool
        public var counts: [String: Int] { ["steps": stepsRun, "resumed_from": resumedFrom, "checkpoints": checkpoints, "total_steps": totalSteps] }
    }

    // MARK: - Prepare

    public func prepare() throws -> StagePlan<Config, Prepared> {
        try options.validate()
        guard runtime.threads >= 1, runtime.checkpointEvery >= 1, runtime.processes >= 1 else {
            throw TrainError.badOption("--threads, --checkpoint-every and --processes must be at least 1")
        }
        // The set: complete, with token ids (packed) or messages (chat) in every example.
        let (setRef, chat, examples, setTokenizer) = try store.pool.read { db -> (TrainingSetRef, Bool, Int, String?) in
            let ref = try TrainingSetExport.resolve(db, set)
            let shape = try TrainingExamples.shape(db, set: ref.id)
            let n = shape.examples, ids = shape.withInputIDs, msgs = shape.withMessages
            guard n > 0 else { throw TrainError.badSet("'\(set)' has no examples") }
            let chat = msgs == n
            if !chat && ids < n {
                throw TrainError.badSet("'\(ref.name)' (\(ref.fingerprint.prefix(12))): \(n - ids) of \(n) examples have no input_ids; "
                    + "build the set with --tokenizer (the base model's tokenizer) so it is pre-tokenised")
            }
            let tok = try ref.tokenizerId.flatMap { try TokenCounts.tokenizerFingerprint(db, id: $0) }
            return (ref, chat, n, tok)
        }
        let base = try BaseModel.resolve(self.base, engine: engine, cache: cache)
        try checkTokenizer(base: base, setTokenizer: setTokenizer, setName: setRef.name)
        if options.method == .lora {
            let names: [String]
            switch options.targets {
            case .allLinear: names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
            case .attention: names = ["q_proj", "k_proj", "v_proj", "o_proj"]
            case .qv: names = ["q_proj", "v_proj"]
            }
            let shapes = base.linearShapes()
            for n in names {
                guard let s = shapes[n], options.rank > max(s.inFeatures, s.outFeatures) else { continue }
                throw TrainError.badOption("--rank \(options.rank) is larger than the base's \(n) layers (\(s.inFeatures) -> \(s.outFeatures)): "
                    + "use a rank of at most \(max(s.inFeatures, s.outFeatures)), or other --targets")
            }
        }

        let perStep = options.batchSize * options.gradAccum
        let stepsPerEpoch = (examples + perStep - 1) / perStep
        let total = options.maxSteps ?? options.epochs * stepsPerEpoch
        let loss: String
        switch options.loss {
        case .auto: loss = chat ? "masked" : "all"
        case .all: loss = "all"
        case .assistant:
            guard chat else { throw TrainError.badOption("--loss assistant needs a chat-format set (build --format chat); '\(setRef.name)' is packed text") }
            loss = "masked"
        }
        let dtype: String
        switch options.precision {
        case .auto: dtype = Self.hasCUDA ? "bf16" : "fp32"
        case .fp32: dtype = "fp32"
        case .bf16: dtype = "bf16"
        }
        let config = Config(set: setRef.fingerprint, base: base.fingerprint, options: options, loss: loss, dtype: dtype,
                            alpha: options.alpha ?? Double(2 * options.rank), totalSteps: total,
                            warmupSteps: Int((Double(total) * options.warmupRatio).rounded(.down)))
        let fingerprint = try StageRunner.fingerprint(stage: Self.name, configuration: config)
        let (runID, status, last): (Int64?, String?, (Int64, Int)?) = try store.pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, status, stage_run_id FROM training_runs WHERE fingerprint = ?", arguments: [fingerprint]) else {
                return (nil, nil, nil)
            }
            let id: Int64 = row["id"]
            if let stageRun: Int64 = row["stage_run_id"], let other = try StageRunRecord.fetch(db, id: stageRun),
               let pid = other.pid, pid != Int64(getpid()), other.mayBeAlive {
                throw TrainError.concurrentRun("run \(id) (\(fingerprint.prefix(12))) is being trained by process \(pid) on \(other.host ?? "this host"); let it finish or stop it first")
            }
            let cp = try Row.fetchOne(db, sql: """
                SELECT c.id, c.step FROM checkpoints c WHERE c.run_id = ? AND EXISTS (SELECT 1 FROM checkpoint_state s WHERE s.checkpoint_id = c.id)
                ORDER BY c.step DESC LIMIT 1
                """, arguments: [id])
            return (id, row["status"], cp.map { ($0["id"], $0["step"]) })
        }
        let done = last?.1 ?? 0
        return StagePlan(configuration: config, pendingInputs: max(0, total - done),
                         prepared: Prepared(setRef: setRef, chat: chat, examples: examples, base: base, existingRun: runID,
                                            lastCheckpoint: last.map { (id: $0.0, step: $0.1) }, complete: status == "complete"))
    }

    static var hasCUDA: Bool {
        FileManager.default.fileExists(atPath: "/dev/nvidiactl") || FileManager.default.fileExists(atPath: "/proc/driver/nvidia/version")
    }

    /// The base's tokenizer must be the set's: the same file (fingerprint), or the same vocabulary
    /// (every id maps to the same token; a GGUF and the tokenizer.json converted from it differ as
    /// files but not as tokenizers).
    func checkTokenizer(base: BaseModel, setTokenizer: String?, setName: String) throws {
        guard let setTokenizer else { return }  // chat sets built without a tokenizer: the engine tokenises
        let identified: (tokenizer: any Tokenizer, fingerprint: String, definition: String)
        do {
            identified = try TargetTokenizer.identify(path: base.tokenizerSource)
        } catch {
            throw TrainError.badBase("\(base.given): cannot read its tokenizer to check it against the set's: \(error)")
        }
        let baseTok = identified.tokenizer, baseFingerprint = identified.fingerprint
        if baseFingerprint == setTokenizer { return }
        guard let setTok = try TargetTokenizer.recorded(store, reference: setTokenizer) else {
            throw TrainError.tokenizerMismatch("the set '\(setName)' was tokenised with tokenizer \(setTokenizer.prefix(12)), whose file is gone "
                + "or changed, and the base's (\(baseFingerprint.prefix(12))) is another file: cannot check they are the same")
        }
        guard setTok.vocabularySize == baseTok.vocabularySize else {
            throw TrainError.tokenizerMismatch("the set '\(setName)' has \(setTok.vocabularySize) tokens in its vocabulary, \(base.given) \(baseTok.vocabularySize)")
        }
        for id in 0..<Int32(clamping: setTok.vocabularySize) where setTok.token(for: id) != baseTok.token(for: id) {
            throw TrainError.tokenizerMismatch("token \(id) is '\(setTok.token(for: id) ?? "?")' in the set's tokenizer and '\(baseTok.token(for: id) ?? "?")' in \(base.given)'s")
        }
    }

    // MARK: - Execute

    public func execute(_ work: StagePlan<Config, Prepared>, in run: StageContext) throws -> Summary {
        let p = work.prepared, config = work.configuration
        let fingerprint = run.fingerprint
        let paramsJSON = try Fingerprint.canonicalJSON(config)
        let runID: Int64 = try run.commit(processed: 0) { db in
            if let id = p.existingRun {
                try db.execute(sql: "UPDATE training_runs SET stage_run_id = ?, status = CASE WHEN status = 'complete' THEN status ELSE 'running' END, error = NULL WHERE id = ?",
                               arguments: [run.runID, id])
                return id
            }
            try db.execute(sql: """
                INSERT INTO training_runs(training_set_id, base_model, engine, method, params, fingerprint, status, started_at,
                                          base_fingerprint, total_steps, stage_run_id)
                VALUES (?, ?, 'peft', ?, ?, ?, 'running', ?, ?, ?, ?)
                """, arguments: [p.setRef.id, p.base.given, options.method.rawValue, paramsJSON, fingerprint, Timestamp.now(),
                                 p.base.fingerprint, config.totalSteps, run.runID])
            return db.lastInsertedRowID
        }
        var summary = Summary(runID: runID, fingerprint: fingerprint, totalSteps: config.totalSteps, stepsRun: 0,
                              resumedFrom: p.lastCheckpoint?.step ?? 0, checkpoints: 0, lastLoss: nil, alreadyComplete: false)
        if p.complete || (p.lastCheckpoint?.step ?? 0) >= config.totalSteps {
            log("run \(runID) (\(fingerprint.prefix(12))) is complete: \(config.totalSteps) steps")
            try markComplete(runID)
            summary.alreadyComplete = true
            return summary
        }
        let work = URL(fileURLWithPath: store.path + ".train").appendingPathComponent(String(fingerprint.prefix(16))).path
        let fm = FileManager.default
        try? fm.removeItem(atPath: work)
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer {
            if !runtime.keepWork {
                try? fm.removeItem(atPath: work)
                _ = rmdir(store.path + ".train")  // only when empty: another run may be working beside this one
            }
        }

        let examplesPath = work + "/examples.jsonl"
        try writeExamples(set: p.setRef.id, chat: p.chat, to: examplesPath)
        var resume: String?
        if let last = p.lastCheckpoint {
            let folder = work + "/resume-\(last.step)"
            try store.pool.read { db in try CheckpointStore.materialize(db, checkpointID: last.id, into: folder, state: true) }
            resume = folder
            log("resuming run \(runID) from its checkpoint at step \(last.step) of \(config.totalSteps)")
        }
        let engineConfig = EngineConfig(
            base: p.base.folder, examples: examplesPath, output_dir: work + "/checkpoints", method: options.method.rawValue,
            lora: options.method == .lora ? .init(r: options.rank, alpha: config.alpha, dropout: options.dropout, target_modules: options.targets.rawValue) : nil,
            learning_rate: options.learningRate, scheduler: options.scheduler.rawValue, warmup_steps: config.warmupSteps,
            epochs: options.epochs, max_steps: config.totalSteps, batch_size: options.batchSize, grad_accum: options.gradAccum,
            weight_decay: options.weightDecay, max_grad_norm: options.maxGradNorm, seed: Int(truncatingIfNeeded: options.seed),
            threads: runtime.threads, gradient_checkpointing: runtime.gradientCheckpointing, dtype: config.dtype,
            load_in_8bit: options.int8, loss: config.loss, checkpoint_every: runtime.checkpointEvery, resume: resume)
        let configPath = work + "/config.json"
        try JSONEncoder.sortedKeys.encode(engineConfig).write(to: URL(fileURLWithPath: configPath))

        let progress = ProgressReporter(label: "train", total: config.totalSteps - summary.resumedFrom, unit: "steps")
        defer { progress.finish() }
        do {
            try engine.run(["train", "--config", configPath], processes: runtime.processes, echoStderr: echoEngine) { event in
                try handle(event, runID: runID, run: run, summary: &summary, progress: progress, config: config)
            }
        } catch {
            try? store.pool.write { db in
                try db.execute(sql: "UPDATE training_runs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                               arguments: [String(describing: error), Timestamp.now(), runID])
            }
            throw error
        }
        try markComplete(runID)
        return summary
    }

    private func markComplete(_ runID: Int64) throws {
        try store.pool.write { db in
            try CheckpointStore.dropResumeState(db, runID: runID)
            try db.execute(sql: "UPDATE training_runs SET status = 'complete', error = NULL, finished_at = coalesce(finished_at, ?) WHERE id = ?",
                           arguments: [Timestamp.now(), runID])
        }
    }

    private func handle(_ event: [String: Any], runID: Int64, run: StageContext, summary: inout Summary,
                        progress: ProgressReporter, config: Config) throws {
        switch event["event"] as? String {
        case "ready":
            let start = (event["start_step"] as? NSNumber)?.intValue ?? 0
            guard start == summary.resumedFrom else {
                throw TrainError.engine("the engine starts at step \(start), the file's last checkpoint is at step \(summary.resumedFrom)")
            }
            let trainable = (event["trainable_parameters"] as? NSNumber)?.intValue ?? 0
            let total = (event["total_parameters"] as? NSNumber)?.intValue ?? 0
            let targets = (event["target_modules"] as? [String])?.joined(separator: ",") ?? ""
            log("\(trainable) trainable of \(total) parameters (\(String(format: "%.1f", 100 * Double(trainable) / Double(max(total, 1))))%)"
                + (targets.isEmpty ? "" : ", adapters on \(targets)") + "; \(config.totalSteps) steps, \(config.dtype)")
            let engineInfo = try JSONSerialization.data(withJSONObject: event.filter { $0.key != "event" }, options: [.sortedKeys])
            try run.commit(processed: 0) { db in
                try db.execute(sql: "UPDATE training_runs SET params = json_set(params, '$.engine', json(?)) WHERE id = ?",
                               arguments: [String(decoding: engineInfo, as: UTF8.self), runID])
            }
        case "step":
            guard let step = (event["step"] as? NSNumber)?.intValue, step >= 1 else { throw TrainError.engine("a step event without a step: \(event)") }
            var metrics: [(String, Double)] = []
            for key in ["loss", "learning_rate", "grad_norm", "tokens", "tokens_per_second", "seconds", "epoch"] {
                if let v = (event[key] as? NSNumber)?.doubleValue, v.isFinite { metrics.append((key, v)) }
            }
            try run.commit(processed: 1) { db in
                let insert = try db.makeStatement(sql: "INSERT OR REPLACE INTO training_metrics(run_id, step, name, value) VALUES (?, ?, ?, ?)")
                for (name, value) in metrics { try insert.execute(arguments: [runID, step, name, value]) }
            }
            summary.stepsRun += 1
            summary.lastLoss = (event["loss"] as? NSNumber)?.doubleValue
            progress.advance(by: 1)
            run.report(counts: summary.counts)
        case "checkpoint":
            guard let step = (event["step"] as? NSNumber)?.intValue, let dir = event["dir"] as? String else {
                throw TrainError.engine("a checkpoint event without step and dir: \(event)")
            }
            let t0 = Date()
            var folder = try CheckpointStore.read(folder: dir)
            // The last step's state would only be dropped when the run completes a moment later;
            // not storing it spares the file its size (twice the adapter's). A kill before `done`
            // resumes from the previous checkpoint and stores this step again.
            if step >= config.totalSteps { folder.statePath = nil }
            let (_, bytes) = try run.commit(processed: 0) { db in try CheckpointStore.insert(db, runID: runID, step: step, folder: folder) }
            let seconds = Date().timeIntervalSince(t0)
            summary.checkpoints += 1
            if !runtime.keepWork { try? FileManager.default.removeItem(atPath: dir) }
            log("checkpoint at step \(step) stored (\(folder.tensors.count) tensors, \(bytes / 1_000_000) MB, \(String(format: "%.1f", seconds)) s)"
                + (summary.lastLoss.map { String(format: ", loss %.4f", $0) } ?? ""))
        case "done":
            break
        default:
            break  // later protocol versions may add events
        }
    }

    /// The set's examples as the engine reads them: `{"input_ids": [...]}` per packed example (the
    /// stored little-endian int32 ids, checked), `{"messages": [...]}` per chat example.
    func writeExamples(set id: Int64, chat: Bool, to path: String) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let out = FileHandle(forWritingAtPath: path) else { throw TrainError.badSet("cannot write \(path)") }
        defer { try? out.close() }
        try store.pool.read { db in
            let rows = try TrainingExamples.cursor(db, set: id)
            var buffer = Data()
            while let row = try rows.next() {
                let position: Int = row["position"]
                if chat {
                    guard let messages: String = row["messages"] else { throw TrainError.badSet("example \(position) has no messages") }
                    buffer.append(contentsOf: Array("{\"messages\":".utf8))
                    buffer.append(contentsOf: Array(messages.utf8))
                    buffer.append(contentsOf: Array("}\n".utf8))
                } else {
                    guard let blob: Data = row["input_ids"], !blob.isEmpty, blob.count % 4 == 0 else {
                        throw TrainError.badSet("example \(position): input_ids is missing or not a whole number of int32 values")
                    }
                    buffer.append(contentsOf: Array("{\"input_ids\":[".utf8))
                    var first = true
                    blob.withUnsafeBytes { raw in
                        for k in stride(from: 0, to: raw.count, by: 4) {
                            let v = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: Int32.self))
                            if !first { buffer.append(0x2C) }
                            first = false
                            buffer.append(contentsOf: Array(String(v).utf8))
                        }
                    }
                    buffer.append(contentsOf: Array("]}\n".utf8))
                }
                if buffer.count > 4 << 20 { out.write(buffer); buffer.removeAll(keepingCapacity: true) }
            }
            out.write(buffer)
        }
    }
}

/// The engine's `train --config` file (trainer/README.md).
struct EngineConfig: Encodable {
    struct LoRA: Encodable {
        var r: Int
        var alpha: Double
        var dropout: Double
        var target_modules: String
    }
    var base: String
    var examples: String
    var output_dir: String
    var method: String
    var lora: LoRA?
    var learning_rate: Double
    var scheduler: String
    var warmup_steps: Int
    var epochs: Int
    var max_steps: Int
    var batch_size: Int
    var grad_accum: Int
    var weight_decay: Double
    var max_grad_norm: Double
    var seed: Int
    var threads: Int
    var gradient_checkpointing: Bool
    var dtype: String
    var load_in_8bit: Bool
    var loss: String
    var checkpoint_every: Int
    var resume: String?
}

extension JSONEncoder {
    static let sortedKeys: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
