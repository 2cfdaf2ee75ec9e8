import Foundation
import GRDB
import LecternEmbed
import LecternGenerate
import LecternIngest
import LecternStore
import LecternTokens

/// Reads a `ClusterInput` from a Lectern file: one vector per document from an embedder's
/// vector table, and its length in a tokenizer's tokens plus its QA pairs (or a reserved budget).
///
/// Everything is read through the owning modules' requests: vectors through
/// ``StoredEmbeddings`` (the embedder's `lectern_vec` table; little-endian float32 BLOBs, as
/// sqlite-vec writes them), lengths through ``StoredDocument``, counts through ``TokenCounts``,
/// QA pairs through ``QAPairRecord``. Vectors are L2-normalised on read (cosine is the metric
/// either way).
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

    /// A name, id or fingerprint (prefix) of an embedder, tokenizer or generator (``RowReference``).
    /// Puts the rows in the order of their documents' content hashes (ids break ties, which a
    /// UNIQUE hash never needs). The vectors are permuted in place, cycle by cycle: at 10^6
    /// documents a second copy would be another 1.5 GB.
    static func sortByContentHash(_ db: Database, ids: inout [Int64], vectors: inout [Float], dim: Int,
                                  docTokens: inout [Int], docChars: inout [Int]) throws {
        let rank = try StoredDocument.contentHashRanks(db)
        let order = ids.indices.sorted {
            let a = rank[ids[$0]] ?? Int.max, b = rank[ids[$1]] ?? Int.max
            return a != b ? a < b : ids[$0] < ids[$1]
        }
        // Row p of the result is row order[p] of the input.
        ids = order.map { ids[$0] }
        docTokens = order.map { docTokens[$0] }
        docChars = order.map { docChars[$0] }
        guard dim > 0 else { return }
        var done = [Bool](repeating: false, count: order.count)
        var saved = [Float](repeating: 0, count: dim)
        vectors.withUnsafeMutableBufferPointer { v in
            for start in order.indices where !done[start] && order[start] != start {
                for k in 0..<dim { saved[k] = v[start * dim + k] }
                var p = start
                while true {
                    done[p] = true
                    let q = order[p]
                    if q == start {
                        for k in 0..<dim { v[p * dim + k] = saved[k] }
                        break
                    }
                    for k in 0..<dim { v[p * dim + k] = v[q * dim + k] }
                    p = q
                }
            }
        }
    }

    static func lookup(_ db: Database, table: String, kind: String, _ name: String) throws -> (Int64, String) {
        let r = try RowReference.resolve(db, table: table, kind: kind, name)
        return (r.id, r.fingerprint)
    }

    /// Reads every document that has a vector under the embedder, in content-hash order.
    ///
    /// Not id order: ids follow the order documents arrived (and the order shards were merged
    /// in), content does not. Every choice the clustering makes follows its input order (seeds,
    /// ties, the walk), so in this order a merged file clusters exactly as one process would.
    public static func read(_ store: Store, _ source: Source) throws -> Loaded {
        try store.pool.read { db in
            let (embID, embFP) = try lookup(db, table: "embedders", kind: "embedder", source.embedder)
            let layout: StoredEmbeddings.Layout
            do { layout = try StoredEmbeddings.layout(db, embedder: embID) } catch let e as StoredEmbeddings.ReadError {
                if case .badIdentifier(let s) = e { throw ReadError.badIdentifier(s) }
                throw ReadError.badEmbedder(id: embID)
            }
            let dim = layout.dim, vtable = layout.vectorTable
            var tok: (Int64, String)? = nil
            if let t = source.tokenizer { tok = try lookup(db, table: "tokenizers", kind: "tokenizer", t) }
            var gen: (Int64, String)? = nil
            if let g = source.generator { gen = try lookup(db, table: "generators", kind: "generator", g) }

            var ids: [Int64] = []
            var vectors: [Float] = []
            var docTokens: [Int] = []
            var docChars: [Int] = []
            var skipped: [String] = []
            let characters = try StoredDocument.lengths(db)
            let counted = try tok.map { try TokenCounts.documents(db, tokenizer: $0.0) } ?? [:]
            let rows: RowCursor
            do { rows = try StoredEmbeddings.vectors(db, embedder: embID, layout: layout, column: source.vectorColumn) } catch let e as StoredEmbeddings.ReadError {
                if case .badIdentifier(let s) = e { throw ReadError.badIdentifier(s) }
                throw e
            }
            var scratch = [Float](repeating: 0, count: dim)
            while let row = try rows.next() {
                let id: Int64 = row["document_id"]
                guard let chars = characters[id] else { continue }  // (the document is gone)
                guard let blob = row["vector"] as Data? else {
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
                if tok != nil, let t = source.tokenizer {
                    guard let n = counted[id] else {
                        skipped.append("document \(id): no token count for tokenizer \(t) (run `lectern tokens` first)")
                        continue
                    }
                    docTokens.append(n)
                } else {
                    docTokens.append((chars + 3) / 4)
                }
                ids.append(id)
                for x in scratch { vectors.append(x / norm) }
                docChars.append(chars)
            }
            try Self.sortByContentHash(db, ids: &ids, vectors: &vectors, dim: dim, docTokens: &docTokens, docChars: &docChars)

            // QA tokens per document: from stored counts when `lectern tokens` counted every pair of
            // the generator under this tokenizer (question + answer + what the template adds per
            // pair); otherwise estimated from the pairs' characters at the document's own
            // tokens-per-character ratio.
            var qaTokens = [Int?](repeating: nil, count: ids.count)
            var qaTokensStored = false
            if let gen {
                let pos = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
                if let tok, try TokenCounts.qaPairsComplete(db, generator: gen.0, tokenizer: tok.0) {
                    qaTokensStored = true
                    let overhead = max(0, source.qaPairOverhead ?? 0)
                    for (doc, c) in try TokenCounts.qaPairsPerDocument(db, generator: gen.0, tokenizer: tok.0) {
                        guard let i = pos[doc] else { continue }
                        qaTokens[i] = c.tokens.addingReportingOverflow(c.pairs.multipliedReportingOverflow(by: overhead).partialValue).partialValue
                    }
                } else {
                    for (doc, c) in try QAPairRecord.characterTotals(db, generator: gen.0) {
                        guard let i = pos[doc] else { continue }
                        // The characters of "Question: q\nAnswer: a\n" per pair: 20 around q and a.
                        let chars = c.characters + 20 * c.pairs
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
