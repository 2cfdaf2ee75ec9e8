import ArgumentParser
import Foundation
import LecternStore
import LecternTokens

/// `lectern tokens FILE --tokenizer PATH`
struct TokensCommand: ParsableCommand {
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

    @Option(help: "tokenizer.json, a folder holding one, a BERT vocab.txt, or a GGUF model file.")
    var tokenizer: String

    @Option(help: "Name for the tokenizer in the file (default: the file or folder name).")
    var name: String?

    @Option(help: ArgumentHelp("Documents per transaction.", visibility: .hidden))
    var batchSize = 2000

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run() throws {
        _ = try execute()
    }

    /// Counts and prints the summary; returns the result (its fingerprint is what `lectern run`
    /// hands to `cluster`: names are labels, a fingerprint is the tokenizer).
    func execute() throws -> TokenCountStage.Result {
        let store = try Store.open(path: file)
        let result = try TokenCountStage(store: store, tokenizerPath: tokenizer, name: name, batchSize: batchSize).run()
        defer { print("\(file): \(result.counted) documents counted with \(result.name) (tokenizer \(result.tokenizerId)), "
              + "\(result.tokens) tokens; \(result.alreadyCounted) already counted"
              + (result.pairsCounted > 0 ? "; \(result.pairsCounted) QA pairs counted" : "")) }
        return result
    }
}
