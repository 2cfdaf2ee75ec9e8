import Foundation

/// BERT's WordPiece tokenizer, exactly as Hugging Face `tokenizers` runs it: `BertNormalizer`
/// (clean text, CJK isolation, NFD accent stripping, lower-casing), `BertPreTokenizer`
/// (whitespace and punctuation splitting), greedy longest-match-first `WordPiece` with `##`
/// continuations, `[UNK]` for unsplittable or over-long words, `[CLS] ... [SEP]` template.
///
/// ASCII text takes a byte-level fast path; only words with non-ASCII characters pay for
/// Unicode normalization.
///
/// ```swift
/// let tok = try WordPieceTokenizer(vocabFile: "\(dir)/vocab.txt")
/// let ids = tok.encode("Hello, world!", maxLength: 256)   // [101, 7592, 1010, 2088, 999, 102]
/// ```
public struct WordPieceTokenizer: Tokenizer {
    /// Normalizer switches, as in `BertNormalizer`.
    public struct Options: Sendable, Hashable, Codable {
        public var cleanText = true
        public var handleChineseChars = true
        /// nil: follow `lowercase` (Hugging Face's default).
        public var stripAccents: Bool? = nil
        public var lowercase = true
        public var maxInputCharsPerWord = 100
        public var continuingSubwordPrefix = "##"
        public init() {}
    }

    public let options: Options
    public var kind: TokenizerKind { .wordpiece }
    public var vocabularySize: Int { vocab.count }
    /// `[CLS]`, `[SEP]`, `[UNK]` ids (`clsId`/`sepId` are -1 when the vocabulary lacks them).
    public let clsId: Int32, sepId: Int32, unkId: Int32

    private let vocab: [String]
    private let words: ByteTable        // word-initial pieces
    private let continuations: ByteTable  // pieces after "##", keyed without the prefix
    private let added: AddedTokenMatcher
    private let stripAccents: Bool
    // ASCII byte classes: 0 keep, 1 drop (control), 2 whitespace, 3 punctuation.
    private let asciiClass: [UInt8]

    /// Builds a tokenizer from vocabulary strings in id order (the lines of `vocab.txt`).
    public init(vocabulary: [String], options: Options = Options(), addedTokens: [AddedToken]? = nil,
                unkToken: String = "[UNK]", clsToken: String = "[CLS]", sepToken: String = "[SEP]") throws {
        self.options = options
        self.vocab = vocabulary
        var w = ByteTable(capacity: vocabulary.count)
        var c = ByteTable(capacity: vocabulary.count)
        var index: [String: Int32] = [:]
        let prefix = Array(options.continuingSubwordPrefix.utf8)
        for (i, t) in vocabulary.enumerated() {
            let id = Int32(i)
            if index[t] == nil { index[t] = id }
            let b = Array(t.utf8)
            if !prefix.isEmpty, b.count > prefix.count, Array(b[0..<prefix.count]) == prefix {
                c.insert(b[prefix.count...], id)
            }
            w.insert(b, id)
        }
        words = w
        continuations = c
        guard let unk = index[unkToken] else { throw TokenizerError("vocabulary", "unknown token \(unkToken) is not in the vocabulary") }
        unkId = unk
        clsId = index[clsToken] ?? -1
        sepId = index[sepToken] ?? -1
        let specials = addedTokens ?? ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { s in
            index[s].map { AddedToken(content: s, id: $0) }
        }
        added = AddedTokenMatcher(specials)
        stripAccents = options.stripAccents ?? options.lowercase
        var cls = [UInt8](repeating: 0, count: 128)
        for b in 0..<128 {
            let ch = UInt8(b)
            if ch == 9 || ch == 10 || ch == 13 || ch == 32 { cls[b] = 2 }
            else if ch < 32 || ch == 127 { cls[b] = options.cleanText ? 1 : (ch >= 11 && ch <= 12 ? 2 : 0) }
            else if (33...47).contains(ch) || (58...64).contains(ch) || (91...96).contains(ch) || (123...126).contains(ch) { cls[b] = 3 }
        }
        if !options.cleanText { cls[0] = 0 }
        asciiClass = cls
    }

    /// Loads a BERT `vocab.txt` (one token per line, line number = id).
    public init(vocabFile path: String, options: Options = Options()) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError(path, "cannot read the vocabulary file (run scripts/setup.d/10-models.sh for MiniLM's)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw TokenizerError(path, "not UTF-8 text") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw TokenizerError(path, "empty vocabulary") }
        do { try self.init(vocabulary: lines, options: options) } catch let e as TokenizerError {
            throw TokenizerError(path, e.message)
        }
    }

    /// Ids of `text` with `[CLS]` and `[SEP]`, truncated so that the whole sequence (specials
    /// included) has at most `maxLength` ids, like `tokenizer(text, truncation=True, max_length=...)`.
    public func encode(_ text: String, maxLength: Int?) -> [Int32] {
        var sink = IdSink()
        let cls = clsId >= 0 ? 1 : 0, sep = sepId >= 0 ? 1 : 0
        if cls == 1 { sink.emit(clsId) }
        run(text, &sink)
        if let m = maxLength, sink.ids.count + sep > m {
            sink.ids.removeSubrange(max(cls, m - sep)...)
        }
        if sep == 1 { sink.ids.append(sepId) }
        return sink.ids
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        if addSpecialTokens { return encode(text, maxLength: nil) }
        var sink = IdSink()
        run(text, &sink)
        return sink.ids
    }

