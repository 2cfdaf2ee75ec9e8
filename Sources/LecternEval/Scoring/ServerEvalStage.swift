import Foundation
import GRDB
import LecternCore
import LecternHTTP
import LecternStore

/// How a server is asked (`--api`).
public enum ServerAPI: String, Codable, Sendable, CaseIterable {
    /// `POST /chat/completions`: the prompt as one user message (generation tasks only).
    case chat
    /// `POST /completions`: the raw prompt; multiple choice through `echo` + `logprobs`.
    case completions
}

/// `lectern eval run --endpoint URL --model NAME`: a task scored through any OpenAI-compatible
/// server, every prediction a row, then the task's scores recomputed as for the local engine.
///
/// Generation tasks: greedy (`temperature` 0), at most `maxNewTokens`, cut at the first stop
/// sequence, through chat or completions. Multiple choice needs the log-probabilities of the
/// prompt's own tokens: completions with `echo: true, logprobs: 1` (vLLM returns them); each
/// option's continuation is `" " + option` after the prompt, its tokens those starting at or
/// after the prompt's last character, and the scores are AdaptLLM's and lm-eval's as for the local
/// engine. A server that ignores `echo` (llama-server) is detected on the first item and refused
/// with a message, never scored from the wrong tokens.
///
/// A request that times out, fails or returns something unreadable is retried (`retries`); an item
/// still without an answer is left without a prediction (counted as failed), so the next run
/// retries it; it is never scored wrong.
public struct ServerEvalStage: AsyncStage {
    public static let name = "eval"
    public static let method = "openai-server-v1"

    public let store: Store
    public let task: String
    /// Base URL up to the API version, e.g. `http://127.0.0.1:8080/v1`.
    public let endpoint: URL
    public let model: String
    public var api: ServerAPI = .completions
    /// The model's name in the report (default: `model`); name an adapter served under the base's
    /// name here.
    public var label: String?
    /// Environment variable holding a bearer token (never stored).
    public var apiKeyEnv: String?
    public var limit: Int?
    public var concurrency = 2
    public var timeout = 120.0
    public var retries = 3
    public var batchItems = 16
    public var maxNewTokens = 100
    public var stop = ["\n"]
    /// Extra fields merged into every request body (for instance llama-server's
    /// `{"lora": [{"id": 0, "scale": 1}]}`); part of the configuration.
    public var extraBody: [String: String] = [:]
    var transport: any HTTPTransport = NIOHTTPTransport(maxConnectionsPerHost: 8)

    public init(store: Store, task: String, endpoint: URL, model: String) {
        self.store = store
        self.task = task
        self.endpoint = endpoint
        self.model = model
    }

    public struct Config: Encodable {
        var method = ServerEvalStage.method
        var task: String
        var model: String
        var label: String
        var api: ServerAPI
        var maxNewTokens: Int?
        var stop: [String]?
        var extra: [String: String]?
    }

    public struct Prepared {
        let taskID: Int64
        let kind: String
        let pending: [Int64]
    }

    public func prepare() async throws -> StagePlan<Config, Prepared> {
        if let limit, limit < 1 { throw EvalError.badOption("--limit must be at least 1") }
        guard concurrency >= 1, retries >= 0, timeout > 0 else { throw EvalError.badOption("--concurrency and --timeout must be positive") }
        guard maxNewTokens >= 1 else { throw EvalError.badOption("--max-new-tokens must be at least 1") }
        let (taskID, kind) = try await EvalStage.task(store, named: task)
        if kind == "choice" && api == .chat {
            throw EvalError.serverCannotScore("task \(task) is multiple choice: it needs the log-probabilities of each option after the prompt, "
                + "which chat completions do not give; use --api completions against a server that returns prompt log-probabilities "
                + "(vLLM), or the local engine (--base MODEL)")
        }
        let generation = kind == "generation"
        let config = Config(task: task, model: model, label: label ?? model, api: api,
                            maxNewTokens: generation ? maxNewTokens : nil, stop: generation ? stop : nil,
                            extra: extraBody.isEmpty ? nil : extraBody)
        let fingerprint = try StageRunner.fingerprint(stage: Self.name, configuration: config)
        let pending = try await EvalStage.pendingItems(store, taskID: taskID, fingerprint: fingerprint)
        let chosen = limit.map { Array(pending.prefix($0)) } ?? pending
        return StagePlan(configuration: config, pendingInputs: chosen.count, prepared: Prepared(taskID: taskID, kind: kind, pending: chosen))
    }

