import ArgumentParser
import Foundation
import GRDB
import LecternBuild
import LecternGenerate
import LecternStore

/// The steps of `lectern run` for one recipe, checked as a whole before anything runs.
///
/// Each step is the stage command of the same name with the recipe's settings. The plan parses
/// every step's command line up front (so option values, types and presets are checked by the
/// commands' own `validate()`), checks that every input path exists and that the recipe's preset
/// fits its QA source, and only then creates the file. Steps that make something the next steps
/// use hand it on by **fingerprint** (the embedder `embed` used, the tokenizer `tokens`
/// counted with, the generator `generate` asked), never by a "newest row" guess or a name.
struct RunPlan {
    let recipe: RunRecipe
    let recipePath: String
    let preset: RecipePreset
    let qaSource: String
    let llmURL: String?
    let llmModel: String
    let llmLimit: Int?
    let setName: String
    /// Below this share of successful requests (of those sent in this run) the QA step fails the run.
    let minOKShare: Double

    init(recipe r: RunRecipe, recipePath: String, llmURL: String?, llmModel: String?, llmLimit: Int?) throws {
        recipe = r
        self.recipePath = recipePath
        func fail(_ message: String) -> RunError { RunError("\(recipePath): \(message)") }

        guard let domain = r.domain, !domain.isEmpty else {
            throw fail("`domain` is missing: name the corpus's domain (e.g. domain = \"biomedicine\", \"finance\", \"law\"); "
                + "it goes into the LLM's QA prompt and picks the default mixing ratio (1:2 for finance, 1:1 otherwise)")
        }
        _ = domain

        // QA source and preset: --llm-url switches the miner's recipes to their LLM-QA counterparts.
        var source = r.qa?.source ?? "miner"
        var name = r.build.recipe
        if llmURL != nil {
            source = "llm"
            name = name.replacingOccurrences(of: "readcompre", with: "llm-qa")
        }
        guard let preset = RecipePreset(name: name) else {
            throw fail("build.recipe '\(name)' is not a recipe (\(RecipePreset.allCases.map(\.rawValue).joined(separator: ", ")), or paper)")
        }
        guard ["miner", "llm"].contains(source) else { throw fail("qa.source '\(source)' must be miner or llm") }
        if source == "llm" && preset.content == .mined {
            throw fail("build.recipe \(preset.rawValue) is made of mined texts but qa.source is llm: choose llm-qa or llm-qa+cluster")
        }
        if source == "miner" && preset.content == .qaPairs {
            throw fail("build.recipe '\(r.build.recipe)' (\(preset.rawValue)) needs QA pairs from an LLM, but qa.source is miner: "
                + "set qa.source = \"llm\" with qa.url and qa.model (or pass --llm-url), or use readcompre+cluster for the offline miner")
        }
        let url = llmURL ?? r.qa?.url
        if source == "llm" && url == nil { throw fail("qa.source = llm needs qa.url (or --llm-url)") }
        self.preset = preset
        qaSource = source
        self.llmURL = url
        self.llmModel = llmModel ?? r.qa?.model ?? "default"
        self.llmLimit = llmLimit ?? r.qa?.limit
        setName = r.build.name ?? preset.rawValue
        minOKShare = r.qa?.minOK ?? 0.5
        guard (0...1).contains(minOKShare) else { throw fail("qa.min_ok must be between 0 and 1, got \(minOKShare)") }

        // Inputs that must exist before anything is written.
        var paths: [(String, String)] = r.ingest.sources.enumerated().map { ("ingest.sources[\($0.offset)]", $0.element) }
        paths += (r.instructions?.sources ?? []).enumerated().map { ("instructions.sources[\($0.offset)]", $0.element) }
        paths.append(("tokens.tokenizer", r.tokens.tokenizer))
        if let d = r.qa?.domainSpm { paths.append(("qa.domain_spm", d)) }
        if let g = r.qa?.generalSpm { paths.append(("qa.general_spm", g)) }
        for (key, path) in paths where !FileManager.default.fileExists(atPath: path) {
            throw fail("\(key): \(path): no such file or directory")
        }
        if (r.qa?.domainSpm == nil) != (r.qa?.generalSpm == nil) {
            throw fail("qa.domain_spm and qa.general_spm go together (the miner compares the two vocabularies)")
        }

        // Every step's command line, parsed now: option names, values and types are checked by the
        // commands themselves. Fingerprints handed on at run time are stood in for by placeholders.
        for step in steps(embedder: "?", tokenizer: "?", generator: qaSource == "llm" ? "?" : nil) {
            do {
                _ = try Lectern.parseAsRoot(step.args)
            } catch {
                throw fail("step \(step.name) (`lectern \(step.args.map(quoted).joined(separator: " "))`): \(Lectern.message(for: error))")
            }
        }
    }

