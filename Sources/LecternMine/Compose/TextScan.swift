/// Small scanners used on every document, written over Unicode scalars with ASCII fast paths
/// (Foundation's `trimmingCharacters` and `Character` properties dominated the miner's time).

/// Python's `str.isspace` (what `str.strip()` removes).
@inline(__always)
func isSpaceScalar(_ c: Unicode.Scalar) -> Bool { isPythonSpace(c.value) }

/// A letter or digit (the characters a word keeps at its edges).
@inline(__always)
func isWordScalar(_ c: Unicode.Scalar) -> Bool {
    let v = c.value
    if v < 0x80 { return (v >= 0x30 && v <= 0x39) || ((v | 0x20) >= 0x61 && (v | 0x20) <= 0x7A) }
    return c.properties.isAlphabetic || c.properties.numericType != nil
}

/// Python's `text.strip()`: leading and trailing whitespace removed.
public func pythonStrip<S: StringProtocol>(_ text: S) -> String {
    let s = Substring(text)
    let u = s.unicodeScalars
    var a = u.startIndex, b = u.endIndex
    while a < b && isSpaceScalar(u[a]) { a = u.index(after: a) }
    while b > a {
        let p = u.index(before: b)
        if !isSpaceScalar(u[p]) { break }
        b = p
    }
    return String(s[a..<b])
}

/// Calls `body` with each whitespace-separated token of `text`, stripped of leading and
/// trailing characters that are not letters or digits; empty tokens are skipped.
func forEachWord<S: StringProtocol>(in text: S, _ body: (Substring) -> Void) {
    let s = Substring(text)
    let u = s.unicodeScalars
    var i = u.startIndex
    let end = u.endIndex
    while i < end {
        while i < end && isSpaceScalar(u[i]) { i = u.index(after: i) }
        var j = i
        while j < end && !isSpaceScalar(u[j]) { j = u.index(after: j) }
        var a = i, b = j
        while a < b && !isWordScalar(u[a]) { a = u.index(after: a) }
        while b > a {
            let p = u.index(before: b)
            if isWordScalar(u[p]) { break }
            b = p
        }
        if a < b { body(s[a..<b]) }
        i = j
    }
}
