import Foundation

/// Loads a tokenizer from what model repositories ship:
/// a Hugging Face `tokenizer.json` (or a folder holding one), a BERT `vocab.txt`, a `.gguf`
/// model file (its `tokenizer.ggml.*` metadata), or a SentencePiece model (`tokenizer.model`, `.spm`).
///
/// ```swift
/// let tok = try TokenizerLoader.load(path: "SmolLM2-135M-Instruct.Q4_1.gguf")
/// let n = tok.count(document)
/// ```
public enum TokenizerLoader {
    /// Loads by file type: directory (its `tokenizer.json`, else `vocab.txt`), `.gguf`, `.txt`, else JSON.
    public static func load(path: String) throws -> any Tokenizer {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TokenizerError(path, "no such file or directory")
        }
        if isDir.boolValue {
            for name in ["tokenizer.json", "vocab.txt", "tokenizer.model"] where FileManager.default.fileExists(atPath: path + "/" + name) {
                return try load(path: path + "/" + name)
            }
            throw TokenizerError(path, "folder has no tokenizer.json, vocab.txt or tokenizer.model")
        }
        if path.lowercased().hasSuffix(".gguf") { return try GGUFTokenizer.load(path: path) }
        if SentencePieceModel.isModelPath(path) { return try SentencePieceTokenizer(path: path) }
        if path.lowercased().hasSuffix(".txt") { return try WordPieceTokenizer(vocabFile: path) }
        return try HFTokenizerJSON.load(path: path)
    }
}
