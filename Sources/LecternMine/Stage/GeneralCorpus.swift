import Foundation

/// Reads a general (non-domain) reference corpus for ``DomainVocabulary/learn(domainDocuments:generalDocuments:options:)``:
/// a JSON array of objects (e.g. alpaca `instruction`/`input`/`output`: all string fields of a
/// record form one document), JSONL (one object per line, likewise), or plain text (one
/// document per non-empty line).
public enum GeneralCorpus {
    /// The documents of the file at `path`.
    public static func load(path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GeneralCorpusError(path: path, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw GeneralCorpusError(path: path, reason: "not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("[") {
            guard let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
                throw GeneralCorpusError(path: path, reason: "starts with '[' but is not a JSON array")
            }
            return array.map(document)
        }
        var docs: [String] = []
        // "\r\n" is one Character, so splitting on "\n" alone would not split CRLF lines.
        for (i, line) in trimmed.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).enumerated() {
            if line.hasPrefix("{") {
                guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) else {
                    throw GeneralCorpusError(path: path, reason: "line \(i + 1) starts with '{' but is not JSON")
                }
                docs.append(document(obj))
            } else {
                docs.append(String(line))
            }
        }
        return docs
    }

    static func document(_ value: Any) -> String {
        if let s = value as? String { return s }
        if let o = value as? [String: Any] {
            return o.keys.sorted().compactMap { o[$0] as? String }.joined(separator: " ")
        }
        return ""
    }
}

/// A general corpus file that could not be read.
public struct GeneralCorpusError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "general corpus \(path): \(reason)" }
}
