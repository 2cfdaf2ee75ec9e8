import Foundation
import GRDB
import LecternCore
import LecternStore
import LecternTrain

/// `lectern eval run`: a model (a base, or a base with one of the file's checkpoints) scored on a
/// task by the local engine (`trainer/lectern_train.py score`), every prediction a row, then the
/// task's scores recomputed from all stored predictions of that configuration.
///
/// Multiple choice is scored as AdaptLLM scores it: each option's continuation (the tokens of
/// `input + " " + option` after those of `input`) gets its mean negative log-likelihood, and the
/// lowest wins (`accuracy`); lm-evaluation-harness's `acc` (summed log-likelihood) and `acc_norm`
/// (divided by the continuation's characters) are computed from the same forward passes and stored
/// beside it. The configuration (task, base weights, checkpoint, scoring method) is fingerprinted;
/// a re-run scores only the items without a prediction for it; a kill loses at most the items in
/// flight.
public struct EvalStage: Stage {
    public static let name = "eval"
    /// Scoring method version: changes when the maths changes.
    public static let method = "adaptllm-mean-nll-v1"

    public let store: Store
    public let task: String
    public let base: String
    /// Training run (id or fingerprint prefix) whose checkpoint is applied; nil for the base alone.
    public let run: String?
    public let step: Int?
    public let engine: TrainingEngine
    public let cache: String
    /// Score at most this many pending items in this invocation (the rest on a later run).
    public var limit: Int?
    public var threads = 1
    public var batchItems = 16
    /// Generation tasks: new tokens at most, and where an answer ends (AdaptLLM: 100, a newline).
    public var maxNewTokens = 100
    public var stop = ["\n"]
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(("eval: " + $0 + "\n").utf8)) }

    public init(store: Store, task: String, base: String, run: String?, step: Int?, engine: TrainingEngine, cache: String) {
        self.store = store
        self.task = task
        self.base = base
        self.run = run
        self.step = step
        self.engine = engine
        self.cache = cache
    }

    public struct Config: Encodable {
        var method = EvalStage.method
        var task: String
        var base: String
        var checkpoint: String?
        /// Generation tasks only: greedy decoding's limits.
        var maxNewTokens: Int?
        var stop: [String]?
    }

    public struct Prepared {
        let taskID: Int64
        let kind: String
        let base: BaseModel
        let checkpoint: Adapters.Located?
        let pending: [Int64]
        let modelName: String
    }

    public struct Summary: StageOutput, Sendable {
        public var taskID: Int64
        public var fingerprint: String
        public var scored = 0
        public var alreadyScored = 0
        /// Items the scorer got no usable answer for (a server's timeouts or garbage): left without
        /// a prediction, so a re-run retries them.
        public var unscored = 0
        public var scores: [Score] = []
        public var counts: [String: Int] { ["scored": scored, "already_scored": alreadyScored, "unscored": unscored] }
    }

    public struct Score: Sendable {
        public var metric: String
        public var value: Double
        public var low: Double
        public var high: Double
        public var items: Int
    }

    public func prepare() throws -> StagePlan<Config, Prepared> {
        if let limit, limit < 1 { throw EvalError.badOption("--limit must be at least 1") }
        let (taskID, kind): (Int64, String) = try store.pool.read { db in try Self.task(db, named: task, in: store.path) }
        let checkpoint: Adapters.Located? = try store.pool.read { db in try run.map { try Adapters.locate(db, run: $0, step: step) } }
        if let checkpoint, checkpoint.kind == "full" {
            throw EvalError.badOption("training run \(checkpoint.runID) is a full fine-tuning; scoring its checkpoints is not supported yet (LoRA adapters are)")
        }
        let baseModel = try BaseModel.resolve(base, engine: engine, cache: cache)
        guard maxNewTokens >= 1 else { throw EvalError.badOption("--max-new-tokens must be at least 1") }
        let generation = kind == "generation"
        let config = Config(task: task, base: baseModel.fingerprint,
                            checkpoint: checkpoint.map { "\($0.runFingerprint):\($0.step)" },
                            maxNewTokens: generation ? maxNewTokens : nil, stop: generation ? stop : nil)
        let fingerprint = try StageRunner.fingerprint(stage: Self.name, configuration: config)
        let pending: [Int64] = try store.pool.read { db in try Self.pendingItems(db, taskID: taskID, fingerprint: fingerprint) }
        let chosen = limit.map { Array(pending.prefix($0)) } ?? pending
        let name = URL(fileURLWithPath: base).lastPathComponent
        return StagePlan(configuration: config, pendingInputs: chosen.count,
                         prepared: Prepared(taskID: taskID, kind: kind, base: baseModel, checkpoint: checkpoint, pending: chosen, modelName: name))
    }

    public func execute(_ work: StagePlan<Config, Prepared>, in run: StageContext) throws -> Summary {
        let p = work.prepared
        let fingerprint = run.fingerprint
        var summary = Summary(taskID: p.taskID, fingerprint: fingerprint)
        summary.alreadyScored = try store.pool.read { db in try Self.scoredCount(db, taskID: p.taskID, fingerprint: fingerprint) }
        if !p.pending.isEmpty {
            let workDir = store.path + ".eval/" + String(fingerprint.prefix(16))
            let fm = FileManager.default
            try? fm.removeItem(atPath: workDir)
            try fm.createDirectory(atPath: workDir, withIntermediateDirectories: true)
            defer {
                try? fm.removeItem(atPath: workDir)
                _ = rmdir(store.path + ".eval")
            }
            var adapter: String?
            if let c = p.checkpoint {
                // The checkpoint hand-over: the adapter written from the file's tensors for the engine.
                let folder = workDir + "/adapter"
                let t0 = Date()
                try Adapters.exportPEFT(store, c, to: folder)
                let bytes = (try? fm.attributesOfItem(atPath: folder + "/adapter_model.safetensors")[.size] as? Int) ?? 0
                log(String(format: "checkpoint %@ step %d handed over in %.2f s (%.0f MB of adapter tensors)",
                           String(c.runFingerprint.prefix(12)), c.step, Date().timeIntervalSince(t0), Double(bytes) / 1e6))
                adapter = folder
            }
            // Gold answers, for `correct`, by item.
            var gold: [Int64: Int] = [:]
            var labels: [Int64: String] = [:]
            let generation = p.kind == "generation"
            let itemsPath = workDir + "/items.jsonl"
            try store.pool.read { db in
                var lines = Data()
                for chunk in stride(from: 0, to: p.pending.count, by: 500) {
                    let ids = Array(p.pending[chunk..<min(p.pending.count, chunk + 500)])
                    let marks = ids.map { _ in "?" }.joined(separator: ",")
                    let rows = try Row.fetchAll(db, sql: "SELECT id, input, options, gold_index, label FROM eval_items WHERE id IN (\(marks)) ORDER BY position",
                                                arguments: StatementArguments(ids))
                    for row in rows {
                        let id: Int64 = row["id"]
                        if generation {
                            labels[id] = row["label"] ?? ""
                            let line: [String: Any] = ["id": id, "kind": "generation", "input": row["input"] as String,
                                                       "max_new_tokens": maxNewTokens, "stop": stop]
                            lines.append(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes]))
                            lines.append(0x0A)
                            continue
                        }
                        let optionsText: String = row["options"] ?? "[]"
                        guard let options = (try? JSONSerialization.jsonObject(with: Data(optionsText.utf8))) as? [String], !options.isEmpty else {
                            throw EvalError.badTaskFile("eval item \(id): options \(optionsText.prefix(80)) is not a list of strings")
                        }
                        gold[id] = row["gold_index"]
                        let line: [String: Any] = ["id": id, "kind": "choice", "input": row["input"] as String, "options": options, "delimiter": " "]
                        lines.append(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys, .withoutEscapingSlashes]))
                        lines.append(0x0A)
                    }
                }
                try lines.write(to: URL(fileURLWithPath: itemsPath))
            }
            var config: [String: Any] = ["base": p.base.folder, "items": itemsPath, "threads": threads, "dtype": "fp32"]
            config["adapter"] = adapter ?? NSNull()
            let configPath = workDir + "/config.json"
            try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: URL(fileURLWithPath: configPath))
            let progress = ProgressReporter(label: "eval \(task)", total: p.pending.count, unit: "items")
            defer { progress.finish() }
            var waiting: [(Int64, [String: Any])] = []
            func flush() throws {
                guard !waiting.isEmpty else { return }
                let batch = waiting
                try run.commit(processed: batch.count) { db in
                    let insert = try db.makeStatement(sql: """
                        INSERT OR REPLACE INTO eval_predictions(item_id, model, checkpoint_id, fingerprint, predicted_index, predicted_text,
                                                                option_scores, correct, stage_run_id)
                        VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)
                        """)
                    let text = try db.makeStatement(sql: """
                        INSERT OR REPLACE INTO eval_predictions(item_id, model, checkpoint_id, fingerprint, predicted_index, predicted_text,
                                                                option_scores, correct, stage_run_id)
                        VALUES (?, ?, ?, ?, NULL, ?, NULL, ?, ?)
                        """)
                    for (id, event) in batch {
                        if generation {
                            guard let answer = event["text"] as? String else { throw TrainError.engine("a generation item without text: \(event)") }
                            let correct = labels[id].map { Metrics.exactMatch(answer, $0) ? 1 : 0 }
                            try text.execute(arguments: [id, p.modelName, p.checkpoint?.checkpointID, fingerprint, answer, correct, run.runID])
                            continue
                        }
                        let scores = try Prediction(event: event)
                        let predicted = scores.adaptLLMChoice
                        let correct: Int? = gold[id].map { $0 == predicted ? 1 : 0 }
                        try insert.execute(arguments: [id, p.modelName, p.checkpoint?.checkpointID, fingerprint, predicted,
                                                       scores.json, correct, run.runID])
                    }
                }
                summary.scored += batch.count
                progress.advance(by: batch.count)
                waiting.removeAll()
            }
            try engine.run(["score", "--config", configPath]) { event in
                guard event["event"] as? String == "item" else { return }
                guard let id = (event["id"] as? NSNumber)?.int64Value, gold.keys.contains(id) || labels.keys.contains(id) else {
                    throw TrainError.engine("the engine scored an item it was not given: \(event["id"] ?? "nil")")
                }
                waiting.append((id, event))
                if waiting.count >= batchItems { try flush() }
            }
            try flush()
        }
        summary.scores = try Self.recomputeScores(store, taskID: p.taskID, kind: p.kind, fingerprint: fingerprint, model: p.modelName,
                                                  checkpointID: p.checkpoint?.checkpointID, run: run)
        return summary
    }

    /// The task `name`'s id and kind, or an error listing the file's tasks.
    static func task(_ db: Database, named name: String, in path: String) throws -> (Int64, String) {
        guard let row = try Row.fetchOne(db, sql: "SELECT id, kind FROM eval_tasks WHERE name = ?", arguments: [name]) else {
            let known = try String.fetchAll(db, sql: "SELECT name FROM eval_tasks ORDER BY id")
            throw EvalError.unknownTask("no task '\(name)' in \(path) (known: \(known.isEmpty ? "none; import one with `lectern eval import`" : known.joined(separator: ", ")))")
        }
        return (row["id"], row["kind"])
    }

    static func task(_ store: Store, named name: String) async throws -> (Int64, String) {
        try await store.pool.read { db in try task(db, named: name, in: store.path) }
    }

    /// The task's items without a prediction for the configuration `fingerprint`, in task order.
    static func pendingItems(_ db: Database, taskID: Int64, fingerprint: String) throws -> [Int64] {
        try Int64.fetchAll(db, sql: """
            SELECT i.id FROM eval_items i WHERE i.task_id = ?
            AND NOT EXISTS (SELECT 1 FROM eval_predictions p WHERE p.fingerprint = ? AND p.item_id = i.id)
            ORDER BY i.position
            """, arguments: [taskID, fingerprint])
    }

    static func pendingItems(_ store: Store, taskID: Int64, fingerprint: String) async throws -> [Int64] {
        try await store.pool.read { db in try pendingItems(db, taskID: taskID, fingerprint: fingerprint) }
    }

    /// Predictions already stored for the configuration on the task.
    static func scoredCount(_ db: Database, taskID: Int64, fingerprint: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_predictions p JOIN eval_items i ON i.id = p.item_id WHERE p.fingerprint = ? AND i.task_id = ?",
                         arguments: [fingerprint, taskID]) ?? 0
    }

    static func scoredCount(_ store: Store, taskID: Int64, fingerprint: String) async throws -> Int {
        try await store.pool.read { db in try scoredCount(db, taskID: taskID, fingerprint: fingerprint) }
    }

    /// Recomputes a configuration's scores on a task from all its stored predictions.
    static func recomputeScores(_ store: Store, taskID: Int64, kind: String, fingerprint: String, model: String, checkpointID: Int64?,
                                run: StageContext) throws -> [Score] {
        let metric = try store.pool.read { db in try String.fetchOne(db, sql: "SELECT metric FROM eval_tasks WHERE id = ?", arguments: [taskID]) } ?? "accuracy"
        if kind == "generation" {
            let rows: [(text: String, label: String)] = try store.pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT p.predicted_text, i.label FROM eval_predictions p JOIN eval_items i ON i.id = p.item_id
                    WHERE p.fingerprint = ? AND i.task_id = ? AND p.predicted_text IS NOT NULL AND i.label IS NOT NULL ORDER BY i.position
                    """, arguments: [fingerprint, taskID]).map { ($0[0], $0[1]) }
            }
            guard !rows.isEmpty else { return [] }
            let correct = rows.map { Metrics.exactMatch($0.text, $0.label) }
            let ci = Metrics.bootstrap(count: correct.count) { idx in Metrics.accuracy(idx.map { correct[$0] }) }
            var scores = [Score(metric: "exact_match", value: Metrics.accuracy(correct), low: ci.low, high: ci.high, items: correct.count)]
            if metric == "entity_f1" {
                let texts = rows.map(\.text), labels = rows.map(\.label)
                let ci = Metrics.bootstrap(count: rows.count) { idx in Metrics.entityF1(predicted: idx.map { texts[$0] }, reference: idx.map { labels[$0] }) }
                scores.append(Score(metric: metric, value: Metrics.entityF1(predicted: texts, reference: labels), low: ci.low, high: ci.high, items: rows.count))
            }
            for s in scores { try saveScore(s, taskID: taskID, fingerprint: fingerprint, model: model, checkpointID: checkpointID, run: run) }
            return scores
        }
        let rows: [(gold: Int, scores: Prediction)] = try store.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT i.gold_index, p.option_scores FROM eval_predictions p JOIN eval_items i ON i.id = p.item_id
                WHERE p.fingerprint = ? AND i.task_id = ? AND i.gold_index IS NOT NULL ORDER BY i.position
                """, arguments: [fingerprint, taskID]).map { row in
                let text: String = row["option_scores"] ?? "{}"
                guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
                    throw EvalError.badTaskFile("a stored prediction's option_scores is not JSON")
                }
                return (row["gold_index"], try Prediction(event: object))
            }
        }
        guard !rows.isEmpty else { return [] }
        var scores: [Score] = []
        let choosers: [(String, (Prediction) -> Int)] = [("accuracy", { $0.adaptLLMChoice }), ("acc", { $0.accChoice }), ("acc_norm", { $0.accNormChoice })]
        for (name, choose) in choosers {
            let correct = rows.map { choose($0.scores) == $0.gold }
            let value = Metrics.accuracy(correct)
            let ci = Metrics.bootstrap(count: correct.count) { idx in Metrics.accuracy(idx.map { correct[$0] }) }
            scores.append(Score(metric: name, value: value, low: ci.low, high: ci.high, items: correct.count))
        }
        if !["accuracy", "acc", "acc_norm"].contains(metric) {
            // An F1 over the options as classes, from AdaptLLM's choice.
            let gold = rows.map(\.gold), predicted = rows.map { $0.scores.adaptLLMChoice }
            let ci = Metrics.bootstrap(count: rows.count) { idx in Metrics.choice(metric, gold: idx.map { gold[$0] }, predicted: idx.map { predicted[$0] }) }
            scores.append(Score(metric: metric, value: Metrics.choice(metric, gold: gold, predicted: predicted), low: ci.low, high: ci.high, items: rows.count))
        }
        for s in scores { try saveScore(s, taskID: taskID, fingerprint: fingerprint, model: model, checkpointID: checkpointID, run: run) }
        return scores
    }

    static func saveScore(_ s: Score, taskID: Int64, fingerprint: String, model: String, checkpointID: Int64?, run: StageContext) throws {
        try run.commit(processed: 0) { db in
            do {
                try db.execute(sql: """
                    INSERT INTO eval_scores(task_id, model, checkpoint_id, fingerprint, metric, value, n_items, created_at, ci_low, ci_high)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(task_id, fingerprint, metric) DO UPDATE SET value = excluded.value, n_items = excluded.n_items,
                        created_at = excluded.created_at, ci_low = excluded.ci_low, ci_high = excluded.ci_high
                    """, arguments: [taskID, model, checkpointID, fingerprint, s.metric, s.value, s.items, Timestamp.now(), s.low, s.high])
            }
        }
    }
}

