import Foundation

/// A SentencePiece model file as a tokenizer, encoding as the `sentencepiece` library does:
/// the model's normaliser (``SentencePieceNormalizer``), then
/// - **unigram** models: the Viterbi segmentation over the pieces' scores (`unigram_model.cc`,
///   `EncodeOptimized`: a character no piece covers becomes the unknown piece, scored
///   min score - 10, and runs of unknown characters merge into one);
/// - **BPE** models (LLaMA-2's `tokenizer.model`): ``BPETokenizer`` in SentencePiece mode, merges
///   ranked by the merged piece's score, byte fallback as the model says.
///
/// `decode` is SentencePiece's: pieces joined, `▁` read as a space, `<0xNN>` pieces as bytes,
/// the dummy-prefix space of the first piece dropped, control pieces skipped.
public struct SentencePieceTokenizer: Tokenizer {
    public let model: SentencePieceModel
    public let normalizer: SentencePieceNormalizer
    private let bpe: BPETokenizer?
    private let unigram: UnigramLattice?
    private let bosId: Int32?

    public var kind: TokenizerKind { bpe != nil ? .sentencePieceBPE : .sentencePieceUnigram }
    public var vocabularySize: Int { model.pieces.count }

    /// - Parameter matchControlTokens: match the control pieces (`<s>`, `</s>`, `<unk>`) verbatim
    ///   in the text, as Hugging Face tokenizers do (and Lectern's other loaders); the
    ///   `sentencepiece` library itself does not (AdaptLLM's compatibility mode passes false).
    public init(model: SentencePieceModel, path: String = "<model>", matchControlTokens: Bool = true) throws {
        self.model = model
        normalizer = try SentencePieceNormalizer(spec: model.normalizer, path: path)
        let pieces = model.pieces
        bosId = pieces.firstIndex { $0.type == 3 && $0.text == "<s>" }.map { Int32($0) }
        switch model.modelType {
        case .bpe:
            let types = pieces.map(\.type)
            let added = pieces.indices.filter { types[$0] == 4 || (matchControlTokens && (types[$0] == 2 || types[$0] == 3)) }
                .map { AddedToken(content: pieces[$0].text, id: Int32($0), special: types[$0] == 3) }
            let merges = GGUFTokenizer.mergesFromScores(tokens: pieces.map(\.text), scores: pieces.map { Double($0.score) }, types: types)
            let unk = pieces.first { $0.type == 2 }?.text
            bpe = try BPETokenizer(mode: .sentencePiece(prepend: model.normalizer.addDummyPrefix ? .metaspaceFirst : .never, splitWords: false),
                                   vocabulary: pieces.map(\.text), merges: merges, addedTokens: added, unkToken: unk,
                                   byteFallback: model.byteFallback, fuseUnk: true, prefixIds: bosId.map { [$0] } ?? [])
            unigram = nil
        case .unigram:
            bpe = nil
            unigram = try UnigramLattice(pieces: pieces, path: path)
        case .word, .character:
            throw SentencePieceError(path: path, reason: "model type \(model.modelType) is not supported (unigram and BPE are)")
        }
    }

    /// Loads a `.model` / `.spm` file.
    public init(path: String, matchControlTokens: Bool = true) throws {
        try self.init(model: try SentencePieceModel(contentsOf: URL(fileURLWithPath: path)), path: path,
                      matchControlTokens: matchControlTokens)
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        if let bpe { return bpe.encode(bpeInput(text), addSpecialTokens: addSpecialTokens) }
        let ids = unigramIds(text)
        return addSpecialTokens ? (bosId.map { [$0] } ?? []) + ids : ids
    }

    public func count(_ text: String) -> Int {
        if let bpe { return bpe.count(bpeInput(text)) }
        return unigramIds(text).count
    }

    public func token(for id: Int32) -> String? {
        id >= 0 && Int(id) < model.pieces.count ? model.pieces[Int(id)].text : nil
    }

    /// The pieces of `text` (the library's `encode(text, out_type=str)`): unknown characters
    /// appear as themselves.
    public func pieces(_ text: String) -> [String] {
        if let bpe { return bpe.encode(bpeInput(text), addSpecialTokens: false).map { model.pieces[Int($0)].text } }
        guard let unigram else { return [] }
        let normalized = normalizer.normalize(text)
        var n = normalized
        return n.withUTF8 { buf in
            unigram.segment(buf).map { seg in
                seg.id == unigram.unkId ? String(decoding: UnsafeBufferPointer(rebasing: buf[seg.range]), as: UTF8.self)
                                        : model.pieces[Int(seg.id)].text
            }
        }
    }

