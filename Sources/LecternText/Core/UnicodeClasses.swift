// Unicode character classes as Hugging Face `tokenizers` (Rust) defines them. They differ from
// Python's `str` predicates (e.g. U+001C..U+001F are control characters here, not whitespace).

/// The Unicode version of the `unicode_categories` tables inside `tokenizers`' BERT normalizer
/// and pre-tokenizer. Characters assigned later have no category there (so they are neither
/// punctuation nor accents nor removed), whatever today's Unicode says.
let bertUnicodeVersion = (major: 8, minor: 0)

extension Unicode.Scalar {
    /// Assigned by `bertUnicodeVersion`.
    @inline(__always) var isInBertTables: Bool {
        guard let age = properties.age else { return false }
        return age.major < bertUnicodeVersion.major
            || (age.major == bertUnicodeVersion.major && age.minor <= bertUnicodeVersion.minor)
    }

    /// Nonspacing mark (Mn) in BERT's tables: what accent stripping removes.
    var isBertNonspacingMark: Bool {
        switch value {
        case 0x1734, 0x1171E: return true           // Mc today, Mn in Unicode 8
        case 0x1885, 0x1886, 0xA9BD, 0x111C9: return false  // Mn today; Lo, Lo, Mc, Po in Unicode 8
        default: return properties.generalCategory == .nonspacingMark && isInBertTables
        }
    }

    /// Rust `char::is_whitespace`: the Unicode White_Space property.
    @inline(__always) var isWhiteSpaceProperty: Bool { properties.isWhitespace }

    /// `unicode_categories::is_other` as `tokenizers` ships it: Cc, Cf, Co or Cs. Its Cn table
    /// is empty in practice: unassigned code points are kept (and end up as `[UNK]`), which the
    /// every-scalar test checks against the Rust implementation.
    var isOtherCategory: Bool {
        switch properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return isInBertTables
        default: return false
        }
    }

    /// Unicode punctuation (P*), as `unicode_categories::is_punctuation` (BERT's tables).
    var isPunctuationCategory: Bool {
        if value == 0x166D || value == 0x111C9 { return true }  // So / Mn today, Po in Unicode 8
        switch properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return isInBertTables
        default: return false
        }
    }

    /// \p{L}
    var isLetterCategory: Bool {
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// \p{N}, and Rust `char::is_numeric`.
    var isNumberCategory: Bool {
        switch properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT isolates as single words (`is_chinese_char`).
    var isCJKIdeograph: Bool {
        switch value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}

/// Decodes one UTF-8 scalar at `i` (input is valid UTF-8: it came from a Swift `String`).
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Unicode.Scalar, Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (Unicode.Scalar(UInt8(b0)), 1) }
    if b0 < 0xE0 {
        return (Unicode.Scalar((b0 & 0x1F) << 6 | UInt32(p[i + 1]) & 0x3F)!, 2)
    }
    if b0 < 0xF0 {
        let v = (b0 & 0x0F) << 12 | (UInt32(p[i + 1]) & 0x3F) << 6 | UInt32(p[i + 2]) & 0x3F
        return (Unicode.Scalar(v)!, 3)
    }
    let v = (b0 & 0x07) << 18 | (UInt32(p[i + 1]) & 0x3F) << 12 | (UInt32(p[i + 2]) & 0x3F) << 6
        | UInt32(p[i + 3]) & 0x3F
    return (Unicode.Scalar(v)!, 4)
}

@inline(__always)
func appendUTF8(_ s: Unicode.Scalar, to out: inout [UInt8]) {
    let v = s.value
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | v >> 6 & 0x3F))
        out.append(UInt8(0x80 | v & 0x3F))
    } else {
        out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | v >> 12 & 0x3F))
        out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
    }
}
