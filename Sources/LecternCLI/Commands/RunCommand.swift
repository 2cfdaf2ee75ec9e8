import ArgumentParser
import Foundation
import GRDB
import LecternBuild
import LecternStore

/// `lectern run RECIPE.toml`: the whole data pipeline from one recipe file.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the data pipeline from a recipe file: ingest, embed, tokens, QA (miner or LLM), cluster, build, export.",
        discussion: """
        Each step is the stage command of the same name, run in this process with the recipe's settings, so it \
        behaves exactly like running the commands one by one: every step is resumable and does only what is \
        missing, so the whole run is too (kill it, run it again, get the same file). Ends with a summary and the \
        time each step took. With --llm-url, QA pairs come from that endpoint (the paper's method, llm-qa recipes) \
        instead of the offline miner. See examples/pubmedqa.toml and docs/build.md.
        """)

    @Argument(help: "The recipe file (TOML).")
    var recipe: String

    @Option(help: "Use this OpenAI-compatible endpoint for QA pairs (e.g. http://127.0.0.1:8080/v1) instead of the miner.")
    var llmUrl: String?

    @Option(help: "Served model name for --llm-url (default: the recipe's qa.model, else 'default').")
    var llmModel: String?

    @Option(help: "With --llm-url: only this many documents get QA pairs (a quick look; the others count as having none).")
    var llmLimit: Int?

    @Option(help: "Write the Lectern file here instead of the recipe's `file`.")
    var file: String?

    func run() throws {
        var r = try RunRecipe.load(path: recipe)
        if let file { r.file = URL(fileURLWithPath: file).standardizedFileURL.path }
        // Every step's command line is built and parsed (options, types, paths, presets against the QA
        // source) before the first step runs: a recipe mistake costs nothing, and no file is created.
        let plan = try RunPlan(recipe: r, recipePath: recipe, llmURL: llmUrl, llmModel: llmModel, llmLimit: llmLimit)
        try plan.execute(summary: printSummary)
    }

    func printSummary(file: String, steps: [(name: String, seconds: Double)], total: Double, setName: String) throws {
        let store = try Store.open(path: file, access: .read)
        let facts: [(String, String)] = try store.pool.read { db in
            func n(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            var facts: [(String, String)] = [
                ("documents", String(try n("SELECT count(*) FROM documents"))),
                ("instructions", String(try n("SELECT count(*) FROM instructions"))),
                ("QA pairs", String(try n("SELECT count(*) FROM qa_pairs"))),
                ("mined texts", String(try n("SELECT count(*) FROM rc_texts"))),
                ("clusters (newest clustering)", String(try n("SELECT count(*) FROM clusters WHERE clustering_id = (SELECT max(id) FROM clusterings WHERE status = 'complete')"))),
            ]
            if let row = try Row.fetchOne(db, sql: "SELECT id, stats FROM training_sets WHERE name = ? AND status = 'complete' ORDER BY id DESC LIMIT 1", arguments: [setName]),
               let json: String = row["stats"], let stats = try? JSONDecoder().decode(BuildStats.self, from: Data(json.utf8)) {
                facts.append(("training set '\(setName)'", "\(stats.examples) examples x \(stats.contextLength) tokens, \(stats.tokens) tokens"))
                facts.append(("  domain : general tokens", "\(stats.domainTokens) : \(stats.generalTokens)"))
                facts.append(("  fill ratio", String(format: "%.4f (first-fit decreasing %.4f)", stats.fillRatio, stats.fillRatioFFD ?? 0)))
            }
            return facts
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        print("\nlectern run: \(file) (\(size / 1_000_000) MB)")
        for (k, v) in facts { print("  \(k.padding(toLength: 36, withPad: " ", startingAt: 0)) \(v)") }
        print("  steps (wall seconds):")
        for s in steps { print("    \(s.name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", s.seconds))") }
        print("    \("total".padding(toLength: 20, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", total))")
    }
}

