/// The pre-tokenizer split regexes of byte-level BPE models, as hand-written matchers.
///
/// `NSRegularExpression` costs microseconds per match; these walk UTF-8 bytes with an ASCII
/// class table and fall back to Unicode general categories only for non-ASCII scalars.
/// Each matcher reproduces the leftmost-first alternation semantics of the regex it names
/// (Oniguruma / fancy-regex as used by `tokenizers` and llama.cpp), including `\s+(?!\S)`.
public enum SplitPattern: String, Sendable, Codable, CaseIterable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// LLaMA-3 / tiktoken cl100k: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3

    /// The regex text, for recognising it in a `tokenizer.json`.
    public var regex: String {
        switch self {
        case .gpt2: return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .llama3:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        }
    }

    /// Finds the pattern for a regex string from a `tokenizer.json` (GPT-2's with or without the
    /// trailing `|\s+`, which matches the same pieces).
    public init?(regex: String) {
        for p in SplitPattern.allCases where regex == p.regex { self = p; return }
        if regex + #"|\s+"# == SplitPattern.gpt2.regex { self = .gpt2; return }
        return nil
    }
}

/// Character classes the patterns need.
enum CharClass: UInt8 {
    case letter = 0, number = 1, space = 2, other = 3
}

private let asciiClasses: [CharClass] = (0..<128).map { b -> CharClass in
    let c = UInt8(b)
    switch c {
    case 9...13, 32: return .space
    case 48...57: return .number
    case 65...90, 97...122: return .letter
    default: return .other
    }
}

/// The Unicode version of the Oniguruma tables inside `tokenizers` (and of llama.cpp's): letters
/// and numbers assigned later are unassigned there, hence "other" (`[^\s\p{L}\p{N}]`).
let regexUnicodeVersion = (major: 16, minor: 0)

@inline(__always)
func charClass(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (CharClass, Int) {
    let b = p[i]
    if b < 0x80 { return (asciiClasses[Int(b)], 1) }
    let (s, w) = decodeScalar(p, i)
    if s.isWhiteSpaceProperty { return (.space, w) }
    let letter = s.isLetterCategory, number = !letter && s.isNumberCategory
    guard letter || number else { return (.other, w) }
    guard let age = s.properties.age,
          age.major < regexUnicodeVersion.major
            || (age.major == regexUnicodeVersion.major && age.minor <= regexUnicodeVersion.minor) else { return (.other, w) }
    return (letter ? .letter : .number, w)
}

struct Splitter {
    let pattern: SplitPattern
    /// Isolate every \p{N} character first (`Digits(individual_digits: true)`, llama.cpp's `\p{N}`).
    let individualDigits: Bool

    /// Calls `piece(start, end)` for each pre-token of `p[start..<end]`, in order.
    @inline(__always)
    func split(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ piece: (Int, Int) -> Void) {
        if !individualDigits { run(p, start, end, piece); return }
        var s = start, i = start
        while i < end {
            // Rust's `char::is_numeric` (current Unicode, unlike the regex engine's tables).
            let isDigit: Bool, w: Int
            if p[i] < 0x80 { isDigit = p[i] >= 48 && p[i] <= 57; w = 1 } else {
                let (scalar, width) = decodeScalar(p, i)
                isDigit = scalar.isNumberCategory; w = width
            }
            if isDigit {
                if i > s { run(p, s, i, piece) }
                piece(i, i + w)
                s = i + w
            }
            i += w
        }
        if s < end { run(p, s, end, piece) }
    }

    @inline(__always)
    private func run(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ piece: (Int, Int) -> Void) {
        var i = start
        while i < end {
            let j = pattern == .gpt2 ? matchGPT2(p, i, end) : matchLlama3(p, i, end)
            piece(i, j)
            i = j
        }
    }

    /// Length of the run of class `c` starting at `i`.
    @inline(__always)
    private func runEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, _ c: CharClass) -> Int {
        var j = i
        while j < end {
            let (k, w) = charClass(p, j)
            if k != c { break }
            j += w
        }
        return j
    }

    @inline(__always)
    private func contraction(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int? {
        guard p[i] == 39, i + 1 < end else { return nil }
        var a = p[i + 1]
        if caseInsensitive && a >= 65 && a <= 90 { a |= 0x20 }
        if a == 115 || a == 116 || a == 109 || a == 100 { return i + 2 }  // s t m d
        guard i + 2 < end else { return nil }
        var b = p[i + 2]
        if caseInsensitive && b >= 65 && b <= 90 { b |= 0x20 }
        if (a == 114 && b == 101) || (a == 118 && b == 101) || (a == 108 && b == 108) { return i + 3 }  // re ve ll
        return nil
    }

    /// `\s+(?!\S)|\s+` at a whitespace character.
    @inline(__always)
    private func whitespace(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, _ w: Int) -> Int {
        let j = runEnd(p, i, end, .space)
        if j == end { return j }
        // Give back the last whitespace character so it can prefix the next word.
        var last = j - 1
        while p[last] & 0xC0 == 0x80 { last -= 1 }
        return last > i ? last : j
    }

    private func matchGPT2(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        if let j = contraction(p, i, end, caseInsensitive: false) { return j }
        let (c, w) = charClass(p, i)
        var k = c, s = i
        if p[i] == 32 && i + 1 < end {
            let (n, nw) = charClass(p, i + 1)
            if n != .space { k = n; s = i + 1; _ = nw }
        }
        switch k {
        case .letter, .number, .other: return runEnd(p, s, end, k)
        case .space: return whitespace(p, i, end, w)
        }
    }

    private func matchLlama3(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        if let j = contraction(p, i, end, caseInsensitive: true) { return j }
        let (c, w) = charClass(p, i)
        if c == .letter { return runEnd(p, i, end, .letter) }
        let isCRLF = p[i] == 13 || p[i] == 10
        if c != .number && !isCRLF && i + w < end && charClass(p, i + w).0 == .letter {
            return runEnd(p, i + w, end, .letter)
        }
        if c == .number {
            var j = i, n = 0
            while j < end && n < 3 {
                let (k, kw) = charClass(p, j)
                if k != .number { break }
                j += kw; n += 1
            }
            return j
        }
        var s = -1
        if c == .other { s = i } else if p[i] == 32 && i + 1 < end && charClass(p, i + 1).0 == .other { s = i + 1 }
        if s >= 0 {
            var j = runEnd(p, s, end, .other)
            while j < end && (p[j] == 13 || p[j] == 10) { j += 1 }
            return j
        }
        // c == .space
        let j = runEnd(p, i, end, .space)
        var lastNL = -1
        var k = i
        while k < j {
            if p[k] == 13 || p[k] == 10 { lastNL = k }
            k += p[k] < 0x80 ? 1 : decodeScalar(p, k).1
        }
        if lastNL >= 0 { return lastNL + 1 }
        return whitespace(p, i, end, w)
    }
}
