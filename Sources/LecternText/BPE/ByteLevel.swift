/// GPT-2's byte <-> printable character table (`bytes_to_unicode`): printable Latin-1 bytes map
/// to themselves, the other 68 bytes to U+0100 and up, so every byte string is a visible string.
enum ByteLevel {
    static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()

    static let scalarToByte: [UInt32: UInt8] = {
        var m: [UInt32: UInt8] = [:]
        for (b, s) in byteToScalar.enumerated() { m[s.value] = UInt8(b) }
        return m
    }()

    /// Raw bytes of a byte-level token string such as `Ġthe`; nil if it holds a character outside
    /// the table (then it can only be an added token).
    static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard let b = scalarToByte[s.value] else { return nil }
            out.append(b)
        }
        return out
    }

    /// The byte-level spelling of raw bytes.
    static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }
}
