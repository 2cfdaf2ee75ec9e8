import Foundation
import LecternText
import LecternKernels

/// One regex-mined tuple: what AdaptLLM's `collect_mined` keeps of a match.
public struct MinedTuple: Sendable, Hashable, Codable {
    public var type: AdaptLLMPatterns.TaskType
    /// `Entail`, `Contradict`, `Neutral`, `Cause-effect`, `Effect-cause`, `Similar`,
    /// `Different`, `definition`, `topic`, `keywords`; nil for summarise and completion.
    public var subcategory: String?
    /// First sentence, defined word, topic sentence, keywords, or the first half of the text.
    public var premise: String?
    /// The connective or verb phrase that matched.
    public var verbalizer: String?
    /// Second sentence, definition, topic, keyword sentence, title, or the second half.
    public var hypothesis: String?
}

/// A task as it appears in the text: its tuple and the rendered question and answer.
public struct RCTask: Sendable, Hashable, Codable {
    public var tuple: MinedTuple
    public var prompt: String
    public var answer: String
}

/// A reading-comprehension text: the article with its tasks, and the tasks themselves
/// (article-level tasks first, then the question blocks in text order).
public struct RCText: Sendable, Hashable, Codable {
    public var text: String
    public var tasks: [RCTask]
}

/// AdaptLLM's reading-comprehension miner: regex-mined tasks appended to each document.
///
/// Faithful to AdaptLLM's `raw2read.py` in what is mined (the same nine regexes over the same
/// title-less, truncated text, at most 2 examples per sub-category, keyword sentences with at
/// least 3 domain words, at most 2 of them) and in how a text is assembled (task blocks per
/// type, shuffled, joined after an intro line; the article summarised and/or cut for
/// completion with AdaptLLM's probabilities 0.4/0.1/0.4/0.1; double spaces collapsed).
/// Different on purpose: Lectern's own template paraphrases, one seeded generator per document,
/// and a pluggable token counter.
///
/// ## Topics
/// - ``init(config:vocabulary:counter:splitter:)``
/// - ``mine(document:title:key:)``
/// - ``mineTuples(in:)``
public struct Miner: Sendable {
    public let config: MinerConfig
    public let vocabulary: DomainVocabulary?
    public let counter: TokenCounter
    public let splitter: SentenceSplitter
    /// AdaptLLM's own truncation, sentences and keyword pieces (``AdaptLLMCompat``); nil: Lectern's.
    public let compat: AdaptLLMCompat?

    public init(config: MinerConfig = MinerConfig(), vocabulary: DomainVocabulary? = nil,
                counter: TokenCounter = .approximateFromWords, splitter: SentenceSplitter = SentenceSplitter(),
                compat: AdaptLLMCompat? = nil) {
        var config = config
        if compat != nil { config.compat = "adaptllm"; config.tokenBudget = compat?.maxTokens ?? config.tokenBudget }
        self.config = config; self.vocabulary = vocabulary; self.counter = counter; self.splitter = splitter
        self.compat = compat
    }

    /// What identifies this miner's output: configuration, token counter, vocabulary.
    public struct Identity: Codable, Hashable, Sendable {
        public var config: MinerConfig
        public var tokenCounter: String
        public var vocabulary: String?
        public var vocabularySize: Int
        public var vocabularyDigest: UInt64
    }

    /// The miner's identity, to fingerprint a run (the vocabulary enters by origin, size and
    /// an order-independent digest of its words).
    public var identity: Identity {
        var digest: UInt64 = 0
        if let v = vocabulary {
            for w in v.words {
                var h: UInt64 = 0xCBF2_9CE4_8422_2325
                for b in w.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
                digest &+= h
            }
        }
        if let compat {
            for w in compat.specificPieces {
                var h: UInt64 = 0xCBF2_9CE4_8422_2325
                for b in w.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
                digest &+= h
            }
            return Identity(config: config, tokenCounter: compat.name, vocabulary: compat.name,
                            vocabularySize: compat.specificPieces.count, vocabularyDigest: digest)
        }
        return Identity(config: config, tokenCounter: counter.name, vocabulary: vocabulary?.origin,
                        vocabularySize: vocabulary?.words.count ?? 0, vocabularyDigest: digest)
    }

