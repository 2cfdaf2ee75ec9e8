import Foundation

/// A SentencePiece model file (`tokenizer.model`, `.spm`: a serialised `ModelProto`).
///
/// Read: the pieces (text, score, type), the trainer's model type and byte fallback, and the
/// normaliser (its name, precompiled character map and whitespace rules): what encoding needs
/// (``SentencePieceTokenizer``) and what AdaptLLM's keyword rule needs. Every other field is
/// skipped by wire type, so newer files still load.
public struct SentencePieceModel: Sendable {
    /// `TrainerSpec.ModelType`.
    public enum ModelType: Int, Sendable {
        case unigram = 1, bpe = 2, word = 3, character = 4
    }

    /// `NormalizerSpec`: how text is normalised before it is split into pieces.
    public struct Normalizer: Sendable {
        /// `nmt_nfkc`, `identity`, ... (informative; the character map is what applies).
        public var name = ""
        /// Darts-clone trie + normalised strings (empty: no character mapping).
        public var precompiledCharsmap: [UInt8] = []
        public var addDummyPrefix = true
        public var removeExtraWhitespaces = true
        public var escapeWhitespaces = true
    }

    /// One vocabulary entry.
    public struct Piece: Sendable, Hashable {
        public var text: String
        public var score: Float
        /// 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte (sentencepiece_model.proto).
        public var type: Int
    }

    /// The pieces, in id order.
    public let pieces: [Piece]
    /// The trainer's model type (unigram when the file does not say, as SentencePiece assumes).
    public private(set) var modelType: ModelType = .unigram
    /// Whether characters outside the vocabulary become `<0xNN>` byte pieces.
    public private(set) var byteFallback = false
    /// The normaliser spec.
    public private(set) var normalizer = Normalizer()

    /// Reads the model at `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SentencePieceError(path: url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        try self.init(data: data, path: url.path)
    }

    /// Parses a serialised ModelProto; `path` only names the input in errors.
    public init(data: Data, path: String = "<data>") throws {
        // Ids are Int32 everywhere (as in SentencePiece); a file under 2 GiB cannot hold more pieces.
        guard data.count < Int(Int32.max) else {
            throw SentencePieceError(path: path, reason: "\(data.count) bytes: larger than any SentencePiece model (2 GiB at most)")
        }
        var pieces: [Piece] = []
        var modelType = ModelType.unigram, byteFallback = false, normalizer = Normalizer()
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var r = ProtoReader(bytes: raw.bindMemory(to: UInt8.self), path: path)
            while !r.atEnd {
                let (field, wire) = try r.key()
                if field == 1 && wire == 2 {
                    var sub = try r.submessage()
                    var piece = Piece(text: "", score: 0, type: 1)
                    while !sub.atEnd {
                        let (f, w) = try sub.key()
                        switch (f, w) {
                        case (1, 2): piece.text = try sub.string()
                        case (2, 5): piece.score = Float(bitPattern: try sub.fixed32())
                        case (3, 0): piece.type = Int(try sub.varint())
                        default: try sub.skip(wire: w)
                        }
                    }
                    pieces.append(piece)
                } else if field == 2 && wire == 2 {  // TrainerSpec
                    var sub = try r.submessage()
                    while !sub.atEnd {
                        let (f, w) = try sub.key()
                        switch (f, w) {
                        case (3, 0):
                            let v = try sub.varint()
                            guard let t = ModelType(rawValue: Int(truncatingIfNeeded: v)) else {
                                throw SentencePieceError(path: path, reason: "unknown model type \(v)")
                            }
                            modelType = t
                        case (35, 0): byteFallback = try sub.varint() != 0
                        default: try sub.skip(wire: w)
                        }
                    }
                } else if field == 3 && wire == 2 {  // NormalizerSpec
                    var sub = try r.submessage()
                    while !sub.atEnd {
                        let (f, w) = try sub.key()
                        switch (f, w) {
                        case (1, 2): normalizer.name = try sub.string()
                        case (2, 2): normalizer.precompiledCharsmap = try sub.rawBytes()
                        case (3, 0): normalizer.addDummyPrefix = try sub.varint() != 0
                        case (4, 0): normalizer.removeExtraWhitespaces = try sub.varint() != 0
                        case (5, 0): normalizer.escapeWhitespaces = try sub.varint() != 0
                        default: try sub.skip(wire: w)
                        }
                    }
                } else {
                    try r.skip(wire: wire)
                }
            }
        }
        guard !pieces.isEmpty else { throw SentencePieceError(path: path, reason: "no pieces found: not a SentencePiece model") }
        self.pieces = pieces
        self.modelType = modelType
        self.byteFallback = byteFallback
        self.normalizer = normalizer
    }

    /// Whether `path` names a SentencePiece model by its extension (`.model`, `.spm`).
    public static func isModelPath(_ path: String) -> Bool {
        let p = path.lowercased()
        return p.hasSuffix(".model") || p.hasSuffix(".spm")
    }

    /// The whole-word pieces (those starting with the word-boundary mark `▁`), without the mark.
    public var wordPieces: Set<String> {
        Set(pieces.lazy.filter { $0.text.hasPrefix("\u{2581}") }.map { String($0.text.dropFirst()) })
    }
}

/// A SentencePiece model file that could not be read.
public struct SentencePieceError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "SentencePiece model \(path): \(reason)" }
}

/// Minimal protobuf wire-format reader over a byte buffer.
private struct ProtoReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let path: String
    var pos: Int
    let end: Int

    init(bytes: UnsafeBufferPointer<UInt8>, path: String, pos: Int = 0, end: Int? = nil) {
        self.bytes = bytes; self.path = path; self.pos = pos; self.end = end ?? bytes.count
    }

    var atEnd: Bool { pos >= end }

    func bad(_ why: String) -> SentencePieceError {
        SentencePieceError(path: path, reason: "malformed protobuf at byte \(pos): \(why)")
    }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard pos < end else { throw bad("truncated varint") }
            let b = bytes[pos]; pos += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift > 63 { throw bad("varint too long") }
        }
    }

    mutating func key() throws -> (Int, Int) {
        let k = try varint()
        return (Int(k >> 3), Int(k & 7))
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - pos >= 4 else { throw bad("truncated fixed32") }
        let v = UInt32(bytes[pos]) | UInt32(bytes[pos + 1]) << 8 | UInt32(bytes[pos + 2]) << 16 | UInt32(bytes[pos + 3]) << 24
        pos += 4
        return v
    }

    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - pos) else { throw bad("length \(n) runs past the end") }
        let r = pos..<(pos + Int(n))
        pos += Int(n)
        return r
    }

    mutating func submessage() throws -> ProtoReader {
        let r = try lengthDelimited()
        return ProtoReader(bytes: bytes, path: path, pos: r.lowerBound, end: r.upperBound)
    }

    mutating func rawBytes() throws -> [UInt8] {
        let r = try lengthDelimited()
        return Array(bytes[r])
    }

    mutating func string() throws -> String {
        let r = try lengthDelimited()
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    mutating func skip(wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: guard end - pos >= 8 else { throw bad("truncated fixed64") }; pos += 8
        case 2: _ = try lengthDelimited()
        case 5: guard end - pos >= 4 else { throw bad("truncated fixed32") }; pos += 4
        default: throw bad("unsupported wire type \(wire)")
        }
    }
}
