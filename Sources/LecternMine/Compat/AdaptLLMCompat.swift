import Foundation
import LecternText

/// What `lectern mine --compat adaptllm` does the way AdaptLLM's `raw2read.py` does it, so that a
/// ReadCompre baseline built with Lectern mines what AdaptLLM's would:
///
/// - the title is the first line as it is (not stripped), the body the rest, even when empty;
/// - the body is **truncated in tokens of the general model's SentencePiece file** (LLaMA's
///   `tokenizer.model`): encoded, cut to `maxTokens` (AdaptLLM: 2048 - 200) and decoded, so
///   the cut can fall inside a word, exactly where `truncate_sentence` puts it;
/// - sentences break at every newline, as pysbd (`Segmenter(clean=False)`) breaks them, and
///   keep the whitespace that follows them (``AdaptLLMSentences``);
/// - keyword sentences are drawn in the order of CPython's `random.seed(len(text));
///   random.shuffle(sentences)` (``PythonRandom``), and a sentence's domain words are the
///   domain model's **pieces** of it that are domain-specific (in the domain model, not in the
///   general one, word-initial, more than 10 characters with the `▁`), with at most
///   `maxSentencePieces` distinct pieces per sentence.
///
/// Templates, the intro lines and every other random choice stay Lectern's own.
public struct AdaptLLMCompat: Sendable {
    /// The general LLM's tokenizer (truncation).
    public let general: SentencePieceTokenizer
    /// The domain model (keyword pieces); nil: no keyword task.
    public let domain: SentencePieceTokenizer?
    /// AdaptLLM's `specific_token_set`.
    public let specificPieces: Set<String>
    /// AdaptLLM: `max_seq_len - 200` = 1848.
    public var maxTokens = 1848
    /// AdaptLLM: `max_sent_len` = 100 distinct pieces.
    public var maxSentencePieces = 100
    /// What identifies the two models (for the miner's fingerprint).
    public let name: String

    public init(general: SentencePieceModel, generalName: String, domain: SentencePieceModel?, domainName: String?) throws {
        // The library does not match control pieces in text; neither does the compatible mode.
        self.general = try SentencePieceTokenizer(model: general, path: generalName, matchControlTokens: false)
        self.domain = try domain.map { try SentencePieceTokenizer(model: $0, path: domainName ?? "<domain>", matchControlTokens: false) }
        if let domain {
            let generalPieces = Set(general.pieces.map(\.text))
            specificPieces = Set(domain.pieces.lazy.map(\.text).filter {
                !generalPieces.contains($0) && $0.hasPrefix("\u{2581}") && $0.count > 10
            })
        } else {
            specificPieces = []
        }
        name = "adaptllm(general \(generalName), domain \(domainName ?? "none"))"
    }

    /// AdaptLLM's `truncate_sentence(text, max_len=1848)`.
    public func truncate(_ text: String) -> String {
        let ids = general.encode(text, addSpecialTokens: false)
        guard ids.count > maxTokens else { return text }
        return general.decode(Array(ids[0..<maxTokens]))
    }

    /// The sentence's domain-specific pieces (as words, `▁` removed), in order of first
    /// appearance, and the number of distinct pieces of the sentence.
    public func keywords(in sentence: Substring) -> (keywords: [String], distinctPieces: Int) {
        guard let domain else { return ([], 0) }
        let pieces = domain.pieces(String(sentence))
        var seen = Set<String>(), found: [String] = []
        for p in pieces where seen.insert(p).inserted {
            if specificPieces.contains(p) { found.append(String(p.dropFirst())) }
        }
        return (found, seen.count)
    }
}

/// Sentences as AdaptLLM gets them from pysbd (`Segmenter(language="en", clean=False)`): every
/// newline ends a sentence; inside a line, pysbd's rules as ``PysbdLines`` reproduces them; each sentence starts at
/// a non-space character and keeps all the whitespace after it (newlines included), whitespace
/// before the first sentence is dropped, and lines of only whitespace give no sentence.
public struct AdaptLLMSentences: Sendable {
    public let splitter: SentenceSplitter

    public init(splitter: SentenceSplitter = SentenceSplitter()) { self.splitter = splitter }

    public func split(_ text: String) -> [Substring] {
        var t = text
        let spans: [Range<Int>] = t.withUTF8 { b in
            // Content ranges: per line, the splitter's sentences without surrounding whitespace.
            var content: [Range<Int>] = []
            var lineStart = 0
            let n = b.count
            let lines = PysbdLines(text: b)
            while lineStart < n {
                var lineEnd = lineStart
                while lineEnd < n && b[lineEnd] != 0x0A { lineEnd += 1 }
                if lineEnd > lineStart {
                    for r in lines.sentences(b, lineStart..<lineEnd) {
                        var lo = r.lowerBound, hi = r.upperBound
                        while lo < hi, let w = spaceWidth(b, lo) { lo += w }
                        while hi > lo, let w = spaceWidthBefore(b, hi) { hi -= w }
                        if lo < hi { content.append(lo..<hi) }
                    }
                }
                lineStart = lineEnd + 1
            }
            // Each sentence runs to the next one's start; the last one takes the trailing whitespace.
            var out: [Range<Int>] = []
            for (i, c) in content.enumerated() {
                if i + 1 < content.count { out.append(c.lowerBound..<content[i + 1].lowerBound) } else {
                    var hi = c.upperBound
                    while hi < n, let w = spaceWidth(b, hi) { hi += w }
                    out.append(c.lowerBound..<hi)
                }
            }
            return out
        }
        let u = text.utf8
        return spans.map { r in text[u.index(u.startIndex, offsetBy: r.lowerBound)..<u.index(u.startIndex, offsetBy: r.upperBound)] }
    }
}

/// Width of the whitespace character (Python's `str.isspace`) starting at `i`, or nil.
private func spaceWidth(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
    let c = b[i]
    if c < 0x80 { return isPythonSpace(UInt32(c)) ? 1 : nil }
    var k = i + 1
    while k < b.count && b[k] & 0xC0 == 0x80 { k += 1 }
    let s = String(decoding: UnsafeBufferPointer(rebasing: b[i..<k]), as: UTF8.self).unicodeScalars
    guard let v = s.first?.value, s.count == 1 else { return nil }
    return isPythonSpace(v) ? k - i : nil
}

/// Width of the whitespace character ending at `end`, or nil.
private func spaceWidthBefore(_ b: UnsafeBufferPointer<UInt8>, _ end: Int) -> Int? {
    var i = end - 1
    while i > 0 && b[i] & 0xC0 == 0x80 { i -= 1 }
    guard let w = spaceWidth(b, i), i + w == end else { return nil }
    return w
}
