import Foundation

/// Reads a Hugging Face `tokenizer.json` into a ``WordPieceTokenizer`` or ``BPETokenizer``.
///
/// Supported pipelines (anything else is refused with the component named, never guessed):
/// - WordPiece with `BertNormalizer` + `BertPreTokenizer` (BERT, MiniLM);
/// - BPE with a `ByteLevel` pre-tokenizer, optionally after `Digits(individual_digits)` or a
///   `Split` on GPT-2's or LLaMA-3's regex (GPT-2, LLaMA-3, SmolLM2, Qwen-style);
/// - BPE with `Prepend("▁")`+`Replace(" ", "▁")` normalizers or a `Metaspace` pre-tokenizer,
///   `byte_fallback` (LLaMA-2, Mistral).
public enum HFTokenizerJSON {
    public static func load(path: String) throws -> any Tokenizer {
        guard let data = FileManager.default.contents(atPath: path) else { throw TokenizerError(path, "cannot read the file") }
        let root: [String: Any]
        do {
            guard let r = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError(path, "not a JSON object")
            }
            root = r
        } catch let e as TokenizerError { throw e } catch {
            throw TokenizerError(path, "not valid JSON (\(error.localizedDescription))")
        }
        do { return try build(root) } catch let e as TokenizerError {
            throw TokenizerError(path, e.source == "tokenizer.json" ? e.message : "\(e.source): \(e.message)")
        }
    }

    private static func fail(_ msg: String) -> TokenizerError { TokenizerError("tokenizer.json", msg) }

    static func build(_ root: [String: Any]) throws -> any Tokenizer {
        guard let model = root["model"] as? [String: Any] else { throw fail("no \"model\" object") }
        let added = try (root["added_tokens"] as? [[String: Any]] ?? []).map { t -> AddedToken in
            guard let content = t["content"] as? String, let id = (t["id"] as? NSNumber)?.int32Value else {
                throw fail("an added_tokens entry lacks content or id")
            }
            return AddedToken(content: content, id: id, special: t["special"] as? Bool ?? false,
                              lstrip: t["lstrip"] as? Bool ?? false, rstrip: t["rstrip"] as? Bool ?? false)
        }
        let vocabDict = model["vocab"] as? [String: Any] ?? [:]
        var vocab: [String] = []
        if !vocabDict.isEmpty {
            let maxId = vocabDict.values.compactMap { ($0 as? NSNumber)?.intValue }.max() ?? -1
            vocab = [String](repeating: "", count: maxId + 1)
            for (k, v) in vocabDict {
                guard let id = (v as? NSNumber)?.intValue, id >= 0 else { throw fail("vocab entry \(k.debugDescription) has no valid id") }
                vocab[id] = k
            }
        }
        let normalizer = root["normalizer"] as? [String: Any]
        let pre = root["pre_tokenizer"] as? [String: Any]
        let post = root["post_processor"] as? [String: Any]
        switch model["type"] as? String {
        case "WordPiece":
            return try wordPiece(model, vocab, added, normalizer, pre, post)
        case "BPE":
            return try bpe(model, vocab, added, normalizer, pre, post)
        case let t:
            throw fail("model type \(t ?? "missing") is not supported (WordPiece and BPE are)")
        }
    }

    private static func wordPiece(_ model: [String: Any], _ vocab: [String], _ added: [AddedToken],
                                  _ normalizer: [String: Any]?, _ pre: [String: Any]?, _ post: [String: Any]?) throws -> any Tokenizer {
        var o = WordPieceTokenizer.Options()
        if let n = normalizer {
            guard n["type"] as? String == "BertNormalizer" else { throw fail("WordPiece with normalizer \(n["type"] ?? "?") is not supported") }
            o.cleanText = n["clean_text"] as? Bool ?? true
            o.handleChineseChars = n["handle_chinese_chars"] as? Bool ?? true
            o.stripAccents = n["strip_accents"] as? Bool
            o.lowercase = n["lowercase"] as? Bool ?? true
        } else {
            o.cleanText = false; o.handleChineseChars = false; o.lowercase = false; o.stripAccents = false
        }
        guard pre?["type"] as? String == "BertPreTokenizer" else {
            throw fail("WordPiece with pre_tokenizer \(pre?["type"] ?? "null") is not supported (BertPreTokenizer is)")
        }
        o.maxInputCharsPerWord = (model["max_input_chars_per_word"] as? NSNumber)?.intValue ?? 100
        o.continuingSubwordPrefix = model["continuing_subword_prefix"] as? String ?? "##"
        let (prefix, suffix) = try template(post, vocab: vocab, added: added)
        let unk = model["unk_token"] as? String ?? "[UNK]"
        func name(_ ids: [Int32]) -> String { ids.first.map { Int($0) < vocab.count ? vocab[Int($0)] : "" } ?? "" }
        return try WordPieceTokenizer(vocabulary: vocab, options: o, addedTokens: added, unkToken: unk,
                                      clsToken: name(prefix), sepToken: name(suffix))
    }

    private static func bpe(_ model: [String: Any], _ vocab: [String], _ added: [AddedToken],
                            _ normalizer: [String: Any]?, _ pre: [String: Any]?, _ post: [String: Any]?) throws -> any Tokenizer {
        if let p = model["continuing_subword_prefix"] as? String, !p.isEmpty { throw fail("BPE continuing_subword_prefix is not supported") }
        if let s = model["end_of_word_suffix"] as? String, !s.isEmpty { throw fail("BPE end_of_word_suffix is not supported") }
        if let d = model["dropout"] as? NSNumber, d.doubleValue > 0 { throw fail("BPE dropout is not supported (counts must be deterministic)") }
        let merges: [(String, String)] = try (model["merges"] as? [Any] ?? []).enumerated().map { i, m in
            if let s = m as? String, let sp = s.firstIndex(of: " ") {
                return (String(s[..<sp]), String(s[s.index(after: sp)...]))
            }
            if let a = m as? [String], a.count == 2 { return (a[0], a[1]) }
            throw fail("merge \(i) is neither \"a b\" nor [a, b]")
        }
        let mode = try bpeMode(normalizer, pre)
        let (prefix, suffix) = try template(post, vocab: vocab, added: added)
        return try BPETokenizer(mode: mode, vocabulary: vocab, merges: merges, addedTokens: added,
                                unkToken: model["unk_token"] as? String,
                                byteFallback: model["byte_fallback"] as? Bool ?? false,
                                fuseUnk: model["fuse_unk"] as? Bool ?? false,
                                ignoreMerges: model["ignore_merges"] as? Bool ?? false,
                                prefixIds: prefix, suffixIds: suffix)
    }

    private static func flatten(_ c: [String: Any]?, key: String) -> [[String: Any]] {
        guard let c else { return [] }
        if c["type"] as? String == "Sequence" { return (c[key] as? [[String: Any]] ?? []).flatMap { flatten($0, key: key) } }
        return [c]
    }

    private static func bpeMode(_ normalizer: [String: Any]?, _ pre: [String: Any]?) throws -> BPETokenizer.Mode {
        let norms = flatten(normalizer, key: "normalizers")
        let pres = flatten(pre, key: "pretokenizers")
        let normTypes = norms.map { $0["type"] as? String ?? "?" }
        let preTypes = pres.map { $0["type"] as? String ?? "?" }
        // SentencePiece style, normalizer form (LLaMA-2 / Mistral as converted by `tokenizers`).
        if normTypes == ["Prepend", "Replace"] || normTypes == ["Replace"] {
            let replace = norms.last!
            let pattern = (replace["pattern"] as? [String: Any])?["String"] as? String
            guard pattern == " ", replace["content"] as? String == "▁" else { throw fail("Replace normalizer other than ' ' -> '▁' is not supported") }
            if normTypes.count == 2 && norms[0]["prepend"] as? String != "▁" { throw fail("Prepend normalizer other than '▁' is not supported") }
            guard pres.isEmpty else { throw fail("SentencePiece-style normalizer with a pre_tokenizer is not supported") }
            return .sentencePiece(prepend: normTypes.count == 2 ? .always : .never, splitWords: false)
        }
        guard norms.isEmpty else {
            throw fail("normalizer \(normTypes.joined(separator: "+")) is not supported with BPE")
        }
        if preTypes == ["Metaspace"] {
            let m = pres[0]
            guard (m["replacement"] as? String ?? "▁") == "▁" else { throw fail("Metaspace replacement other than '▁' is not supported") }
            let scheme = m["prepend_scheme"] as? String ?? ((m["add_prefix_space"] as? Bool ?? true) ? "always" : "never")
            let prepend: SentencePiecePrepend = scheme == "first" ? .metaspaceFirst : scheme == "never" ? .never : .metaspaceAlways
            return .sentencePiece(prepend: prepend, splitWords: m["split"] as? Bool ?? true)
        }
        var digits = false
        var pattern: SplitPattern? = nil
        for (i, p) in pres.enumerated() {
            switch preTypes[i] {
            case "Digits":
                guard p["individual_digits"] as? Bool == true, i == 0 else { throw fail("Digits pre-tokenizer must come first with individual_digits") }
                digits = true
            case "Split":
                let regex = (p["pattern"] as? [String: Any])?["Regex"] as? String ?? ""
                guard let sp = SplitPattern(regex: regex), p["behavior"] as? String == "Isolated" else {
                    throw fail("Split pre-tokenizer regex \(regex.debugDescription) is not one of the known patterns (GPT-2, LLaMA-3)")
                }
                pattern = sp
            case "ByteLevel":
                if p["add_prefix_space"] as? Bool == true { throw fail("ByteLevel add_prefix_space is not supported") }
                if p["use_regex"] as? Bool ?? true {
                    guard pattern == nil else { throw fail("Split and ByteLevel(use_regex) together are not supported") }
                    pattern = .gpt2
                }
            default:
                throw fail("pre_tokenizer \(preTypes[i]) is not supported with BPE")
            }
        }
        guard preTypes.contains("ByteLevel") else {
            if preTypes.isEmpty { return .characters(splitOnWhitespace: false) }
            if preTypes == ["Whitespace"] || preTypes == ["WhitespaceSplit"] { return .characters(splitOnWhitespace: true) }
            throw fail("BPE without ByteLevel pre-tokenizer: \(preTypes) is not supported")
        }
        return .byteLevel(pattern ?? .gpt2, individualDigits: digits)
    }

    /// Special-token ids the post-processor puts before and after a single sequence.
    private static func template(_ post: [String: Any]?, vocab: [String], added: [AddedToken]) throws -> ([Int32], [Int32]) {
        var prefix: [Int32] = [], suffix: [Int32] = []
        for p in flatten(post, key: "processors") {
            switch p["type"] as? String {
            case "TemplateProcessing":
                let specials = p["special_tokens"] as? [String: [String: Any]] ?? [:]
                var seenSequence = false
                for piece in p["single"] as? [[String: Any]] ?? [] {
                    if piece["Sequence"] != nil { seenSequence = true; continue }
                    guard let st = piece["SpecialToken"] as? [String: Any], let name = st["id"] as? String,
                          let ids = specials[name]?["ids"] as? [NSNumber] else { throw fail("TemplateProcessing names an unknown special token") }
                    if seenSequence { suffix += ids.map { $0.int32Value } } else { prefix += ids.map { $0.int32Value } }
                }
            case "BertProcessing", "RobertaProcessing":
                guard let cls = p["cls"] as? [Any], let sep = p["sep"] as? [Any],
                      let c = (cls.last as? NSNumber)?.int32Value, let s = (sep.last as? NSNumber)?.int32Value else {
                    throw fail("\(p["type"]!) without cls/sep")
                }
                prefix = [c]; suffix = [s]
            case "ByteLevel", nil:
                continue
            case let t:
                throw fail("post_processor \(t!) is not supported")
            }
        }
        return (prefix, suffix)
    }
}
