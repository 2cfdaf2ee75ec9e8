import Foundation
import LecternCore
import LecternStore

/// Sampling and output settings of a generator; all of them change what it writes, so all
/// are in its fingerprint.
public struct GenerationParams: Codable, Sendable, Hashable {
    /// Fills `{DOMAIN}`, e.g. `biomedicine`.
    public var domain: String
    public var maxTokens: Int
    public var temperature: Double
    public var topP: Double?
    /// Sampling seed sent to the server (reproducible where the server honours it).
    public var seed: Int?
    public var responseFormat: ResponseFormatMode
    public var schema: QASchema
    /// An optional system message before the prompt.
    public var systemPrompt: String?
    /// Documents longer than this many characters are cut (at a word boundary) before prompting.
    public var maxDocumentChars: Int?
    public var validator: QAValidator
    /// The checkpoint of this file the served model applies, for a student generator
    /// (`lectern generate --adapter RUN`): which run and step of which training set made it. Nil
    /// for a model used as it is (and then absent from the fingerprint, as before).
    public var adapter: AdapterSource?

    public init(domain: String, maxTokens: Int = 512, temperature: Double = 0, topP: Double? = nil, seed: Int? = nil,
                responseFormat: ResponseFormatMode = .jsonSchema, schema: QASchema = QASchema(),
                systemPrompt: String? = nil, maxDocumentChars: Int? = nil, validator: QAValidator = QAValidator()) {
        self.domain = domain
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.responseFormat = responseFormat
        self.schema = schema
        self.systemPrompt = systemPrompt
        self.maxDocumentChars = maxDocumentChars
        self.validator = validator
    }
}

/// Where a student generator's weights come from: a checkpoint of a training run in the file.
public struct AdapterSource: Codable, Sendable, Hashable {
    public var checkpoint: Int64
    public var run: Int64
    public var step: Int
    /// The engine's probe of the checkpoint (a hash of its logits on a fixed input), when stored.
    public var probe: String?

    public init(checkpoint: Int64, run: Int64, step: Int, probe: String? = nil) {
        self.checkpoint = checkpoint
        self.run = run
        self.step = step
        self.probe = probe
    }
}

/// A question-answer generator: a served model, a prompt template and parameters.
///
/// Its fingerprint (model, template version and text, params; not the name, not the
/// endpoints) identifies its outputs: any endpoint serving the same model may answer, and
/// a changed parameter makes a new generator whose requests start afresh.
public struct GeneratorSpec: Codable, Sendable, Hashable {
    /// User-facing name, e.g. `teacher` or `student-7b`.
    public var name: String
    /// Served model name.
    public var model: String
    public var template: PromptTemplate
    public var params: GenerationParams

    public init(name: String, model: String, template: PromptTemplate = .paper, params: GenerationParams) {
        self.name = name
        self.model = model
        self.template = template
        self.params = params
    }

    /// What the fingerprint covers.
    struct Identity: Encodable {
        var model: String
        var template_version: String
        var template: String
        var params: GenerationParams
    }

    /// Lowercase hex SHA-256 of the canonical (sorted-keys) JSON of model, template and params.
    public var fingerprint: String {
        Canonical.sha256Hex(Identity(model: model, template_version: template.version, template: template.text,
                                     params: params))
    }

    /// `params` as canonical JSON, for the `generators` row.
    var paramsJSON: String { Canonical.json(params) }

    /// The document as the prompt shows it: title on the first line (AdaptLLM's convention), cut if too long.
    public func documentText(text: String, title: String?) -> String {
        var doc = text
        if let t = title?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty { doc = t + "\n" + text }
        if let limit = params.maxDocumentChars, doc.count > limit {
            var cut = String(doc.prefix(limit))
            if let space = cut.lastIndex(where: { $0.isWhitespace }), cut.distance(from: cut.startIndex, to: space) > limit / 2 {
                cut = String(cut[..<space])
            }
            doc = cut
        }
        return doc
    }

    /// The chat messages for one document.
    public func messages(document: String) -> [ChatMessage] {
        var m: [ChatMessage] = []
        if let s = params.systemPrompt, !s.isEmpty { m.append(ChatMessage(role: "system", content: s)) }
        m.append(ChatMessage(role: "user", content: template.render(document: document, domain: params.domain)))
        return m
    }

    /// The request for one document.
    public func request(document: String, extra: [String: JSONValue] = [:]) -> ChatRequest {
        ChatRequest(model: model, messages: messages(document: document), maxTokens: params.maxTokens,
                    temperature: params.temperature, topP: params.topP, seed: params.seed,
                    responseFormat: params.schema.responseFormat(params.responseFormat), extra: extra)
    }
}

/// Canonical JSON and its hash: the store's `Fingerprint`, so generator fingerprints are
/// computed exactly like every other configuration fingerprint in the file.
enum Canonical {
    static func json<T: Encodable>(_ v: T) -> String {
        (try? Fingerprint.canonicalJSON(v)) ?? "null"
    }

    static func sha256Hex(_ s: String) -> String { Fingerprint.hex(of: Array(s.utf8)) }

    static func sha256Hex<T: Encodable>(_ v: T) -> String { sha256Hex(json(v)) }
}
