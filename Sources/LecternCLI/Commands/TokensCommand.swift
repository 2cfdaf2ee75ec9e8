import ArgumentParser
import Foundation
import LecternStore
import LecternTokens

/// `lectern tokens FILE --tokenizer PATH`
struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Count every document's tokens under a target model's tokenizer (tokenizer.json, vocab.txt or a .gguf model).",
        discussion: """
        Writes one `tokenizers` row per tokenizer (its fingerprint is the SHA-256 of the tokenizer file) and one \
        `token_counts` row per document: tokens of the title, a blank line and the text, without special tokens; \
        and one `qa_token_counts` row per QA pair (question and answer, each on its own), which clustering budgets \
        with. Resumable: a re-run counts only documents and pairs with no count for that tokenizer yet.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: TokensArguments

    @OptionGroup var sharding: ShardArguments

    func run() async throws {
        var made = PipelineOutputs()
        made.shard = try sharding.spec
        try await sharding.run(file: file, stage: "tokens") { store in try await options.run(in: store, made: &made) }
    }
}

/// The options of `lectern tokens`, and the `[tokens]` section of a recipe.
struct TokensArguments: PipelineStage {
    static let section = "tokens"
    static let pathKeys: Set<String> = ["tokenizer"]

    @Option(help: "tokenizer.json, a folder holding one, a BERT vocab.txt, or a GGUF model file.")
    var tokenizer: String

    @Option(help: "Name for the tokenizer in the file (default: the file or folder name).")
    var name: String?

    @Option(help: ArgumentHelp("Documents per transaction.", visibility: .hidden))
    var batchSize = 2000

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func stage(_ store: Store) -> TokenCountStage {
        TokenCountStage(store: store, tokenizerPath: tokenizer, name: name, batchSize: batchSize)
    }

    /// Counts and prints the summary; hands on the tokenizer by fingerprint (names are labels, a
    /// fingerprint is the tokenizer) and by path (stages that tokenize load it from there).
    func run(in store: Store, made: inout PipelineOutputs) async throws {
        let result = try StageRunner.run(stage(store))
        print("\(store.path): \(result.counted) documents counted with \(result.name) (tokenizer \(result.tokenizerId)), "
              + "\(result.tokens) tokens; \(result.alreadyCounted) already counted"
              + (result.pairsCounted > 0 ? "; \(result.pairsCounted) QA pairs counted" : ""))
        made.tokenizer = result.fingerprint
        made.tokenizerPath = tokenizer
    }
}