    /// The regex tuples of `text`, rule by rule in AdaptLLM's order, matches in text order.
    public func mineTuples(in text: String) -> [MinedTuple] {
        var out: [MinedTuple] = []
        var s = text
        s.withUTF8 { buf in
            for (rule, matcher) in AdaptLLMPatterns.compiled {
                matcher.forEachMatch(in: buf) { caps in
                    func str(_ g: Int) -> String { String(decoding: UnsafeBufferPointer(rebasing: buf[caps[g]]), as: UTF8.self) }
                    out.append(MinedTuple(type: rule.type, subcategory: rule.subcategory, premise: str(rule.premiseGroup),
                                          verbalizer: str(rule.verbalizerGroup), hypothesis: str(rule.hypothesisGroup)))
                }
            }
        }
        return out
    }

    /// Title and body as AdaptLLM reads a raw text: an explicit title wins; else the first
    /// line is the title when `firstLineIsTitle` and there is more than one line. The first
    /// line ends at "\n", "\r\n" or a lone "\r" (AdaptLLM reads files in Python's text mode,
    /// where all three are "\n"); the body starts after that line end.
    public func splitTitle(document: String, title: String?) -> (title: String?, body: String) {
        if let t = title.map(pythonStrip), !t.isEmpty { return (t, document) }
        let utf8 = document.utf8
        if config.firstLineIsTitle, let end = utf8.firstIndex(where: { $0 == 0x0A || $0 == 0x0D }) {
            var next = utf8.index(after: end)
            if utf8[end] == 0x0D, next < utf8.endIndex, utf8[next] == 0x0A { next = utf8.index(after: next) }
            // Scalar-aligned slices: "\r\n" is one Character, so Character-based slicing would round.
            let first = pythonStrip(String(Substring(document.unicodeScalars[..<end])))
            return (first.isEmpty ? nil : first, String(Substring(document.unicodeScalars[next...])))
        }
        return (nil, document)
    }