/// One item's option scores as the engine reports them and the file stores them.
struct Prediction: Sendable {
    var nllMean: [Double]
    var nllSum: [Double]
    var chars: [Int]
    var tokens: [Int]

    init(event: [String: Any]) throws {
        func doubles(_ key: String) throws -> [Double] {
            guard let list = event[key] as? [NSNumber], !list.isEmpty else { throw TrainError.engine("an item without \(key): \(event)") }
            return list.map(\.doubleValue)
        }
        nllMean = try doubles("nll_mean")
        nllSum = try doubles("nll_sum")
        chars = try doubles("option_chars").map { Int($0) }
        tokens = (event["option_tokens"] as? [NSNumber])?.map(\.intValue) ?? []
        guard nllSum.count == nllMean.count, chars.count == nllMean.count, nllMean.allSatisfy(\.isFinite), nllSum.allSatisfy(\.isFinite) else {
            throw TrainError.engine("an item's option scores disagree in length or are not finite: \(event)")
        }
    }

    /// AdaptLLM: the lowest mean NLL per option token.
    var adaptLLMChoice: Int { nllMean.indices.min { nllMean[$0] < nllMean[$1] } ?? 0 }
    /// lm-evaluation-harness `acc`: the highest summed log-likelihood.
    var accChoice: Int { nllSum.indices.min { nllSum[$0] < nllSum[$1] } ?? 0 }
    /// lm-evaluation-harness `acc_norm`: the highest log-likelihood per character.
    var accNormChoice: Int { nllSum.indices.min { nllSum[$0] / Double(max(chars[$0], 1)) < nllSum[$1] / Double(max(chars[$1], 1)) } ?? 0 }

    var json: String {
        let object: [String: Any] = ["nll_mean": nllMean, "nll_sum": nllSum, "option_chars": chars, "option_tokens": tokens]
        return String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8), as: UTF8.self)
    }
}
