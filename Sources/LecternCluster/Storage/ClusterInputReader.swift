import Foundation
import GRDB
import LecternStore

/// Reads a `ClusterInput` from a Lectern file: one vector per document from an embedder's
/// vector table, and its length in a tokenizer's tokens plus its QA pairs (or a reserved budget).
///
/// Vectors are read with
/// `SELECT e.document_id, v.<column> FROM embeddings e JOIN <vector_table> v ON v.rowid = e.vector_rowid`
/// where `<vector_table>` is `embedders.vector_table` (a `lectern_vec` virtual table) and
/// `<column>` its vector column (`embedding` by default); the BLOB is little-endian float32, as
/// sqlite-vec writes it. Vectors are L2-normalised on read (cosine is the metric either way).
public enum ClusterInputReader {
    /// Which rows to cluster and how to measure them.
    public struct Source: Codable, Hashable, Sendable {
        /// The embedder: its name, id or fingerprint (``RowReference``).
        public var embedder: String
        /// The tokenizer (name, id or fingerprint); nil: about 4 characters a token.
        public var tokenizer: String?
        /// `generators.name` (or id) whose QA pairs count in each length; nil: none.
        public var generator: String?
        /// Tokens reserved for the QA pairs of a document that has none (yet); nil with a
        /// generator: measured from the documents that have pairs (mean QA/document token ratio).
        public var qaBudget: Int?
        /// The vector column of the embedder's table.
        public var vectorColumn: String = "embedding"
        /// Tokens each QA pair adds beyond its question and answer (the build's QA template and
        /// separator, `QATemplate.ownTokens`); used with stored counts (`qa_token_counts`).
        /// nil: 0.
        public var qaPairOverhead: Int?

        public init(embedder: String, tokenizer: String? = nil, generator: String? = nil, qaBudget: Int? = nil) {
            self.embedder = embedder
            self.tokenizer = tokenizer
            self.generator = generator
            self.qaBudget = qaBudget
        }
    }

    /// What was read, with the ids of the rows the lengths and vectors came from.
    public struct Loaded {
        public var input: ClusterInput
        public var embedderID: Int64
        public var embedderFingerprint: String
        public var tokenizerID: Int64?
        public var tokenizerFingerprint: String?
        public var generatorID: Int64?
        public var generatorFingerprint: String?
        /// Documents with an embedding but skipped, and why (e.g. an empty vector).
        public var skipped: [String]
        /// The QA budget applied to documents without pairs.
        public var qaBudgetUsed: Int
        /// Whether QA lengths came from stored counts (`lectern tokens` counted every pair of the
        /// generator under the tokenizer); false: estimated from characters.
        public var qaTokensStored = false
    }

    public enum ReadError: Error, CustomStringConvertible {
        case notFound(kind: String, name: String, known: [String])
        case badIdentifier(String)
        case badVector(documentID: Int64, detail: String)
        case badEmbedder(id: Int64)

        public var description: String {
            switch self {
            case .notFound(let kind, let name, let known):
                let list = known.isEmpty ? "none" : known.joined(separator: ", ")
                return "no \(kind) named '\(name)' in the file (known: \(list))"
            case .badIdentifier(let s):
                return "vector table or column name '\(s)' is not a plain SQL identifier"
            case .badVector(let id, let detail):
                return "vector of document \(id): \(detail)"
            case .badEmbedder(let id):
                return "embedder \(id) has no valid dim (1...65536) or vector_table: corrupt file"
            }
        }
    }

