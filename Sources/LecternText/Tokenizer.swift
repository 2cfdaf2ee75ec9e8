/// A tokenizer of a target or encoder model: text in, token ids out, exactly as the model's
/// reference implementation (Hugging Face `tokenizers`, llama.cpp) produces them.
///
/// Implementations are immutable and `Sendable`: share one across threads.
///
/// ## Topics
/// - ``WordPieceTokenizer``: BERT uncased/cased WordPiece.
/// - ``BPETokenizer``: byte-level BPE (GPT-2, LLaMA-3, SmolLM2) and SentencePiece-style BPE with
///   byte fallback (LLaMA-2, Mistral).
/// - ``TokenizerLoader``: loads either from a `tokenizer.json`, a `vocab.txt` or a GGUF file.
public protocol Tokenizer: Sendable {
    /// The tokenizer family, as stored in the `tokenizers.kind` column.
    var kind: TokenizerKind { get }
    /// Number of ids (model vocabulary plus added tokens).
    var vocabularySize: Int { get }
    /// Token ids of `text`; with `addSpecialTokens`, the model's template (e.g. `[CLS] ... [SEP]`).
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// Number of tokens of `text` without special tokens; avoids building the id array.
    func count(_ text: String) -> Int
    /// The vocabulary string of an id (in the model's own spelling, e.g. `Ġthe` or `##ing`).
    func token(for id: Int32) -> String?
}

/// Tokenizer families, named as in the store's `tokenizers.kind` column.
public enum TokenizerKind: String, Sendable, Codable {
    case wordpiece
    case bpe
    case byteLevelBPE = "bytelevel-bpe"
    case sentencePieceBPE = "sentencepiece-bpe"
    case sentencePieceUnigram = "sentencepiece-unigram"
}

/// Why a tokenizer could not be loaded. Each case names the file and what is wrong with it.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// The file or input at fault.
    public let source: String
    /// What is wrong and, where it helps, what to do.
    public let message: String

    public init(_ source: String, _ message: String) {
        self.source = source
        self.message = message
    }

    public var description: String { "\(source): \(message)" }
}

/// Receives token ids as a tokenizer produces them; lets `count` share the encode path
/// without allocating ids.
protocol TokenSink {
    mutating func emit(_ id: Int32)
}

struct IdSink: TokenSink {
    var ids: [Int32] = []
    @inline(__always) mutating func emit(_ id: Int32) { ids.append(id) }
}

struct CountSink: TokenSink {
    var n = 0
    @inline(__always) mutating func emit(_ id: Int32) { n += 1 }
}
