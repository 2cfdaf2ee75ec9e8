import ArgumentParser
import Foundation
import LecternIngest
import GRDB
import LecternCore
import LecternMine
import LecternStore
import LecternText

/// `lectern mine FILE`: AdaptLLM's regex-mined reading comprehension, as a resumable stage.
struct MineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mine",
        abstract: "Turn each document into an AdaptLLM reading-comprehension text (the ReadCompre baseline; no LLM).",
        discussion: """
        Tasks are mined from each document with AdaptLLM's regexes (NLI, cause/effect, paraphrase, definition, topic), \
        plus keyword-to-sentence when domain words are given, summarisation (title) and text completion. Texts go to \
        rc_texts, their tasks and mined tuples to rc_tasks, tagged with the configuration's fingerprint. Deterministic \
        for a seed; an interrupted run resumes; the same settings again do nothing.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: MineArguments

    @OptionGroup var sharding: ShardArguments

    func run() async throws {
        var made = PipelineOutputs()
        made.shard = try sharding.spec
        try await sharding.run(file: file, stage: "mine") { store in try await options.run(in: store, made: &made) }
    }
}

/// The options of `lectern mine`, and the `[mine]` section of a recipe (used when `qa.source`
/// is `miner`).
struct MineArguments: PipelineStage {
    static let section = "mine"
    static let pathKeys: Set<String> = ["tokenizer", "domain_spm", "general_spm", "general_corpus"]

    @Option(help: "Seed of every random choice (templates, shuffles, cut points).")
    var seed: UInt64 = 0

    @Option(help: "Domain name used in the templates (default: the file's domain).")
    var domain: String?

    @Option(help: "Token budget of each article before tasks are added, in --tokenizer tokens (else estimated from words).")
    var tokenBudget = 1800

    @Option(help: "Target model's tokenizer for the budget: tokenizer.json, a folder holding one, vocab.txt, a GGUF file or a SentencePiece tokenizer.model.")
    var tokenizer: String?

    @Option(help: "adaptllm: mine as AdaptLLM's raw2read.py does (truncation in --general-spm tokens, pysbd's sentence breaks, domain words as --domain-spm pieces, CPython's shuffle); templates stay Lectern's. See docs/miner.md.")
    var compat: String?

    @Option(help: "AdaptLLM's domain words: SentencePiece model trained on the domain corpus (with --general-spm).")
    var domainSpm: String?

    @Option(help: "AdaptLLM's domain words: SentencePiece model of the general LLM (with --domain-spm).")
    var generalSpm: String?

    @Option(help: "Learn domain words from the file's documents against this general corpus (JSON array, JSONL or text lines).")
    var generalCorpus: String?

    @Flag(help: "Documents without a title: take their first line as the title (AdaptLLM's convention).")
    var firstLineTitle = false

    @Flag(help: "Join the lines of each paragraph before mining: for hard-wrapped corpora (man pages, RFCs, plain-text books), where the regexes, which look for sentences on one line, find almost nothing.")
    var unwrap = false

    @Option(help: "Documents per transaction.")
    var batchSize = 256

    @Option(help: "Worker threads (default: all cores).")
    var threads: Int?

    func validate() throws {
        if compat == nil, (domainSpm == nil) != (generalSpm == nil) { throw ValidationError("give both --domain-spm and --general-spm, or neither") }
        if domainSpm != nil && generalCorpus != nil { throw ValidationError("--general-corpus and the .spm options are alternatives: pick one") }
        guard tokenBudget > 0 else { throw ValidationError("--token-budget must be positive") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let t = threads, t <= 0 { throw ValidationError("--threads must be positive") }
        if let c = compat {
            guard c == "adaptllm" else { throw ValidationError("--compat \(c): unknown mode (adaptllm is the one there is)") }
            if generalSpm == nil && !(tokenizer.map(SentencePieceModel.isModelPath) ?? false) {
                throw ValidationError("--compat adaptllm truncates in the general LLM's SentencePiece tokens: give --general-spm (LLaMA's tokenizer.model), or --tokenizer with a .model file")
            }
            if unwrap { throw ValidationError("--compat adaptllm mines the text as AdaptLLM reads it: --unwrap would change it") }
            if generalCorpus != nil { throw ValidationError("--compat adaptllm takes its domain words from --domain-spm, not --general-corpus") }
        }
    }

    mutating func handOn(_ made: PipelineOutputs) {
        if tokenizer == nil { tokenizer = made.tokenizerPath }
    }

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        var config = MinerConfig()
        config.seed = seed
        config.domain = domain ?? store.domain ?? "biomedicine"
        config.tokenBudget = tokenBudget
        config.firstLineIsTitle = firstLineTitle
        if unwrap { config.unwrap = true }
        var vocabulary: DomainVocabulary?
        if compat == nil, let d = domainSpm, let g = generalSpm {
            vocabulary = DomainVocabulary.adaptLLM(domain: try SentencePieceModel(contentsOf: URL(fileURLWithPath: d)),
                                                   general: try SentencePieceModel(contentsOf: URL(fileURLWithPath: g)))
        } else if let path = generalCorpus {
            let general = try GeneralCorpus.load(path: path)
            let domainDocs = try await store.pool.read { db in try StoredDocument.texts(db) }
            vocabulary = DomainVocabulary.learn(domainDocuments: domainDocs, generalDocuments: general)
        }
        if let v = vocabulary { print("domain words: \(v.words.count) (\(v.origin))") }
        var counter = TokenCounter.approximateFromWords
        if let path = tokenizer {
            let tok = try TokenizerLoader.load(path: path)
            // Named by the file's content, so the same tokenizer anywhere gives the same fingerprint.
            let file = URL(fileURLWithPath: path).hasDirectoryPath || isDirectory(path)
                ? URL(fileURLWithPath: path).appendingPathComponent("tokenizer.json") : URL(fileURLWithPath: path)
            let digest = (try? Data(contentsOf: file)).map { Fingerprint.hex(of: [UInt8]($0)) } ?? path
            counter = TokenCounter(name: "\(tok.kind.rawValue):\(digest)") { tok.count($0) }
        }
        var adaptLLM: AdaptLLMCompat?
        if compat != nil {
            // The target tokenizer handed on by `lectern run` may be a GGUF: only a SentencePiece file serves.
            guard let generalPath = generalSpm ?? tokenizer.flatMap({ SentencePieceModel.isModelPath($0) ? $0 : nil }) else {
                throw ValidationError("--compat adaptllm truncates in the general LLM's SentencePiece tokens: give --general-spm (LLaMA's tokenizer.model); the tokenizer \(tokenizer ?? "") is not a SentencePiece model")
            }
            adaptLLM = try AdaptLLMCompat(general: try SentencePieceModel(contentsOf: URL(fileURLWithPath: generalPath)),
                                          generalName: URL(fileURLWithPath: generalPath).lastPathComponent + ":" + fileDigest(generalPath),
                                          domain: try domainSpm.map { try SentencePieceModel(contentsOf: URL(fileURLWithPath: $0)) },
                                          domainName: domainSpm.map { URL(fileURLWithPath: $0).lastPathComponent + ":" + fileDigest($0) })
            print("compat adaptllm: truncation at \(adaptLLM?.maxTokens ?? 0) tokens of \(generalPath); \(adaptLLM?.specificPieces.count ?? 0) domain-specific pieces")
        }
        let miner = Miner(config: config, vocabulary: adaptLLM == nil ? vocabulary : nil, counter: counter, compat: adaptLLM)
        let stage = MineStage(store: store, miner: miner, batchSize: batchSize,
                              threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let summary = try StageRunner.run(stage)
        print("\(store.path): mined \(summary.mined) of \(summary.pending) pending documents, \(summary.tasks) tasks (fingerprint \(summary.fingerprint.prefix(12)))")
        if summary.hardWrapped > 0 {
            let share = Double(summary.hardWrapped) / Double(max(1, summary.mined))
            print(String(format: "note: %d of %d documents (%.0f%%) look hard-wrapped (short lines, sentences broken across them); ",
                         summary.hardWrapped, summary.mined, share * 100)
                  + "the task regexes look for sentences on one line and find little there: `lectern mine --unwrap` joins each paragraph's lines first")
        }
    }
}

/// SHA-256 of a file's bytes, short (names a model in the fingerprint by content, not by path).
private func fileDigest(_ path: String) -> String {
    (try? Data(contentsOf: URL(fileURLWithPath: path))).map { String(Fingerprint.hex(of: [UInt8]($0)).prefix(16)) } ?? path
}

private func isDirectory(_ path: String) -> Bool {
    var dir: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
}
