/// Sentences inside one line the way pysbd 0.3.4 (English, `clean=False`) finds them, written as
/// a byte scanner over the behaviours that decide its output (pysbd itself is a chain of regex
/// rewrites; this reproduces what the chain does, not how):
///
/// - a sentence ends at every `.`, `!` or `?` that is not **protected**, even without a space
///   after it (`<obj>.qsort` is two sentences to pysbd);
/// - protected: a `.` between two ASCII letters, digits or `_` (file names, e-mail, `e.g`), before
///   a digit, after a digit and before a non-space; the periods of `...` (unless a space and a
///   capital follow, where the last one ends the sentence) and of multi-period abbreviations
///   (`U.S.`, `e.g.`); a known abbreviation's period before a lowercase word, a digit, `(` or
///   `.:-?,` (prepositive ones like `Dr.`, `Fig.`, `vs.` before anything spaced); a single capital
///   initial's period; `!` or `?` before a quote, `!` before a lowercase word; runs of three or
///   more `!`/`?`; numbered-list periods (` 2. ` when a neighbouring number is also an item);
///   anything inside `(...)`, `[...]`, `"..."`, `“...”`, `«...»`, `--...--` without nesting;
/// - where a sentence may start, `(...)` of at least two characters followed by a space and a
///   capital is a sentence by itself (`(BETA) Create the ...`), and so are quoted spans
///   followed by a space and a capital;
/// - where a sentence may start, a run of two or more spaces and enders is a sentence of its own
///   (stripped: indentation before `.type` makes `.` a sentence; spaces alone make none);
/// - a line without an ender is one sentence; the end of the line ends a sentence.
///
/// Returns the sentences' byte ranges within the line, without surrounding whitespace.
struct PysbdLines: Sendable {
    static let abbreviations: Set<String> = [
        "adj", "adm", "adv", "al", "ala", "alta", "apr", "arc", "ariz", "ark", "art", "assn", "asst", "attys", "aug",
        "ave", "bart", "bld", "bldg", "blvd", "brig", "bros", "btw", "cal", "calif", "capt", "cl", "cmdr", "co", "col",
        "colo", "comdr", "con", "conn", "corp", "cpl", "cres", "ct", "d.phil", "dak", "dec", "del", "dept", "det",
        "dist", "dr", "dr.phil", "dr.philos", "drs", "e.g", "ens", "esp", "esq", "etc", "exp", "expy", "ext", "feb",
        "fed", "fla", "ft", "fwy", "fy", "ga", "gen", "gov", "hon", "hosp", "hr", "hway", "hwy", "i.e", "ia", "id",
        "ida", "ill", "inc", "ind", "ing", "insp", "is", "jan", "jr", "jul", "jun", "kan", "kans", "ken", "ky", "la",
        "lt", "ltd", "maj", "man", "mar", "mass", "may", "md", "me", "med", "messrs", "mex", "mfg", "mich", "min",
        "minn", "miss", "mlle", "mm", "mme", "mo", "mont", "mr", "mrs", "ms", "msgr", "mssrs", "mt", "mtn", "neb",
        "nebr", "nev", "no", "nos", "nov", "nr", "oct", "ok", "okla", "ont", "op", "ord", "ore", "p", "pa", "pd",
        "pde", "penn", "penna", "pfc", "ph", "ph.d", "pl", "plz", "pp", "prof", "pvt", "que", "rd", "rs", "ref",
        "rep", "reps", "res", "rev", "rt", "sask", "sec", "sen", "sens", "sep", "sept", "sfc", "sgt", "sr", "st",
        "supt", "surg", "tce", "tenn", "tex", "univ", "usafa", "u.s", "ut", "va", "v", "ver", "viz", "vs", "vt",
        "wash", "wis", "wisc", "wy", "wyo", "yuk", "fig",
    ]
    static let prepositive: Set<String> = [
        "adm", "attys", "brig", "capt", "cmdr", "col", "cpl", "det", "dr", "gen", "gov", "ing", "lt", "maj", "mr",
        "mrs", "ms", "mt", "messrs", "mssrs", "prof", "ph", "rep", "reps", "rev", "sen", "sens", "sgt", "st", "supt",
        "v", "vs", "fig",
    ]
    static let numberAbbreviations: Set<String> = ["art", "ext", "no", "nos", "p", "pp"]

    /// Numbers that start a numbered-list item somewhere in the text (` 3. `), for the list rule.
    let listNumbers: Set<Int>

