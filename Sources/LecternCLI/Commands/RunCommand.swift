import ArgumentParser
import Foundation
import LecternCatalogue
import GRDB
import LecternBuild
import LecternStore

/// `lectern run RECIPE.toml`: the whole data pipeline from one recipe file.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the data pipeline from a recipe file: ingest, embed, tokens, QA (miner or LLM), cluster, build, export.",
        discussion: """
        Each step is the stage command of the same name, run in this process with the recipe's section for it \
        (its keys are the command's flags), so it behaves exactly like running the commands one by one: every \
        step is resumable and does only what is \
        missing, so the whole run is too (kill it, run it again, get the same file). Ends with a summary and the \
        time each step took. With --llm-url, QA pairs come from that endpoint (the paper's method, llm-qa recipes) \
        instead of the offline miner. See examples/pubmedqa.toml and docs/build.md.
        """)

    @Argument(help: "The recipe file (TOML).")
    var recipe: String

    @Option(help: "Use this OpenAI-compatible endpoint for QA pairs (e.g. http://127.0.0.1:8080/v1) instead of the miner.")
    var llmUrl: String?

    @Option(help: "Served model name for --llm-url (default: the recipe's generate.model, else 'default').")
    var llmModel: String?

    @Option(help: "With --llm-url: only this many documents get QA pairs (a quick look; the others count as having none).")
    var llmLimit: Int?

    @Option(help: "Write the Lectern file here instead of the recipe's `file`.")
    var file: String?

    @Flag(help: "Print the steps the recipe makes (experiments included) and the time estimate, and stop: nothing is written.")
    var plan = false

    @OptionGroup var sharding: ShardArguments

    func run() async throws {
        var r = try RunRecipe.load(path: recipe)
        if let file { r.file = URL(fileURLWithPath: file).standardizedFileURL.path }
        // Every step's section is parsed by its stage's options type (options, types, paths, presets
        // against the QA source) before the first step runs: a recipe mistake costs nothing, and no
        // file is created.
        let plan = try RunPlan(recipe: r, recipePath: recipe, llmURL: llmUrl, llmModel: llmModel, llmLimit: llmLimit)
        for s in plan.skippedExperiments {
            FileHandle.standardError.write(Data("[lectern run] experiment '\(s.name)' left out: \(s.reason)\n".utf8))
        }
        if self.plan {
            print("\(recipe): \(plan.steps.count) steps into \(r.file)")
            for (i, step) in plan.steps.enumerated() { print("  \(i + 1). \(step.stepName)") }
            for s in plan.skippedExperiments { print("  left out: experiment '\(s.name)': \(s.reason)") }
            print(plan.estimateLine())
            return
        }
        let started = Date()
        if let shard = try sharding.spec {
            // Only the per-document steps, on this shard's file; the rest runs on the merged file.
            let steps = plan.shardSteps
            guard !steps.isEmpty else { throw RunError("\(recipe): no per-document step to run in shards") }
            let planID = try plan.shardPlan(count: shard.count)
            var times: [(name: String, seconds: Double)] = []
            try await sharding.runSharded(main: r.file, shard: shard, plan: planID) { store in
                times = try await plan.execute(steps: steps, in: store, shard: shard).times
            }
            print("\nlectern run --shard \(shard): steps (wall seconds): " + times.map { "\($0.name) \(String(format: "%.1f", $0.seconds))" }.joined(separator: ", ")
                + String(format: "; total %.1f", Date().timeIntervalSince(started)))
            return
        }
        let (times, made) = try await plan.execute()
        try printSummary(file: r.file, steps: times, total: Date().timeIntervalSince(started), outputs: made)
    }

    /// The closing summary, from the file's catalogue (the one `lectern status` prints) and the
    /// ids of what this run's steps made.
    func printSummary(file: String, steps: [(name: String, seconds: Double)], total: Double, outputs: PipelineOutputs) throws {
        let store = try Store.open(path: file, access: .read)
        let catalogue = try store.pool.read { db in try LecternCatalogue.read(db) }
        func int(_ v: DatabaseValue?) -> Int { v.flatMap { Int.fromDatabaseValue($0) } ?? 0 }
        var facts: [(String, String)] = [
            ("documents", String(int(catalogue.fileFact("documents")))),
            ("instructions", String(catalogue.artifactRows("instructions"))),
            ("QA pairs", String(catalogue.artifactRows("QA pairs"))),
            ("mined texts", String(catalogue.artifactRows("reading-comprehension texts"))),
        ]
        if let id = outputs.clusteringID {
            facts.append(("clusters (clustering \(id))", String(catalogue.artifactRows("clusters", id: id))))
        }
        if let id = outputs.trainingSetID, let set = catalogue.trainingSet(id: id) {
            let name = set["name"].flatMap { String.fromDatabaseValue($0) } ?? "?"
            facts.append(("training set '\(name)'", "id \(id): \(int(set["examples"])) examples x \(int(set["context"])) tokens, \(int(set["tokens"])) tokens"))
            facts.append(("  domain : general tokens", "\(int(set["domain_tokens"])) : \(int(set["general_tokens"]))"))
            let fill = set["fill_ratio"].flatMap { String.fromDatabaseValue($0) } ?? "?"
            let ffd = set["fill_ffd"].flatMap { String.fromDatabaseValue($0) } ?? "?"
            facts.append(("  fill ratio", "\(fill) (first-fit decreasing \(ffd))"))
        }
        if let id = outputs.trainingRunID, let section = catalogue.section("training_runs"),
           let row = section.rows.first(where: { section.value($0, "id").flatMap { Int64.fromDatabaseValue($0) } == id }) {
            func text(_ c: String) -> String {
                switch section.value(row, c)?.storage {
                case .int64(let i)?: return String(i)
                case .double(let d)?: return String(d)
                case .string(let s)?: return s
                default: return "?"
                }
            }
            facts.append(("training run \(id) (\(text("fingerprint")))", "\(text("steps")) of \(text("total_steps")) steps, last loss \(text("last_loss")), "
                + "\(text("checkpoints")) checkpoints (rank \(text("rank")), \(text("status")))"))
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        print("\nlectern run: \(file) (\(size / 1_000_000) MB)")
        for (k, v) in facts { print("  \(k.padding(toLength: 36, withPad: " ", startingAt: 0)) \(v)") }
        print("  steps (wall seconds):")
        let width = max(20, steps.map(\.name.count).max() ?? 0)
        for s in steps { print("    \(s.name.padding(toLength: width, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", s.seconds))") }
        print("    \("total".padding(toLength: width, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", total))")
    }
}

