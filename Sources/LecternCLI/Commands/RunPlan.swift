import ArgumentParser
import Foundation
import LecternBuild
import LecternCore
import LecternStore

/// The steps of `lectern run` for one recipe: a list of configured stage values, checked as a
/// whole before anything runs.
///
/// Each step is a ``PipelineStage``: the recipe's section for that stage, parsed by the options
/// type the stage's command declares its flags with, so a step behaves exactly as the command
/// would. The plan parses every section up front (option names, types, values and the options'
/// own `validate()`), checks that every input path exists and that the preset fits the QA source,
/// and only then creates the file. At run time each step gets the ``PipelineOutputs`` of the steps
/// before it (``PipelineStage/handOn(_:)``): the embedder `embed` used, the tokenizer `tokens`
/// counted with, the generator `generate` asked, the clustering and the set, by identity.
struct RunPlan {
    /// Every stage section type, in pipeline order: the list a new stage adds one line to.
    static let sectionTypes: [any PipelineStage.Type] = [
        IngestArguments.self, InstructionsArguments.self, GenerateArguments.self, MineArguments.self,
        TokensArguments.self, EmbedArguments.self, ClusterArguments.self, BuildArguments.self, ExportArguments.self,
        TrainArguments.self, EvalArguments.self, ReportArguments.self,
    ]

    let recipe: RunRecipe
    let recipePath: String
    /// The configured steps, in order.
    let steps: [any PipelineStep]
    /// Experiments left out, with the reason (LLM-QA recipes without an endpoint).
    var skippedExperiments: [(name: String, reason: String)] = []

