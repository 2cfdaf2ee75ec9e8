import ArgumentParser
import Dispatch
import Foundation
import GRDB
import LecternBuild
import LecternStore
import LecternText

/// `lectern tokens FILE --tokenizer PATH`
struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Count every document's tokens under a target model's tokenizer (tokenizer.json, vocab.txt or a .gguf model).",
        discussion: """
        Writes one `tokenizers` row per tokenizer (its fingerprint is the SHA-256 of the tokenizer file) and one \
        `token_counts` row per document: tokens of the title, a blank line and the text, without special tokens. \
        Resumable: a re-run counts only documents with no count for that tokenizer yet.
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
              + "\(result.tokens) tokens; \(result.alreadyCounted) already counted") }
        return result
    }
}

/// The `tokens` stage: pending documents (no `token_counts` row for this tokenizer) in id order,
/// counted on both cores batch by batch, each batch written in one short transaction.
struct TokenCountStage {
    let store: Store
    let tokenizerPath: String
    let name: String?
    let batchSize: Int

    struct Config: Encodable {
        let stage = "tokens-v1"
        let tokenizerFingerprint: String
        let documentText = "title + \\n\\n + text, no special tokens"
    }

    struct Result {
        var name: String
        var tokenizerId: Int64
        var fingerprint: String
        var counted = 0
        var alreadyCounted = 0
        var tokens = 0
    }

    func run() throws -> Result {
        let (tok, fingerprint, definition) = try TargetTokenizer.identify(path: tokenizerPath)
        let displayName = name ?? URL(fileURLWithPath: tokenizerPath).lastPathComponent
        let tokenizerId: Int64 = try store.pool.write { db in
            try TargetTokenizer.register(db, name: displayName, tokenizer: tok, fingerprint: fingerprint, path: definition)
        }
        var result = Result(name: displayName, tokenizerId: tokenizerId, fingerprint: fingerprint)
        let (pending, done): (Int, Int) = try store.pool.read { db in
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0
            let done = try Int.fetchOne(db, sql: "SELECT count(*) FROM token_counts WHERE tokenizer_id = ?", arguments: [tokenizerId]) ?? 0
            return (total - done, done)
        }
        result.alreadyCounted = done
        let run = try StageRun.begin(store, stage: "tokens", config: Config(tokenizerFingerprint: fingerprint), inputs: pending)
        let progress = ProgressReporter(label: "tokens", total: pending, unit: "docs")
        do {
            var after: Int64 = 0
            while true {
                let batch: [(id: Int64, text: String)] = try store.pool.read { db in
                    try Row.fetchAll(db, sql: """
                        SELECT id, title, text FROM documents d
                        WHERE id > ? AND NOT EXISTS (SELECT 1 FROM token_counts c WHERE c.tokenizer_id = ? AND c.document_id = d.id)
                        ORDER BY id LIMIT ?
                        """, arguments: [after, tokenizerId, batchSize])
                        .map { row in (row["id"], TokenCounting.documentText(title: row["title"], text: row["text"])) }
                }
                guard let last = batch.last else { break }
                after = last.id
                let counts = countConcurrently(tok, batch.map(\.text))
                try run.commit(processed: batch.count) { db in
                    let insert = try db.makeStatement(sql: "INSERT INTO token_counts(tokenizer_id, document_id, n_tokens) VALUES (?, ?, ?)")
                    for (doc, n) in zip(batch, counts) {
                        try insert.execute(arguments: [tokenizerId, doc.id, n])
                    }
                }
                result.counted += batch.count
                result.tokens += counts.reduce(0, +)
                progress.advance(by: batch.count)
            }
            progress.finish()
            try run.finish(counts: ["documents": result.counted, "tokens": result.tokens])
        } catch {
            progress.finish()
            try? run.fail(error)
            throw error
        }
        return result
    }

    /// Counts on both cores: the texts are split into contiguous slices, one per worker.
    private func countConcurrently(_ tok: any Tokenizer, _ texts: [String]) -> [Int] {
        let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, texts.count / 16))
        var counts = [Int](repeating: 0, count: texts.count)
        counts.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = texts.count * w / workers, hi = texts.count * (w + 1) / workers
                for i in lo..<hi { base[i] = tok.count(texts[i]) }
            }
        }
        return counts
    }
}
