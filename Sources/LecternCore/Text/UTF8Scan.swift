/// Byte scans over UTF-8 that ingest runs on every document, eight bytes at a time (SWAR:
/// exact per-byte masks computed with 64-bit arithmetic), so checking a text costs a small
/// fraction of reading it.
public enum UTF8Scan {
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> UInt64 {
        p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
    }

    static let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// High bit of each byte set where the byte equals `byte` (exact, no false positives).
    @inline(__always) static func equalMask(_ x: UInt64, _ byte: UInt8) -> UInt64 {
        let t = x ^ (UInt64(byte) &* 0x0101_0101_0101_0101)
        return ~(((t & low7) &+ low7) | t) & highs
    }

    /// High bit of each byte set where the byte is below 0x20 (exact).
    @inline(__always) static func controlMask(_ x: UInt64) -> UInt64 {
        ~(((x & low7) &+ 0x6060_6060_6060_6060) | x) & highs
    }

    /// Number of Unicode scalars (bytes that are not continuation bytes 10xxxxxx).
    public static func scalarCount(_ s: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = s.baseAddress.map(UnsafeRawPointer.init) else { return 0 }
        var continuation = 0
        var i = 0
        while i + 8 <= s.count {
            let x = load(base, i)
            continuation += (x & ~(x << 1) & highs).nonzeroBitCount
            i += 8
        }
        while i < s.count {
            if s[i] & 0xC0 == 0x80 { continuation += 1 }
            i += 1
        }
        return s.count - continuation
    }

    /// Index of the first NUL byte, if any.
    public static func firstNUL(_ s: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let base = s.baseAddress, s.count > 0, let p = memchr(base, 0, s.count) else { return nil }
        return UnsafeRawPointer(p) - UnsafeRawPointer(base)
    }

    /// Whether every byte is ASCII whitespace (space, \t, \n, \v, \f, \r): an empty text.
    public static func isBlank(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in s where !(b == 0x20 || (b >= 0x09 && b <= 0x0D)) { return false }
        return true
    }

    /// Whether whitespace normalisation (trim, collapse runs into one space) would change the
    /// text: leading or trailing whitespace, two spaces in a row, or whitespace other than a space.
    /// `whitespaceLength` recognises any Unicode whitespace at a position (0 if none).
    static func needsNormalising(_ s: UnsafeBufferPointer<UInt8>, whitespaceLength: (UnsafeBufferPointer<UInt8>, Int) -> Int) -> Bool {
        let count = s.count
        guard count > 0, let base = s.baseAddress.map(UnsafeRawPointer.init) else { return false }
        if whitespaceLength(s, 0) > 0 || s[count - 1] == 0x20 { return true }
        var previousSpace = false
        var i = 0
        while i + 8 <= count {
            let x = load(base, i)
            if (controlMask(x) | (x & highs)) == 0 {
                // Plain ASCII chunk: only doubled spaces matter (inside it, or across its start).
                let spaces = equalMask(x, 0x20)
                if spaces & (spaces >> 8) != 0 { return true }
                if previousSpace && spaces & 0x80 != 0 { return true }
                previousSpace = spaces >> 56 != 0
                i += 8
                continue
            }
            for j in i..<(i + 8) {
                let b = s[j]
                if b == 0x20 {
                    if previousSpace { return true }
                    previousSpace = true
                } else if (b < 0x20 || b >= 0x80) && whitespaceLength(s, j) > 0 {
                    return true
                } else {
                    previousSpace = false
                }
            }
            i += 8
        }
        while i < count {
            let b = s[i]
            if b == 0x20 {
                if previousSpace { return true }
                previousSpace = true
            } else if (b < 0x20 || b >= 0x80) && whitespaceLength(s, i) > 0 {
                return true
            } else {
                previousSpace = false
            }
            i += 1
        }
        return false
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