    init(recipe r: RunRecipe, recipePath: String, llmURL: String?, llmModel: String?, llmLimit: Int?) throws {
        recipe = r
        self.recipePath = recipePath
        func fail(_ message: String) -> RunError { RunError("\(recipePath): \(message)") }

        for required in ["ingest", "tokens", "build"] where r.sections[required] == nil {
            throw fail("missing section [\(required)] (see examples/pubmedqa.toml)")
        }

        if !r.experiments.isEmpty {
            (steps, skippedExperiments) = try Self.experimentSteps(r, recipePath: recipePath, llmURL: llmURL, llmModel: llmModel, llmLimit: llmLimit)
            try Self.checkInputs(r, recipePath: recipePath)
            return
        }

        // QA source and preset: --llm-url switches the miner's recipes to their LLM-QA counterparts.
        var source = "miner"
        if case .scalar(let s)? = r.sections["qa"]?["source"] { source = s }
        var buildSection = r.sections["build"] ?? [:]
        guard case .scalar(var name)? = buildSection["recipe"] else {
            throw fail("build.recipe is missing: one of \(RecipePreset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let asked = name
        if llmURL != nil {
            source = "llm"
            name = name.replacingOccurrences(of: "readcompre", with: "llm-qa")
            buildSection["recipe"] = .scalar(name)
        }
        guard let preset = RecipePreset(name: name) else {
            throw fail("build.recipe '\(name)' is not a recipe (\(RecipePreset.allCases.map(\.rawValue).joined(separator: ", ")), or paper)")
        }
        guard ["miner", "llm"].contains(source) else { throw fail("qa.source '\(source)' must be miner or llm") }
        if source == "llm" && preset.content == .mined {
            throw fail("build.recipe \(preset.rawValue) is made of mined texts but qa.source is llm: choose llm-qa or llm-qa+cluster")
        }
        if source == "miner" && preset.content == .qaPairs {
            throw fail("build.recipe '\(asked)' (\(preset.rawValue)) needs QA pairs from an LLM, but qa.source is miner: "
                + "set qa.source = \"llm\" with a [generate] section (endpoint, model), or pass --llm-url, "
                + "or use readcompre+cluster for the offline miner")
        }

        // Every step, parsed now by its stage's options type.
        func parse<T: PipelineStage>(_ type: T.Type, _ edit: (inout [String: RecipeValue]) -> Void = { _ in }) throws -> T {
            var values = r.sections[T.section] ?? [:]
            edit(&values)
            return try T.parse(section: values, recipe: recipePath)
        }
        var steps: [any PipelineStep] = [try parse(IngestArguments.self)]
        if r.sections["instructions"] != nil { steps.append(try parse(InstructionsArguments.self)) }
        if source == "llm" {
            if llmURL == nil && r.sections["generate"]?["endpoint"] == nil {
                throw fail("qa.source = llm needs an endpoint: [generate] endpoint = \"http://HOST:PORT/v1\" (or pass --llm-url)")
            }
            steps.append(try parse(GenerateArguments.self) { values in
                if let url = llmURL { values["endpoint"] = .scalar(url) }
                if let model = llmModel { values["model"] = .scalar(model) } else if values["model"] == nil { values["model"] = .scalar("default") }
                if let limit = llmLimit { values["sample"] = .scalar(String(limit)) }
                // In a pipeline, a QA step that mostly failed stops the run before the build.
                if values["min_ok"] == nil { values["min_ok"] = .scalar("0.5") }
            })
        } else if preset.content == .mined {
            steps.append(try parse(MineArguments.self))
        }
        for needed in ["embed", "cluster"] where preset.clustered && r.disabledSections[needed] != nil {
            throw fail("[\(needed)] is switched off, but build.recipe \(preset.rawValue) needs clusters: switch it on or choose a recipe without +cluster")
        }
        // After the QA step: `tokens` counts the QA pairs too, which `cluster` budgets with.
        steps.append(try parse(TokensArguments.self))
        if preset.clustered {
            steps.append(try parse(EmbedArguments.self))
            steps.append(try parse(ClusterArguments.self) { values in
                // The pairs' template, as the build writes them: what each pair adds to a length.
                if values["qa_template"] == nil, let t = r.sections["build"]?["qa_template"] { values["qa_template"] = t }
            })
        }
        // Held-out evaluation: when the build excludes the eval task's items, they are imported
        // before the build (only `[eval] items` of them), so their documents stay out of the set.
        let evalSection = r.sections["eval"] ?? r.disabledSections["eval"]
        if case .scalar(let task)? = evalSection?["task"], evalSection?["task_file"] != nil,
           Self.names(buildSection["exclude_eval"]).contains(task) {
            steps.append(EvalImportStep(arguments: try EvalArguments.parse(section: evalSection ?? [:], recipe: recipePath)))
        }
        steps.append(try BuildArguments.parse(section: buildSection, recipe: recipePath))
        if r.sections["export"] != nil { steps.append(try parse(ExportArguments.self)) }
        if r.sections["train"] != nil { steps.append(try parse(TrainArguments.self)) }
        if r.sections["eval"] != nil { steps.append(try parse(EvalArguments.self)) }
        if r.sections["report"] != nil { steps.append(try parse(ReportArguments.self)) }
        self.steps = steps
        try Self.checkInputs(r, recipePath: recipePath)
    }

    /// A recipe value that names one thing or several (`exclude_eval = "pubmedqa"` or a list).
    static func names(_ value: RecipeValue?) -> [String] {
        switch value {
        case .scalar(let s)?: return [s]
        case .list(let l)?: return l
        default: return []
        }
    }

    /// Inputs that must exist before anything is written, and the domain.
    static func checkInputs(_ r: RunRecipe, recipePath: String) throws {
        func fail(_ message: String) -> RunError { RunError("\(recipePath): \(message)") }
        for (section, values) in r.sections.sorted(by: { $0.key < $1.key }) {
            guard let type = RunRecipe.stageSections[section] else { continue }
            for key in type.inputPathKeys.sorted() {
                let paths: [String]
                switch values[key] {
                case .scalar(let p)?: paths = [p]
                case .list(let ps)?: paths = ps
                default: paths = []
                }
                for (i, p) in paths.enumerated() where !FileManager.default.fileExists(atPath: p) {
                    let label = values[key].map { if case .list = $0 { return "\(section).\(key)[\(i)]" } else { return "\(section).\(key)" } } ?? key
                    throw fail("\(label): \(p): no such file or directory")
                }
            }
        }

        guard !(r.domain ?? "").isEmpty else {
            throw fail("`domain` is missing: name the corpus's domain (e.g. domain = \"biomedicine\", \"finance\", \"law\"); "
                + "it goes into the LLM's QA prompt and picks the default mixing ratio (1:2 for finance, 1:1 otherwise)")
        }
    }

    /// The steps of a recipe with `[[experiment]]`s: the shared data steps once (every QA step
    /// and the clustering any experiment needs), then per experiment its build (a set found by
    /// content: experiments that change only the training share one), training and evaluation,
    /// then the report. LLM-QA experiments need an endpoint
    /// (`--llm-url` or `[generate] endpoint`); without one they are left out, and said so.
    static func experimentSteps(_ r: RunRecipe, recipePath: String, llmURL: String?, llmModel: String?,
                                llmLimit: Int?) throws -> ([any PipelineStep], [(name: String, reason: String)]) {
        func fail(_ message: String) -> RunError { RunError("\(recipePath): \(message)") }
        func parse<T: PipelineStage>(_ type: T.Type, _ values: [String: RecipeValue]?) throws -> T {
            try T.parse(section: values ?? [:], recipe: recipePath)
        }
        func merged(_ section: String, _ e: RunRecipe.Experiment) -> [String: RecipeValue]? {
            guard var values = r.sections[section] else { return e.overrides[section] }
            for (k, v) in e.overrides[section] ?? [:] { values[k] = v }
            return values
        }
        let endpoint = llmURL ?? { if case .scalar(let s)? = r.sections["generate"]?["endpoint"] { return s } else { return nil } }()
        var runnable: [(RunRecipe.Experiment, RecipePreset)] = [], skipped: [(name: String, reason: String)] = []
        for e in r.experiments {
            guard case .scalar(let name)? = merged("build", e)?["recipe"] else {
                throw fail("experiment '\(e.name)': no build recipe (give build = { recipe = \"...\" } or [build] recipe)")
            }
            guard let preset = RecipePreset(name: name) else {
                throw fail("experiment '\(e.name)': build.recipe '\(name)' is not a recipe (\(RecipePreset.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if preset.clustered, let off = ["embed", "cluster"].first(where: { r.disabledSections[$0] != nil }) {
                skipped.append((e.name, "\(name) needs clusters, and [\(off)] is switched off"))
                continue
            }
            if preset.content == .qaPairs && endpoint == nil {
                skipped.append((e.name, "\(name) needs QA pairs from an LLM: pass --llm-url URL or set [generate] endpoint"))
                continue
            }
            runnable.append((e, preset))
        }
        guard !runnable.isEmpty else { throw fail("no experiment can run: " + skipped.map { "\($0.name): \($0.reason)" }.joined(separator: "; ")) }

        var steps: [any PipelineStep] = [try parse(IngestArguments.self, r.sections["ingest"])]
        if r.sections["instructions"] != nil { steps.append(try parse(InstructionsArguments.self, r.sections["instructions"])) }
        if runnable.contains(where: { $0.1.content == .qaPairs }) {
            var values = r.sections["generate"] ?? [:]
            if let url = llmURL { values["endpoint"] = .scalar(url) }
            if let model = llmModel { values["model"] = .scalar(model) } else if values["model"] == nil { values["model"] = .scalar("default") }
            if let limit = llmLimit { values["sample"] = .scalar(String(limit)) }
            if values["min_ok"] == nil { values["min_ok"] = .scalar("0.5") }
            steps.append(try parse(GenerateArguments.self, values))
        }
        if runnable.contains(where: { $0.1.content == .mined }) { steps.append(try parse(MineArguments.self, r.sections["mine"])) }
        steps.append(try parse(TokensArguments.self, r.sections["tokens"]))
        if runnable.contains(where: { $0.1.clustered }) {
            steps.append(try parse(EmbedArguments.self, r.sections["embed"]))
            var values = r.sections["cluster"] ?? [:]
            if values["qa_template"] == nil, let t = r.sections["build"]?["qa_template"] { values["qa_template"] = t }
            steps.append(try parse(ClusterArguments.self, values))
        }
        var heldOutImported = false
        for (e, _) in runnable {
            var build = merged("build", e) ?? [:]
            // A set is found by its content (recipe, options, inputs), not its name: experiments
            // that differ only in training share one set, named after its recipe; one that
            // changes the build's options names its set after itself.
            if build["name"] == nil, (e.overrides["build"] ?? [:]).keys.contains(where: { $0 != "recipe" }) {
                build["name"] = .scalar(e.name)
            }
            if case .scalar(let task)? = merged("eval", e)?["task"], merged("eval", e)?["task_file"] != nil, !heldOutImported,
               Self.names(build["exclude_eval"]).contains(task) {
                steps.append(EvalImportStep(arguments: try parse(EvalArguments.self, merged("eval", e))))
                heldOutImported = true
            }
            steps.append(ExperimentStep(name: e.name, inner: try parse(BuildArguments.self, build)))
            if r.sections["train"] != nil || e.overrides["train"] != nil {
                steps.append(ExperimentStep(name: e.name, inner: try parse(TrainArguments.self, merged("train", e))))
            }
            if r.sections["eval"] != nil || e.overrides["eval"] != nil {
                steps.append(ExperimentStep(name: e.name, inner: try parse(EvalArguments.self, merged("eval", e))))
            }
        }
        if r.sections["report"] != nil { steps.append(try parse(ReportArguments.self, r.sections["report"])) }
        guard !(r.domain ?? "").isEmpty else { throw fail("`domain` is missing: name the corpus's domain (e.g. domain = \"biomedicine\")") }
        return (steps, skipped)
    }

    /// How long the run should take on a fresh file, by part, in seconds: rough figures measured
    /// on the 2-core development machine (docs/report.md, "Run time"), scaled by the inputs'
    /// sizes, the training steps and context, and the items scored. Printed at the start so a
    /// first run says what it is in for; a re-run skips what is done and is faster.
    func estimate() -> [(part: String, seconds: Double)] {
        let cores = Double(max(1, min(ProcessInfo.processInfo.activeProcessorCount, 16)))
        func scalar(_ section: String, _ key: String) -> String? {
            if case .scalar(let s)? = recipe.sections[section]?[key] { return s }
            return nil
        }
        func bytes(_ section: String, _ key: String) -> Double {
            let paths: [String]
            switch recipe.sections[section]?[key] {
            case .scalar(let p)?: paths = [p]
            case .list(let ps)?: paths = ps
            default: paths = []
            }
            return paths.reduce(0) { $0 + Double((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) }
        }
        // Data path: about 8 s per MB of corpus on 2 cores (embedding dominates), instructions
        // 2 s per MB, plus a fixed 10 s; an LLM's QA is not estimated (it depends on the server).
        let mb = bytes("ingest", "sources") / 1e6, instructionMB = bytes("instructions", "sources") / 1e6
        var parts: [(String, Double)] = [("data", (10 + 8 * mb + 2 * instructionMB) * 2 / cores)]
        let trainings = Double(steps.filter { $0.stepName.hasPrefix("train") }.count)
        let evaluations = Double(steps.filter { $0.stepName.hasPrefix("eval") && !$0.stepName.hasPrefix("eval import") }.count)
        if trainings > 0 {
            // 30.5 s a 2048-token step of SmolLM2-135M at rank 256 on two threads; 30 s to start
            // and store the checkpoint.
            // Chat sets are one conversation an example, far shorter than the context (about 700
            // tokens for a PubMedQA abstract and its pairs).
            let context = min(Double(scalar("build", "context") ?? "") ?? 2048, scalar("build", "format") == "chat" ? 700 : .infinity)
            let threads = Double(scalar("train", "threads") ?? "") ?? 1
            let steps = Double(scalar("train", "steps") ?? "") ?? 0  // per run
            let perStep = 30.5 * context / 2048 * 2 / max(1, min(threads, cores))
            parts.append(("train", trainings * (steps > 0 ? 30 + steps * perStep : .infinity)))
        }
        if evaluations > 0, scalar("eval", "endpoint") == nil {
            // About 0.8 s a PubMedQA item (three options) per model on two threads; 10 s to load a model.
            let items = Double(scalar("eval", "limit") ?? scalar("eval", "items") ?? "") ?? 1000
            let models: Double = evaluations + (recipe.sections["eval"]?["with_base"] == .bool(true) ? 1 : 0)
            let threads = Double(scalar("eval", "threads") ?? "") ?? 1
            parts.append(("eval", models * (10 + items * 0.8 * 2 / max(1, min(threads, cores)))))
        }
        return parts
    }

    /// The estimate as one line.
    func estimateLine() -> String {
        let parts = estimate()
        func text(_ s: Double) -> String {
            guard s.isFinite else { return "one epoch (set [train] steps for an estimate)" }
            return s < 90 ? "\(Int(s.rounded())) s" : "\(Int((s / 60).rounded())) min"
        }
        let total = parts.reduce(0) { $0 + $1.seconds }
        return "expected time on a fresh file: about \(text(total)) (" + parts.map { "\($0.part) \(text($0.seconds))" }.joined(separator: ", ")
            + ") on \(ProcessInfo.processInfo.activeProcessorCount) cores; a re-run does only what is missing"
    }

    /// The sections of the per-document stages: what a shard runs (`--shard I/N`). Everything
    /// else (instructions, clustering, build, training, evaluation, report) runs on the merged file.
    static let shardedSections = ["ingest", "generate", "mine", "tokens", "embed"]

    /// The steps a shard runs: the per-document ones, in plan order.
    var shardSteps: [any PipelineStep] {
        steps.filter { step in
            guard let stage = step as? any PipelineStage else { return false }
            return Self.shardedSections.contains(type(of: stage).section)
        }
    }

    /// The identity of a sharded run: the shard count and the recipe's sections of the sharded
    /// stages (what decides the shards' rows). Shards of one plan merge together; `lectern merge`
    /// refuses to mix plans.
    func shardPlan(count: Int) throws -> String {
        var text = "count \(count)\ndomain \(recipe.domain ?? "")\n"
        for section in Self.shardedSections {
            guard let values = recipe.sections[section] else { continue }
            for (k, v) in values.sorted(by: { $0.key < $1.key }) {
                let value: String
                switch v {
                case .scalar(let s): value = s
                case .bool(let b): value = b ? "true" : "false"
                case .list(let l): value = "[" + l.joined(separator: "\u{0}") + "]"
                }
                text += "\(section).\(k) = \(value)\n"
            }
        }
        return Fingerprint.hex(of: Array(text.utf8))
    }

    /// Creates the file, runs the steps in order, each given what the earlier ones made; returns
    /// each step's wall time and what the steps made.
    func execute() async throws -> (times: [(name: String, seconds: Double)], made: PipelineOutputs) {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: recipe.file).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        FileHandle.standardError.write(Data("[lectern run] \(estimateLine())\n".utf8))
        let store = try Store.create(path: recipe.file, domain: recipe.domain ?? "")
        return try await execute(steps: steps, in: store, shard: nil)
    }

    /// Runs `steps` on `store` in order (a shard's file, with `shard`).
    func execute(steps: [any PipelineStep], in store: Store, shard: Shard?) async throws -> (times: [(name: String, seconds: Double)], made: PipelineOutputs) {
        var made = PipelineOutputs()
        made.shard = shard
        // The target tokenizer is configured, not made: the miner budgets with it before `tokens` runs.
        made.tokenizerPath = steps.lazy.compactMap { ($0 as? TokensArguments)?.tokenizer }.first
        var times: [(name: String, seconds: Double)] = []
        for configured in steps {
            var step = configured
            step.handOn(made)
            do {
                try step.validate()
            } catch {
                throw RunError("\(recipePath): step \(step.stepName): \(step.message(for: error))")
            }
            FileHandle.standardError.write(Data("[lectern run] \(step.stepName)\n".utf8))
            let t0 = Date()
            try await step.run(in: store, made: &made)
            times.append((step.stepName, Date().timeIntervalSince(t0)))
        }
        return (times, made)
    }
}
