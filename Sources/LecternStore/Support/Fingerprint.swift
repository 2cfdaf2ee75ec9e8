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
    /// whitespace into one space, so re-wrapped copies of a text count as duplicates) and hashes it.
    /// Works on the UTF-8 bytes directly: this runs once per ingested document.
    public static func of(text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { src -> [UInt8] in
            var out = [UInt8](repeating: 0, count: src.count)
            let n = out.withUnsafeMutableBufferPointer { dst -> Int in
                var i = 0, o = 0
                var pendingSpace = false
                let count = src.count
                while i < count {
                    let b = src[i]
                    var len = 1
                    var isSpace = false
                    if b < 0x80 {
                        isSpace = b == 0x20 || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F)
                    } else {
                        len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
                        if len == 2 {
                            let cp = (UInt32(b & 0x1F) << 6) | UInt32(src[i + 1] & 0x3F)
                            isSpace = cp == 0x85 || cp == 0xA0
                        } else if len == 3 {
                            let cp = (UInt32(b & 0x0F) << 12) | (UInt32(src[i + 1] & 0x3F) << 6)
                                | UInt32(src[i + 2] & 0x3F)
                            isSpace = cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028
                                || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000
                        }
                    }
                    if isSpace {
                        pendingSpace = o > 0
                    } else {
                        if pendingSpace { dst[o] = 0x20; o += 1; pendingSpace = false }
                        for k in 0..<len { dst[o + k] = src[i + k] }
                        o += len
                    }
                    i += len
                }
                return o
            }
            return out.withUnsafeBytes { of(normalizedUTF8: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }
}