    /// The text of `ids`, as the library's `decode` gives it.
    public func decode(_ ids: [Int32]) -> String {
        var out: [UInt8] = []
        var first = true
        for id in ids {
            guard id >= 0, Int(id) < model.pieces.count else { continue }
            let p = model.pieces[Int(id)]
            if p.type == 3 { continue }  // control
            if p.type == 6, let b = bytePiece(p.text) { out.append(b); first = false; continue }
            var bytes = Array(p.text.utf8)
            if p.type == 2 { bytes = Array(" \u{2047} ".utf8) }  // SentencePiece's default unk surface
            // "▁" -> " "; the dummy prefix of the first piece is dropped.
            var k = 0
            var piece: [UInt8] = []
            while k < bytes.count {
                if k + 2 < bytes.count, bytes[k] == 0xE2, bytes[k + 1] == 0x96, bytes[k + 2] == 0x81 { piece.append(0x20); k += 3 } else { piece.append(bytes[k]); k += 1 }
            }
            if first, model.normalizer.addDummyPrefix, piece.first == 0x20 { piece.removeFirst() }
            first = false
            out += piece
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func bytePiece(_ s: String) -> UInt8? {
        guard s.count == 6, s.hasPrefix("<0x"), s.hasSuffix(">") else { return nil }
        return UInt8(s.dropFirst(3).prefix(2), radix: 16)
    }

    private func bpeInput(_ text: String) -> String {
        // SentencePiece always adds the dummy prefix; the BPE core's Metaspace (as Hugging Face's)
        // skips it when the text already starts with a space, so give it one more there.
        if normalizer.isIdentity { return model.normalizer.addDummyPrefix && text.utf8.first == 0x20 ? " " + text : text }
        // The BPE core escapes spaces and prepends the dummy prefix itself.
        var spec = normalizer.spec
        spec.addDummyPrefix = false
        spec.escapeWhitespaces = false
        guard let plain = try? SentencePieceNormalizer(spec: spec) else { return text }
        let normalized = plain.normalize(text)
        return model.normalizer.addDummyPrefix && normalized.utf8.first == 0x20 ? " " + normalized : normalized
    }

    private func unigramIds(_ text: String) -> [Int32] {
        guard let unigram else { return [] }
        var n = normalizer.normalize(text)
        return n.withUTF8 { unigram.segment($0).map(\.id) }
    }
}

/// The unigram model's pieces in a byte trie, and its Viterbi segmentation.
struct UnigramLattice: Sendable {
    struct Segment { var range: Range<Int>; var id: Int32 }
    /// Trie edges: (node << 8 | byte) -> child node.
    private let edges: [Int: Int32]
    /// Piece id ending at each node (-1: none).
    private let nodeValue: [Int32]
    private let scores: [Float]
    private let userDefined: [Bool]
    let unkId: Int32
    private let unkScore: Float
    private let maxScore: Float

    init(pieces: [SentencePieceModel.Piece], path: String) throws {
        var edges: [Int: Int32] = [:]
        var nodeValue: [Int32] = [-1]
        var minScore = Float.greatestFiniteMagnitude, maxScore = -Float.greatestFiniteMagnitude
        var unk: Int32?
        for (i, p) in pieces.enumerated() {
            switch p.type {
            case 2: if unk == nil { unk = Int32(i) }
            case 1, 4:
                if p.type == 1 { minScore = min(minScore, p.score); maxScore = max(maxScore, p.score) }
                var node = 0
                for b in p.text.utf8 {
                    let key = node << 8 | Int(b)
                    if let c = edges[key] { node = Int(c) } else {
                        nodeValue.append(-1)
                        edges[key] = Int32(nodeValue.count - 1)
                        node = nodeValue.count - 1
                    }
                }
                if node != 0 && nodeValue[node] < 0 { nodeValue[node] = Int32(i) }
            default: break  // control, unused and byte pieces are never matched in text
            }
        }
        guard let unk else { throw SentencePieceError(path: path, reason: "unigram model without an unknown piece") }
        self.edges = edges; self.nodeValue = nodeValue; unkId = unk
        scores = pieces.map(\.score); userDefined = pieces.map { $0.type == 4 }
        unkScore = (minScore == .greatestFiniteMagnitude ? 0 : minScore) - 10
        self.maxScore = maxScore == -Float.greatestFiniteMagnitude ? 0 : maxScore
    }

    /// The best segmentation of normalised UTF-8; consecutive unknown characters merge.
    func segment(_ s: UnsafeBufferPointer<UInt8>) -> [Segment] {
        let n = s.count
        guard n > 0 else { return [] }
        var bestScore = [Float](repeating: 0, count: n + 1)
        var startsAt = [Int](repeating: -1, count: n + 1)
        var bestId = [Int32](repeating: -1, count: n + 1)
        var start = 0
        while start < n {
            let here = bestScore[start]
            let mblen = min(max(1, utf8Length(s[start])), n - start)
            var hasSingle = false
            var node = 0, k = start
            while k < n {
                guard let c = edges[node << 8 | Int(s[k])] else { break }
                node = Int(c); k += 1
                let id = nodeValue[node]
                if id >= 0 {
                    let length = k - start
                    let score = userDefined[Int(id)] ? Float(length) * maxScore - 0.1 : scores[Int(id)]
                    let candidate = score + here
                    if startsAt[k] == -1 || candidate > bestScore[k] { bestScore[k] = candidate; startsAt[k] = start; bestId[k] = id }
                    if length == mblen { hasSingle = true }
                }
            }
            if !hasSingle {
                let e = start + mblen, candidate = unkScore + here
                if startsAt[e] == -1 || candidate > bestScore[e] { bestScore[e] = candidate; startsAt[e] = start; bestId[e] = unkId }
            }
            start += mblen
        }
        var out: [Segment] = []
        var end = n
        while end > 0 {
            let b = startsAt[end]
            guard b >= 0 else { break }
            out.append(Segment(range: b..<end, id: bestId[end]))
            end = b
        }
        out.reverse()
        // Merge runs of unknown pieces, as the library does.
        var merged: [Segment] = []
        merged.reserveCapacity(out.count)
        for seg in out {
            if seg.id == unkId, let last = merged.last, last.id == unkId {
                merged[merged.count - 1].range = last.range.lowerBound..<seg.range.upperBound
            } else { merged.append(seg) }
        }
        return merged
    }
}
