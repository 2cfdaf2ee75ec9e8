/// Hard-wrapped text: paragraphs broken into short lines (man pages, RFCs, e-mail, plain-text
/// books). AdaptLLM's regexes look for a sentence on one line (`[^\n]{50,}`...), so on such text
/// they find almost nothing; unwrapping the paragraphs first gives them whole sentences.
public enum HardWrap {
    /// Joins the lines of each paragraph (blocks between blank lines) with one space; blank lines,
    /// and so paragraph breaks, stay. Lines that start a list item or are indented deeper than the
    /// line before keep their break (code, tables, option lists).
    public static func unwrap(_ text: String) -> String {
        var lines: [String] = []
        var paragraph: [Substring] = []
        func flush() {
            guard let first = paragraph.first else { return }
            var out = String(first)
            var previousIndent = indent(first)
            var previousWasItem = startsListItem(first.drop { $0 == " " || $0 == "\t" })
            for line in paragraph.dropFirst() {
                let trimmed = line.drop { $0 == " " || $0 == "\t" }
                let lineIndent = indent(line)
                // A line that looks like a list item starts one only after a finished clause or
                // another item: a wrap inside "10 - 20" or "1. 5" must not break the sentence.
                let item = startsListItem(trimmed) && (previousWasItem || out.last.map { ".:;!?".contains($0) } == true)
                defer { previousIndent = lineIndent; previousWasItem = item }
                if lineIndent > previousIndent || item {
                    out += "\n" + line
                } else if out.last == "-" || out.last == "\u{2010}", let c = trimmed.first, c.isLowercase {
                    out += trimmed   // a word hyphenated across the break: "inter-\nnational" stays "inter-national"
                } else {
                    out += " " + trimmed
                }
            }
            lines.append(out)
            paragraph.removeAll()
        }
        // "\r\n" is one Character in Swift: split on it too.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let stripped = line.last == "\r" ? line.dropLast() : line
            if stripped.allSatisfy({ $0 == " " || $0 == "\t" }) {
                flush()
                lines.append("")
            } else {
                // Trailing spaces before a break would double the joining space.
                var l = stripped
                while let c = l.last, c == " " || c == "\t" { l = l.dropLast() }
                paragraph.append(l)
            }
        }
        flush()
        return lines.joined(separator: "\n")
    }

    /// Whether a document looks hard-wrapped: at least 8 lines, most of them short (under 100
    /// characters), and at least a third of its line breaks inside a sentence (the next line goes
    /// on in lower case after a line that does not end a sentence).
    public static func looksHardWrapped(_ text: String) -> Bool {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        guard lines.count >= 8 else { return false }
        var short = 0, nonEmpty = 0, breaks = 0, inside = 0
        var previous: Substring? = nil
        for line in lines {
            let t = line.drop { $0 == " " || $0 == "\t" }
            if t.isEmpty { previous = nil; continue }
            nonEmpty += 1
            if line.count < 100 { short += 1 }
            if let p = previous {
                breaks += 1
                if let end = p.last, !".!?:;".contains(end), let c = t.first, c.isLowercase { inside += 1 }
            }
            previous = t
        }
        return nonEmpty >= 8 && short * 10 >= nonEmpty * 8 && breaks > 0 && inside * 3 >= breaks
    }

    private static func indent(_ line: Substring) -> Int {
        var n = 0
        for c in line { if c == " " { n += 1 } else if c == "\t" { n += 8 } else { break } }
        return n
    }

    private static func startsListItem(_ t: Substring) -> Bool {
        guard let c = t.first else { return false }
        if "-*•·+".contains(c), t.dropFirst().first == " " { return true }
        // "1. ", "12) ", "a) " (not "E. coli": a letter takes only ')')
        let head = t.prefix(4)
        guard let mark = head.firstIndex(where: { $0 == "." || $0 == ")" }), mark > head.startIndex,
              t[t.index(after: mark)...].first == " " else { return false }
        let label = head[head.startIndex..<mark]
        return label.allSatisfy(\.isNumber) || (label.count == 1 && label.first?.isLowercase == true && head[mark] == ")")
    }
}
