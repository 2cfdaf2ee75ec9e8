import Foundation
import GRDB
import LecternGenerate

/// Reads of `tokenizers`, `token_counts` and `qa_token_counts`, which only the tokens stage
/// writes (``TokenCountStage``); clustering, the build and training read counts through these.
public enum TokenCounts {
    /// Tokens of every counted document under `tokenizer`, by document id.
    public static func documents(_ db: Database, tokenizer: Int64) throws -> [Int64: Int] {
        var out: [Int64: Int] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT document_id, n_tokens FROM token_counts WHERE tokenizer_id = ?", arguments: [tokenizer])
        while let r = try rows.next() { out[r["document_id"]] = r["n_tokens"] }
        return out
    }

    /// Number of documents counted under `tokenizer`.
    public static func documentCount(_ db: Database, tokenizer: Int64) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM token_counts WHERE tokenizer_id = ?", arguments: [tokenizer]) ?? 0
    }

    /// Whether every QA pair of `generator` has a stored count under `tokenizer` (and it has any).
    public static func qaPairsComplete(_ db: Database, generator: Int64, tokenizer: Int64) throws -> Bool {
        let pairs = try QAPairRecord.count(db, where: "generator_id = ?", [generator])
        let counted = try QAPairRecord.count(db, where: """
            generator_id = ? AND EXISTS (SELECT 1 FROM qa_token_counts c WHERE c.qa_pair_id = qa_pairs.id AND c.tokenizer_id = ?)
            """, [generator, tokenizer])
        return pairs > 0 && counted == pairs
    }

    /// Per document of `generator`: its pairs' question and answer tokens under `tokenizer`
    /// (summed) and how many pairs were counted.
    public static func qaPairsPerDocument(_ db: Database, generator: Int64, tokenizer: Int64) throws -> [Int64: (tokens: Int, pairs: Int)] {
        let documentOf = try QAPairRecord.documentsByPair(db, generator: generator)
        var out: [Int64: (tokens: Int, pairs: Int)] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT qa_pair_id, n_question, n_answer FROM qa_token_counts WHERE tokenizer_id = ?",
                                       arguments: [tokenizer])
        while let r = try rows.next() {
            guard let doc = documentOf[r["qa_pair_id"]] else { continue }  // another generator's pair
            let n = (r["n_question"] as Int).addingReportingOverflow(r["n_answer"] as Int).partialValue
            let old = out[doc] ?? (0, 0)
            out[doc] = (old.tokens.addingReportingOverflow(n).partialValue, old.pairs + 1)
        }
        return out
    }

    /// The fingerprint of tokenizer `id`.
    public static func tokenizerFingerprint(_ db: Database, id: Int64) throws -> String? {
        try String.fetchOne(db, sql: "SELECT fingerprint FROM tokenizers WHERE id = ?", arguments: [id])
    }
}

extension TokenCounts {
    /// The tokenizers of the file (name and fingerprint), in id order.
    public static func tokenizers(_ db: Database) throws -> [(name: String, fingerprint: String)] {
        try Row.fetchAll(db, sql: "SELECT name, fingerprint FROM tokenizers ORDER BY id").map { ($0["name"], $0["fingerprint"]) }
    }
}
