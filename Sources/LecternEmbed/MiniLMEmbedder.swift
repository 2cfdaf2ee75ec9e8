import Dispatch
import Foundation
import LecternCore

/// The built-in embedder: all-MiniLM-L6-v2 run by ``BertEncoder``, with its own uncased
/// WordPiece. Defaults match sentence-transformers (`max_seq_length` 256, mean pooling, L2).
///
/// Long documents are truncated by default; with `longDocuments: .meanOfChunks` a text is cut
/// into consecutive windows of `maxTokens - 2` word pieces, each embedded with its own
/// [CLS]/[SEP], and the document vector is the L2-normalised mean of the window vectors.
public final class MiniLMEmbedder: Embedder, @unchecked Sendable {
    /// What to do with texts longer than `maxTokens`.
    public enum LongDocuments: String, Codable, Sendable { case truncate, meanOfChunks = "mean-of-chunks" }

    /// The settings that determine the vectors (they make the fingerprint).
    public struct Configuration: Codable, Sendable, Equatable {
        public var model = "sentence-transformers/all-MiniLM-L6-v2"
        public var weightsSHA256 = ""
        public var maxTokens = 256
        public var longDocuments = LongDocuments.truncate
        public var pooling = "mean"
        public var normalize = true
        /// nil for fp32 (so fp32 fingerprints are those of earlier versions); "bf16" otherwise.
        public var precision: String?
        public init() {}
    }

    public let encoder: BertEncoder
    public let tokenizer: BertWordPiece
    public let configuration: Configuration
    public let name = "minilm"
    public var dimension: Int { encoder.config.hiddenSize }
    public let configJSON: String
    public let fingerprint: String
    /// Token rows per forward pass: large enough to keep both cores busy, small enough for L2-friendly buffers.
    public var tokensPerBatch = 4096

    /// Loads the model folder `directory` (config.json, model.safetensors, vocab.txt, 1_Pooling).
    /// `precision` bf16 needs AVX512_BF16 (a clear error otherwise) and is part of the fingerprint.
    public init(directory: String, maxTokens: Int = 256, longDocuments: LongDocuments = .truncate,
                precision: Precision = .fp32) throws {
        encoder = try BertEncoder(modelDirectory: directory, precision: precision)
        tokenizer = try BertWordPiece(vocabPath: directory + "/vocab.txt")
        try PoolingConfig.check(path: directory + "/1_Pooling/config.json")
        guard maxTokens >= 3, maxTokens <= encoder.config.maxPositionEmbeddings else {
            throw EmbedError.invalidArgument("maxTokens \(maxTokens) must be within 3...\(encoder.config.maxPositionEmbeddings)")
        }
        var c = Configuration()
        c.maxTokens = maxTokens
        c.longDocuments = longDocuments
        c.precision = precision == .fp32 ? nil : precision.rawValue
        c.weightsSHA256 = ModelInstaller.weightsDigest(directory: directory)
        configuration = c
        configJSON = (try? Fingerprint.canonicalJSON(c)) ?? "{}"
        fingerprint = Fingerprint.hex(of: Array(configJSON.utf8))
    }

    /// Loads the installed model (``ModelInstaller/minilmDirectory(install:)``), installing it first if allowed.
    public convenience init(install: Bool = true, maxTokens: Int = 256, longDocuments: LongDocuments = .truncate,
                            precision: Precision = .fp32) throws {
        try self.init(directory: try ModelInstaller.minilmDirectory(install: install), maxTokens: maxTokens,
                      longDocuments: longDocuments, precision: precision)
    }

    /// The token sequences a text is embedded from (one, or several windows for mean-of-chunks).
    /// Truncating, only the word pieces that are kept are computed: the tokenizer stops after
    /// `maxTokens - 2` of them, so a 60 MB text costs what its first few kilobytes cost.
    public func sequences(for text: String) -> [[Int32]] {
        let body = configuration.maxTokens - 2
        if configuration.longDocuments == .truncate {
            return [[tokenizer.clsID] + tokenizer.tokenize(text, limit: body).ids + [tokenizer.sepID]]
        }
        let ids = tokenizer.tokenize(text)
        if ids.count <= body { return [[tokenizer.clsID] + ids + [tokenizer.sepID]] }
        return stride(from: 0, to: ids.count, by: body).map {
            [tokenizer.clsID] + ids[$0..<min(ids.count, $0 + body)] + [tokenizer.sepID]
        }
    }

