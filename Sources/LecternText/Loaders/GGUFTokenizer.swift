import Foundation

/// Builds a tokenizer from a GGUF file's `tokenizer.ggml.*` metadata, the way llama.cpp reads it.
///
/// `tokenizer.ggml.model = gpt2`: byte-level BPE with the split regex named by
/// `tokenizer.ggml.pre` (llama.cpp's table: `smollm`, `gpt-2`/`default`, `llama3`/`llama-bpe`, ...).
/// `llama`: SentencePiece-style BPE with byte fallback; GGUF files carry no merges for it, so
/// merge ranks come from the token scores (``mergesFromScores(tokens:scores:types:)``).
/// Unknown (2), control (3) and user-defined (4) tokens are matched verbatim as added tokens
/// (llama.cpp's special-token cache, and transformers' GGUF loader, do the same).
public enum GGUFTokenizer {
    public static func load(path: String) throws -> any Tokenizer {
        let meta = try GGUFMetadata(path: path)
        guard case .strings(let tokens)? = meta["tokenizer.ggml.tokens"] else {
            throw TokenizerError(path, "GGUF file has no tokenizer.ggml.tokens (not a model with a tokenizer)")
        }
        let model = meta["tokenizer.ggml.model"]?.string ?? "?"
        var types = [Int](repeating: 1, count: tokens.count)
        if case .numbers(let t)? = meta["tokenizer.ggml.token_type"], t.count == tokens.count { types = t.map { Int($0) } }
        let added = tokens.indices.filter { types[$0] == 2 || types[$0] == 3 || types[$0] == 4 }
            .map { AddedToken(content: tokens[$0], id: Int32($0), special: types[$0] == 3) }
        var prefix: [Int32] = [], suffix: [Int32] = []
        let bos = meta["tokenizer.ggml.bos_token_id"]?.int, eos = meta["tokenizer.ggml.eos_token_id"]?.int
        let defaultBOS = model == "llama"
        if meta["tokenizer.ggml.add_bos_token"]?.bool ?? defaultBOS, let b = bos { prefix = [Int32(b)] }
        if meta["tokenizer.ggml.add_eos_token"]?.bool ?? false, let e = eos { suffix = [Int32(e)] }
        do {
            switch model {
            case "gpt2":
                guard case .strings(let mergeStrings)? = meta["tokenizer.ggml.merges"] else {
                    throw TokenizerError(path, "gpt2 tokenizer without tokenizer.ggml.merges")
                }
                let pre = meta["tokenizer.ggml.pre"]?.string ?? "default"
                let mode: BPETokenizer.Mode
                switch pre {
                case "smollm": mode = .byteLevel(.gpt2, individualDigits: true)
                case "default", "gpt-2", "gpt2": mode = .byteLevel(.gpt2, individualDigits: false)
                case "llama3", "llama-v3", "llama-bpe": mode = .byteLevel(.llama3, individualDigits: false)
                default:
                    throw TokenizerError(path, "tokenizer.ggml.pre = \(pre) is not supported (supported: smollm, gpt-2, default, llama3, llama-bpe)")
                }
                let merges = try mergeStrings.enumerated().map { i, m -> (String, String) in
                    guard let sp = m.firstIndex(of: " ") else { throw TokenizerError(path, "merge \(i) '\(m)' has no space") }
                    return (String(m[..<sp]), String(m[m.index(after: sp)...]))
                }
                return try BPETokenizer(mode: mode, vocabulary: tokens, merges: merges, addedTokens: added,
                                        prefixIds: prefix, suffixIds: suffix)
            case "llama":
                var scores = [Double](repeating: 0, count: tokens.count)
                if case .numbers(let s)? = meta["tokenizer.ggml.scores"], s.count == tokens.count { scores = s }
                let merges = mergesFromScores(tokens: tokens, scores: scores, types: types)
                let unk = meta["tokenizer.ggml.unknown_token_id"]?.int.map { tokens[$0] }
                // Metaspace(prepend_scheme: first, split: false), as transformers converts it.
                let prepend = meta["tokenizer.ggml.add_space_prefix"]?.bool ?? true
                return try BPETokenizer(mode: .sentencePiece(prepend: prepend ? .metaspaceFirst : .never, splitWords: false),
                                        vocabulary: tokens, merges: merges, addedTokens: added, unkToken: unk,
                                        byteFallback: true, fuseUnk: true, prefixIds: prefix, suffixIds: suffix)
            default:
                throw TokenizerError(path, "tokenizer.ggml.model = \(model) is not supported (gpt2 and llama are)")
            }
        } catch let e as TokenizerError where e.source != path {
            throw TokenizerError(path, "\(e.source): \(e.message)")
        }
    }

    /// SentencePiece BPE merges from scores, built as `transformers`' GGUF loader builds them
    /// (the reference the tests use): every token that splits into two vocabulary tokens gives a
    /// merge; merges are ordered by the merged token's score (higher first), then token order,
    /// then the parts' scores (higher first), then split position.
    static func mergesFromScores(tokens: [String], scores: [Double], types: [Int]) -> [(String, String)] {
        var score: [String: Double] = [:]
        var firstIndex: [String: Int] = [:]
        for (i, t) in tokens.enumerated() {
            score[t] = scores[i]
            if firstIndex[t] == nil { firstIndex[t] = i }
        }
        struct Candidate { var score: Double; var token: Int; var sl: Double; var sr: Double; var split: Int; var l: String; var r: String }
        var found: [Candidate] = []
        for (i, t) in tokens.enumerated() where firstIndex[t] == i {
            let chars = Array(t.unicodeScalars)
            guard chars.count >= 2 else { continue }
            for k in 1..<chars.count {
                let l = String(String.UnicodeScalarView(chars[..<k])), r = String(String.UnicodeScalarView(chars[k...]))
                if let sl = score[l], let sr = score[r] {
                    found.append(Candidate(score: score[t]!, token: i, sl: sl, sr: sr, split: k, l: l, r: r))
                }
            }
        }
        found.sort { a, b in
            if a.score != b.score { return a.score > b.score }
            if a.token != b.token { return a.token < b.token }
            if a.sl != b.sl { return a.sl > b.sl }
            if a.sr != b.sr { return a.sr > b.sr }
            return a.split < b.split
        }
        return found.map { ($0.l, $0.r) }
    }
}
