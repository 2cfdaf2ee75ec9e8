/// The compiled form of one of AdaptLLM's mining regexes.
///
/// AdaptLLM's patterns use a small corner of Python's `re`: a flat sequence of capturing
/// groups, each either an alternation of literal phrases or a run of quantified character
/// classes, compiled with `re.IGNORECASE`. ``MinePattern`` parses exactly that corner (and
/// rejects anything else with an error naming the construct), so the pattern strings are the
/// same text that Python compiles and the faithfulness test can hand both engines one string.
///
/// ## Topics
/// - ``init(_:)``
/// - ``groupCount``
/// - ``PatternSyntaxError``
public struct MinePattern: Sendable, Hashable {
    /// The pattern text as given (Python `re` syntax).
    public let source: String
    /// Flattened program, read by ``PatternMatcher``.
    let groups: [Group]

    /// Number of capturing groups; each match yields this many strings.
    public var groupCount: Int { groups.count }

    /// Parses `source`, which must be a sequence of capturing groups in AdaptLLM's subset.
    public init(_ source: String) throws {
        self.source = source
        var parser = Parser(Array(source.unicodeScalars))
        self.groups = try parser.parsePattern()
    }
}

/// Why a pattern string could not be compiled by ``MinePattern``.
public struct PatternSyntaxError: Error, CustomStringConvertible, Sendable {
    /// The pattern text.
    public let pattern: String
    /// Offset (in Unicode scalars) of the offending construct.
    public let offset: Int
    /// What is wrong.
    public let reason: String
    public var description: String {
        "cannot compile mining pattern at offset \(offset): \(reason) (pattern: \(pattern))"
    }
}

/// A set of code points, represented the way the matcher tests it: a 128-entry ASCII table
/// plus one rule for everything above ASCII.
struct CharClass: Sendable, Hashable {
    enum NonASCII: Sendable, Hashable {
        case none, all, allButSpace, onlySpace
    }
    var ascii: [Bool] = Array(repeating: false, count: 128)
    var nonASCII: NonASCII = .none
}

/// One matchable unit of a branch.
enum Atom: Sendable, Hashable {
    /// A character class (`[...]`, `\s`).
    case set(CharClass)
    /// An ASCII letter, matched case-insensitively as Python's `re.IGNORECASE` does (which also
    /// folds a few non-ASCII letters onto `i`, `k` and `s`). Stored lowercase.
    case letter(UInt8)
    /// Any other literal code point, matched exactly.
    case scalar(UInt32)
    /// `.`: any code point but a newline.
    case any
}

/// An atom with a greedy `{min,max}` quantifier (`max == Int.max` for unbounded).
struct Item: Sendable, Hashable {
    var atom: Atom
    var min: Int
    var max: Int
}

/// A capturing group: alternatives tried in order, each a sequence of items.
struct Group: Sendable, Hashable {
    var branches: [[Item]]
}

/// Python's `\s` for `str` patterns: ASCII whitespace plus the Unicode spaces `str.isspace`
/// accepts (checked against CPython 3.11: 0x1c-0x1f, 0x85, 0xa0, 0x1680, 0x2000-0x200a, ...).
@inline(__always)
func isPythonSpace(_ c: UInt32) -> Bool {
    if c < 0x80 { return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) }
    switch c {
    case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
    case 0x2000...0x200A: return true
    default: return false
    }
}

private struct Parser {
    let s: [Unicode.Scalar]
    var i = 0
    init(_ s: [Unicode.Scalar]) { self.s = s }

    var text: String { String(String.UnicodeScalarView(s)) }

    func fail(_ reason: String) -> PatternSyntaxError {
        PatternSyntaxError(pattern: text, offset: i, reason: reason)
    }

    mutating func parsePattern() throws -> [Group] {
        var groups: [Group] = []
        while i < s.count {
            guard s[i] == "(" else { throw fail("expected '(' (only a sequence of groups is supported)") }
            i += 1
            if i < s.count && s[i] == "?" { throw fail("non-capturing or special groups are not supported") }
            var branches: [[Item]] = [[]]
            while true {
                guard i < s.count else { throw fail("unterminated group") }
                let c = s[i]
                if c == ")" { i += 1; break }
                if c == "|" { i += 1; branches.append([]); continue }
                if c == "(" { throw fail("nested groups are not supported") }
                let atom = try parseAtom()
                let (lo, hi) = try parseQuantifier()
                branches[branches.count - 1].append(Item(atom: atom, min: lo, max: hi))
            }
            if branches.contains(where: { $0.isEmpty }) { throw fail("empty alternative") }
            groups.append(Group(branches: branches))
        }
        if groups.isEmpty { throw fail("empty pattern") }
        return groups
    }