    /// One item as sent.
    struct Item: Sendable {
        var id: Int64
        var input: String
        var options: [String]?
        var gold: Int?
        var label: String?
    }

    /// An item's outcome: a prediction to store, or why there is none.
    enum Outcome: Sendable {
        case generated(Int64, String)
        case chosen(Int64, Prediction)
        case failed(Int64, String)
    }

    public func execute(_ work: StagePlan<Config, Prepared>, in run: StageContext) async throws -> EvalStage.Summary {
        let p = work.prepared
        let fingerprint = run.fingerprint
        let label = self.label ?? model
        var summary = EvalStage.Summary(taskID: p.taskID, fingerprint: fingerprint)
        summary.alreadyScored = try await EvalStage.scoredCount(store, taskID: p.taskID, fingerprint: fingerprint)
        let items = try await store.pool.read { db in try Self.items(db, ids: p.pending) }
        if let first = items.first, first.options != nil {
            try await checkPromptLogprobs(first)
        }
        let progress = ProgressReporter(label: "eval \(task) via \(endpoint.host ?? "server")", total: items.count, unit: "items")
        defer { progress.finish() }
        var waiting: [Outcome] = []
        func flush() throws {
            let batch = waiting.filter { if case .failed = $0 { return false } else { return true } }
            waiting.removeAll()
            guard !batch.isEmpty else { return }
            try run.commit(processed: batch.count) { db in
                for outcome in batch {
                    switch outcome {
                    case .generated(let id, let text):
                        let reference = items.first { $0.id == id }?.label
                        try db.execute(sql: """
                            INSERT OR REPLACE INTO eval_predictions(item_id, model, checkpoint_id, fingerprint, predicted_index, predicted_text,
                                                                    option_scores, correct, stage_run_id)
                            VALUES (?, ?, NULL, ?, NULL, ?, NULL, ?, ?)
                            """, arguments: [id, label, fingerprint, text, reference.map { Metrics.exactMatch(text, $0) ? 1 : 0 }, run.runID])
                    case .chosen(let id, let scores):
                        let gold = items.first { $0.id == id }?.gold
                        let predicted = scores.adaptLLMChoice
                        try db.execute(sql: """
                            INSERT OR REPLACE INTO eval_predictions(item_id, model, checkpoint_id, fingerprint, predicted_index, predicted_text,
                                                                    option_scores, correct, stage_run_id)
                            VALUES (?, ?, NULL, ?, ?, NULL, ?, ?, ?)
                            """, arguments: [id, label, fingerprint, predicted, scores.json, gold.map { $0 == predicted ? 1 : 0 }, run.runID])
                    case .failed:
                        break
                    }
                }
            }
            summary.scored += batch.count
        }
        var failed = 0
        try await withThrowingTaskGroup(of: Outcome.self) { group in
            var next = 0, inFlight = 0
            func launch() {
                while inFlight < concurrency, next < items.count {
                    let item = items[next]
                    next += 1
                    inFlight += 1
                    group.addTask { await self.score(item) }
                }
            }
            launch()
            while let outcome = try await group.next() {
                inFlight -= 1
                if case .failed(let id, let why) = outcome {
                    failed += 1
                    run.note("eval item \(id): no answer from \(endpoint.absoluteString) (\(why)); left unscored, a re-run retries it")
                } else {
                    waiting.append(outcome)
                }
                progress.advance(by: 1)
                if waiting.count >= batchItems { try flush() }
                launch()
            }
        }
        try flush()
        if failed > 0 { run.report(counts: ["scored": summary.scored, "unscored": failed]) }
        summary.unscored = failed
        summary.scores = try EvalStage.recomputeScores(store, taskID: p.taskID, kind: p.kind, fingerprint: fingerprint, model: label,
                                                       checkpointID: nil, run: run)
        return summary
    }

