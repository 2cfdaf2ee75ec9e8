/// Splits scientific and news prose into sentences without losing a byte: the sentences'
/// ranges tile the text, each sentence keeping the whitespace that follows it, so joining them
/// gives the text back (AdaptLLM's miner relies on that when it cuts a text in two).
///
/// A boundary is a run of `.`, `!` or `?` (with any closing quotes or brackets) followed by
/// whitespace and the next token, or a blank line. After a single `.`, a next token that starts
/// lowercase (`mRNA`, `p53`) still begins a sentence when the word before the period is an
/// ordinary word of three or more letters.
/// A single `.` is not a boundary after a known abbreviation (`e.g.`, `i.e.`, `et al.`, `Fig.`,
/// `vs.`, `Dr.`, ...), after an initial (`J. Smith`), or inside a number (`0.05`, which has no
/// whitespace after the period anyway).
///
/// ## Topics
/// - ``init(abbreviations:)``
/// - ``ranges(in:)``
/// - ``split(_:)``
public struct SentenceSplitter: Sendable {
    /// Abbreviations (lowercase, without their final period) after which a period does not end
    /// a sentence.
    public let abbreviations: Set<String>

    /// Abbreviations common in biomedical, scientific and news prose.
    public static let defaultAbbreviations: Set<String> = [
        "e.g", "i.e", "cf", "vs", "viz", "al", "fig", "figs", "eq", "eqs", "ref", "refs", "tab",
        "approx", "ca", "resp", "no", "nos", "vol", "vols", "pp", "p", "ed", "eds", "suppl",
        "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "inc", "ltd", "co", "corp", "dept",
        "univ", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "u.s", "u.k", "e.u", "a.m", "p.m", "sp", "spp", "var", "subsp", "cv", "gen", "gov", "sen",
        "rep", "est", "mt",
    ]

    /// A splitter; `abbreviations` are lowercase and without their final period.
    public init(abbreviations: Set<String> = SentenceSplitter.defaultAbbreviations) {
        self.abbreviations = abbreviations
    }

    /// The sentences of `text`, as substrings that tile it (trailing whitespace included).
    public func split(_ text: String) -> [Substring] {
        let utf8 = text.utf8
        return ranges(in: text).map { r in
            text[utf8.index(utf8.startIndex, offsetBy: r.lowerBound)..<utf8.index(utf8.startIndex, offsetBy: r.upperBound)]
        }
    }

    /// The sentences of `text` as UTF-8 byte ranges that tile `0..<text.utf8.count`.
    public func ranges(in text: String) -> [Range<Int>] {
        var s = text
        return s.withUTF8 { ranges(inUTF8: $0) }
    }

    /// The sentences of a UTF-8 buffer as byte ranges that tile it.
    public func ranges(inUTF8 b: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        let n = b.count
        var out: [Range<Int>] = []
        var start = 0
        var i = 0
        while i < n {
            let c = b[i]
            if c == 0x2E || c == 0x21 || c == 0x3F {
                var j = i
                while j < n && (b[j] == 0x2E || b[j] == 0x21 || b[j] == 0x3F) { j += 1 }
                var k = j
                while k < n, let w = closerWidth(b, k) { k += w }
                guard k < n, isSentenceSpace(b[k]) else { i = max(k, i + 1); continue }
                var w = k
                while w < n && isSentenceSpace(b[w]) { w += 1 }
                if w == n { break }
                if isBoundary(b, punct: i..<j, next: w) {
                    out.append(start..<w)
                    start = w
                }
                i = w
                continue
            }
            if c == 0x0A {
                // A blank line (paragraph break) always ends a sentence.
                var w = i + 1
                var newlines = 1
                while w < n && isSentenceSpace(b[w]) { if b[w] == 0x0A { newlines += 1 }; w += 1 }
                if newlines >= 2 && w < n && w > start {
                    out.append(start..<w)
                    start = w
                }
                i = w
                continue
            }
            i += 1
        }
        if start < n { out.append(start..<n) }
        return out
    }

