import LecternText

/// The domain-specific words behind the word-to-text task: a sentence with at least three of
/// them becomes a "keywords -> sentence" example.
///
/// Two ways to get them:
/// - ``adaptLLM(domain:general:minCharacters:)``: AdaptLLM's rule. Pieces of a SentencePiece
///   model trained on the domain corpus that are absent from the general model (LLaMA's), that
///   start a word (`▁`) and have at least 10 characters after the mark (AdaptLLM: `len(piece) > 10`
///   with the mark). Matching is case-sensitive, as pieces are.
/// - ``learn(domainDocuments:generalDocuments:options:)``: from the corpus itself, no model
///   needed. A word (lowercased) is domain-specific when it has at least `minCharacters`
///   characters, contains a letter, occurs in at least `minDocumentFrequency` domain documents,
///   and its document frequency in the domain corpus is at least `minRatio` times its
///   add-one-smoothed document frequency in a general reference corpus:
///   `(df_domain / N_domain) / ((df_general + 1) / (N_general + 1)) >= minRatio`.
///   Matching is case-insensitive.
///
/// Words are whitespace-separated tokens with leading and trailing punctuation removed, which is
/// what a SentencePiece word piece covers in running text.
public struct DomainVocabulary: Sendable, Hashable, Codable {
    /// The words (lowercased when `caseSensitive` is false).
    public let words: Set<String>
    /// Whether sentences are matched with their case.
    public let caseSensitive: Bool
    /// How the set was made (recorded in the miner's fingerprint).
    public let origin: String

    /// Length in scalars of the shortest word: shorter tokens are skipped without a lookup.
    private let shortest: Int

    public init(words: Set<String>, caseSensitive: Bool, origin: String) {
        self.words = words; self.caseSensitive = caseSensitive; self.origin = origin
        shortest = words.map { $0.unicodeScalars.count }.min() ?? 0
    }

    private enum CodingKeys: String, CodingKey { case words, caseSensitive, origin }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(words: try c.decode(Set<String>.self, forKey: .words), caseSensitive: try c.decode(Bool.self, forKey: .caseSensitive),
                  origin: try c.decode(String.self, forKey: .origin))
    }

    /// AdaptLLM's domain-specific pieces: in `domain`, not in `general`, word-initial, long.
    public static func adaptLLM(domain: SentencePieceModel, general: SentencePieceModel, minCharacters: Int = 10) -> DomainVocabulary {
        let generalPieces = Set(general.pieces.map(\.text))
        var words = Set<String>()
        for p in domain.pieces where p.text.hasPrefix("\u{2581}") && !generalPieces.contains(p.text) {
            let w = String(p.text.dropFirst())
            if w.unicodeScalars.count >= minCharacters { words.insert(w) }
        }
        return DomainVocabulary(words: words, caseSensitive: true, origin: "spm-difference(min \(minCharacters))")
    }

    /// Options of ``learn(domainDocuments:generalDocuments:options:)``.
    public struct LearnOptions: Sendable, Hashable, Codable {
        public var minCharacters = 10
        public var minDocumentFrequency = 2
        public var minRatio = 5.0
        public init() {}
    }

    /// Words frequent in the domain corpus and rare in a general one (see the type's notes).
    public static func learn<D: Sequence<String>, G: Sequence<String>>(
        domainDocuments: D, generalDocuments: G, options: LearnOptions = LearnOptions()
    ) -> DomainVocabulary {
        func documentFrequencies<S: Sequence<String>>(_ docs: S) -> ([String: Int], Int) {
            var df: [String: Int] = [:]
            var n = 0
            for d in docs {
                n += 1
                var seen = Set<String>()
                forEachWord(in: d) { w in
                    guard w.unicodeScalars.count >= options.minCharacters else { return }
                    let lw = w.lowercased()
                    if seen.insert(lw).inserted { df[lw, default: 0] += 1 }
                }
            }
            return (df, n)
        }
        let (dfDomain, nDomain) = documentFrequencies(domainDocuments)
        let (dfGeneral, nGeneral) = documentFrequencies(generalDocuments)
        var words = Set<String>()
        guard nDomain > 0 else { return DomainVocabulary(words: [], caseSensitive: false, origin: "corpus") }
        for (w, d) in dfDomain where d >= options.minDocumentFrequency && w.contains(where: \.isLetter) {
            let domainRate = Double(d) / Double(nDomain)
            let generalRate = Double(dfGeneral[w, default: 0] + 1) / Double(nGeneral + 1)
            if domainRate / generalRate >= options.minRatio { words.insert(w) }
        }
        let o = options
        return DomainVocabulary(words: words, caseSensitive: false,
                                origin: "corpus(min \(o.minCharacters), df>=\(o.minDocumentFrequency), ratio>=\(o.minRatio), general \(nGeneral) docs)")
    }

    /// The distinct domain words of `sentence` in order of first appearance, and its word count.
    public func keywords(in sentence: Substring) -> (keywords: [String], wordCount: Int) {
        var found: [String] = []
        var count = 0
        forEachWord(in: sentence) { w in
            count += 1
            if w.unicodeScalars.count < shortest { return }
            let key = caseSensitive ? String(w) : w.lowercased()
            if words.contains(key) && !found.contains(key) { found.append(caseSensitive ? key : String(w)) }
        }
        return (found, count)
    }
}
