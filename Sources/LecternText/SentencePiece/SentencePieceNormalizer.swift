/// SentencePiece's text normaliser, as `normalizer.cc` applies a model's `NormalizerSpec`:
/// longest-match replacement through the precompiled character map (a Darts-clone double-array
/// trie over UTF-8 followed by the NUL-terminated replacement strings; `nmt_nfkc` maps NFKC
/// compositions, control characters and unusual spaces), then the whitespace rules: leading
/// spaces dropped and runs collapsed and trailing ones dropped (`remove_extra_whitespaces`),
/// one space prepended (`add_dummy_prefix`), spaces written as `▁` (`escape_whitespaces`).
///
/// The character map is input like any file: offsets out of range end a match instead of trapping.
public struct SentencePieceNormalizer: Sendable {
    public let spec: SentencePieceModel.Normalizer
    private let units: [UInt32]
    private let replacements: [UInt8]

    public init(spec: SentencePieceModel.Normalizer, path: String = "<model>") throws {
        self.spec = spec
        let blob = spec.precompiledCharsmap
        if blob.isEmpty { units = []; replacements = []; return }
        guard blob.count >= 4 else { throw SentencePieceError(path: path, reason: "precompiled_charsmap shorter than its header") }
        let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
        guard trieSize % 4 == 0, trieSize <= blob.count - 4 else {
            throw SentencePieceError(path: path, reason: "precompiled_charsmap: trie size \(trieSize) does not fit in \(blob.count - 4) bytes")
        }
        var u = [UInt32](repeating: 0, count: trieSize / 4)
        for i in 0..<u.count {
            let o = 4 + 4 * i
            u[i] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
        }
        units = u
        replacements = Array(blob[(4 + trieSize)...])
    }

    /// Whether normalising can change anything but whitespace escaping (used to skip work).
    public var isIdentity: Bool { units.isEmpty && !spec.removeExtraWhitespaces }

    /// Longest prefix of `s[from...]` in the character map: (matched length, replacement bytes).
    private func longestMatch(_ s: UnsafeBufferPointer<UInt8>, from: Int) -> (Int, ArraySlice<UInt8>)? {
        guard !units.isEmpty else { return nil }
        func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }
        var pos = offset(units[0])
        var best: (Int, Int)? = nil
        var i = from
        while i < s.count {
            let c = Int(s[i])
            pos ^= c
            guard pos >= 0, pos < units.count else { break }
            let unit = units[pos]
            guard unit & ((1 << 31) | 0xFF) == UInt32(c) else { break }
            pos ^= offset(unit)
            guard pos >= 0, pos < units.count else { break }
            if (unit >> 8) & 1 == 1 { best = (i + 1 - from, Int(units[pos] & ((1 << 31) - 1))) }
            i += 1
        }
        guard let (length, value) = best, value < replacements.count else { return nil }
        var end = value
        while end < replacements.count && replacements[end] != 0 { end += 1 }
        return (length, replacements[value..<end])
    }

    /// `text` normalised, with spaces escaped as `▁` when the spec says so.
    public func normalize(_ text: String) -> String {
        var t = text
        return t.withUTF8 { String(decoding: normalize(utf8: $0), as: UTF8.self) }
    }

    /// Normalised UTF-8 bytes of a UTF-8 buffer.
    public func normalize(utf8 s: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        let space: [UInt8] = spec.escapeWhitespaces ? [0xE2, 0x96, 0x81] : [0x20]
        var out: [UInt8] = []
        out.reserveCapacity(s.count + 8)
        // One normalised unit at a time: the map's replacement, or one UTF-8 character as is.
        func next(_ i: Int) -> (Int, ArraySlice<UInt8>) {
            if let m = longestMatch(s, from: i) { return m }
            let n = utf8Length(s[i])
            if n == 0 || i + n > s.count { return (1, [0xEF, 0xBF, 0xBD][...]) }
            return (n, ArraySlice(s[i..<(i + n)]))
        }
        var i = 0
        if spec.removeExtraWhitespaces {
            while i < s.count {
                let (n, r) = next(i)
                if !(r.count == 1 && r.first == 0x20) { break }
                i += n
            }
        }
        if i >= s.count { return out }
        if spec.addDummyPrefix { out += space }
        var previousSpace = spec.removeExtraWhitespaces
        while i < s.count {
            let (n, r) = next(i)
            var piece = r
            if previousSpace { while piece.first == 0x20 { piece = piece.dropFirst() } }
            if !piece.isEmpty {
                for b in piece { if b == 0x20 { out += space } else { out.append(b) } }
                previousSpace = piece.last == 0x20
            }
            i += n
            if !spec.removeExtraWhitespaces { previousSpace = false }
        }
        if spec.removeExtraWhitespaces {
            while out.count >= space.count && Array(out.suffix(space.count)) == space { out.removeLast(space.count) }
        }
        return out
    }
}

/// Length of the UTF-8 sequence a lead byte starts (0 for a continuation or invalid byte).
@inline(__always)
func utf8Length(_ b: UInt8) -> Int {
    if b < 0x80 { return 1 }
    if b >= 0xC2 && b < 0xE0 { return 2 }
    if b >= 0xE0 && b < 0xF0 { return 3 }
    if b >= 0xF0 && b < 0xF5 { return 4 }
    return 0
}