    private func isBoundary(_ b: UnsafeBufferPointer<UInt8>, punct: Range<Int>, next: Int) -> Bool {
        // What follows: skip opening quotes/brackets, then look at the first letter or digit.
        var p = next
        while p < b.count, let w = openerWidth(b, p) { p += w }
        guard p < b.count else { return true }
        let scalar = sentenceScalar(b, p)
        let nextIsLower = scalar.properties.isLowercase

        let onlyPeriod = punct.count == 1 && b[punct.lowerBound] == 0x2E
        guard onlyPeriod else { return !nextIsLower }

        // The token before the period: back to whitespace or an opening bracket/quote.
        var t = punct.lowerBound
        while t > 0 {
            let x = b[t - 1]
            if isSentenceSpace(x) || x == 0x28 || x == 0x5B || x == 0x22 || x == 0x27 { break }
            t -= 1
        }
        let tokenLength = punct.lowerBound - t
        if tokenLength == 0 { return !nextIsLower }
        // An initial: one uppercase letter ("J. Smith", "A. B. Jones").
        if tokenLength == 1 && b[t] >= 0x41 && b[t] <= 0x5A { return false }
        if tokenLength <= 8 {
            var lower = ""
            lower.reserveCapacity(tokenLength)
            for q in t..<punct.lowerBound {
                let x = b[q]
                lower.unicodeScalars.append(Unicode.Scalar(x >= 0x41 && x <= 0x5A ? x | 0x20 : x))
            }
            if abbreviations.contains(lower) {
                // "et al." only counts when "et" precedes it; a bare "al." is a word.
                if lower == "al" { if precededByEt(b, t) { return false } }
                // "no." and "p." only abbreviate before a number ("No. 5", "p. 12").
                else if lower == "no" || lower == "p" {
                    if scalar.value >= 0x30 && scalar.value <= 0x39 { return false }
                } else { return false }
            }
        }
        if !nextIsLower { return true }
        // A lowercase start ("mRNA levels ...", "p53 was ...") still begins a sentence after an
        // ordinary word of three or more letters; after shorter or dotted tokens ("i.v.", "ca.")
        // it is more often an unlisted abbreviation.
        if tokenLength < 3 { return false }
        for q in t..<punct.lowerBound {
            let x = b[q]
            let letter = (x | 0x20) >= 0x61 && (x | 0x20) <= 0x7A
            if !(letter || x >= 0x80 || x == 0x2D || x == 0x27) { return false }
        }
        return true
    }

    private func precededByEt(_ b: UnsafeBufferPointer<UInt8>, _ t: Int) -> Bool {
        var e = t
        while e > 0 && isSentenceSpace(b[e - 1]) { e -= 1 }
        guard e >= 2 else { return false }
        let a = b[e - 2] | 0x20, c = b[e - 1] | 0x20
        return a == 0x65 && c == 0x74 && (e == 2 || isSentenceSpace(b[e - 3]) || b[e - 3] == 0x28)
    }
}

@inline(__always)
private func isSentenceSpace(_ x: UInt8) -> Bool { x == 0x20 || (x >= 0x09 && x <= 0x0D) }

/// Width of a closing quote or bracket at `p` (ASCII or ’ ” »), or nil.
@inline(__always)
private func closerWidth(_ b: UnsafeBufferPointer<UInt8>, _ p: Int) -> Int? {
    let x = b[p]
    if x == 0x22 || x == 0x27 || x == 0x29 || x == 0x5D { return 1 }
    if x == 0xE2 && p + 2 < b.count && b[p + 1] == 0x80 && (b[p + 2] == 0x99 || b[p + 2] == 0x9D) { return 3 }
    if x == 0xC2 && p + 1 < b.count && b[p + 1] == 0xBB { return 2 }
    return nil
}

/// Width of an opening quote or bracket at `p` (ASCII or ‘ “ «), or nil.
@inline(__always)
private func openerWidth(_ b: UnsafeBufferPointer<UInt8>, _ p: Int) -> Int? {
    let x = b[p]
    if x == 0x22 || x == 0x27 || x == 0x28 || x == 0x5B { return 1 }
    if x == 0xE2 && p + 2 < b.count && b[p + 1] == 0x80 && (b[p + 2] == 0x98 || b[p + 2] == 0x9C) { return 3 }
    if x == 0xC2 && p + 1 < b.count && b[p + 1] == 0xAB { return 2 }
    return nil
}

@inline(__always)
private func sentenceScalar(_ b: UnsafeBufferPointer<UInt8>, _ p: Int) -> Unicode.Scalar {
    let b0 = UInt32(b[p])
    var v: UInt32
    if b0 < 0x80 { v = b0 }
    else if b0 < 0xE0, p + 1 < b.count { v = ((b0 & 0x1F) << 6) | UInt32(b[p + 1] & 0x3F) }
    else if b0 < 0xF0, p + 2 < b.count {
        v = ((b0 & 0x0F) << 12) | (UInt32(b[p + 1] & 0x3F) << 6) | UInt32(b[p + 2] & 0x3F)
    } else if p + 3 < b.count {
        v = ((b0 & 0x07) << 18) | (UInt32(b[p + 1] & 0x3F) << 12) | (UInt32(b[p + 2] & 0x3F) << 6)
            | UInt32(b[p + 3] & 0x3F)
    } else { v = 0xFFFD }
    return Unicode.Scalar(v) ?? "\u{FFFD}"
}