    /// The reading-comprehension text of one document. `key` (the document's id) and the
    /// configured seed fix every random choice, so the result is reproducible.
    public func mine(document: String, title: String? = nil, key: UInt64) -> RCText {
        let (title, body, sentences) = article(document: document, title: title)
        var rng = SplitMix64(seed: config.seed, stream: key)
        let domain = config.domain

        // Mined tuples by type and sub-category.
        var bySub: [String: [MinedTuple]] = [:]
        for t in mineTuples(in: body) { bySub[t.subcategory!, default: []].append(t) }
        if let compat, compat.domain != nil {
            if let found = adaptLLMKeywordTuples(sentences: sentences, body: body, compat: compat) { bySub["keywords"] = found }
        } else if let vocab = vocabulary {
            var order = Array(sentences.indices)
            rng.shuffle(&order)
            if let found = keywordTuples(sentences, order: order, maxUnits: config.maxKeywordSentenceWords, keywords: vocab.keywords) {
                bySub["keywords"] = found
            }
        }

        // Task blocks: one per type, its examples together (a few-shot block), then shuffled.
        let typeOrder: [(AdaptLLMPatterns.TaskType, [String])] = [
            (.nli, ["Entail", "Contradict", "Neutral"]),
            (.commonsense, ["Cause-effect", "Effect-cause"]),
            (.paraphrase, ["Similar", "Different"]),
            (.word2text, ["keywords", "definition", "topic"]),
        ]
        var blocks: [(text: String, tasks: [RCTask])] = []
        for (_, subs) in typeOrder {
            var tasks: [RCTask] = []
            for sub in subs {
                guard var examples = bySub[sub], !examples.isEmpty else { continue }
                rng.shuffle(&examples)
                for t in examples.prefix(config.maxPerSubcategory) {
                    tasks.append(render(t, rng: &rng))
                }
            }
            if !tasks.isEmpty {
                blocks.append((tasks.map { $0.prompt + " " + $0.answer }.joined(separator: "\n\n"), tasks))
            }
        }
        rng.shuffle(&blocks)
        var qa = ""
        if !blocks.isEmpty {
            let intro = rng.pick(Templates.intros).render(["domain": domain])
            qa = intro + blocks.map(\.text).joined(separator: "\n\n")
        }

        // The article: summarised (title as answer), cut for completion, both, or neither.
        enum Mode { case summarize, complete, both, plain }
        let canComplete = sentences.count >= 2
        let mode: Mode
        switch (title != nil, canComplete) {
        case (true, true): mode = [Mode.summarize, .complete, .both, .plain][rng.weighted([0.4, 0.1, 0.4, 0.1])]
        case (true, false): mode = [Mode.summarize, .plain][rng.weighted([0.5, 0.5])]
        case (false, true): mode = [Mode.complete, .plain][rng.weighted([0.5, 0.5])]
        case (false, false): mode = .plain
        }
        let joined = pythonStrip(body)
        var values = ["domain": domain, "qa": qa, "title": title ?? "", "context": joined]
        var articleTasks: [RCTask] = []
        let template: Template
        func skeleton(_ t: Template, _ v: [String: String]) -> String {
            pythonStrip(t.render(v))
        }
        switch mode {
        case .summarize:
            template = rng.pick(Templates.summarize)
            articleTasks.append(RCTask(tuple: MinedTuple(type: .summarize, subcategory: nil, premise: nil, verbalizer: nil, hypothesis: title),
                                       prompt: skeleton(template, ["domain": domain]), answer: title!))
        case .complete, .both:
            let cut = 1 + rng.below(sentences.count - 1)
            var first = pythonStrip(sentences[..<cut].joined())
            let second = pythonStrip(sentences[cut...].joined())
            if mode == .complete, let t = title { first = t + "\n" + first }
            values["first"] = first
            values["second"] = second
            template = mode == .complete ? rng.pick(Templates.complete) : rng.pick(Templates.completeAndSummarize)
            articleTasks.append(RCTask(tuple: MinedTuple(type: .completion, subcategory: nil, premise: first, verbalizer: nil, hypothesis: second),
                                       prompt: skeleton(template, ["domain": domain, "first": first]), answer: second))
            if mode == .both {
                articleTasks.append(RCTask(tuple: MinedTuple(type: .summarize, subcategory: nil, premise: nil, verbalizer: nil, hypothesis: title),
                                           prompt: skeleton(template, ["domain": domain]), answer: title!))
            }
        case .plain:
            template = rng.pick(Templates.plain)
            if let t = title { values["context"] = t + "\n" + joined }
        }
        let text = collapseSpaces(template.render(values))
        return RCText(text: text, tasks: articleTasks + blocks.flatMap(\.tasks))
    }

    /// Title, truncated body and its sentences, as this miner reads a document.
    public func article(document: String, title: String?) -> (title: String?, body: String, sentences: [Substring]) {
        if let compat {
            let (t, body) = Self.adaptLLMTitle(document: document, title: title, compat: compat)
            return (t, body, AdaptLLMSentences(splitter: splitter).split(body))
        }
        let (t, wrapped) = splitTitle(document: document, title: title)
        let rawBody = config.unwrap == true ? HardWrap.unwrap(wrapped) : wrapped
        let body = truncate(rawBody, toTokens: config.tokenBudget, counter: counter)
        return (t, body, splitter.split(body))
    }

    /// AdaptLLM's title and truncated body: an explicit title wins (the document is the body);
    /// else `text.split('\n')[0]` and the rest, the title as it is (not stripped), the body
    /// possibly empty.
    static func adaptLLMTitle(document raw: String, title: String?, compat: AdaptLLMCompat) -> (String?, String) {
        // raw2read.py reads files in Python's text mode: "\r\n" and a lone "\r" are "\n" there.
        let document = raw.utf8.contains(0x0D) ? raw.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n") : raw
        if let t = title, !pythonStrip(t).isEmpty { return (t, compat.truncate(document)) }
        let scalars = document.unicodeScalars
        guard let nl = scalars.firstIndex(of: "\n") else { return (document, "") }
        return (String(scalars[..<nl]), compat.truncate(String(scalars[scalars.index(after: nl)...])))
    }

    /// The keyword tuples of AdaptLLM's word2text task: sentences in CPython's shuffled order,
    /// the first `maxKeywordSentences` with at least `minKeywords` domain-specific pieces and at
    /// most `maxSentencePieces` distinct pieces.
    public func adaptLLMKeywordTuples(sentences: [Substring], body: String, compat: AdaptLLMCompat) -> [MinedTuple]? {
        var order = Array(sentences.indices)
        var py = PythonRandom(seed: UInt64(body.unicodeScalars.count))
        py.shuffle(&order)
        return keywordTuples(sentences, order: order, maxUnits: compat.maxSentencePieces, keywords: compat.keywords)
    }

