import Foundation
import LecternText

/// Cuts an item longer than a sequence into pieces that fit (the `split` and `truncate`
/// policies). Cuts fall, by preference, between the item's parts (documents, QA pairs, mined
/// texts, messages), then between sentences, then at whitespace, and only as a last resort
/// inside a word. Each piece keeps the provenance of the parts it holds.
///
/// Pieces are measured exactly: a piece is tokenized as the text it will be packed as, since
/// the tokens of a concatenation are not the sum of the parts' tokens.
struct ItemSplitter {
    let tokenizer: any Tokenizer
    /// Most tokens a piece may have (the sequence capacity less the EOS separator).
    let limit: Int
    private let sentences = SentenceSplitter()

    init(tokenizer: any Tokenizer, limit: Int) {
        self.tokenizer = tokenizer
        self.limit = limit
    }

    func pieces(of item: BuildItem) -> [BuildItem] {
        var units: [(segment: Segment, tokens: Int)] = []
        for s in item.segments { refine(s, level: 0, into: &units) }
        var pieces: [BuildItem] = []
        var i = 0
        while i < units.count {
            var j = i, estimate = 0
            while j < units.count {
                let add = j == i ? units[j].tokens : units[j].tokens + joinerTokens(units[j].segment.joiner)
                if j > i && estimate + add > limit { break }
                estimate += add
                j += 1
            }
            // Merges at the joins can make the real count differ from the estimate.
            var segments = Array(units[i..<j].map(\.segment))
            while segments.count > 1 && tokenizer.count(pieceText(segments)) > limit {
                segments.removeLast()
                j -= 1
            }
            segments[0].text = String(segments[0].text.drop(while: { $0.isWhitespace }))
            if !segments[0].text.isEmpty || segments.count > 1, tokenizer.count(pieceText(segments)) <= limit {
                pieces.append(BuildItem(origin: item.origin, itemParts: item.itemParts, segments: segments))
            }
            i = j
        }
        return pieces
    }

    private func pieceText(_ segments: [Segment]) -> String {
        BuildItem(origin: .domain, segments: segments).text
    }

    private func joinerTokens(_ joiner: String) -> Int { joiner.isEmpty ? 0 : tokenizer.count(joiner) }

    /// Breaks a segment that is too long on its own into sentences, words, then halves.
    private func refine(_ s: Segment, level: Int, into units: inout [(segment: Segment, tokens: Int)]) {
        let n = tokenizer.count(s.text)
        if n <= limit || s.text.count <= 1 {
            if n <= limit { units.append((s, n)) }  // a single character over the limit is dropped
            return
        }
        var parts: [Substring]
        switch level {
        case 0: parts = sentences.split(s.text)
        case 1: parts = whitespaceSplit(s.text)
        default:
            let mid = s.text.index(s.text.startIndex, offsetBy: s.text.count / 2)
            parts = [s.text[..<mid], s.text[mid...]]
        }
        if parts.count <= 1 {
            refine(s, level: level + 1, into: &units)
            return
        }
        for (k, p) in parts.enumerated() {
            refine(Segment(text: String(p), part: s.part, joiner: k == 0 ? s.joiner : ""), level: level + 1, into: &units)
        }
    }

    /// Splits before each run of whitespace that follows a non-space, keeping every character.
    private func whitespaceSplit(_ text: String) -> [Substring] {
        var out: [Substring] = []
        var start = text.startIndex
        var prevSpace = true
        var i = text.startIndex
        while i < text.endIndex {
            let space = text[i].isWhitespace
            if space && !prevSpace && i > start {
                out.append(text[start..<i])
                start = i
            }
            prevSpace = space
            i = text.index(after: i)
        }
        if start < text.endIndex { out.append(text[start...]) }
        return out
    }
}
