import Foundation

/// A question-answer pair as the model wrote it, before validation.
public struct QAPair: Codable, Sendable, Hashable {
    public var question: String
    public var answer: String
    public init(question: String, answer: String) {
        self.question = question
        self.answer = answer
    }
}

/// What the parser recovered from a response.
public struct ParsedResponse: Sendable, Equatable {
    public var pairs: [QAPair]
    /// True when the JSON had to be mended (an unterminated last item dropped, brackets closed).
    public var repaired: Bool
}

/// Reads question-answer pairs out of whatever a model answered.
///
/// Tolerates what models do without structured output: markdown code fences, prose before
/// and after the JSON, a single object instead of a list, a list wrapped in an object
/// (`{"pairs": [...]}`), key case (`Question`), and an answer cut off by `max_tokens`
/// (the unfinished last item is dropped, the complete ones kept).
public enum QAParser {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case noJSON
        case noPairs
        public var description: String {
            switch self {
            case .noJSON: return "no JSON list or object in the response"
            case .noPairs: return "JSON without question/answer objects"
            }
        }
    }

    public static func parse(_ content: String) throws -> ParsedResponse {
        let text = stripFences(content)
        let scalars = Array(text.unicodeScalars)
        var start = 0
        var sawJSON = false
        // Try each '[' or '{' in turn: prose before the JSON may itself contain brackets.
        while let s = firstOpen(scalars, from: start) {
            let (candidate, repaired) = scan(scalars, from: s)
            if let candidate, let value = try? JSONSerialization.jsonObject(with: Data(candidate.utf8), options: [.fragmentsAllowed]) {
                sawJSON = true
                let pairs = extract(value)
                if !pairs.isEmpty { return ParsedResponse(pairs: pairs, repaired: repaired) }
            }
            start = s + 1
        }
        throw sawJSON ? Failure.noPairs : Failure.noJSON
    }

    /// The inside of the first ``` fence, if there is one; the text otherwise.
    static func stripFences(_ s: String) -> String {
        guard let open = s.range(of: "```") else { return s }
        var inner = s[open.upperBound...]
        if let nl = inner.firstIndex(of: "\n") { inner = inner[inner.index(after: nl)...] }  // ```json
        if let close = inner.range(of: "```") { inner = inner[..<close.lowerBound] }
        return String(inner)
    }

    private static func firstOpen(_ a: [Unicode.Scalar], from: Int) -> Int? {
        var i = from
        while i < a.count {
            if a[i] == "[" || a[i] == "{" { return i }
            i += 1
        }
        return nil
    }

    /// The JSON value starting at `start`: complete if its brackets close; otherwise mended by
    /// cutting after the last complete element of the outermost list (or closing an object).
    private static func scan(_ a: [Unicode.Scalar], from start: Int) -> (String?, Bool) {
        var stack: [Unicode.Scalar] = []
        var inString = false, escaped = false
        var lastCompleteItemEnd: Int?      // end of the last element closed directly inside the root list
        var i = start
        while i < a.count {
            let c = a[i]
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else {
                switch c {
                case "\"": inString = true
                case "[", "{": stack.append(c)
                case "]", "}":
                    guard let top = stack.popLast(), (top == "[" && c == "]") || (top == "{" && c == "}") else {
                        return (nil, false)
                    }
                    if stack.isEmpty { return (String(String.UnicodeScalarView(a[start...i])), false) }
                    if stack.count == 1 && a[start] == "[" { lastCompleteItemEnd = i }
                default: break
                }
            }
            i += 1
        }
        // Unterminated.
        if a[start] == "[" {
            guard let end = lastCompleteItemEnd else { return (nil, false) }
            return (String(String.UnicodeScalarView(a[start...end])) + "]", true)
        }
        // A single object cut off: close the string and the brackets, drop a dangling key.
        var s = String(String.UnicodeScalarView(a[start...]))
        if inString { s += "\"" }
        for open in stack.reversed() { s += open == "{" ? "}" : "]" }
        return (s, true)
    }

    private static func extract(_ value: Any) -> [QAPair] {
        if let list = value as? [Any] {
            return list.compactMap { pair(from: $0) }
        }
        if let obj = value as? [String: Any] {
            if let p = pair(from: obj) { return [p] }
            // {"pairs": [...]}, {"questions": [...]}, ...: the first list of pairs inside.
            for key in obj.keys.sorted() {
                if let list = obj[key] as? [Any] {
                    let pairs = list.compactMap { pair(from: $0) }
                    if !pairs.isEmpty { return pairs }
                }
            }
        }
        return []
    }

    private static func pair(from value: Any) -> QAPair? {
        guard let obj = value as? [String: Any] else { return nil }
        var q: String?, a: String?
        for (k, v) in obj {
            switch k.lowercased() {
            case "question", "q": q = string(v)
            case "answer", "a": a = string(v)
            default: break
            }
        }
        guard let q, let a else { return nil }
        return QAPair(question: q, answer: a)
    }

    private static func string(_ v: Any) -> String? {
        if let s = v as? String { return s }
        if let n = v as? NSNumber { return n.stringValue }
        if let list = v as? [Any] { return list.compactMap { string($0) }.joined(separator: "; ") }
        return nil
    }
}
