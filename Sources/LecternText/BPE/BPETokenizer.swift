import Foundation

/// Byte-pair-encoding tokenizers as Hugging Face `tokenizers` runs them:
///
/// - **byte-level BPE** (GPT-2, LLaMA-3, SmolLM2): the input is split by the model's regex
///   (``SplitPattern``, optionally with every digit isolated first), each piece's UTF-8 bytes are
///   the initial symbols, merges apply by rank;
/// - **SentencePiece-style BPE** (LLaMA-2, Mistral): spaces become `▁` (and one is prepended),
///   characters are the initial symbols, characters missing from the vocabulary fall back to
///   their `<0xNN>` byte tokens.
///
/// Added tokens (`<|im_start|>`, `<s>`, ...) are matched verbatim in the raw text first.
/// Build one with ``TokenizerLoader``.
public struct BPETokenizer: Tokenizer {
    /// How text becomes initial symbols.
    public enum Mode: Sendable, Hashable {
        /// Regex pre-tokenizer, then bytes.
        case byteLevel(SplitPattern, individualDigits: Bool)
        /// Spaces become `▁`, characters are the symbols, unknown characters fall back to bytes.
        /// `splitWords`: Metaspace `split: true` (each `▁word` is its own BPE word).
        case sentencePiece(prepend: SentencePiecePrepend, splitWords: Bool)
        /// The whole text (or whitespace-split words) as characters, no byte mapping.
        case characters(splitOnWhitespace: Bool)
    }

    public let mode: Mode
    public var kind: TokenizerKind {
        switch mode {
        case .byteLevel: return .byteLevelBPE
        case .sentencePiece: return .sentencePieceBPE
        case .characters: return .bpe
        }
    }
    public var vocabularySize: Int { strings.count }

    private let strings: [String]      // id -> token as spelled in the vocabulary
    private let vocab: ByteTable       // raw bytes (byte-level decoded) -> id
    private let merges: PairTable
    private let added: AddedTokenMatcher
    private let byteTokens: [Int32]    // <0xNN> ids, or empty when there is no byte fallback
    private let unkId: Int32?
    private let fuseUnk: Bool
    private let ignoreMerges: Bool
    private let prefixIds: [Int32], suffixIds: [Int32]

    /// - Parameters:
    ///   - vocabulary: token strings by id (holes allowed as empty strings).
    ///   - merges: pairs of token strings, by rank.
    ///   - prefixIds/suffixIds: what `encode(_:addSpecialTokens: true)` puts around the ids (e.g. BOS).
    public init(mode: Mode, vocabulary: [String], merges mergeList: [(String, String)], addedTokens: [AddedToken],
                unkToken: String? = nil, byteFallback: Bool = false, fuseUnk: Bool = false,
                ignoreMerges: Bool = false, prefixIds: [Int32] = [], suffixIds: [Int32] = []) throws {
        self.mode = mode
        var strings = vocabulary
        for a in addedTokens where Int(a.id) >= strings.count || a.id < 0 {
            if a.id < 0 { throw TokenizerError("added token \(a.content)", "negative id \(a.id)") }
            strings += [String](repeating: "", count: Int(a.id) + 1 - strings.count)
        }
        for a in addedTokens where strings[Int(a.id)].isEmpty { strings[Int(a.id)] = a.content }
        self.strings = strings
        var byString: [String: Int32] = [:]
        byString.reserveCapacity(vocabulary.count)
        var table = ByteTable(capacity: vocabulary.count)
        let isByteLevel: Bool
        if case .byteLevel = mode { isByteLevel = true } else { isByteLevel = false }
        for (i, t) in vocabulary.enumerated() where !t.isEmpty {
            if byString[t] == nil { byString[t] = Int32(i) }
            if isByteLevel {
                if let b = ByteLevel.decode(t) { table.insert(b, Int32(i)) }
            } else {
                table.insert(Array(t.utf8), Int32(i))
            }
        }
        vocab = table
        var pairs = PairTable(capacity: mergeList.count)
        for (rank, m) in mergeList.enumerated() {
            guard let l = byString[m.0], let r = byString[m.1] else {
                throw TokenizerError("merges", "merge \(rank) '\(m.0) \(m.1)' names a token missing from the vocabulary")
            }
            guard let merged = byString[m.0 + m.1] else {
                throw TokenizerError("merges", "merge \(rank) '\(m.0) \(m.1)' makes '\(m.0 + m.1)', which is not in the vocabulary")
            }
            pairs.insert(left: l, right: r, rank: Int32(rank), merged: merged)
        }
        self.merges = pairs
        added = AddedTokenMatcher(addedTokens)
        if byteFallback {
            var bytes: [Int32] = []
            for b in 0..<256 {
                guard let id = byString[String(format: "<0x%02X>", b)] else { bytes = []; break }
                bytes.append(id)
            }
            byteTokens = bytes
        } else {
            byteTokens = []
        }
        if let u = unkToken {
            guard let id = byString[u] else { throw TokenizerError("vocabulary", "unknown token \(u) is not in the vocabulary") }
            unkId = id
        } else {
            unkId = nil
        }
        self.fuseUnk = fuseUnk
        self.ignoreMerges = ignoreMerges
        self.prefixIds = prefixIds
        self.suffixIds = suffixIds
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var sink = IdSink()
        sink.ids.reserveCapacity(text.utf8.count / 3)
        if addSpecialTokens { sink.ids += prefixIds }
        run(text, &sink)
        if addSpecialTokens { sink.ids += suffixIds }
        return sink.ids
    }

