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
        var steps: [(name: String, seconds: Double)] = []
        func step(_ name: String, _ args: [String]) throws {
            FileHandle.standardError.write(Data("[lectern run] \(name): lectern \(args.map(quoted).joined(separator: " "))\n".utf8))
            let start = Date()
            var command = try Lectern.parseAsRoot(args)
            try command.run()
            steps.append((name, Date().timeIntervalSince(start)))
        }
        let started = Date()
        let f = r.file
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: f).deletingLastPathComponent(), withIntermediateDirectories: true)

        // QA source and recipe: --llm-url switches the miner's recipes to their LLM-QA counterparts.
        var qaSource = r.qa?.source ?? "miner"
        var recipeName = r.build.recipe
        if llmUrl != nil {
            qaSource = "llm"
            recipeName = recipeName.replacingOccurrences(of: "readcompre", with: "llm-qa")
        }
        guard let preset = RecipePreset(name: recipeName) else {
            throw RunError("\(recipe): build.recipe '\(recipeName)' is not a recipe (\(RecipePreset.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard ["miner", "llm"].contains(qaSource) else { throw RunError("\(recipe): qa.source '\(qaSource)' must be miner or llm") }
        if qaSource == "llm" && preset.content == .mined {
            throw RunError("\(recipe): build.recipe \(preset.rawValue) needs mined texts but qa.source is llm")
        }
        let tokenizerName = r.tokens.name ?? URL(fileURLWithPath: r.tokens.tokenizer).lastPathComponent

        try step("init", ["init", f, "--domain", r.domain ?? "biomedicine"])
        var ingest = ["ingest", f] + r.ingest.sources
        if let fmt = r.ingest.format { ingest += ["--format", fmt] }
        if r.ingest.titleFirstLine == true { ingest.append("--title-first-line") }
        try step("ingest", ingest)
        for source in r.instructions?.sources ?? [] {
            var args = ["import-instructions", f, source]
            if let fmt = r.instructions?.format { args += ["--format", fmt] }
            try step("import-instructions", args)
        }
        try step("tokens", ["tokens", f, "--tokenizer", r.tokens.tokenizer, "--name", tokenizerName])

        var generatorName: String?
        if qaSource == "llm" {
            let url = llmUrl ?? r.qa?.url
            guard let url else { throw RunError("\(recipe): qa.source = llm needs qa.url (or --llm-url)") }
            let model = llmModel ?? r.qa?.model ?? "default"
            generatorName = model
            var args = ["generate", f, "--endpoint", url, "--model", model]
            if let c = r.qa?.concurrency { args += ["--concurrency", String(c)] }
            if let m = r.qa?.maxTokens { args += ["--max-tokens", String(m)] }
            if let l = llmLimit ?? r.qa?.limit { args += ["--sample", String(l)] }
            try step("generate", args)
        } else if preset.content == .mined {
            var args = ["mine", f, "--tokenizer", r.tokens.tokenizer]
            if let s = r.qa?.seed { args += ["--seed", String(s)] }
            if let d = r.qa?.domainSpm, let g = r.qa?.generalSpm { args += ["--domain-spm", d, "--general-spm", g] }
            try step("mine", args)
        }

        if preset.clustered {
            var embed = ["embed", f]
            if let url = r.embed?.url {
                embed += ["--url", url]
                if let m = r.embed?.model { embed += ["--model", m] }
            } else {
                embed += ["--embedder", r.embed?.embedder ?? "minilm"]
                if let t = r.embed?.maxTokens { embed += ["--max-tokens", String(t)] }
            }
            try step("embed", embed)
            let embedderName = try Store.open(path: f).pool.read { db in
                try String.fetchOne(db, sql: "SELECT name FROM embedders ORDER BY id DESC LIMIT 1")
            }
            var cluster = ["cluster", f, "--tokenizer", tokenizerName]
            if let e = embedderName { cluster += ["--embedder", e] }
            if let g = generatorName { cluster += ["--generator", g] }
            if let c = r.cluster {
                if let a = c.algorithm { cluster += ["--algorithm", a] }
                if let v = c.lmax { cluster += ["--lmax", String(v)] }
                if let v = c.dmax { cluster += ["--dmax", String(v)] }
                if let v = c.threshold { cluster += ["--threshold", String(v)] }
                if let v = c.seed { cluster += ["--seed", String(v)] }
            }
            try step("cluster", cluster)
        }

        let setName = r.build.name ?? preset.rawValue
        var build = ["build", f, "--recipe", preset.rawValue, "--name", setName, "--tokenizer", r.tokens.tokenizer]
        if let v = r.build.context { build += ["--context", String(v)] }
        if let v = r.build.ratio { build += ["--ratio", v] }
        if let v = r.build.seed { build += ["--seed", String(v)] }
        if let v = r.build.packer { build += ["--packer", v] }
        if let v = r.build.longItems { build += ["--long-items", v] }
        if let v = r.build.format { build += ["--format", v] }
        if let v = r.build.qaTemplate { build += ["--qa-template", v] }
        if let g = generatorName { build += ["--generator", g] }
        try step("build", build)

        if let x = r.export {
            var args = ["export", "set", f, x.dir, "--set", setName]
            if let formats = x.formats { args += ["--format", formats.joined(separator: ",")] }
            try step("export", args)
        }
        try printSummary(file: f, steps: steps, total: Date().timeIntervalSince(started), setName: setName)
    }

    private func printSummary(file: String, steps: [(name: String, seconds: Double)], total: Double, setName: String) throws {
        let store = try Store.open(path: file)
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

private func quoted(_ s: String) -> String {
    s.contains(where: { $0 == " " || $0 == "\n" || $0 == "\"" }) ? "'\(s.replacingOccurrences(of: "\n", with: "\\n"))'" : s
}
