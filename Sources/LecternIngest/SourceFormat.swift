import Foundation
import LecternCore

/// The input formats `lectern ingest` reads; any of them may be gzip-compressed.
public enum SourceFormat: String, Codable, Sendable, CaseIterable {
    case jsonl, text, csv, tsv, pubmedqa

    /// Decides the format of a path: a directory is text files; otherwise the extension (after
    /// any `.gz`), and for `.json` or an unknown extension a look at the first bytes.
    static func detect(path: String) throws -> SourceFormat {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw IngestError.missingPath(path) }
        if isDir.boolValue { return .text }
        var name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".gz") { name = String(name.dropLast(3)) }
        let ext = (name as NSString).pathExtension
        switch ext {
        case "jsonl", "ndjson": return .jsonl
        case "csv": return .csv
        case "tsv", "tab": return .tsv
        case "txt", "text", "md": return .text
        default: break
        }
        let stream = try ByteStream(path: path)
        var head: [UInt8] = []
        // A damaged (say, truncated gzip) file is judged by what could be read; reading it
        // reports the damage later, keeping what comes before it.
        while head.count < 65536, (try? stream.read(into: &head)) == true {}
        if PubMedQAReader.looksLikePubMedQA(prefix: head) { return .pubmedqa }
        let first = head.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        if ext == "json" {
            throw IngestError.unsupportedFormat(
                path: path, detail: "a .json file that is not PubMedQA's ori_pqal.json: give JSON Lines (one object per line, .jsonl) or --format")
        }
        if first == UInt8(ascii: "{") { return .jsonl }
        throw IngestError.unsupportedFormat(path: path, detail: "cannot tell the format from the name or content; pass --format (\(allCases.map(\.rawValue).joined(separator: ", ")))")
    }
}
