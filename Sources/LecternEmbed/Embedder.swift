import Foundation

/// Anything that turns texts into fixed-size vectors: the built-in MiniLM encoder, or a remote
/// OpenAI-compatible `/v1/embeddings` server.
///
/// ## Topics
/// - ``MiniLMEmbedder``
/// - ``OpenAIEmbeddingsClient``
public protocol Embedder: Sendable {
    /// Vector length.
    var dimension: Int { get }
    /// User-facing name, e.g. `minilm` or the served model name.
    var name: String { get }
    /// Lowercase hex SHA-256 of the configuration that determines the vectors (model,
    /// truncation, pooling, ...). Two embedders with the same fingerprint give the same vectors.
    var fingerprint: String { get }
    /// The configuration behind `fingerprint`, as canonical JSON (no secrets).
    var configJSON: String { get }
    /// One vector per text, in order, as a flat `texts.count x dimension` array.
    func embed(_ texts: [String]) throws -> [Float]
    /// Encoder tokens each text is embedded from (after truncation), when the embedder knows;
    /// stored in `embeddings.n_tokens`.
    func tokenCounts(_ texts: [String]) -> [Int]?
    /// `embed` and `tokenCounts` together (one tokenization where the embedder tokenizes).
    func embedCounting(_ texts: [String]) throws -> (vectors: [Float], tokens: [Int]?)
    /// How many leading UTF-8 bytes of a text to read first when its vector may depend on a
    /// prefix only (a truncating encoder); nil: the whole text is needed.
    var prefixBytes: Int? { get }
    /// Whether `prefix`, the leading characters of a longer text (cut at any character), determines that text's
    /// vector and token count (the caller then embeds the prefix instead of the text).
    func prefixDetermines(_ prefix: String) -> Bool
}

extension Embedder {
    /// Remote embedders do not say how they tokenize.
    public func tokenCounts(_ texts: [String]) -> [Int]? { nil }
    public func embedCounting(_ texts: [String]) throws -> (vectors: [Float], tokens: [Int]?) {
        (try embed(texts), tokenCounts(texts))
    }
    public var prefixBytes: Int? { nil }
    public func prefixDetermines(_ prefix: String) -> Bool { false }

    /// One vector per text, in order.
    public func embedRows(_ texts: [String]) throws -> [[Float]] {
        let flat = try embed(texts)
        return (0..<texts.count).map { Array(flat[($0 * dimension)..<(($0 + 1) * dimension)]) }
    }
}