    public func count(_ text: String) -> Int {
        var sink = CountSink()
        run(text, &sink)
        return sink.n
    }

    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < vocab.count ? vocab[Int(id)] : nil
    }

    // MARK: - Pipeline

    private func run<S: TokenSink>(_ text: String, _ sink: inout S) {
        var text = text
        text.withUTF8 { p in
            var state = WordState()
            added.split(p, segment: { start, end in
                normalizeAndSplit(p, start, end, &state, &sink)
            }, token: { id in sink.emit(id) })
        }
    }

    /// Scratch buffers reused across the words of one call.
    private struct WordState {
        var word: [UInt8] = []
        var nonASCII = false
        var pieces: [Int32] = []
        var sub: [UInt8] = []
        init() { word.reserveCapacity(64); pieces.reserveCapacity(16); sub.reserveCapacity(64) }
    }

    @inline(__always)
    private func normalizeAndSplit<S: TokenSink>(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                                 _ st: inout WordState, _ sink: inout S) {
        let lower = options.lowercase
        asciiClass.withUnsafeBufferPointer { cls in
            var i = start
            while i < end {
                let b = p[i]
                if b < 0x80 {
                    switch cls[Int(b)] {
                    case 0:
                        st.word.append(lower && b >= 65 && b <= 90 ? b | 0x20 : b)
                    case 2:
                        flush(&st, &sink)
                    case 3:
                        flush(&st, &sink)
                        st.word.append(b)
                        flush(&st, &sink)
                    default: break
                    }
                    i += 1
                    continue
                }
                let (s, w) = decodeScalar(p, i)
                i += w
                if options.cleanText && (s.value == 0xFFFD || s.isOtherCategory) { continue }
                if s.isWhiteSpaceProperty { flush(&st, &sink); continue }
                if options.handleChineseChars && s.isCJKIdeograph {
                    flush(&st, &sink)
                    appendUTF8(s, to: &st.word); st.nonASCII = true
                    flush(&st, &sink)
                    continue
                }
                appendUTF8(s, to: &st.word)
                st.nonASCII = true
            }
            flush(&st, &sink)
        }
    }

    @inline(__always)
    private func flush<S: TokenSink>(_ st: inout WordState, _ sink: inout S) {
        if st.word.isEmpty { return }
        if st.nonASCII {
            slowWord(&st, &sink)
        } else {
            st.word.withUnsafeBufferPointer { wordPiece($0, &st.pieces, &sink) }
        }
        st.word.removeAll(keepingCapacity: true)
        st.nonASCII = false
    }

    /// A word with non-ASCII characters: NFD + drop Mn (accent stripping), lower-case, then split
    /// off Unicode punctuation, in `BertNormalizer` / `BertPreTokenizer` order.
    private func slowWord<S: TokenSink>(_ st: inout WordState, _ sink: inout S) {
        var s = String(decoding: st.word, as: UTF8.self)
        if stripAccents { s = s.decomposedStringWithCanonicalMapping }
        st.sub.removeAll(keepingCapacity: true)
        func emitSub() {
            if st.sub.isEmpty { return }
            st.sub.withUnsafeBufferPointer { wordPiece($0, &st.pieces, &sink) }
            st.sub.removeAll(keepingCapacity: true)
        }
        for scalar in s.unicodeScalars {
            if stripAccents && scalar.isBertNonspacingMark { continue }
            let mapped: [Unicode.Scalar] = options.lowercase && scalar.properties.changesWhenLowercased
                ? Array(scalar.properties.lowercaseMapping.unicodeScalars) : [scalar]
            for c in mapped {
                if c.isWhiteSpaceProperty {
                    emitSub()
                } else if (c.isASCII && asciiClass[Int(c.value)] == 3) || c.isPunctuationCategory {
                    emitSub()
                    appendUTF8(c, to: &st.sub)
                    emitSub()
                } else {
                    appendUTF8(c, to: &st.sub)
                }
            }
        }
        emitSub()
    }

    /// Greedy longest-match-first WordPiece of one pre-token (UTF-8 bytes).
    @inline(__always)
    private func wordPiece<S: TokenSink>(_ w: UnsafeBufferPointer<UInt8>, _ pieces: inout [Int32], _ sink: inout S) {
        let n = w.count
        let base = w.baseAddress!
        // Character count, for the 100-character limit (counted in Unicode scalars, as Rust's chars()).
        var chars = 0
        for k in 0..<n where w[k] & 0xC0 != 0x80 { chars += 1 }
        if chars > options.maxInputCharsPerWord { sink.emit(unkId); return }
        // Whole word first: the common case.
        if let id = words.lookup(base, n) { sink.emit(id); return }
        pieces.removeAll(keepingCapacity: true)
        var start = 0
        while start < n {
            var end = n
            var found: Int32? = nil
            while end > start {
                if end == n || w[end] & 0xC0 != 0x80 {
                    let table = start == 0 ? words : continuations
                    if let id = table.lookup(base + start, end - start) { found = id; break }
                }
                end -= 1
            }
            guard let id = found else { sink.emit(unkId); return }
            pieces.append(id)
            start = end
        }
        for id in pieces { sink.emit(id) }
    }
}
