import ArgumentParser
import Foundation
import LecternBuild
import LecternEval
import LecternStore
import LecternTokens

extension RecipePreset: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
}

/// The options of `lectern build`, and the `[build]` section of a recipe.
struct BuildArguments: PipelineStage {
    static let section = "build"
    static let pathKeys: Set<String> = ["tokenizer"]

    @Option(help: ArgumentHelp("Recipe preset: \(RecipePreset.allCases.map(\.rawValue).joined(separator: ", ")) ('paper' = llm-qa+cluster).",
                               valueName: "name"))
    var recipe: RecipePreset

    @Option(help: "Name of the set (default: the recipe).")
    var name: String?

    @Option(help: "Target model's tokenizer: tokenizer.json, a folder with one, vocab.txt or .gguf (default: the last one `lectern tokens` used).")
    var tokenizer: String?

    @Option(help: "End-of-text token put after every packed item (default: the tokenizer's EOS).")
    var eos: String?

    @Option(help: "Tokens per packed sequence.")
    var context = 2048

    @Option(help: "Tokens kept free per sequence (1 if the training engine adds a BOS token).")
    var reserve = 0

    @Option(help: "Domain:general-instruction tokens (default: the paper's for the file's domain: 1:2 finance, 1:1 otherwise; 1:0 for none).")
    var ratio: String?

    @Option(help: "Seed of every shuffle (QA pairs, instruction sampling, example order).")
    var seed: UInt64 = 0

    @Option(help: "How a QA pair is written; {question} and {answer} are replaced; \\n is a newline.")
    var qaTemplate = EscapedText(BuildOptions.defaultQATemplate)

    @Option(help: "Between documents, between QA pairs, and between the documents and the pairs; \\n is a newline.")
    var separator = EscapedText(BuildOptions.defaultPartSeparator)

    @Option(help: "Items longer than a sequence: split (at part, sentence, then word boundaries), truncate, or drop.")
    var longItems = LongItemPolicy.split

    @Option(help: "knapsack (0/1 knapsack per sequence, the paper's), ffd (first-fit decreasing) or none.")
    var packer = PackerKind.knapsack

    @Option(help: "packed (continued-pretraining text) or chat (one conversation per item, for SFT).")
    var format = SetFormat.packed

    @Option(help: "How instructions become text in packed sets: plain or labelled (User:/Assistant:).")
    var instructionTemplate = InstructionTemplate.plain

    @Option(help: "Clustering to use (id or fingerprint prefix; default: the newest complete one).")
    var clustering: String?

    @Option(help: "QA generator to use (name, id or fingerprint prefix; default: the only one with pairs).")
    var generator: String?

    @Option(help: "Mined texts to use (miner fingerprint prefix; default: the only configuration in the file).")
    var mined: String?

    @Option(help: "Worker threads for tokenizing (default: all cores).")
    var threads: Int?

    @Option(help: "Hold out the documents this eval task's items are made from (repeatable), so scores on it are not contaminated.")
    var excludeEval: [String] = []

    func options() throws -> BuildOptions {
        var o = BuildOptions(recipe: recipe)
        o.contextLength = context
        o.reserveTokens = reserve
        o.ratio = try ratio.map { try MixRatio(parsing: $0) }
        o.seed = seed
        o.qaTemplate = qaTemplate.value
        o.partSeparator = separator.value
        o.longItems = longItems
        o.packer = packer
        o.format = format
        o.instructionTemplate = instructionTemplate
        o.eosToken = eos
        o.excludeEval = excludeEval.isEmpty ? nil : excludeEval.sorted()
        try o.validate()
        return o
    }

    var selection: InputSelection { InputSelection(clustering: clustering, generator: generator, mined: mined) }

    /// In a pipeline: the target tokenizer, the generator and the clustering the earlier steps made.
    mutating func handOn(_ made: PipelineOutputs) {
        if tokenizer == nil { tokenizer = made.tokenizerPath }
        if generator == nil { generator = made.generator }
        if clustering == nil, recipe.clustered, let id = made.clusteringID { clustering = String(id) }
    }

