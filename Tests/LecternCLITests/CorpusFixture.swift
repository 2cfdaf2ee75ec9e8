import Foundation
import LecternTestSupport

/// A real corpus for process-level tests: the PubMedQA abstracts, repeated with perturbations
/// (a variant marker and a rotated sentence order, so copies are new documents), with exact
/// duplicates and a few bad lines mixed in, as JSONL.
enum CorpusFixture {
    static func abstracts() throws -> [(id: String, text: String)] {
        let path = try TestSupport.pubmedqaPath()
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: [String: Any]]
        return object.keys.sorted().map { ($0, (object[$0]!["CONTEXTS"] as! [String]).joined(separator: " ")) }
    }

    static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Writes `repeats` perturbed copies of the abstracts; returns the number of lines.
    @discardableResult
    static func write(to url: URL, repeats: Int) throws -> Int {
        var lines: [String] = []
        let docs = try abstracts()
        for r in 0..<repeats {
            for (n, doc) in docs.enumerated() {
                var sentences = doc.text.components(separatedBy: ". ")
                if sentences.count > 1 { sentences = Array(sentences[(r % sentences.count)...] + sentences[..<(r % sentences.count)]) }
                let text = "[variant \(r)] " + sentences.joined(separator: ". ")
                lines.append(try jsonLine(["id": "\(doc.id)-\(r)", "text": text, "title": "PubMed \(doc.id)", "repeat": r]))
                if n % 97 == 0 { lines.append(try jsonLine(["id": "dup-\(doc.id)-\(r)", "text": text])) }
                if n % 331 == 0 { lines.append(#"{"id": "bad", "text": "#) }
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return lines.count
    }
}
