import Foundation
import LecternCore

/// A chat completion request, independent of the endpoint that will serve it.
///
/// `model` may be left nil: the endpoint's own model name is used then, so a pool can mix
/// servers that name the same weights differently.
public struct ChatRequest: Sendable, Equatable {
    public var model: String?
    public var messages: [ChatMessage]
    public var maxTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var seed: Int?
    /// The `response_format` object, e.g. `{"type": "json_schema", "json_schema": {...}}`.
    public var responseFormat: JSONValue?
    /// Server-specific fields merged into the body (e.g. llama.cpp's `cache_prompt`).
    public var extra: [String: JSONValue]

    public init(model: String? = nil, messages: [ChatMessage], maxTokens: Int? = nil, temperature: Double? = nil,
                topP: Double? = nil, seed: Int? = nil, responseFormat: JSONValue? = nil,
                extra: [String: JSONValue] = [:]) {
        self.model = model
        self.messages = messages
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
        self.responseFormat = responseFormat
        self.extra = extra
    }

    /// The JSON body for `POST /chat/completions`, exactly as the client sends it.
    public func body(model fallbackModel: String) throws -> Data {
        var o: [String: JSONValue] = extra
        o["model"] = .string(model ?? fallbackModel)
        o["messages"] = .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) })
        if let maxTokens { o["max_tokens"] = .number(Double(maxTokens)) }
        if let temperature { o["temperature"] = .number(temperature) }
        if let topP { o["top_p"] = .number(topP) }
        if let seed { o["seed"] = .number(Double(seed)) }
        if let responseFormat { o["response_format"] = responseFormat }
        return Data(JSONValue.object(o).serialized().utf8)
    }

    /// A rough token estimate for rate limiting before the server reports real usage.
    var estimatedTokens: Int {
        messages.reduce(0) { $0 + $1.content.utf8.count / 4 + 4 } + (maxTokens ?? 256)
    }
}

/// Token usage as reported by the server.
public struct ChatUsage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
    }
}

/// A successful chat completion.
public struct ChatResult: Sendable {
    /// The assistant message text.
    public var content: String
    /// Why generation stopped (`stop`, `length`, ...), if the server said.
    public var finishReason: String?
    public var usage: ChatUsage?
    /// The response body exactly as received.
    public var rawBody: String
    /// Base URL of the endpoint that answered (never contains a secret).
    public var endpoint: String
    /// Wall time of the successful attempt, in milliseconds.
    public var latencyMs: Double
    /// HTTP requests sent for this completion, retries included.
    public var attempts: Int
}

/// The parts of an OpenAI chat completion body that Lectern reads.
struct ChatCompletionBody: Decodable {
    struct Choice: Decodable {
        struct Message: Decodable { var content: String? }
        var message: Message?
        var text: String?
        var finish_reason: String?
    }
    struct Usage: Decodable {
        var prompt_tokens: Int?
        var completion_tokens: Int?
    }
    var choices: [Choice]
    var usage: Usage?
}
