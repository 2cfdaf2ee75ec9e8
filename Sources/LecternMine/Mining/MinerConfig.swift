/// Everything that decides a miner's output. Its fingerprint (with the token counter's and the
/// vocabulary's names) names the `rc_texts` rows a run produces.
public struct MinerConfig: Codable, Sendable, Hashable {
    /// Domain name used in templates (`biomedicine`, `finance`, `law`, ...).
    public var domain = "biomedicine"
    /// Seed of every random choice (templates, shuffles, cut points); per document it is mixed
    /// with the document's id.
    public var seed: UInt64 = 0
    /// Token budget of the article before tasks are added (AdaptLLM: 2048 - 200 LLaMA tokens).
    public var tokenBudget = 1800
    /// At most this many examples per sub-category (AdaptLLM: 2).
    public var maxPerSubcategory = 2
    /// Word-to-text: a sentence needs this many domain words (AdaptLLM: 3) ...
    public var minKeywords = 3
    /// ... and at most this many words (AdaptLLM: 100 SentencePiece tokens).
    public var maxKeywordSentenceWords = 100
    /// ... and at most this many such sentences are used (AdaptLLM: 2).
    public var maxKeywordSentences = 2
    /// Treat a document's first line as its title when it has no separate title (AdaptLLM does).
    public var firstLineIsTitle = true
    /// Version of ``Templates``.
    public var templates = Templates.version
    /// Join the lines of each paragraph before mining (``HardWrap/unwrap(_:)``), for hard-wrapped
    /// corpora. Optional so that a configuration without it keeps the fingerprint it had before
    /// the option existed (nil is not encoded).
    public var unwrap: Bool?
    /// `adaptllm`: AdaptLLM's truncation, sentences and keyword pieces (``AdaptLLMCompat``); nil:
    /// Lectern's own (not encoded, so older fingerprints stay).
    public var compat: String?

    public init() {}
}