    /// Runs the stage and prints its summary; hands on the set.
    func run(in store: Store, made: inout PipelineOutputs) async throws {
        let summary = try BuildRunner.run(store: store, arguments: self)
        BuildRunner.print(summary, file: store.path)
        made.trainingSetID = summary.setId
        made.trainingSetName = summary.name
        made.trainingSetFingerprint = summary.fingerprint
    }
}

/// `lectern build FILE --recipe NAME`
struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build a training set: a recipe's domain texts mixed with general instructions, tokenized and packed.",
        discussion: """
        Recipes (the paper's comparison): dapt, dapt+cluster (raw documents), readcompre, readcompre+cluster \
        (AdaptLLM's mined texts), llm-qa, llm-qa+cluster (documents then their shuffled QA pairs; the paper's method). \
        Clustered recipes make one text per cluster, its documents in cluster order. Domain texts are mixed with \
        general instructions (`lectern import-instructions`) at a token ratio, tokenized with the target tokenizer, \
        and packed into --context-token sequences, an EOS token after every item. Deterministic for a seed; \
        resumable; the same command on the same file does nothing the second time. See docs/build.md.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var build: BuildArguments

    func run() async throws {
        var made = PipelineOutputs()
        try await build.run(in: try Store.open(path: file), made: &made)
    }
}

enum BuildRunner {
    static func run(store: Store, arguments: BuildArguments) throws -> BuildSummary {
        let options = try arguments.options()
        let target = try arguments.tokenizer.map { try TargetTokenizer.load(path: $0, eos: arguments.eos) }
            ?? TargetTokenizer.fromStore(store, eos: arguments.eos)
        var stage = BuildStage(store: store, options: options, target: target, selection: arguments.selection, name: arguments.name)
        if let threads = arguments.threads { stage.threads = max(1, threads) }
        stage.evalItems = EvalItems.contentHashes
        stage.log = { line in FileHandle.standardError.write(Data("build: \(line)\n".utf8)) }
        return try StageRunner.run(stage)
    }

    static func print(_ s: BuildSummary, file: String) {
        let st = s.stats
        if s.alreadyComplete {
            Swift.print("\(file): training set '\(s.name)' (id \(s.setId)) is already built with these settings: \(st.examples) examples")
            return
        }
        Swift.print("\(file): training set '\(s.name)' (id \(s.setId), fingerprint \(s.fingerprint.prefix(12))): \(st.examples) examples, \(st.tokens) tokens")
        Swift.print(String(format: "  domain %d tokens in %d items, general %d tokens in %d items (ratio %@ asked, 1:%.3f built)",
                           st.domainTokens, st.domainItems, st.generalTokens, st.generalItems, st.ratioTarget, st.ratioActual))
        if st.packer != "none" {
            Swift.print(String(format: "  packing %@ at %d tokens: fill ratio %.4f (first-fit decreasing: %.4f)",
                               st.packer, st.contextLength, st.fillRatio, st.fillRatioFFD ?? 0))
        }
        if st.longItemsSplit + st.longItemsTruncated + st.longItemsDropped > 0 {
            Swift.print("  long items: \(st.longItemsSplit) split into \(st.longItemPieces) pieces, \(st.longItemsTruncated) truncated, \(st.longItemsDropped) dropped")
        }
        if st.instructionPasses > 1 {
            Swift.print("  note: the \(st.instructionsAvailable) instructions were used \(st.instructionPasses) times over to reach the ratio")
        }
        let n = st.notes
        if let held = n.heldOutForEval { Swift.print("  \(held) documents held out: eval items are made from them") }
        if n.withoutQA + n.withoutMined + n.notClustered + n.withoutQuestions > 0 {
            Swift.print("  note: \(n.withoutQA) documents without QA pairs, \(n.withoutMined) without mined text, \(n.notClustered) not in the clustering, \(n.withoutQuestions) items without questions (left out of chat sets)")
        }
    }
}
