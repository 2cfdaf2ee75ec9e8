import ArgumentParser
import Foundation
import LecternBuild
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
        TrainArguments.self, EvalArguments.self,
    ]

    let recipe: RunRecipe
    let recipePath: String
    let preset: RecipePreset
    let qaSource: String
    /// The configured steps, in order.
    let steps: [any PipelineStage]

    init(recipe r: RunRecipe, recipePath: String, llmURL: String?, llmModel: String?, llmLimit: Int?) throws {
        recipe = r
        self.recipePath = recipePath
        func fail(_ message: String) -> RunError { RunError("\(recipePath): \(message)") }

        for required in ["ingest", "tokens", "build"] where r.sections[required] == nil {
            throw fail("missing section [\(required)] (see examples/pubmedqa.toml)")
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
        self.preset = preset
        qaSource = source

        // Every step, parsed now by its stage's options type.
        func parse<T: PipelineStage>(_ type: T.Type, _ edit: (inout [String: RecipeValue]) -> Void = { _ in }) throws -> T {
            var values = r.sections[T.section] ?? [:]
            edit(&values)
            return try T.parse(section: values, recipe: recipePath)
        }
        var steps: [any PipelineStage] = [try parse(IngestArguments.self)]
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
        // After the QA step: `tokens` counts the QA pairs too, which `cluster` budgets with.
        steps.append(try parse(TokensArguments.self))
        if preset.clustered {
            steps.append(try parse(EmbedArguments.self))
            steps.append(try parse(ClusterArguments.self) { values in
                // The pairs' template, as the build writes them: what each pair adds to a length.
                if values["qa_template"] == nil, let t = r.sections["build"]?["qa_template"] { values["qa_template"] = t }
            })
        }
        steps.append(try BuildArguments.parse(section: buildSection, recipe: recipePath))
        if r.sections["export"] != nil { steps.append(try parse(ExportArguments.self)) }
        if r.sections["train"] != nil { steps.append(try parse(TrainArguments.self)) }
        if r.sections["eval"] != nil { steps.append(try parse(EvalArguments.self)) }
        self.steps = steps

        // Inputs that must exist before anything is written.
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

    /// Creates the file, runs the steps in order, each given what the earlier ones made; returns
    /// each step's wall time and what the steps made.
    func execute() async throws -> (times: [(name: String, seconds: Double)], made: PipelineOutputs) {
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: recipe.file).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        let store = try Store.create(path: recipe.file, domain: recipe.domain ?? "")
        var made = PipelineOutputs()
        // The target tokenizer is configured, not made: the miner budgets with it before `tokens` runs.
        made.tokenizerPath = steps.lazy.compactMap { ($0 as? TokensArguments)?.tokenizer }.first
        var times: [(name: String, seconds: Double)] = []
        for configured in steps {
            var step = configured
            step.handOn(made)
            do {
                try step.validate()
            } catch {
                throw RunError("\(recipePath): step \(step.stepName): \(type(of: step).message(for: error))")
            }
            FileHandle.standardError.write(Data("[lectern run] \(step.stepName)\n".utf8))
            let t0 = Date()
            try await step.run(in: store, made: &made)
            times.append((step.stepName, Date().timeIntervalSince(t0)))
        }
        return (times, made)
    }
}