    public func count(_ text: String) -> Int {
        var sink = CountSink()
        run(text, &sink)
        return sink.n
    }

    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < strings.count ? strings[Int(id)] : nil
    }

    // MARK: - Pipeline

    private func run<S: TokenSink>(_ text: String, _ sink: inout S) {
        var text = text
        var work = BPEWork()
        text.withUTF8 { p in
            switch mode {
            case .byteLevel(let pattern, let digits):
                let splitter = Splitter(pattern: pattern, individualDigits: digits)
                added.split(p, segment: { s, e in
                    splitter.split(p, s, e) { a, b in bpe(p, a, b, bytes: true, &work, &sink) }
                }, token: { sink.emit($0) })
            case .sentencePiece(let prepend, let splitWords):
                added.split(p, segment: { s, e in
                    // `tokenizers` normalizes each stretch between added tokens on its own, so the
                    // prefix `▁` goes before every stretch (normalizer) or only at offset 0 (`first`).
                    work.text.removeAll(keepingCapacity: true)
                    switch prepend {
                    case .always: work.text += metaspace
                    case .metaspaceAlways: if p[s] != 32 { work.text += metaspace }
                    case .metaspaceFirst: if s == 0 && p[s] != 32 { work.text += metaspace }
                    case .never: break
                    }
                    for i in s..<e {
                        if p[i] == 32 { work.text += metaspace } else { work.text.append(p[i]) }
                    }
                    let t = work.text
                    t.withUnsafeBufferPointer { q in
                        if !splitWords { bpe(q, 0, q.count, bytes: false, &work, &sink); return }
                        var a = 0
                        for i in 0..<q.count where i > a && q[i] == 0xE2 && i + 2 < q.count && q[i + 1] == 0x96 && q[i + 2] == 0x81 {
                            bpe(q, a, i, bytes: false, &work, &sink); a = i
                        }
                        bpe(q, a, q.count, bytes: false, &work, &sink)
                    }
                }, token: { sink.emit($0) })
            case .characters(let splitWS):
                added.split(p, segment: { s, e in
                    if !splitWS { bpe(p, s, e, bytes: false, &work, &sink); return }
                    var a = s, i = s
                    while i < e {
                        let (c, w) = charClass(p, i)
                        if c == .space { if i > a { bpe(p, a, i, bytes: false, &work, &sink) }; a = i + w }
                        i += w
                    }
                    if a < e { bpe(p, a, e, bytes: false, &work, &sink) }
                }, token: { sink.emit($0) })
            }
        }
    }

    /// BPE of one pre-token `p[start..<end]`: initial symbols, then merges lowest rank first
    /// (leftmost among equals), exactly `tokenizers`' `Word::merge_all` order.
    @inline(__always)
    private func bpe<S: TokenSink>(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, bytes: Bool,
                                   _ work: inout BPEWork, _ sink: inout S) {
        if start >= end { return }
        let base = p.baseAddress!
        if ignoreMerges, let id = vocab.lookup(base + start, end - start) { sink.emit(id); return }
        work.ids.removeAll(keepingCapacity: true)
        if bytes {
            for i in start..<end {
                if let id = vocab.lookup(base + i, 1) { work.ids.append(id) }
                else if let u = unkId { work.ids.append(u) }
            }
        } else {
            initialCharacters(p, start, end, &work)
        }
        let n = work.ids.count
        if n >= 2 {
            if n <= 48 { mergeSmall(&work.ids) } else { mergeLarge(&work) }
        }
        for id in work.ids where id >= 0 { sink.emit(id) }
    }

    /// Characters as symbols; unknown ones become byte tokens, or (fused) `unk`.
    private func initialCharacters(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ work: inout BPEWork) {
        let base = p.baseAddress!
        var i = start
        var pendingUnk = false
        while i < end {
            let w = p[i] < 0x80 ? 1 : p[i] < 0xE0 ? 2 : p[i] < 0xF0 ? 3 : 4
            if let id = vocab.lookup(base + i, w) {
                if pendingUnk, let u = unkId { work.ids.append(u); pendingUnk = false }
                work.ids.append(id)
            } else if !byteTokens.isEmpty {
                for k in i..<(i + w) { work.ids.append(byteTokens[Int(p[k])]) }
            } else if let u = unkId {
                if pendingUnk && !fuseUnk { work.ids.append(u) }
                pendingUnk = true
            }
            i += w
        }
        if pendingUnk, let u = unkId { work.ids.append(u) }
    }

    /// O(n^2) scan for short words: cheaper than a heap when there are few symbols.
    @inline(__always)
    private func mergeSmall(_ ids: inout [Int32]) {
        ids.withUnsafeMutableBufferPointer { s in
            var n = s.count
            while n >= 2 {
                var best = UInt64.max, at = -1
                for k in 0..<(n - 1) {
                    if let v = merges.lookup(s[k], s[k + 1]), v < best { best = v; at = k }
                }
                if at < 0 { break }
                s[at] = Int32(bitPattern: UInt32(truncatingIfNeeded: best))
                var k = at + 1
                while k < n - 1 { s[k] = s[k + 1]; k += 1 }
                n -= 1
            }
            for k in n..<s.count { s[k] = -1 }
        }
    }

    /// Heap-driven merging for long words (SentencePiece-style text has no pre-tokenizer, so a
    /// whole paragraph is one word): O(n log n).
    private func mergeLarge(_ work: inout BPEWork) {
        let n = work.ids.count
        work.prev = Array(-1..<(n - 1))
        work.next = Array(1...n); work.next[n - 1] = -1
        work.heap.removeAll(keepingCapacity: true)
        for k in 0..<(n - 1) {
            if let v = merges.lookup(work.ids[k], work.ids[k + 1]) { heapPush(&work.heap, (v & 0xFFFF_FFFF_0000_0000) | UInt64(k)) }
        }
        while let top = heapPop(&work.heap) {
            let pos = Int(top & 0xFFFF_FFFF), rank = top >> 32
            let nx = work.next[pos]
            guard work.ids[pos] >= 0, nx >= 0,
                  let v = merges.lookup(work.ids[pos], work.ids[nx]), v >> 32 == rank else { continue }
            work.ids[pos] = Int32(bitPattern: UInt32(truncatingIfNeeded: v))
            work.ids[nx] = -1
            let nn = work.next[nx]
            work.next[pos] = nn
            if nn >= 0 { work.prev[nn] = pos }
            let pv = work.prev[pos]
            if pv >= 0, let m = merges.lookup(work.ids[pv], work.ids[pos]) { heapPush(&work.heap, (m & 0xFFFF_FFFF_0000_0000) | UInt64(pv)) }
            if nn >= 0, let m = merges.lookup(work.ids[pos], work.ids[nn]) { heapPush(&work.heap, (m & 0xFFFF_FFFF_0000_0000) | UInt64(pos)) }
        }
    }
}