    struct Step {
        var name: String
        var args: [String]
    }

    /// The steps in order, with the fingerprints the earlier steps made.
    func steps(embedder: String, tokenizer: String, generator: String?) -> [Step] {
        let r = recipe, f = r.file
        var out: [Step] = [Step(name: "init", args: ["init", f, "--domain", r.domain ?? ""])]
        var ingest = ["ingest", f] + r.ingest.sources
        if let fmt = r.ingest.format { ingest += ["--format", fmt] }
        if r.ingest.titleFirstLine == true { ingest.append("--title-first-line") }
        out.append(Step(name: "ingest", args: ingest))
        for source in r.instructions?.sources ?? [] {
            var args = ["import-instructions", f, source]
            if let fmt = r.instructions?.format { args += ["--format", fmt] }
            out.append(Step(name: "import-instructions", args: args))
        }
        if qaSource == "llm", let url = llmURL {
            var args = ["generate", f, "--endpoint", url, "--model", llmModel]
            if let c = r.qa?.concurrency { args += ["--concurrency", String(c)] }
            if let m = r.qa?.maxTokens { args += ["--max-tokens", String(m)] }
            if let l = llmLimit { args += ["--sample", String(l)] }
            out.append(Step(name: "generate", args: args))
        } else if preset.content == .mined {
            var args = ["mine", f, "--tokenizer", r.tokens.tokenizer]
            if let s = r.qa?.seed { args += ["--seed", String(s)] }
            if let d = r.qa?.domainSpm, let g = r.qa?.generalSpm { args += ["--domain-spm", d, "--general-spm", g] }
            out.append(Step(name: "mine", args: args))
        }

        // After the QA step: `tokens` counts the QA pairs too, which `cluster` budgets with.
        var tokens = ["tokens", f, "--tokenizer", r.tokens.tokenizer]
        if let n = r.tokens.name { tokens += ["--name", n] }
        out.append(Step(name: "tokens", args: tokens))

        if preset.clustered {
            var embed = ["embed", f]
            if let url = r.embed?.url {
                embed += ["--url", url]
                if let m = r.embed?.model { embed += ["--model", m] }
            } else {
                embed += ["--embedder", r.embed?.embedder ?? "minilm"]
                if let t = r.embed?.maxTokens { embed += ["--max-tokens", String(t)] }
            }
            out.append(Step(name: "embed", args: embed))
            var cluster = ["cluster", f, "--embedder", embedder, "--tokenizer", tokenizer]
            if let g = generator {
                cluster += ["--generator", g]
                if let v = r.build.qaTemplate { cluster += ["--qa-template", EscapedText.escape(v)] }
            }
            if let c = r.cluster {
                if let a = c.algorithm { cluster += ["--algorithm", a] }
                if let v = c.lmax { cluster += ["--lmax", String(v)] }
                if let v = c.dmax { cluster += ["--dmax", String(v)] }
                if let v = c.threshold { cluster += ["--threshold", String(v)] }
                if let v = c.seed { cluster += ["--seed", String(v)] }
            }
            out.append(Step(name: "cluster", args: cluster))
        }

        var build = ["build", f, "--recipe", preset.rawValue, "--name", setName, "--tokenizer", r.tokens.tokenizer]
        if let v = r.build.context { build += ["--context", String(v)] }
        if let v = r.build.ratio { build += ["--ratio", v] }
        if let v = r.build.seed { build += ["--seed", String(v)] }
        if let v = r.build.packer { build += ["--packer", v] }
        if let v = r.build.longItems { build += ["--long-items", v] }
        if let v = r.build.format { build += ["--format", v] }
        if let v = r.build.qaTemplate { build += ["--qa-template", EscapedText.escape(v)] }
        if let g = generator { build += ["--generator", g] }
        out.append(Step(name: "build", args: build))

        if let x = r.export {
            var args = ["export", "set", f, x.dir, "--set", setName]
            if let formats = x.formats { args += ["--format", formats.joined(separator: ",")] }
            out.append(Step(name: "export", args: args))
        }
        return out
    }