    mutating func parseAtom() throws -> Atom {
        let c = s[i]
        switch c {
        case "[":
            i += 1
            return .set(try parseClass())
        case ".":
            i += 1
            return .any
        case "\\":
            i += 1
            guard i < s.count else { throw fail("trailing backslash") }
            let e = s[i]; i += 1
            switch e {
            case "s":
                var cls = CharClass()
                for b in 0..<128 where isPythonSpace(UInt32(b)) { cls.ascii[b] = true }
                cls.nonASCII = .onlySpace
                return .set(cls)
            case "n": return .scalar(0x0A)
            case "t": return .scalar(0x09)
            default:
                if e.properties.isAlphabetic || ("0"..."9").contains(e) {
                    throw fail("escape \\\(e) is not supported")
                }
                return literal(e)
            }
        case "*", "+", "?", "{", "}", "^", "$", "]":
            throw fail("unexpected '\(c)'")
        default:
            i += 1
            return literal(c)
        }
    }

    func literal(_ c: Unicode.Scalar) -> Atom {
        let v = c.value
        if (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) { return .letter(UInt8(v | 0x20)) }
        return .scalar(v)
    }

    mutating func parseClass() throws -> CharClass {
        var cls = CharClass()
        var negated = false
        var spaceInside = false
        if i < s.count && s[i] == "^" { negated = true; i += 1 }
        var first = true
        while true {
            guard i < s.count else { throw fail("unterminated character class") }
            var c = s[i]
            if c == "]" && !first { i += 1; break }
            first = false
            i += 1
            if c == "\\" {
                guard i < s.count else { throw fail("trailing backslash in class") }
                let e = s[i]; i += 1
                switch e {
                case "s":
                    spaceInside = true
                    for b in 0..<128 where isPythonSpace(UInt32(b)) { cls.ascii[b] = true }
                    continue
                case "n": c = "\n"
                case "t": c = "\t"
                default:
                    if e.properties.isAlphabetic || ("0"..."9").contains(e) {
                        throw fail("escape \\\(e) in a class is not supported")
                    }
                    c = e
                }
            } else if c == "-" && i < s.count && s[i] != "]" && !first {
                throw fail("ranges in classes are not supported")
            }
            guard c.value < 0x80 else { throw fail("non-ASCII characters in classes are not supported") }
            if c.properties.isAlphabetic { throw fail("letters in classes are not supported (case folding)") }
            cls.ascii[Int(c.value)] = true
        }
        if negated {
            for b in 0..<128 { cls.ascii[b].toggle() }
            cls.nonASCII = spaceInside ? .allButSpace : .all
        } else {
            cls.nonASCII = spaceInside ? .onlySpace : .none
        }
        return cls
    }

    mutating func parseQuantifier() throws -> (Int, Int) {
        guard i < s.count else { return (1, 1) }
        switch s[i] {
        case "+": i += 1; try noLazy(); return (1, Int.max)
        case "*": i += 1; try noLazy(); return (0, Int.max)
        case "?": i += 1; try noLazy(); return (0, 1)
        case "{":
            i += 1
            var lo = 0, digits = 0
            while i < s.count, let d = s[i].properties.numericType != nil ? Int(String(s[i])) : nil {
                lo = lo * 10 + d; i += 1; digits += 1
            }
            guard digits > 0 else { throw fail("expected a number after '{'") }
            var hi = lo
            if i < s.count && s[i] == "," {
                i += 1
                var h = 0, hd = 0
                while i < s.count, let d = s[i].properties.numericType != nil ? Int(String(s[i])) : nil {
                    h = h * 10 + d; i += 1; hd += 1
                }
                hi = hd == 0 ? Int.max : h
            }
            guard i < s.count && s[i] == "}" else { throw fail("expected '}'") }
            i += 1
            guard hi >= lo else { throw fail("quantifier max below min") }
            try noLazy()
            return (lo, hi)
        default:
            return (1, 1)
        }
    }

    mutating func noLazy() throws {
        if i < s.count && (s[i] == "?" || s[i] == "+") { throw fail("lazy or possessive quantifiers are not supported") }
    }
}
