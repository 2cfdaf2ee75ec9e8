import Foundation

/// Uncased BERT WordPiece, as Hugging Face's `BertNormalizer` + `BertPreTokenizer` + `WordPiece`
/// do it: clean control characters, space out CJK ideographs, strip accents (NFD, drop Mn),
/// lower-case, split on whitespace and punctuation, then greedy longest-match sub-words with
/// `##`, `[UNK]` for words that do not decompose or exceed 100 characters.
///
/// The encoder's own copy so that it works stand-alone; `LecternText` carries the general
/// tokenizers (and `tokenizer.json`) for token counting.
public struct BertWordPiece: Sendable {
    public let vocab: [String: Int32]
    public let unkID: Int32, clsID: Int32, sepID: Int32
    public let maxInputCharsPerWord = 100

    /// Loads `vocab.txt` (one token a line; the line number is the id).
    public init(vocabPath: String) throws {
        guard let text = try? String(contentsOfFile: vocabPath, encoding: .utf8) else {
            throw EmbedError.badModel(vocabPath, "cannot read the vocabulary")
        }
        var vocab: [String: Int32] = [:]
        var id: Int32 = 0
        text.enumerateLines { line, _ in
            if vocab[line] == nil { vocab[line] = id }
            id += 1
        }
        guard let unk = vocab["[UNK]"], let cls = vocab["[CLS]"], let sep = vocab["[SEP]"] else {
            throw EmbedError.badModel(vocabPath, "vocabulary lacks [UNK], [CLS] or [SEP]")
        }
        self.vocab = vocab
        unkID = unk; clsID = cls; sepID = sep
    }

    /// Token ids of `text` without the special tokens.
    public func tokenize(_ text: String) -> [Int32] { tokenize(text, limit: .max).ids }

    /// The first `limit` token ids of `text` (fewer if the text has fewer), reading only as much
    /// of it as that takes: the text is normalised and split in segments of a few thousand
    /// characters cut at whitespace, and tokenization stops once `limit` ids are out. Segments
    /// cut at whitespace give exactly the ids of the whole text: whitespace ends a word, and
    /// canonical decomposition and accent stripping never reach across a space.
    ///
    /// With `partial` (the text is a prefix cut at an arbitrary character of a longer text),
    /// the characters after its last whitespace are a possibly cut word and are not tokenized;
    /// `complete` then says whether `limit` ids came out before them, i.e. whether the ids are
    /// those of the whole, longer text.
    public func tokenize(_ text: String, limit: Int, partial: Bool = false) -> (ids: [Int32], complete: Bool) {
        var ids: [Int32] = []
        ids.reserveCapacity(min(limit, text.utf8.count / 4) + 8)
        var word: [Unicode.Scalar] = []
        func flush() {
            if !word.isEmpty { wordPiece(word, into: &ids); word.removeAll(keepingCapacity: true) }
        }
        let scalars = text.unicodeScalars
        var segment = String.UnicodeScalarView()
        var index = scalars.startIndex
        var lastWhitespace: String.UnicodeScalarView.Index? = nil
        if partial {
            var i = scalars.endIndex
            while i > scalars.startIndex {
                let p = scalars.index(before: i)
                if Self.isBreak(scalars[p]) { lastWhitespace = i; break }
                i = p
            }
            // No whitespace at all: nothing is known to be whole.
            guard lastWhitespace != nil else { return ([], false) }
        }
        let end = partial ? lastWhitespace! : scalars.endIndex
        while index < end, ids.count < limit {
            segment.removeAll(keepingCapacity: true)
            var n = 0
            while index < end {
                let s = scalars[index]
                segment.append(s)
                index = scalars.index(after: index)
                n += 1
                if n >= Self.segmentLength, Self.isBreak(s) { break }
            }
            for s in normalize(segment) {
                if Self.isWhitespace(s) { flush() }
                else if Self.isPunctuation(s) { flush(); word.append(s); flush() }
                else { word.append(s) }
                if ids.count >= limit { break }
            }
            if index >= end { flush() }  // segments end at whitespace, so only the last can hold a word
        }
        let complete = !partial || ids.count >= limit
        if ids.count > limit { ids.removeLast(ids.count - limit) }
        return (ids, complete)
    }

    /// Characters normalised and tokenized at a time (cut at the next whitespace).
    static let segmentLength = 2048

    /// Whitespace that normalisation keeps as a space (other Unicode whitespace may be a control
    /// character, which is deleted and so joins its neighbours): the only safe cut points.
    @inline(__always)
    static func isBreak(_ s: Unicode.Scalar) -> Bool { s == " " || s == "\n" || s == "\t" || s == "\r" }

    /// `[CLS] tokens [SEP]`, with the tokens cut so the whole fits `maxLength`.
    public func encode(_ text: String, maxLength: Int) -> [Int32] {
        var t = tokenize(text)
        if t.count > maxLength - 2 { t.removeLast(t.count - max(0, maxLength - 2)) }
        return [clsID] + t + [sepID]
    }

    private func normalize(_ text: String.UnicodeScalarView) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        for s in text {
            if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
            if Self.isWhitespace(s) { cleaned.append(" ") }
            else if Self.isCJK(s.value) { cleaned.append(" "); cleaned.append(s); cleaned.append(" ") }
            else { cleaned.append(s) }
        }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(cleaned.count)
        for s in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where s.properties.generalCategory != .nonspacingMark {
            if s.isASCII {
                out.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    private func wordPiece(_ chars: [Unicode.Scalar], into ids: inout [Int32]) {
        if chars.count > maxInputCharsPerWord { ids.append(unkID); return }
        var pieces: [Int32] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int32?
            while start < end {
                var sub = start > 0 ? "##" : ""
                sub.unicodeScalars.append(contentsOf: chars[start..<end])
                if let id = vocab[sub] { found = id; break }
                end -= 1
            }
            guard let id = found else { ids.append(unkID); return }
            pieces.append(id)
            start = end
        }
        ids.append(contentsOf: pieces)
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse: return true
        default: return false
        }
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }
}