/// Where SentencePiece-style tokenizers put the leading `▁`.
public enum SentencePiecePrepend: String, Sendable, Hashable, Codable {
    /// `Prepend("▁")` normalizer: before every stretch of text between added tokens.
    case always
    /// Metaspace `prepend_scheme: always`: the same, unless the stretch already starts with a space.
    case metaspaceAlways
    /// Metaspace `prepend_scheme: first`: only at the very start of the input.
    case metaspaceFirst
    case never
}

private let metaspace: [UInt8] = [0xE2, 0x96, 0x81]

/// Scratch buffers of one encode call.
struct BPEWork {
    var ids: [Int32] = []
    var prev: [Int] = [], next: [Int] = []
    var heap: [UInt64] = []
    var text: [UInt8] = []
}

@inline(__always)
private func heapPush(_ h: inout [UInt64], _ v: UInt64) {
    h.append(v)
    var i = h.count - 1
    while i > 0 {
        let parent = (i - 1) >> 1
        if h[parent] <= h[i] { break }
        h.swapAt(parent, i); i = parent
    }
}

@inline(__always)
private func heapPop(_ h: inout [UInt64]) -> UInt64? {
    guard let last = h.popLast() else { return nil }
    if h.isEmpty { return last }
    let top = h[0]
    h[0] = last
    var i = 0
    let n = h.count
    while true {
        let l = 2 * i + 1, r = l + 1
        var m = i
        if l < n && h[l] < h[m] { m = l }
        if r < n && h[r] < h[m] { m = r }
        if m == i { break }
        h.swapAt(i, m); i = m
    }
    return top
}
