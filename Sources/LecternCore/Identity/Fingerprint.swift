import Crypto
import Foundation

/// Configuration fingerprints: the lowercase hex SHA-256 of a configuration's canonical JSON
/// (keys sorted, no insignificant whitespace). Every derived row carries the fingerprint of the
/// configuration that made it, so a stage can ask "which inputs have no output for this
/// configuration yet" and a change of any parameter yields new rows instead of mixing old and new.
public enum Fingerprint {
    /// The canonical JSON text of a configuration (also what `stage_runs.config` stores).
    public static func canonicalJSON<C: Encodable>(_ config: C) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(config)
        return String(decoding: data, as: UTF8.self)
    }

    /// The fingerprint of a configuration.
    public static func of<C: Encodable>(_ config: C) throws -> String {
        hex(of: Array(try canonicalJSON(config).utf8))
    }

    /// Hex SHA-256 of raw bytes.
    public static func hex<B: Sequence>(of bytes: B) -> String where B.Element == UInt8 {
        let digest = SHA256.hash(data: Array(bytes))
        return digest.map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }
}

/// Content hashes for exact-duplicate detection: the first 16 bytes of SHA-256 of the UTF-8 of a
/// normalised text. 128 bits keep accidental collisions out of reach for any corpus size while
/// halving the size of the unique index compared to the full digest.
public enum ContentHash {
    /// Hash of already-normalised UTF-8 bytes.
    public static func of(normalizedUTF8 bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(SHA256.hash(data: bytes).prefix(16))
    }

    /// Normalises a text for duplicate detection (trims it and collapses every run of Unicode
    /// White_Space characters into one space, so re-wrapped copies of a text count as duplicates)
    /// and hashes it.
    /// Runs once per ingested document, so it works on the UTF-8 bytes directly and hashes them
    /// in place when they are already normalised (the common case: no copy at all).
    public static func of(text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { src -> [UInt8] in
            if !needsNormalising(src) { return of(normalizedUTF8: UnsafeRawBufferPointer(src)) }
            var out = [UInt8](repeating: 0, count: src.count)
            let n = out.withUnsafeMutableBufferPointer { dst -> Int in
                var i = 0, o = 0
                var pendingSpace = false
                let count = src.count
                while i < count {
                    let len = whitespaceLength(src, at: i)
                    if len > 0 {
                        pendingSpace = o > 0
                        i += len
                        continue
                    }
                    if pendingSpace { dst[o] = 0x20; o += 1; pendingSpace = false }
                    dst[o] = src[i]
                    o += 1
                    i += 1
                }
                return o
            }
            return out.withUnsafeBytes { of(normalizedUTF8: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Length in bytes of the Unicode whitespace character at `i`, or 0 if there is none.
    @inline(__always)
    static func whitespaceLength(_ s: UnsafeBufferPointer<UInt8>, at i: Int) -> Int {
        let b = s[i]
        if b < 0x80 { return b == 0x20 || (b >= 0x09 && b <= 0x0D) ? 1 : 0 }
        switch b {
        case 0xC2:  // U+0085, U+00A0
            return i + 1 < s.count && (s[i + 1] == 0x85 || s[i + 1] == 0xA0) ? 2 : 0
        case 0xE1:  // U+1680
            return i + 2 < s.count && s[i + 1] == 0x9A && s[i + 2] == 0x80 ? 3 : 0
        case 0xE2:  // U+2000-200A, U+2028, U+2029, U+202F, U+205F
            guard i + 2 < s.count else { return 0 }
            let c1 = s[i + 1], c2 = s[i + 2]
            if c1 == 0x80 { return c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF ? 3 : 0 }
            return c1 == 0x81 && c2 == 0x9F ? 3 : 0
        case 0xE3:  // U+3000
            return i + 2 < s.count && s[i + 1] == 0x80 && s[i + 2] == 0x80 ? 3 : 0
        default:
            return 0
        }
    }

    /// Whether normalising would change the text.
    static func needsNormalising(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        UTF8Scan.needsNormalising(s, whitespaceLength: whitespaceLength)
    }
}