    /// Truncating, the first 32 bytes per kept token: enough for prose (about 5 per word piece).
    public var prefixBytes: Int? {
        configuration.longDocuments == .truncate ? 32 * configuration.maxTokens : nil
    }

    public func prefixDetermines(_ prefix: String) -> Bool {
        guard configuration.longDocuments == .truncate else { return false }
        return tokenizer.tokenize(prefix, limit: configuration.maxTokens - 2, partial: true).complete
    }

    /// `sequences(for:)` of every text, on all cores (the tokenizer is read-only).
    public func tokenizeAll(_ texts: [String]) -> [[[Int32]]] {
        if texts.count < 4 { return texts.map(sequences(for:)) }
        let out = UnsafeMutableBufferPointer<[[Int32]]>.allocate(capacity: texts.count)
        out.initialize(repeating: [])
        defer { _ = out.deinitialize(); out.deallocate() }
        let base = UInt(bitPattern: out.baseAddress!)
        let chunks = min(texts.count, 4 * ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let dst = UnsafeMutablePointer<[[Int32]]>(bitPattern: base)!
            for i in (texts.count * c / chunks)..<(texts.count * (c + 1) / chunks) { dst[i] = sequences(for: texts[i]) }
        }
        return Array(out)
    }

    public func tokenCounts(_ texts: [String]) -> [Int]? {
        texts.map { sequences(for: $0).reduce(0) { $0 + $1.count } }
    }

    public func embed(_ texts: [String]) throws -> [Float] {
        try embedCounting(texts).vectors
    }

    /// Vectors and token counts from one tokenization.
    public func embedCounting(_ texts: [String]) throws -> (vectors: [Float], tokens: [Int]?) {
        let seqs = tokenizeAll(texts)
        return (try embed(tokenized: seqs), seqs.map { $0.reduce(0) { $0 + $1.count } })
    }

    /// Embeds pre-tokenized texts (each a list of windows with [CLS]/[SEP]); returns one vector each.
    public func embed(tokenized seqs: [[[Int32]]]) throws -> [Float] {
        let h = dimension
        // Flatten windows, sort by length so each forward pass has similar-length sequences
        // (attention cost per task then balances across cores), then batch by token budget.
        var windows: [(doc: Int, ids: [Int32])] = []
        for (d, ws) in seqs.enumerated() { for w in ws { windows.append((d, w)) } }
        let order = windows.indices.sorted { windows[$0].ids.count > windows[$1].ids.count }
        var windowVectors = [Float](repeating: 0, count: windows.count * h)
        var i = 0
        while i < order.count {
            var j = i, tokens = 0
            while j < order.count, j == i || tokens + windows[order[j]].ids.count <= tokensPerBatch {
                tokens += windows[order[j]].ids.count; j += 1
            }
            let batch = order[i..<j]
            let out = try encoder.embed(batch.map { windows[$0].ids })
            for (k, w) in batch.enumerated() {
                for c in 0..<h { windowVectors[w * h + c] = out[k * h + c] }
            }
            i = j
        }
        var result = [Float](repeating: 0, count: seqs.count * h)
        var counts = [Int](repeating: 0, count: seqs.count)
        for (w, win) in windows.enumerated() {
            counts[win.doc] += 1
            for c in 0..<h { result[win.doc * h + c] += windowVectors[w * h + c] }
        }
        for d in 0..<seqs.count where counts[d] > 1 {
            var n: Float = 0
            for c in 0..<h { n += result[d * h + c] * result[d * h + c] }
            let inv = 1 / max(n.squareRoot(), 1e-12)
            for c in 0..<h { result[d * h + c] *= inv }
        }
        return result
    }
}
