import Dispatch
import Foundation
import GRDB
import LecternCore
import LecternGenerate
import LecternIngest
import LecternStore
import LecternText

/// The `tokens` stage (`lectern tokens`): pending documents (no `token_counts` row for this tokenizer) in id order,
/// counted on both cores batch by batch, each batch written in one short transaction.
public struct TokenCountStage: Stage, Sendable {
    public let store: Store
    public let tokenizerPath: String
    public let name: String?
    public let batchSize: Int

    public init(store: Store, tokenizerPath: String, name: String? = nil, batchSize: Int = 2000) {
        self.store = store
        self.tokenizerPath = tokenizerPath
        self.name = name
        self.batchSize = max(1, batchSize)
    }

    public struct Config: Encodable {
        let stage = "tokens-v1"
        let tokenizerFingerprint: String
        let documentText = "title + \\n\\n + text, no special tokens"
        let qaPairs = "question and answer, each on its own, no special tokens"
    }

    /// What a run did; `fingerprint` identifies the tokenizer (what `lectern run` hands on).
    public struct Result: StageOutput, Sendable {
        public var name: String
        public var tokenizerId: Int64
        public var fingerprint: String
        public var counted = 0
        public var alreadyCounted = 0
        public var tokens = 0
        /// QA pairs counted by this run (question and answer each).
        public var pairsCounted = 0
        public var counts: [String: Int] { ["documents": counted, "tokens": tokens, "qa_pairs": pairsCounted] }
    }

    public static let name = "tokens"

    /// The tokenizer, identified and registered, and what is left to count.
    public struct Prepared {
        let tokenizer: any Tokenizer
        var result: Result
        let pendingDocuments: Int
        let pendingPairs: Int
    }

    /// Identifies the tokenizer (a bad path or format fails here, before any run is recorded),
    /// registers it and counts what has no count for it yet.
    public func prepare() throws -> StagePlan<Config, Prepared> {
        let (tok, fingerprint, definition) = try TargetTokenizer.identify(path: tokenizerPath)
        let displayName = name ?? URL(fileURLWithPath: tokenizerPath).lastPathComponent
        let tokenizerId: Int64 = try store.pool.write { db in
            try TargetTokenizer.register(db, name: displayName, tokenizer: tok, fingerprint: fingerprint, path: definition)
        }
        var result = Result(name: displayName, tokenizerId: tokenizerId, fingerprint: fingerprint)
        let (pending, done, pendingPairs): (Int, Int, Int) = try store.pool.read { db in
            let total = try StoredDocument.count(db)
            let done = try Int.fetchOne(db, sql: "SELECT count(*) FROM token_counts WHERE tokenizer_id = ?", arguments: [tokenizerId]) ?? 0
            let pairs = try QAPairRecord.count(db, where: """
                NOT EXISTS (SELECT 1 FROM qa_token_counts c WHERE c.tokenizer_id = ? AND c.qa_pair_id = qa_pairs.id)
                """, [tokenizerId])
            return (max(0, total - done), done, pairs)
        }
        result.alreadyCounted = done
        return StagePlan(configuration: Config(tokenizerFingerprint: fingerprint), pendingInputs: pending + pendingPairs,
                         prepared: Prepared(tokenizer: tok, result: result, pendingDocuments: pending, pendingPairs: pendingPairs))
    }

    /// Counts every document with no count for this tokenizer yet, then every such QA pair.
    public func execute(_ work: StagePlan<Config, Prepared>, in run: StageContext) throws -> Result {
        let tok = work.prepared.tokenizer, tokenizerId = work.prepared.result.tokenizerId
        var result = work.prepared.result
        let progress = ProgressReporter(label: "tokens", total: work.prepared.pendingDocuments, unit: "docs")
        defer { progress.finish() }
        var after: Int64 = 0
        while true {
            let batch: [(id: Int64, text: String)] = try store.pool.read { db in
                try StoredDocument.batch(db, after: after, limit: batchSize, where: """
                    NOT EXISTS (SELECT 1 FROM token_counts c WHERE c.tokenizer_id = ? AND c.document_id = documents.id)
                    """, [tokenizerId]).map { ($0.id, $0.rendered) }
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
            run.report(counts: result.counts)
        }
        progress.finish()
        if work.prepared.pendingPairs > 0 {
            try countPairs(tok, tokenizerId: tokenizerId, pending: work.prepared.pendingPairs, run: run, result: &result)
        }
        return result
    }

    /// Counts every document and QA pair with no count for this tokenizer yet.
    public func run() throws -> Result { try StageRunner.run(self) }

    /// The QA pairs (of every generator) with no count for this tokenizer, in id order, batch by
    /// batch: question and answer counted separately, so a length estimate can add whatever a QA
    /// template puts around them.
    private func countPairs(_ tok: any Tokenizer, tokenizerId: Int64, pending: Int, run: StageContext, result: inout Result) throws {
        let progress = ProgressReporter(label: "tokens (QA pairs)", total: pending, unit: "pairs")
        defer { progress.finish() }
        var after: Int64 = 0
        while true {
            let batch: [(id: Int64, question: String, answer: String)] = try store.pool.read { db in
                try QAPairRecord.batch(db, after: after, limit: batchSize, where: """
                    NOT EXISTS (SELECT 1 FROM qa_token_counts c WHERE c.tokenizer_id = ? AND c.qa_pair_id = qa_pairs.id)
                    """, [tokenizerId]).map { ($0.id, $0.question, $0.answer) }
            }
            guard let last = batch.last else { break }
            after = last.id
            let counts = countConcurrently(tok, batch.flatMap { [$0.question, $0.answer] })
            try run.commit(processed: batch.count) { db in
                let insert = try db.makeStatement(sql: """
                    INSERT INTO qa_token_counts(qa_pair_id, tokenizer_id, n_question, n_answer) VALUES (?, ?, ?, ?)
                    """)
                for (k, pair) in batch.enumerated() {
                    try insert.execute(arguments: [pair.id, tokenizerId, counts[2 * k], counts[2 * k + 1]])
                }
            }
            result.pairsCounted += batch.count
            progress.advance(by: batch.count)
        }
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
