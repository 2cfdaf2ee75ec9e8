/// A token matched verbatim in the raw input before normalization (`[CLS]`, `<|im_start|>`, ...).
public struct AddedToken: Sendable, Hashable {
    public var content: String
    public var id: Int32
    public var special: Bool
    /// Absorb whitespace on the left / right of the match (Hugging Face `lstrip` / `rstrip`).
    public var lstrip: Bool
    public var rstrip: Bool

    public init(content: String, id: Int32, special: Bool = true, lstrip: Bool = false, rstrip: Bool = false) {
        self.content = content
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
    }
}

/// Splits raw input around added tokens, leftmost-longest like `tokenizers`' AddedVocabulary.
struct AddedTokenMatcher: Sendable {
    private let tokens: [(bytes: [UInt8], token: AddedToken)]
    // For each first byte, indices into `tokens`, longest first.
    private let byFirstByte: [[Int]]
    let isEmpty: Bool

    init(_ added: [AddedToken]) {
        let sorted = added.filter { !$0.content.isEmpty }
            .map { (bytes: Array($0.content.utf8), token: $0) }
            .sorted { $0.bytes.count > $1.bytes.count }
        tokens = sorted
        var table = [[Int]](repeating: [], count: 256)
        for (i, t) in sorted.enumerated() { table[Int(t.bytes[0])].append(i) }
        byFirstByte = table
        isEmpty = sorted.isEmpty
    }

    /// Calls `segment(start, end)` for each stretch of ordinary text and `token(id)` for each match,
    /// in order. `lstrip`/`rstrip` tokens swallow adjacent whitespace.
    @inline(__always)
    func split(_ p: UnsafeBufferPointer<UInt8>, segment: (Int, Int) -> Void, token: (Int32) -> Void) {
        if isEmpty { segment(0, p.count); return }
        var segStart = 0
        var i = 0
        let n = p.count
        while i < n {
            let candidates = byFirstByte[Int(p[i])]
            var matched: (len: Int, tok: AddedToken)? = nil
            for c in candidates {
                let bytes = tokens[c].bytes
                if bytes.count <= n - i {
                    var same = true
                    for k in 1..<bytes.count where p[i + k] != bytes[k] { same = false; break }
                    if same { matched = (bytes.count, tokens[c].token); break }
                }
            }
            guard let m = matched else { i += 1; continue }
            var segEnd = i
            if m.tok.lstrip {
                while segEnd > segStart, isASCIIorUnicodeSpace(p, before: segEnd) { segEnd = previousScalarStart(p, segEnd) }
            }
            if segEnd > segStart { segment(segStart, segEnd) }
            token(m.tok.id)
            i += m.len
            if m.tok.rstrip {
                while i < n {
                    let (s, w) = decodeScalar(p, i)
                    guard s.isWhiteSpaceProperty else { break }
                    i += w
                }
            }
            segStart = i
        }
        if segStart < n { segment(segStart, n) }
    }

    private func previousScalarStart(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var j = i - 1
        while j > 0 && p[j] & 0xC0 == 0x80 { j -= 1 }
        return j
    }

    private func isASCIIorUnicodeSpace(_ p: UnsafeBufferPointer<UInt8>, before i: Int) -> Bool {
        let j = previousScalarStart(p, i)
        return decodeScalar(p, j).0.isWhiteSpaceProperty
    }
}
