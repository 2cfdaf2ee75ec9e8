/// One message of a chat conversation, in the OpenAI messages shape (`{"role", "content"}`):
/// what an LLM is asked and answers (generate), what a general instruction holds (import),
/// and what a chat-format training example is made of (build).
public struct ChatMessage: Sendable, Codable, Equatable, Hashable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}