    /// The first `maxKeywordSentences` sentences, in `order`, with at least `minKeywords` domain
    /// words and at most `maxUnits` words (or pieces), as keyword tuples; nil when none qualifies.
    func keywordTuples(_ sentences: [Substring], order: [Int], maxUnits: Int,
                       keywords: (Substring) -> ([String], Int)) -> [MinedTuple]? {
        var found: [MinedTuple] = []
        for i in order where found.count < config.maxKeywordSentences {
            let (kw, n) = keywords(sentences[i])
            if kw.count >= config.minKeywords && n <= maxUnits {
                found.append(MinedTuple(type: .word2text, subcategory: "keywords",
                                        premise: kw.prefix(config.minKeywords).joined(separator: ", "),
                                        verbalizer: nil, hypothesis: pythonStrip(sentences[i])))
            }
        }
        return found.isEmpty ? nil : found
    }

    /// Renders one mined tuple with a template drawn from `rng`.
    func render(_ t: MinedTuple, rng: inout SplitMix64) -> RCTask {
        let premise = t.premise ?? "", hypothesis = t.hypothesis ?? "", verbalizer = t.verbalizer ?? ""
        let hyp = capitalizeFirst(hypothesis)
        var v: [String: String] = ["domain": config.domain, "verbalizer": verbalizer]
        let template: QATemplate
        switch t.subcategory ?? "" {
        case "Entail", "Contradict", "Neutral":
            v["premise"] = premise; v["hypothesis"] = hyp
            v["options"] = "- Yes\n- No\n- Maybe"
            switch t.subcategory {
            case "Entail": v["answer"] = "Yes"; v["connective"] = "Therefore"; v["relation"] = "Entailment"
            case "Contradict": v["answer"] = "No"; v["connective"] = "However"; v["relation"] = "Contradictory"
            default: v["answer"] = "Maybe"; v["connective"] = "Moreover"; v["relation"] = "Neutral"
            }
            // AdaptLLM: classification 80%, generation 20%.
            template = rng.weighted([0.8, 0.2]) == 0 ? rng.pick(Templates.nliClassify) : rng.pick(Templates.nliGenerate[t.subcategory!]!)
        case "Cause-effect":
            v["cause"] = premise; v["effect"] = hyp
            template = rng.pick(Templates.causeEffect)
        case "Effect-cause":
            v["effect"] = premise; v["cause"] = hyp
            template = rng.pick(Templates.effectCause)
        case "Similar":
            v["sentence1"] = premise; v["sentence2"] = hyp
            template = rng.pick(Templates.similar)
        case "Different":
            v["sentence1"] = premise; v["sentence2"] = hyp
            template = rng.pick(Templates.different)
        case "keywords":
            v["keywords"] = premise; v["sentence"] = hypothesis
            template = rng.pick(Templates.keywords)
        case "definition":
            v["word"] = premise; v["definition"] = hypothesis
            template = rng.pick(Templates.definition)
        default: // topic
            v["sentence"] = premise; v["topic"] = hypothesis
            template = rng.pick(Templates.topic)
        }
        return RCTask(tuple: t, prompt: template.question.render(v), answer: template.answer.render(v))
    }
}

/// `hypothesis[0].upper() + hypothesis[1:]`, as AdaptLLM capitalises second sentences.
func capitalizeFirst(_ s: String) -> String {
    guard let f = s.first else { return s }
    return f.uppercased() + s.dropFirst()
}

/// AdaptLLM's `re.sub("[ ]{2,}", " ", text)`: runs of spaces (only U+0020) become one.
func collapseSpaces(_ s: String) -> String {
    var out = [UInt8]()
    out.reserveCapacity(s.utf8.count)
    var prevSpace = false
    for b in s.utf8 {
        if b == 0x20 { if prevSpace { continue }; prevSpace = true } else { prevSpace = false }
        out.append(b)
    }
    return String(decoding: out, as: UTF8.self)
}
