import ArgumentParser
import Foundation
import LecternEval
import LecternStore
import LecternTrain

extension TaskImport.Format: ExpressibleByArgument {}
extension TaskMetric: ExpressibleByArgument {}
extension ServerAPI: ExpressibleByArgument {}

/// `lectern eval import|run|report`
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Domain tasks in the file, scored as AdaptLLM and lm-evaluation-harness score them, with a report.",
        discussion: "See docs/evaluation.md.",
        subcommands: [EvalImportCommand.self, EvalRunCommand.self, EvalReportCommand.self])
}

/// `lectern eval import FILE TASKFILE --task NAME [--format pubmedqa|adaptllm]`
struct EvalImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Add a task's items: PubMedQA's ori_pqal.json, AdaptLLM's task JSONL ({input, options, gold_index} or {input, label}), or an lm-evaluation-harness task YAML over local JSONL.")

    @Argument(help: "The Lectern file.")
    var file: String

    @Argument(help: "The task file (for --format lmeval: the task's YAML, whose dataset_kwargs.data_files names the JSONL).")
    var taskFile: String

    @Option(help: "Task name in the file (e.g. pubmedqa).")
    var task: String

    @Option(help: "pubmedqa (ori_pqal.json), adaptllm (JSONL) or lmeval (lm-evaluation-harness YAML).")
    var format = TaskImport.Format.adaptllm

    @Option(help: "Domain of the task (default: the file's).")
    var domain: String?

    @Option(help: "Metric the report shows (default: the task file's, else accuracy for choice tasks, exact_match for generation tasks).")
    var metric: TaskMetric?

    @Option(help: "Import only the first N items.")
    var limit: Int?

    @Flag(help: "Stop at the first bad record instead of skipping it.")
    var strict = false

    func run() throws {
        let store = try Store.open(path: file)
        var stage = TaskImport(store: store, path: taskFile, task: task, format: format)
        stage.domain = domain
        stage.metric = metric
        stage.limit = limit
        stage.strict = strict
        let s = try StageRunner.run(stage)
        print("\(file): task \(task) (\(s.kind)): \(s.added) items added, \(s.alreadyThere) already there, \(s.skipped) skipped")
        for p in s.problems.prefix(5) { print("  skipped: \(p)") }
    }
}

