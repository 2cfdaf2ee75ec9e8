/// Counts tokens of the target tokenizer. The tokenizer component (LecternText) plugs its real
/// count in here; until a tokenizer is configured the miner uses
/// ``approximateFromWords``, which is only an estimate.
public struct TokenCounter: Sendable {
    /// Recorded in the miner's fingerprint, so a change of tokenizer re-mines.
    public let name: String
    /// The count of tokens in a string.
    public let count: @Sendable (String) -> Int

    public init(name: String, count: @escaping @Sendable (String) -> Int) {
        self.name = name; self.count = count
    }

    /// ESTIMATE, not a tokenizer: 4 tokens per 3 whitespace-separated words (about what
    /// LLaMA-family tokenizers give on English prose). Use a real counter for exact budgets.
    public static let approximateFromWords = TokenCounter(name: "approx-4/3-per-word") { text in
        (wordEnds(text).count * 4 + 2) / 3
    }
}

/// UTF-8 offsets just past each whitespace-separated word.
func wordEnds(_ text: String) -> [Int] {
    var ends: [Int] = []
    var inWord = false
    var i = 0
    for b in text.utf8 {
        let space = b == 0x20 || (b >= 0x09 && b <= 0x0D)
        if space { if inWord { ends.append(i) }; inWord = false } else { inWord = true }
        i += 1
    }
    if inWord { ends.append(i) }
    return ends
}

/// The longest prefix of `text` ending at a word end whose token count is at most `budget`
/// (the whole text when it fits). Binary search over word ends: O(log words) counts.
public func truncate(_ text: String, toTokens budget: Int, counter: TokenCounter) -> String {
    if counter.count(text) <= budget { return text }
    let ends = wordEnds(text)
    let utf8 = Array(text.utf8)
    func prefix(_ k: Int) -> String { String(decoding: utf8[0..<ends[k]], as: UTF8.self) }
    var lo = -1, hi = ends.count - 1  // invariant: prefix(lo) fits (or lo == -1), prefix(hi) does not
    while hi - lo > 1 {
        let mid = (lo + hi) / 2
        if counter.count(prefix(mid)) <= budget { lo = mid } else { hi = mid }
    }
    return lo < 0 ? "" : prefix(lo)
}
