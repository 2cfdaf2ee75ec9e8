import Foundation

/// A versioned prompt with `{DOCUMENT}` and `{DOMAIN}` placeholders.
///
/// The version is part of every generator's fingerprint, so changing a template's text
/// without changing its version is caught: user templates get a version derived from
/// their text unless one is given.
public struct PromptTemplate: Codable, Sendable, Hashable {
    public var version: String
    public var text: String

    /// The prompt of arXiv 2401.07284, verbatim.
    public static let paper = PromptTemplate(
        version: "paper-v1",
        text: "{DOCUMENT} Ask a few questions to help understand the above passage about {DOMAIN} and give the "
            + "corresponding answers in JSON list (each JSON contain two keys: question and answer)")

    /// A user template. It must contain `{DOCUMENT}`; `version` defaults to `user-` and the
    /// first 12 hex digits of the text's SHA-256.
    public init(text: String, version: String? = nil) throws {
        guard text.contains("{DOCUMENT}") else {
            throw GenerateError.badInput("prompt template has no {DOCUMENT} placeholder: \(text.prefix(80))")
        }
        self.text = text
        self.version = version ?? "user-" + Canonical.sha256Hex(text).prefix(12)
    }

    private init(version: String, text: String) {
        self.version = version
        self.text = text
    }

    /// Fills the placeholders in one pass, so a document that itself contains `{DOMAIN}` stays as written.
    public func render(document: String, domain: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + document.utf8.count)
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let tail = rest[open...]
            if tail.hasPrefix("{DOCUMENT}") {
                out += document
                rest = tail.dropFirst("{DOCUMENT}".count)
            } else if tail.hasPrefix("{DOMAIN}") {
                out += domain
                rest = tail.dropFirst("{DOMAIN}".count)
            } else {
                out += "{"
                rest = tail.dropFirst()
            }
        }
        out += rest
        return out
    }
}

/// Errors of the generate stage that name the bad input.
public enum GenerateError: Error, CustomStringConvertible, Sendable {
    case badInput(String)
    public var description: String {
        switch self { case .badInput(let m): return m }
    }
}