    /// Runs the steps in order; `summary` prints the closing summary.
    /// What the steps made, handed to the closing summary by id (never a "newest row" guess).
    struct Outputs {
        var clusteringID: Int64?
        var trainingSetID: Int64?
    }

    func execute(summary: (String, [(name: String, seconds: Double)], Double, Outputs) throws -> Void) async throws {
        let started = Date()
        var times: [(name: String, seconds: Double)] = []
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: recipe.file).deletingLastPathComponent(),
                                                withIntermediateDirectories: true)
        var embedder = "?", tokenizer = "?", generator: String?
        var outputs = Outputs()
        var index = 0
        while true {
            let all = steps(embedder: embedder, tokenizer: tokenizer, generator: generator)
            guard index < all.count else { break }
            let step = all[index]
            index += 1
            FileHandle.standardError.write(Data("[lectern run] \(step.name): lectern \(step.args.map(quoted).joined(separator: " "))\n".utf8))
            let t0 = Date()
            let command = try Lectern.parseAsRoot(step.args)
            switch command {
            case let c as TokensCommand:
                tokenizer = try c.execute().fingerprint
            case let c as EmbedCommand:
                embedder = try c.execute().fingerprint
            case let c as GenerateCommand:
                let (counts, fingerprint) = try await c.execute()
                try checkQA(counts, generatorFingerprint: fingerprint)
                generator = fingerprint
            case let c as ClusterCommand:
                outputs.clusteringID = try c.execute()
            case let c as BuildCommand:
                outputs.trainingSetID = try c.execute().setId
            case var c as AsyncParsableCommand:
                try await c.run()
            default:
                var c = command
                try c.run()
            }
            times.append((step.name, Date().timeIntervalSince(t0)))
        }
        try summary(recipe.file, times, Date().timeIntervalSince(started), outputs)
    }

    /// A QA step that produced nothing, or under `qa.min_ok` of what it was asked, stops the run:
    /// building and exporting a set without its QA pairs would look like success.
    func checkQA(_ counts: GenerateCounts, generatorFingerprint: String) throws {
        let first = counts.firstError.map { "; first error: \($0)" } ?? ""
        if counts.requests > 0 {
            let share = Double(counts.ok) / Double(counts.requests)
            if counts.ok == 0 || share < minOKShare {
                throw RunError("generate: \(counts.requests) requests: \(counts.ok) ok, \(counts.invalid) invalid, \(counts.failed) failed "
                    + "(\(Int((share * 100).rounded()))% ok, below qa.min_ok = \(minOKShare))\(first). The run stops before building a set "
                    + "without its QA pairs; fix the endpoint or model and re-run: the answers already received are kept.")
            }
        }
        let pairs = try Store.open(path: recipe.file, access: .read).pool.read { db in
            let generator = try RowReference.resolve(db, table: "generators", kind: "generator", generatorFingerprint)
            return try FileCatalogue.read(db).artifactRows("QA pairs", id: generator.id)
        }
        if pairs == 0 {
            throw RunError("generate: the generator has no QA pairs in \(recipe.file)\(first); the run stops before building an llm-qa set from none")
        }
    }
}

func quoted(_ s: String) -> String {
    s.contains(where: { $0 == " " || $0 == "\n" || $0 == "\"" }) ? "'\(s.replacingOccurrences(of: "\n", with: "\\n"))'" : s
}
