import Foundation
import GRDB
import LecternCore
import LecternStore
import LecternText

/// The target model's tokenizer as a build uses it: the tokenizer, its row in `tokenizers`
/// (fingerprint = SHA-256 of its definition file, as `lectern tokens` records it), and the
/// end-of-text token put after every packed item.
public struct TargetTokenizer: @unchecked Sendable {
    public let tokenizer: any Tokenizer
    public let fingerprint: String
    public let name: String
    public let path: String
    public let eosText: String
    public let eosId: Int32

    /// Loads `path` (tokenizer.json, a folder with one, vocab.txt or a GGUF model). `eos`
    /// overrides the end-of-text token; otherwise a GGUF's `tokenizer.ggml.eos_token_id`, then the
    /// first of the usual spellings that is a single token of this vocabulary.
    public static func load(path: String, name: String? = nil, eos: String? = nil) throws -> TargetTokenizer {
        let (tok, fingerprint, definition) = try identify(path: path)
        var candidates: [String] = []
        if let eos { candidates = [eos] } else {
            if definition.hasSuffix(".gguf"), let meta = try? GGUFMetadata(path: definition),
               let id = meta["tokenizer.ggml.eos_token_id"]?.int, let s = tok.token(for: Int32(id)) {
                candidates.append(s)
            }
            candidates += ["<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|im_end|>", "[SEP]"]
        }
        for c in candidates {
            let ids = tok.encode(c, addSpecialTokens: false)
            if ids.count == 1 {
                return TargetTokenizer(tokenizer: tok, fingerprint: fingerprint,
                                       name: name ?? URL(fileURLWithPath: path).lastPathComponent,
                                       path: definition, eosText: c, eosId: ids[0])
            }
        }
        throw TokenizerError(eos.map { "'\($0)' is not a single token of \(path): give its end-of-text token with --eos" }
            ?? "\(path): found no end-of-text token (tried \(candidates.joined(separator: ", "))): give one with --eos")
    }

    /// The tokenizer a `tokenizers` row names (name, id or fingerprint, ``RowReference``), loaded
    /// from its recorded path; nil when that file is gone or no longer has the recorded
    /// fingerprint (it changed since it was counted with).
    public static func recorded(_ store: Store, reference: String) throws -> (any Tokenizer)? {
        let (path, fingerprint) = try store.pool.read { db -> (String?, String) in
            let r = try RowReference.resolve(db, table: "tokenizers", kind: "tokenizer", reference)
            return (try String.fetchOne(db, sql: "SELECT path FROM tokenizers WHERE id = ?", arguments: [r.id]), r.fingerprint)
        }
        guard let path, FileManager.default.fileExists(atPath: path) else { return nil }
        let (tok, found, _) = try identify(path: path)
        return found == fingerprint ? tok : nil
    }

    /// The tokenizer recorded in the file most recently whose definition file still exists.
    public static func fromStore(_ store: Store, eos: String? = nil) throws -> TargetTokenizer {
        let rows = try store.pool.read { db in try Row.fetchAll(db, sql: "SELECT name, path FROM tokenizers ORDER BY id DESC") }
        for row in rows {
            if let p: String = row["path"], FileManager.default.fileExists(atPath: p) {
                return try load(path: p, name: row["name"], eos: eos)
            }
        }
        throw TokenizerError("no --tokenizer given and the file names none that exists here: give the target model's tokenizer (tokenizer.json, vocab.txt or .gguf)")
    }

    /// Records the tokenizer in `tokenizers` (once) and returns its id.
    public func register(_ db: Database) throws -> Int64 {
        try Self.register(db, name: name, tokenizer: tokenizer, fingerprint: fingerprint, path: path)
    }

    /// Loads a tokenizer and names it the way every stage records it: the fingerprint is the
    /// SHA-256 of its definition file (a folder stands for its tokenizer.json or vocab.txt), so
    /// `lectern tokens`, `lectern build` and any machine agree on one `tokenizers` row.
    public static func identify(path: String) throws -> (tokenizer: any Tokenizer, fingerprint: String, definition: String) {
        let tok: any Tokenizer
        do { tok = try TokenizerLoader.load(path: path) } catch { throw TokenizerError("\(error)") }
        let definition = try definitionFile(path)
        guard let bytes = FileManager.default.contents(atPath: definition) else {
            throw TokenizerError("\(definition): cannot read the tokenizer file")
        }
        let fingerprint = Fingerprint.hex(of: Array("lectern-tokenizer-v1\u{0}\(tok.kind.rawValue)\u{0}".utf8) + [UInt8](bytes))
        return (tok, fingerprint, URL(fileURLWithPath: definition).standardizedFileURL.path)
    }

    /// The `tokenizers` row for a fingerprint, inserted on first use; returns its id.
    public static func register(_ db: Database, name: String, tokenizer: any Tokenizer, fingerprint: String, path: String) throws -> Int64 {
        try db.execute(sql: """
            INSERT INTO tokenizers(name, kind, fingerprint, path, vocab_size, created_at)
            VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(fingerprint) DO NOTHING
            """, arguments: [name, tokenizer.kind.rawValue, fingerprint, path, tokenizer.vocabularySize, Timestamp.now()])
        return try Int64.fetchOne(db, sql: "SELECT id FROM tokenizers WHERE fingerprint = ?", arguments: [fingerprint])!
    }

    static func definitionFile(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TokenizerError("\(path): no such file or directory")
        }
        guard isDir.boolValue else { return path }
        for n in ["tokenizer.json", "vocab.txt", "tokenizer.model"] where FileManager.default.fileExists(atPath: path + "/" + n) { return path + "/" + n }
        throw TokenizerError("\(path): folder has no tokenizer.json, vocab.txt or tokenizer.model")
    }
}