/// `lectern eval run FILE --task NAME --base MODEL [--run R [--step S]]`
struct EvalRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Score a base model, or a base with a training run's checkpoint from the file, on a task (local engine), or a model behind an OpenAI-compatible server.",
        discussion: """
        Multiple choice as AdaptLLM scores it (lowest mean negative log-likelihood of the option's tokens after the \
        prompt: metric accuracy), with lm-evaluation-harness's acc (summed) and acc_norm (per character) from the \
        same forward passes. Every prediction is a row (eval_predictions); a re-run scores only what is missing; \
        the task's scores (eval_scores, with bootstrap 95% intervals) are recomputed from all predictions.
        With --endpoint URL --model NAME the model behind an OpenAI-compatible server answers instead: generation \
        tasks through chat or completions; multiple choice through completions with echo + logprobs (vLLM gives \
        prompt log-probabilities; llama-server does not, and is refused).
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: EvalArguments

    func validate() throws {
        if options.base == nil && options.endpoint == nil { throw ValidationError("--base MODEL (local engine) or --endpoint URL --model NAME (a server) is required") }
        if options.endpoint != nil {
            if options.model == nil { throw ValidationError("--endpoint needs --model NAME (the served model)") }
            if options.runReference != nil { throw ValidationError("--run applies a checkpoint with the local engine; a server scores what it serves (export the adapter and serve it, then --label it)") }
        }
    }

    func run() async throws {
        var made = PipelineOutputs()
        try await options.run(in: try Store.open(path: file), made: &made)
    }
}

/// The options of `lectern eval run`, and the `[eval]` section of a recipe: in a pipeline it
/// imports the task when `task_file` is given, then scores the base (with `with_base`) and the
/// base with the last checkpoint of the run `train` made.
struct EvalArguments: PipelineStage {
    static let section = "eval"
    static let pathKeys: Set<String> = ["task_file", "base"]

    @Option(help: "Task name (`lectern eval import` made it, or --task-file imports it first).")
    var task: String

    @Option(help: "Import the task from this file first (nothing is added when it is already there).")
    var taskFile: String?

    @Option(help: "Format of --task-file: pubmedqa, adaptllm or lmeval.")
    var format = TaskImport.Format.adaptllm

    @Option(help: "Import only the first N items of --task-file: the task's test items (with build's --exclude-eval, their documents stay out of training).")
    var items: Int?

    @Option(help: "Base model: a Hugging Face folder or a GGUF file (in a pipeline: the base `train` used).")
    var base: String?

    @Option(name: .customLong("run"), help: "Training run (id or fingerprint prefix) whose checkpoint is applied to the base (in a pipeline: the run `train` made).")
    var runReference: String?

    @Option(help: "Checkpoint step of --run (default: its last).")
    var step: Int?

    @Flag(help: "With --run: also score the base alone, for the difference the adapter makes.")
    var withBase = false

    @Option(help: "Score at most this many items of each model now (the rest on a later run).")
    var limit: Int?

    @Option(help: "CPU threads of the engine.")
    var threads = 1

    @Option(help: "Generation tasks: most new tokens per answer (greedy; an answer ends at a newline), as AdaptLLM.")
    var maxNewTokens = 100

    @Option(help: "Score through this OpenAI-compatible server instead of the local engine (base URL up to /v1).")
    var endpoint: String?

    @Option(help: "With --endpoint: the served model's name.")
    var model: String?

    @Option(help: "With --endpoint: chat or completions (multiple choice needs completions with prompt log-probabilities).")
    var api = ServerAPI.completions

    @Option(help: "With --endpoint: the model's name in the report (default: --model), e.g. for an adapter the server applies.")
    var label: String?

    @Option(help: "With --endpoint: requests in flight at once.")
    var concurrency = 2

    @Option(help: "With --endpoint: seconds to wait for a reply before retrying.")
    var timeout = 120.0

    @Option(help: "With --endpoint: environment variable holding a bearer token (never stored).")
    var apiKeyEnv: String?

    @Option(help: "With --endpoint: a field merged into every request, KEY=JSON (e.g. lora=[{\"id\":0,\"scale\":1}] for llama-server); repeatable.")
    var field: [String] = []

    mutating func validate() throws {
        if let items, items < 1 { throw ValidationError("--items must be at least 1") }
    }

    mutating func handOn(_ made: PipelineOutputs) {
        if base == nil { base = made.baseModel }
        if runReference == nil, let id = made.trainingRunID { runReference = String(id) }
    }

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        try importTask(into: store)
        if let endpoint {
            try await runOnServer(store, endpoint)
            return
        }
        guard let base else { throw CLIError("eval: no base model: give --base MODEL") }
        let cache = TrainingEngine.modelCache
        let engine = try TrainingEngine.locate()
        let models: [String?] = runReference == nil ? [nil] : (withBase ? [nil, runReference] : [runReference])
        for run in models {
            var stage = EvalStage(store: store, task: task, base: base, run: run, step: run == nil ? nil : step, engine: engine, cache: cache)
            stage.limit = limit
            stage.threads = threads
            stage.maxNewTokens = maxNewTokens
            let s = try StageRunner.run(stage)
            print("\(store.path): \(task), \(run.map { "run \($0)" } ?? "base"): \(s.scored) items scored now, \(s.alreadyScored) before (configuration \(s.fingerprint.prefix(12)))")
            for score in s.scores {
                print(String(format: "  %@ %.1f [%.1f, %.1f] on %d items", score.metric, score.value, score.low, score.high, score.items))
            }
        }
        let report = try await store.pool.read { db in try EvalReport.read(db) }
        print(report.text())
    }

    /// Imports `--task-file` (its first `--items`), when given: nothing is added when it is there.
    func importTask(into store: Store) throws {
        guard let taskFile else { return }
        var stage = TaskImport(store: store, path: taskFile, task: task, format: format)
        stage.limit = items
        let s = try StageRunner.run(stage)
        print("\(store.path): task \(task) (\(s.kind)): \(s.added) items added, \(s.alreadyThere) already there, \(s.skipped) skipped")
    }

    /// Scores the task through an OpenAI-compatible server.
    func runOnServer(_ store: Store, _ endpoint: String) async throws {
        guard let url = URL(string: endpoint), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw CLIError("eval: --endpoint '\(endpoint)' is not an http(s) URL")
        }
        guard let model else { throw CLIError("eval: --endpoint needs --model NAME") }
        var stage = ServerEvalStage(store: store, task: task, endpoint: url, model: model)
        stage.api = api
        stage.label = label
        stage.limit = limit
        stage.concurrency = concurrency
        stage.timeout = timeout
        stage.apiKeyEnv = apiKeyEnv
        stage.maxNewTokens = maxNewTokens
        for f in field {
            guard let eq = f.firstIndex(of: "="), eq != f.startIndex else { throw CLIError("eval: --field '\(f)' is not KEY=JSON") }
            stage.extraBody[String(f[..<eq])] = String(f[f.index(after: eq)...])
        }
        let s = try await StageRunner.run(stage)
        print("\(store.path): \(task), \(label ?? model) via \(endpoint): \(s.scored) items scored now, \(s.alreadyScored) before"
              + (s.unscored > 0 ? ", \(s.unscored) without an answer (left unscored; run again to retry them)" : "")
              + " (configuration \(s.fingerprint.prefix(12)))")
        for score in s.scores {
            print(String(format: "  %@ %.1f [%.1f, %.1f] on %d items", score.metric, score.value, score.low, score.high, score.items))
        }
        let report = try await store.pool.read { db in try EvalReport.read(db) }
        print(report.text())
        if s.unscored > 0 { throw ExitCode(3) }
    }
}

/// `lectern eval report FILE [--json | --csv]`
struct EvalReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "The scores as the paper's Table 1: tasks as columns, models and checkpoints as rows, the average and the difference to the base.")

    @Argument(help: "The Lectern file.")
    var file: String

    @Flag(help: "JSON instead of the table.")
    var json = false

    @Flag(help: "CSV instead of the table.")
    var csv = false

    func run() throws {
        let store = try Store.open(path: file, access: .read)
        let report = try store.pool.read { db in try EvalReport.read(db) }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys, .prettyPrinted]
            struct Out: Encodable { var tasks: [String]; var metrics: [String: String]; var rows: [EvalReport.Row]; var contaminated: [String: Int] }
            print(String(decoding: try e.encode(Out(tasks: report.tasks, metrics: report.metrics, rows: report.rows, contaminated: report.contaminated)), as: UTF8.self))
        } else if csv {
            print((["model", "checkpoint"] + report.tasks + ["average", "vs_base"]).joined(separator: ","))
            for r in report.rows {
                let cells = report.tasks.map { t in r.cells[t].map { String(format: "%.2f", $0.value) } ?? "" }
                print(([r.model, r.checkpoint ?? ""] + cells + [r.average.map { String(format: "%.2f", $0) } ?? "",
                                                             r.differenceToBase.map { String(format: "%.2f", $0) } ?? ""]).map { v in
                    v.contains(",") || v.contains("\"") ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
                }.joined(separator: ","))
            }
        } else {
            print(report.text())
        }
    }
}
