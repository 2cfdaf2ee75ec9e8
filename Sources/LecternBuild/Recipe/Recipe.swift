import Foundation

/// The six training-data recipes of the paper's comparison (2401.07284, Tables 1 and 4): three
/// kinds of domain text, each with and without length-based clustering.
///
/// | preset | one domain item per | text |
/// |---|---|---|
/// | `dapt` | document | the raw document (title, blank line, text) |
/// | `dapt+cluster` | cluster | its documents concatenated in cluster order |
/// | `readcompre` | mined text | AdaptLLM's regex-mined reading-comprehension text |
/// | `readcompre+cluster` | cluster | its documents' mined texts concatenated in cluster order |
/// | `llm-qa` | document | the document, then its QA pairs in a seeded shuffle |
/// | `llm-qa+cluster` | cluster | its documents in cluster order, then the shuffled union of their QA pairs (the paper's method) |
/// | `distill` | document | (chat only) the generator's exact prompt, then its accepted pairs as JSON: the set that fine-tunes a student generator on a teacher's answers |
public enum RecipePreset: String, CaseIterable, Sendable, Codable {
    case dapt
    case daptCluster = "dapt+cluster"
    case readCompre = "readcompre"
    case readCompreCluster = "readcompre+cluster"
    case llmQA = "llm-qa"
    case llmQACluster = "llm-qa+cluster"
    /// Not a recipe of the paper's comparison: the paper's cost cut, a student generator
    /// fine-tuned on the teacher's conversations.
    case distill

    /// What kind of domain text the recipe is made of.
    public enum Content: String, Sendable { case documents, mined, qaPairs = "qa-pairs" }

    public var content: Content {
        switch self {
        case .dapt, .daptCluster: return .documents
        case .readCompre, .readCompreCluster: return .mined
        case .llmQA, .llmQACluster, .distill: return .qaPairs
        }
    }

    /// Whether domain items are whole clusters rather than single documents.
    public var clustered: Bool {
        switch self {
        case .daptCluster, .readCompreCluster, .llmQACluster: return true
        default: return false
        }
    }

    /// Accepts the preset names plus the paper's name for its own method.
    public init?(name: String) {
        let n = name.lowercased()
        if n == "paper" || n == "ours" { self = .llmQACluster; return }
        self.init(rawValue: n)
    }
}

/// Domain tokens : general-instruction tokens. The paper's defaults: 1:1 biomedicine,
/// 1:2 finance, 1:1 law.
public struct MixRatio: Sendable, Codable, Equatable, CustomStringConvertible {
    public var domain: Double
    public var general: Double

    public init(domain: Double, general: Double) {
        self.domain = domain
        self.general = general
    }

    /// Parses `D:G` (for example `1:2`, `3:1`, `1:0` for no instructions).
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let d = Double(parts[0]), let g = Double(parts[1]),
              d.isFinite, g.isFinite, d > 0, g >= 0 else {
            throw BuildError.invalidOption("ratio '\(text)': expected DOMAIN:GENERAL with DOMAIN > 0 and GENERAL >= 0, e.g. 1:1 or 1:2")
        }
        self.init(domain: d, general: g)
    }

    /// The paper's ratio for a domain (1:2 finance, 1:1 otherwise).
    public static func paperDefault(domain: String?) -> MixRatio {
        switch domain?.lowercased() {
        case "finance", "financial": return MixRatio(domain: 1, general: 2)
        default: return MixRatio(domain: 1, general: 1)
        }
    }

    /// General tokens wanted for `domainTokens` domain tokens.
    public func generalTarget(forDomainTokens domainTokens: Int) -> Int {
        Int((Double(domainTokens) * general / domain).rounded())
    }

    public var description: String {
        func f(_ x: Double) -> String { x == x.rounded() ? String(Int(x)) : String(x) }
        return "\(f(domain)):\(f(general))"
    }
}

