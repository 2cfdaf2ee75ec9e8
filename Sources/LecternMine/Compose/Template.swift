/// A text with `{name}` slots, parsed once so rendering is a single pass of appends.
public struct Template: Sendable, Hashable, ExpressibleByStringLiteral {
    enum Part: Sendable, Hashable { case text(String), slot(String) }
    let parts: [Part]
    /// The template as written.
    public let source: String

    public init(stringLiteral value: String) { self.init(value) }

    /// Parses `source`; `{name}` is a slot, any other brace is literal text.
    public init(_ source: String) {
        self.source = source
        var parts: [Part] = []
        var text = ""
        var i = source.startIndex
        while i < source.endIndex {
            if source[i] == "{", let close = source[i...].firstIndex(of: "}"),
               source[source.index(after: i)..<close].allSatisfy({ $0.isLetter || $0 == "_" || $0.isNumber }),
               close > source.index(after: i) {
                if !text.isEmpty { parts.append(.text(text)); text = "" }
                parts.append(.slot(String(source[source.index(after: i)..<close])))
                i = source.index(after: close)
            } else {
                text.append(source[i])
                i = source.index(after: i)
            }
        }
        if !text.isEmpty { parts.append(.text(text)) }
        self.parts = parts
    }

    /// Slot names, in order of appearance.
    public var slots: [String] { parts.compactMap { if case .slot(let s) = $0 { s } else { nil } } }

    /// The template with each slot replaced by `values[slot]` (an unknown slot renders empty).
    public func render(_ values: [String: String]) -> String {
        var out = ""
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .slot(let s): out += values[s] ?? ""
            }
        }
        return out
    }
}

/// A question template and its answer template; rendered, they are joined by one space, as in
/// AdaptLLM (`question + ' ' + answer`).
public struct QATemplate: Sendable, Hashable {
    public let question: Template
    public let answer: Template
    public init(_ question: Template, _ answer: Template) { self.question = question; self.answer = answer }
}