    /// Whether every QA pair of `generator` has a stored count under `tokenizer`.
    static func storedQACountsComplete(_ db: Database, generator: Int64, tokenizer: Int64) throws -> Bool {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT count(*) AS pairs, count(c.qa_pair_id) AS counted FROM qa_pairs q
              LEFT JOIN qa_token_counts c ON c.qa_pair_id = q.id AND c.tokenizer_id = ?
             WHERE q.generator_id = ?
            """, arguments: [tokenizer, generator]) else { return false }
        let pairs = (row["pairs"] as Int?) ?? 0, counted = (row["counted"] as Int?) ?? 0
        return pairs > 0 && counted == pairs
    }

    /// A name, id or fingerprint (prefix) of an embedder, tokenizer or generator (``RowReference``).
    static func lookup(_ db: Database, table: String, kind: String, _ name: String) throws -> (Int64, String) {
        let r = try RowReference.resolve(db, table: table, kind: kind, name)
        return (r.id, r.fingerprint)
    }

    static func checkIdentifier(_ s: String) throws {
        let ok = !s.isEmpty && s.unicodeScalars.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_" }
            && !(s.unicodeScalars.first! >= "0" && s.unicodeScalars.first! <= "9")
        if !ok { throw ReadError.badIdentifier(s) }
    }

    /// Reads every document that has a vector under the embedder, ordered by document id.
    public static func read(_ store: Store, _ source: Source) throws -> Loaded {
        try store.pool.read { db in
            let (embID, embFP) = try lookup(db, table: "embedders", kind: "embedder", source.embedder)
            // A file is input: a NULL or absurd dim must be an error, not a trap in `dim * 4` or the allocation below.
            // (fromDatabaseValue: GRDB's `as Int?` still traps on TEXT.)
            guard let meta = try Row.fetchOne(db, sql: "SELECT dim, vector_table FROM embedders WHERE id = ?", arguments: [embID]),
                  let dim = Int.fromDatabaseValue(meta["dim"] as DatabaseValue), (1...65536).contains(dim),
                  let vtable = String.fromDatabaseValue(meta["vector_table"] as DatabaseValue) else {
                throw ReadError.badEmbedder(id: embID)
            }
            try checkIdentifier(vtable)
            try checkIdentifier(source.vectorColumn)
            var tok: (Int64, String)? = nil
            if let t = source.tokenizer { tok = try lookup(db, table: "tokenizers", kind: "tokenizer", t) }
            var gen: (Int64, String)? = nil
            if let g = source.generator { gen = try lookup(db, table: "generators", kind: "generator", g) }

            var ids: [Int64] = []
            var vectors: [Float] = []
            var docTokens: [Int] = []
            var docChars: [Int] = []
            var skipped: [String] = []
            let sql = """
                SELECT e.document_id AS id, v.\(source.vectorColumn) AS vec, d.n_chars AS n_chars, t.n_tokens AS n_tokens
                  FROM embeddings e
                  JOIN \(vtable) v ON v.rowid = e.vector_rowid
                  JOIN documents d ON d.id = e.document_id
                  LEFT JOIN token_counts t ON t.document_id = e.document_id AND t.tokenizer_id = ?
                 WHERE e.embedder_id = ?
                 ORDER BY e.document_id
                """
            let rows = try Row.fetchCursor(db, sql: sql, arguments: [tok?.0, embID])
            var scratch = [Float](repeating: 0, count: dim)
            while let row = try rows.next() {
                let id: Int64 = row["id"]
                guard let blob = row["vec"] as Data? else {
                    skipped.append("document \(id): no vector in \(vtable)")
                    continue
                }
                guard blob.count == dim * 4 else {
                    throw ReadError.badVector(documentID: id, detail: "\(blob.count) bytes, expected \(dim) float32 (\(dim * 4) bytes)")
                }
                blob.withUnsafeBytes { raw in
                    for k in 0..<dim {
                        scratch[k] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: k * 4, as: UInt32.self)))
                    }
                }
                var norm: Float = 0
                for x in scratch { norm += x * x }
                norm = norm.squareRoot()
                guard norm > 0, norm.isFinite else {
                    skipped.append("document \(id): zero or non-finite vector")
                    continue
                }
                ids.append(id)
                for x in scratch { vectors.append(x / norm) }
                let chars: Int = row["n_chars"]
                docChars.append(chars)
                if tok != nil {
                    guard let n = row["n_tokens"] as Int? else {
                        skipped.append("document \(id): no token count for tokenizer \(source.tokenizer!) (run `lectern tokens` first)")
                        ids.removeLast(); vectors.removeLast(dim); docChars.removeLast()
                        continue
                    }
                    docTokens.append(n)
                } else {
                    docTokens.append((chars + 3) / 4)
                }
            }

            // QA tokens per document: from stored counts when `lectern tokens` counted every pair of
            // the generator under this tokenizer (question + answer + what the template adds per
            // pair); otherwise estimated from the pairs' characters at the document's own
            // tokens-per-character ratio.
            var qaTokens = [Int?](repeating: nil, count: ids.count)
            var qaTokensStored = false
            if let gen {
                let pos = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
                if let tok, try storedQACountsComplete(db, generator: gen.0, tokenizer: tok.0) {
                    qaTokensStored = true
                    let overhead = max(0, source.qaPairOverhead ?? 0)
                    let qa = try Row.fetchCursor(db, sql: """
                        SELECT q.document_id, SUM(c.n_question + c.n_answer) AS n, count(*) AS pairs
                          FROM qa_pairs q JOIN qa_token_counts c ON c.qa_pair_id = q.id AND c.tokenizer_id = ?
                         WHERE q.generator_id = ? GROUP BY q.document_id
                        """, arguments: [tok.0, gen.0])
                    while let r = try qa.next() {
                        guard let i = pos[r["document_id"] as Int64] else { continue }
                        let n = (r["n"] as Int?) ?? 0, pairs = (r["pairs"] as Int?) ?? 0
                        qaTokens[i] = n.addingReportingOverflow(pairs.multipliedReportingOverflow(by: overhead).partialValue).partialValue
                    }
                } else {
                    let qa = try Row.fetchCursor(db, sql: """
                        SELECT document_id, SUM(length('Question: ' || question || char(10) || 'Answer: ' || answer || char(10))) AS chars
                          FROM qa_pairs WHERE generator_id = ? GROUP BY document_id
                        """, arguments: [gen.0])
                    while let r = try qa.next() {
                        guard let i = pos[r["document_id"] as Int64] else { continue }
                        let chars: Int = r["chars"]
                        let ratio = docChars[i] > 0 ? Double(docTokens[i]) / Double(docChars[i]) : 0.25
                        qaTokens[i] = Int((Double(chars) * ratio).rounded())
                    }
                }
            }
            var budget = source.qaBudget ?? 0
            if source.qaBudget == nil, let ratio = ClusterInput.measuredQARatio(documentTokens: docTokens, qaTokens: qaTokens) {
                let missing = zip(docTokens, qaTokens).filter { $0.1 == nil }.map { $0.0 }
                budget = missing.isEmpty ? 0 : Int((ratio * Double(missing.reduce(0, +)) / Double(missing.count)).rounded())
            }
            let lengths = ClusterInput.lengths(documentTokens: docTokens, qaTokens: qaTokens, reservedQABudget: budget)
            let input = try ClusterInput(vectors: vectors, dim: dim, lengths: lengths, ids: ids)
            return Loaded(
                input: input, embedderID: embID, embedderFingerprint: embFP, tokenizerID: tok?.0, tokenizerFingerprint: tok?.1,
                generatorID: gen?.0, generatorFingerprint: gen?.1, skipped: skipped, qaBudgetUsed: budget,
                qaTokensStored: qaTokensStored)
        }
    }
}