/// What happens to an item (a cluster text, a document, an instruction) longer than a sequence.
public enum LongItemPolicy: String, Sendable, Codable, CaseIterable {
    /// Cut at the boundaries between its parts (documents, QA pairs), then sentences, then
    /// whitespace, into pieces that each fit; every piece is packed as an item of its own.
    case split
    /// Keep the first piece of `split`, drop the rest.
    case truncate
    /// Leave the item out.
    case drop
}

/// How packed sequences are filled.
public enum PackerKind: String, Sendable, Codable, CaseIterable {
    /// Per sequence: the longest remaining item, then an exact 0/1 knapsack over the remaining
    /// items for the space left (value = tokens, so it maximises the fill).
    case knapsack
    /// First-fit decreasing, the classic baseline.
    case ffd
    /// One item per sequence (no packing).
    case none
}

/// The shape of the examples of a set.
public enum SetFormat: String, Sendable, Codable, CaseIterable {
    /// Continued-pretraining text, packed into sequences of the context length.
    case packed
    /// One chat conversation per item (documents as the first user turn, each question a user
    /// turn, each answer an assistant turn; instructions as imported), for SFT. Not packed.
    case chat
}

/// How an instruction's messages become training text in packed sets.
public enum InstructionTemplate: String, Sendable, Codable, CaseIterable {
    /// Each message's content, separated by a blank line.
    case plain
    /// `User: ...`, `Assistant: ...`, `System: ...` prefixes, separated by a blank line.
    case labelled
}

/// Everything that decides the contents of a training set. Part of its fingerprint.
public struct BuildOptions: Sendable, Codable, Equatable {
    public var recipe: RecipePreset
    /// Tokens per packed sequence, separators included.
    public var contextLength = 2048
    /// Tokens kept free in every sequence (e.g. 1 when the training engine adds a BOS token).
    public var reserveTokens = 0
    /// Domain : general tokens; nil means the paper's default for the file's domain.
    public var ratio: MixRatio?
    public var seed: UInt64 = 0
    /// A QA pair in text; `{question}` and `{answer}` are replaced.
    public var qaTemplate = BuildOptions.defaultQATemplate
    /// Between documents, between QA pairs, and between the documents and the pairs.
    public var partSeparator = BuildOptions.defaultPartSeparator

    /// The default QA template (the one place it is written: `build` and `cluster` both read it).
    public static let defaultQATemplate = "Question: {question}\nAnswer: {answer}"
    /// The default separator between an item's parts.
    public static let defaultPartSeparator = "\n\n"
    public var longItems = LongItemPolicy.split
    public var packer = PackerKind.knapsack
    public var format = SetFormat.packed
    public var instructionTemplate = InstructionTemplate.plain
    /// The end-of-text token appended after every item (default: the tokenizer's EOS).
    public var eosToken: String?
    /// Eval tasks whose items' documents are held out of the set (nil: none; nil keeps the
    /// fingerprints of sets built before the option existed).
    public var excludeEval: [String]?

    public init(recipe: RecipePreset) { self.recipe = recipe }

    /// Sequence capacity in tokens.
    public var capacity: Int { contextLength - reserveTokens }

    /// Checks the values, naming the one at fault.
    public func validate() throws {
        guard contextLength >= 16 else { throw BuildError.invalidOption("context length \(contextLength): must be at least 16 tokens") }
        guard reserveTokens >= 0, reserveTokens < contextLength / 2 else {
            throw BuildError.invalidOption("reserve \(reserveTokens): must be between 0 and half the context length")
        }
        guard qaTemplate.contains("{question}"), qaTemplate.contains("{answer}") else {
            throw BuildError.invalidOption("QA template '\(qaTemplate)': must contain {question} and {answer}")
        }
        if recipe == .distill && format != .chat {
            throw BuildError.invalidOption("recipe distill makes the teacher's conversations (its prompt, then its pairs as JSON) "
                + "to fine-tune a student generator: use --format chat")
        }
        if format == .chat && recipe.content == .documents {
            throw BuildError.invalidOption("recipe \(recipe.rawValue) has no questions to make conversations of: use --format packed")
        }
    }
}
