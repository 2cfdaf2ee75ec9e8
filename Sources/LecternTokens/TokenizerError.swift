/// A target tokenizer that cannot be used: missing, unreadable, or without the token asked for.
/// The message names the path and what to give instead.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "tokenizer: \(message)" }
}
