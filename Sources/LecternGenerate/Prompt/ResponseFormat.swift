import Foundation

/// How a generator asks for structured output.
public enum ResponseFormatMode: String, Codable, Sendable, CaseIterable {
    /// No `response_format`: the tolerant parser copes (servers without structured output).
    case none
    /// `{"type": "json_object"}`: valid JSON, shape unchecked (older OpenAI models).
    case jsonObject = "json_object"
    /// `{"type": "json_schema"}` with a list of question/answer objects (llama.cpp, vLLM).
    case jsonSchema = "json_schema"
    /// The same list wrapped as `{"pairs": [...]}`: for servers that require an object root (OpenAI strict).
    case jsonSchemaObject = "json_schema_object"
}

/// The JSON schema of a generator's answer. Tiny models loop without bounds, so lists get
/// `maxItems` and strings `maxLength`.
public struct QASchema: Codable, Sendable, Hashable {
    public var maxItems: Int
    public var maxQuestionLength: Int
    public var maxAnswerLength: Int

    public init(maxItems: Int = 5, maxQuestionLength: Int = 300, maxAnswerLength: Int = 600) {
        self.maxItems = maxItems
        self.maxQuestionLength = maxQuestionLength
        self.maxAnswerLength = maxAnswerLength
    }

    var listSchema: JSONValue {
        [
            "type": "array", "minItems": 1, "maxItems": .number(Double(maxItems)),
            "items": [
                "type": "object",
                // Ordered: constrained decoders emit properties in schema order, question first.
                "properties": .orderedObject([
                    .init("question", ["type": "string", "minLength": 1, "maxLength": .number(Double(maxQuestionLength))]),
                    .init("answer", ["type": "string", "minLength": 1, "maxLength": .number(Double(maxAnswerLength))]),
                ]),
                "required": ["question", "answer"],
                "additionalProperties": false,
            ],
        ]
    }

    /// The `response_format` value for `mode`, or nil for `.none`.
    public func responseFormat(_ mode: ResponseFormatMode) -> JSONValue? {
        switch mode {
        case .none: return nil
        case .jsonObject: return ["type": "json_object"]
        case .jsonSchema:
            return ["type": "json_schema", "json_schema": ["name": "qa_pairs", "schema": listSchema]]
        case .jsonSchemaObject:
            let root: JSONValue = [
                "type": "object", "properties": ["pairs": listSchema],
                "required": ["pairs"], "additionalProperties": false,
            ]
            return ["type": "json_schema", "json_schema": ["name": "qa_pairs", "strict": true, "schema": root]]
        }
    }
}