    init(text: UnsafeBufferPointer<UInt8>) {
        var found: [Int] = []
        let n = text.count
        var i = 0
        while i < n {
            if isDigit(text[i]), i == 0 || isSpaceByte(text[i - 1]) {
                var j = i, v = 0
                while j < n && isDigit(text[j]) && j - i < 3 { v = v * 10 + Int(text[j] - 0x30); j += 1 }
                if j - i <= 2, j + 1 < n, text[j] == 0x2E, isSpaceByte(text[j + 1]) || text[j + 1] == 0x29 { found.append(v) }
                i = j
            } else { i += 1 }
        }
        var list = Set<Int>()
        for (k, v) in found.enumerated() {
            if (k + 1 < found.count && found[k + 1] == v + 1) || (k > 0 && found[k - 1] == v - 1) { list.insert(v) }
        }
        listNumbers = list
    }

    func sentences(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> [Range<Int>] {
        let lo = range.lowerBound, hi = range.upperBound
        func at(_ i: Int) -> UInt8 { i >= lo && i < hi ? b[i] : 0x20 }
        var protected = Set<Int>()
        // Spans between paired punctuation: every ender inside is protected.
        func protectPairs(open: [UInt8], close: [UInt8], forbidden: [UInt8]) {
            var i = lo
            while i + open.count <= hi {
                if Array(b[i..<(i + open.count)]) == open {
                    var j = i + open.count
                    var ok = false
                    while j + close.count <= hi {
                        if Array(b[j..<(j + close.count)]) == close { ok = true; break }
                        if forbidden.contains(b[j]) { break }
                        j += 1
                    }
                    if ok && j > i + open.count {
                        for k in (i + open.count)..<j { protected.insert(k) }
                        i = j + close.count
                        continue
                    }
                }
                i += 1
            }
        }
        protectPairs(open: [0x28], close: [0x29], forbidden: [0x28, 0x5C])             // ( )
        protectPairs(open: [0x5B], close: [0x5D], forbidden: [0x5C])                   // [ ]
        protectPairs(open: [0x22], close: [0x22], forbidden: [0x5C])                   // " "
        protectPairs(open: Array("\u{201C}".utf8), close: Array("\u{201D}".utf8), forbidden: [0x5C])
        protectPairs(open: Array("\u{00AB}".utf8), close: Array("\u{00BB}".utf8), forbidden: [0x5C])
        protectPairs(open: [0x2D, 0x2D], close: [0x2D, 0x2D], forbidden: [0x2D])
        // 'single quotes' opened after whitespace; an apostrophe before a letter does not close them.
        // pysbd skips this rule on a line that has a quoted word running on past its closing quote
        // ('x'y, 'x': ...) and no quote followed by whitespace anywhere.
        var quoteThenSpace = false, quoteRunsOn = false
        for k in lo..<hi where b[k] == 0x27 {
            if k + 1 < hi && isSpaceByte(b[k + 1]) { quoteThenSpace = true }
        }
        var s = lo + 1
        while s < hi && !quoteThenSpace {
            if b[s] == 0x27 && isSpaceByte(b[s - 1]) {
                var j = s + 1
                while j < hi && !(b[j] == 0x27 && !isLetter(at(j + 1))) { j += b[j] == 0x27 ? 2 : 1 }
                // The closing quote followed by a non-space (the end of the line counts: pysbd
                // appends a marker there).
                if j < hi && (j + 1 >= hi || !isSpaceByte(b[j + 1])) { quoteRunsOn = true; break }
            }
            s += 1
        }
        var q = quoteRunsOn && !quoteThenSpace ? hi : lo + 1
        while q < hi {
            if b[q] == 0x27 && isSpaceByte(b[q - 1]) {
                var j = q + 1
                while j < hi && !(b[j] == 0x27 && !isLetter(at(j + 1))) { j += b[j] == 0x27 ? 2 : 1 }
                if j < hi { for k in (q + 1)..<j { protected.insert(k) }; q = j + 1; continue }
            }
            q += 1
        }

        func isEnder(_ i: Int) -> Bool {
            let c = b[i]
            guard c == 0x2E || c == 0x21 || c == 0x3F, !protected.contains(i) else { return false }
            let p = at(i - 1), q = at(i + 1), q2 = at(i + 2)
            if c == 0x2E {
                if isWordByte(p) && isWordByte(q) { return false }
                if isDigit(q) || (isDigit(p) && !isSpaceByte(q)) { return false }
                if q == 0x27 && q2 == 0x73 { return false }                              // .'s
                if isSpaceByte(p), isFileExtension(b, i + 1, hi) { return false }        // " .txt "
                // Ellipses: "..." protected unless a space and a capital follow the third period.
                var s = i; while s > lo && b[s - 1] == 0x2E { s -= 1 }
                var e = i; while e + 1 < hi && b[e + 1] == 0x2E { e += 1 }
                if e - s + 1 >= 3 {
                    if e - s + 1 == 3 && i == e {
                        var k = e + 1; while k < hi && isSpaceByte(b[k]) { k += 1 }
                        if k > e + 1 && k < hi && isUpper(b[k]) { return true }
                    }
                    return false
                }
                // The word before the period.
                var w = i; while w > lo && !isSpaceByte(b[w - 1]) { w -= 1 }
                let word = String(decoding: UnsafeBufferPointer(rebasing: b[w..<i]), as: UTF8.self).lowercased()
                // Multi-period abbreviations: a.b.c. after a word boundary ("(i.e.", "e.g.,").
                let bare = String(word.drop { !(($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "_") })
                if bare.count >= 3, isMultiPeriod(bare), bare.count == word.count || !isWordChar(word.unicodeScalars[word.unicodeScalars.index(word.unicodeScalars.startIndex, offsetBy: word.unicodeScalars.count - bare.unicodeScalars.count - 1)]) { return false }
                // A single capital initial.
                if i - w == 1 && isUpper(b[w]) && (isSpaceByte(q) || (q == 0x2C && isSpaceByte(q2))) { return false }
                if Self.abbreviations.contains(word) {
                    if Self.prepositive.contains(word) { return !(isSpaceByte(q) || (q == 0x3A && isDigit(q2))) }
                    if Self.numberAbbreviations.contains(word) {
                        if isSpaceByte(q) && (isDigit(q2) || q2 == 0x28) { return false }
                    }
                    if q == 0x2E || q == 0x3A || q == 0x2D || q == 0x3F || q == 0x2C { return false }
                    if isSpaceByte(q) && (isLower(q2) || isDigit(q2) || q2 == 0x28) { return false }
                    if isSpaceByte(q) && q2 == 0x49 && (isSpaceByte(at(i + 3)) || at(i + 3) == 0x27) { return false }
                }
                // Numbered-list items: " 2. " when 1 or 3 is an item too.
                var d = i; while d > lo && isDigit(b[d - 1]) { d -= 1 }
                if i - d >= 1 && i - d <= 2 && (d == lo || isSpaceByte(b[d - 1])) && (isSpaceByte(q) || q == 0x29),
                   let v = Int(String(decoding: UnsafeBufferPointer(rebasing: b[d..<i]), as: UTF8.self)), listNumbers.contains(v) {
                    return false
                }
                return true
            }
            // ! and ?
            if q == 0x27 || q == 0x22 { return false }
            if c == 0x21 && ((isSpaceByte(q) && isLower(q2)) || (q == 0x2C && isSpaceByte(q2) && isLower(at(i + 3)))) { return false }
            var s = i; while s > lo && (b[s - 1] == 0x21 || b[s - 1] == 0x3F) { s -= 1 }
            var e = i; while e + 1 < hi && (b[e + 1] == 0x21 || b[e + 1] == 0x3F) { e += 1 }
            if e - s + 1 >= 3 && s > lo && !isSpaceByte(b[s - 1]) && (e + 1 >= hi || isSpaceByte(b[e + 1])) { return false }
            return true
        }

        // pysbd splits only lines with a sentence ender left after its early rules (abbreviations,
        // numbers, ellipses); the paired-punctuation rule comes later. Other lines are one sentence.
        let pairProtected = protected
        protected = []
        let hasEnder = (lo..<hi).contains { isEnder($0) }
        protected = pairProtected
        if !hasEnder {
            var a = lo, z = hi
            while a < z && isSpaceByte(b[a]) { a += 1 }
            while z > a && isSpaceByte(b[z - 1]) { z -= 1 }
            return a < z ? [a..<z] : []
        }
        var out: [Range<Int>] = []
        var i = lo
        while i < hi {
            let c = b[i]
            // Where a sentence may start, a run of two or more spaces and enders is a "sentence" of
            // its own (pysbd's `[.!? ]{2,}` comes before `\S.*?[.!?]`): indentation before ".type"
            // makes "." one sentence. Its content is the run without spaces (none: no sentence).
            if c == 0x20 || (c == 0x2E || c == 0x21 || c == 0x3F) && isEnder(i) {
                var j = i
                while j < hi && (b[j] == 0x20 || ((b[j] == 0x2E || b[j] == 0x21 || b[j] == 0x3F) && isEnder(j))) { j += 1 }
                if j - i >= 2 {
                    var a = i, z = j
                    while a < z && b[a] == 0x20 { a += 1 }
                    while z > a && b[z - 1] == 0x20 { z -= 1 }
                    if a < z { out.append(a..<z) }
                    i = j
                    continue
                }
            }
            if isSpaceByte(c) { i += 1; continue }
            // A parenthesised or quoted span followed by a space and a capital.
            if c == 0x28 || c == 0x22 || c == 0x27 {
                let close: UInt8 = c == 0x28 ? 0x29 : c
                var j = i + 1
                while j < hi && b[j] != close { j += 1 }
                let inner = j - i - 1
                if j < hi && inner >= (c == 0x28 ? 2 : 1) && (c == 0x28 || b[j - 1] != 0x2C)
                    && j + 2 < hi + 1 && isSpaceByte(at(j + 1)) && isUpper(at(j + 2)) && j + 2 < hi {
                    out.append(i..<(j + 1)); i = j + 1; continue
                }
            }
            // A run of enders is a sentence of its own when it starts here (". ." and the like).
            // The sentence's first character is never its end (`\S.*?[.!?]`).
            var j = i + 1
            while j < hi && !isEnder(j) { j += 1 }
            var end = min(j + 1, hi)
            // Following enders belong to this sentence ("?!", "..").
            while end < hi && (b[end] == 0x21 || b[end] == 0x3F) && j < hi && (b[j] == 0x21 || b[j] == 0x3F) { end += 1 }
            var e = end
            while e > i && isSpaceByte(b[e - 1]) { e -= 1 }
            out.append(i..<e)
            i = end
        }
        // A quotation ending a sentence, then a space and a capital: two sentences.
        var split: [Range<Int>] = []
        for r in out {
            var start = r.lowerBound, k = r.lowerBound
            while k + 3 < r.upperBound {
                let p = b[k], q = b[k + 1]
                if (p == 0x21 || p == 0x3F || p == 0x2E || p == 0x2D) && (q == 0x22 || q == 0x27) && b[k + 2] == 0x20 && isUpper(b[k + 3]) {
                    split.append(start..<(k + 2)); start = k + 3; k += 3; continue
                }
                k += 1
            }
            split.append(start..<r.upperBound)
        }
        return split
    }
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
@inline(__always) private func isUpper(_ c: UInt8) -> Bool { c >= 0x41 && c <= 0x5A }
@inline(__always) private func isLower(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
@inline(__always) private func isSpaceByte(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
@inline(__always) private func isLetter(_ c: UInt8) -> Bool { isUpper(c) || isLower(c) }
private func isWordChar(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" }

private let fileExtensions: [[UInt8]] = ["jpg", "jpeg", "png", "gif", "tif", "tiff", "pdf", "ps", "doc", "docx", "xls", "xlsx",
    "svg", "bmp", "tga", "exif", "odt", "htm", "html", "txt", "rtf", "bat", "sxw", "xml", "zip", "exe", "msi", "blend", "wmv",
    "mp3", "mp4", "ppt", "pptx", "flac", "rb", "cpp", "cs", "js"].map { Array($0.utf8) }

/// A file extension from pysbd's list at `i`, followed by whitespace.
private func isFileExtension(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int) -> Bool {
    fileExtensions.contains { e in
        i + e.count < hi && isSpaceByte(b[i + e.count]) && (0..<e.count).allSatisfy { b[i + $0] == e[$0] }
    }
}
@inline(__always) private func isWordByte(_ c: UInt8) -> Bool { isDigit(c) || isUpper(c) || isLower(c) || c == 0x5F }

/// `[a-z](\.[a-z])+` as the whole word before the final period (case-insensitive).
private func isMultiPeriod(_ w: String) -> Bool {
    let u = Array(w.utf8)
    guard u.count >= 3, u.count % 2 == 1 else { return false }
    for (k, c) in u.enumerated() {
        if k % 2 == 0 { if !(isLower(c) || isUpper(c)) { return false } } else if c != 0x2E { return false }
    }
    return true
}
