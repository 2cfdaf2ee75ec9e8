import ArgumentParser

/// A text option that may hold line breaks: `\n`, `\t` and `\\` typed on the command line (or in
/// a recipe) stand for a newline, a tab and a backslash, and `--help` shows the default the same
/// escaped way instead of printing two blank lines for `"\n\n"`.
struct EscapedText: ExpressibleByArgument, Equatable, Sendable, CustomStringConvertible {
    var value: String

    init(_ value: String) { self.value = value }

    init?(argument: String) { value = Self.unescape(argument) }

    var description: String { Self.escape(value) }

    var defaultValueDescription: String { "\"\(Self.escape(value))\"" }

    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = ""
        var it = s.makeIterator()
        while let c = it.next() {
            guard c == "\\" else { out.append(c); continue }
            switch it.next() {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "\\": out.append("\\")
            case let other?: out.append("\\"); out.append(other)
            case nil: out.append("\\")
            }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\\": out += "\\\\"
            default: out.append(c)
            }
        }
        return out
    }
}