    static func items(_ db: Database, ids: [Int64]) throws -> [Item] {
        var out: [Item] = []
        for chunk in stride(from: 0, to: ids.count, by: 500) {
            let slice = Array(ids[chunk..<min(ids.count, chunk + 500)])
            let marks = slice.map { _ in "?" }.joined(separator: ",")
            for row in try Row.fetchAll(db, sql: "SELECT id, input, options, gold_index, label FROM eval_items WHERE id IN (\(marks)) ORDER BY position",
                                        arguments: StatementArguments(slice)) {
                let id: Int64 = row["id"]
                var options: [String]?
                if let text: String = row["options"] {
                    guard let list = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String], !list.isEmpty else {
                        throw EvalError.badTaskFile("eval item \(id): options \(text.prefix(80)) is not a list of strings")
                    }
                    options = list
                }
                out.append(Item(id: id, input: row["input"], options: options, gold: row["gold_index"], label: row["label"]))
            }
        }
        return out
    }

    // MARK: - Requests

    /// Scores one item; never throws (a failure is an outcome).
    func score(_ item: Item) async -> Outcome {
        do {
            if let options = item.options {
                var nllSum: [Double] = [], tokens: [Int] = []
                for option in options {
                    let (sum, n) = try await continuationLogprob(prompt: item.input, continuation: " " + option)
                    nllSum.append(-sum)
                    tokens.append(n)
                }
                let event: [String: Any] = ["nll_sum": nllSum, "nll_mean": zip(nllSum, tokens).map { $0 / Double(max($1, 1)) },
                                            "option_chars": options.map(\.count), "option_tokens": tokens]
                return .chosen(item.id, try Prediction(event: event))
            }
            return .generated(item.id, try await generate(item.input))
        } catch {
            return .failed(item.id, "\(error)")
        }
    }

    /// Greedy text for `prompt`, cut at the first stop sequence.
    func generate(_ prompt: String) async throws -> String {
        var body: [String: Any] = ["model": model, "max_tokens": maxNewTokens, "temperature": 0, "stop": stop]
        let path: String
        switch api {
        case .chat:
            body["messages"] = [["role": "user", "content": prompt]]
            path = "chat/completions"
        case .completions:
            body["prompt"] = prompt
            path = "completions"
        }
        let object = try await post(path, body)
        guard let choice = (object["choices"] as? [[String: Any]])?.first else { throw ServerReplyError("no choices in the reply") }
        let text: String?
        if api == .chat { text = (choice["message"] as? [String: Any])?["content"] as? String } else { text = choice["text"] as? String }
        guard var answer = text else { throw ServerReplyError("a choice without text") }
        for s in stop where !s.isEmpty {
            if let r = answer.range(of: s) { answer = String(answer[..<r.lowerBound]) }
        }
        return answer
    }

    /// The summed log-probability of `continuation` after `prompt` and its token count, from the
    /// prompt tokens a completions server echoes back with their log-probabilities.
    func continuationLogprob(prompt: String, continuation: String) async throws -> (Double, Int) {
        let full = prompt + continuation
        let object = try await post("completions", ["model": model, "prompt": full, "max_tokens": 1, "temperature": 0,
                                                    "echo": true, "logprobs": 1])
        return try Self.continuation(in: object, promptScalars: prompt.unicodeScalars.count, fullScalars: full.unicodeScalars.count)
    }

    /// Reads the continuation's tokens out of an echoed completion: those whose `text_offset`
    /// falls in the continuation (offsets count Unicode scalars, as Python's `str` does); the
    /// generated token after the prompt is left out.
    static func continuation(in object: [String: Any], promptScalars: Int, fullScalars: Int) throws -> (Double, Int) {
        guard let choice = (object["choices"] as? [[String: Any]])?.first,
              let logprobs = choice["logprobs"] as? [String: Any],
              let offsets = (logprobs["text_offset"] as? [NSNumber])?.map(\.intValue),
              let values = logprobs["token_logprobs"] as? [Any], values.count == offsets.count, !offsets.isEmpty else {
            throw ServerCannotEcho()
        }
        // An echo starts at offset 0 with the prompt's first token; a server that ignored `echo`
        // returns only the generated token, after the whole text.
        guard offsets[0] == 0, offsets.contains(where: { $0 >= promptScalars && $0 < fullScalars }) else { throw ServerCannotEcho() }
        var sum = 0.0, n = 0
        for (offset, value) in zip(offsets, values) where offset >= promptScalars && offset < fullScalars {
            guard let lp = (value as? NSNumber)?.doubleValue, lp.isFinite, lp <= 0 else {
                throw ServerReplyError("a continuation token without a finite log-probability (\(value))")
            }
            sum += lp
            n += 1
        }
        return (sum, n)
    }

    /// Refuses a server that gives no prompt log-probabilities, before any item is scored.
    func checkPromptLogprobs(_ item: Item) async throws {
        guard let option = item.options?.first else { return }
        do {
            _ = try await continuationLogprob(prompt: item.input, continuation: " " + option)
        } catch let e as ServerReplyError {
            throw EvalError.serverFailed("checking that it returns prompt log-probabilities: \(e.description)")
        } catch is ServerCannotEcho {
            throw EvalError.serverCannotScore("\(endpoint.absoluteString) returned no log-probabilities for the prompt's tokens "
                + "(it ignores `echo`, as llama-server does; vLLM returns them): task \(task) is multiple choice and cannot be scored "
                + "through it without scoring the wrong tokens. Score it with the local engine (lectern eval run FILE --task \(task) --base MODEL), "
                + "or serve the model with vLLM")
        }
    }

    /// POSTs `body` to `path` under the endpoint, retrying timeouts, transport failures, 429, 5xx
    /// and unreadable replies; returns the reply's JSON object.
    func post(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var merged = body
        for (k, v) in extraBody {
            merged[k] = (try? JSONSerialization.jsonObject(with: Data(v.utf8), options: [.fragmentsAllowed])) ?? v
        }
        let data = try JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys])
        var headers = ["Content-Type": "application/json"]
        if let env = apiKeyEnv, let key = ProcessInfo.processInfo.environment[env] { headers["Authorization"] = "Bearer \(key)" }
        let url = endpoint.appendingPathComponent(path)
        var lastError = ServerReplyError("no attempt")
        for attempt in 0...retries {
            if attempt > 0 { try await Task.sleep(nanoseconds: UInt64(min(8.0, 0.5 * pow(2, Double(attempt - 1))) * 1e9)) }
            do {
                let reply = try await transport.post(url, headers: headers, body: data, timeout: timeout)
                if reply.status == 429 || reply.status >= 500 { lastError = ServerReplyError("\(url.absoluteString): HTTP \(reply.status)"); continue }
                guard reply.status == 200 else {
                    throw ServerReplyError("\(url.absoluteString): HTTP \(reply.status): \(String(decoding: reply.body.prefix(200), as: UTF8.self))")
                }
                guard let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] else {
                    lastError = ServerReplyError("\(url.absoluteString): a reply that is not a JSON object: \(String(decoding: reply.body.prefix(80), as: UTF8.self))")
                    continue
                }
                return object
            } catch let e as ServerReplyError {
                throw e
            } catch {
                switch HTTPAttemptFailure(error) {
                case .timeout: lastError = ServerReplyError("\(url.absoluteString): no reply within \(timeout) s (--timeout)")
                case .transport(let why): lastError = ServerReplyError("\(url.absoluteString): \(why)")
                }
            }
        }
        throw ServerReplyError("\(lastError.description) (\(retries + 1) attempts)")
    }
}

/// A reply that cannot be used.
struct ServerReplyError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// A completions reply without the prompt's log-probabilities.
struct ServerCannotEcho: Error {}
