import Foundation
import GRDB
import LecternIngest
import LecternCore
import LecternStore

/// Writes a teacher's pairs as a chat-format SFT dataset for distilling a student generator.
///
/// One JSON line per document: `{"messages": [{"role": "user", "content": PROMPT},
/// {"role": "assistant", "content": PAIRS_JSON}], "document_id": N, "generator": NAME}`,
/// where PROMPT is exactly what the teacher was sent (its template, domain, document cut
/// and system message) and PAIRS_JSON the accepted pairs in order. A student fine-tuned on
/// it is then served as another endpoint, a generator of its own name.
public enum SFTExport {
    /// The generator a name (or fingerprint prefix) refers to; an error if none or several.
    public static func resolveGenerator(_ db: Database, _ nameOrFingerprint: String) throws -> (id: Int64, spec: GeneratorSpec) {
        let ref: (id: Int64, fingerprint: String)
        do {
            ref = try RowReference.resolve(db, table: "generators", kind: "generator", nameOrFingerprint)
        } catch let error as RowReferenceError {
            throw GenerateError.badInput(error.description)
        }
        guard let r = try Row.fetchOne(db, sql: """
            SELECT id, name, model, template_version, template, params, fingerprint FROM generators WHERE id = ?
            """, arguments: [ref.id]) else {
            throw GenerateError.badInput("generator \(ref.id) vanished while it was read")
        }
        let paramsJSON: String = r["params"]
        let params: GenerationParams
        do {
            params = try JSONDecoder().decode(GenerationParams.self, from: Data(paramsJSON.utf8))
        } catch {
            throw GenerateError.badInput("generator \(nameOrFingerprint): params not written by this version of Lectern: \(error)")
        }
        var template = try PromptTemplate(text: r["template"], version: r["template_version"])
        if template.text == PromptTemplate.paper.text && template.version == PromptTemplate.paper.version { template = .paper }
        return (r["id"], GeneratorSpec(name: r["name"], model: r["model"], template: template, params: params))
    }

    /// The teacher's conversation about one document: exactly the prompt it was sent (template,
    /// domain, document cut, system message), then its accepted pairs as the JSON it is asked
    /// for; nil when it has no pairs for the document. One line of the SFT export, one example
    /// of a `distill` training set.
    public static func conversation(_ db: Database, generator gid: Int64, spec: GeneratorSpec, document d: StoredDocument) throws -> [ChatMessage]? {
        let pairs = try QAPairRecord.filter(generator: gid, document: d.id).fetchAll(db).map(\.pair)
        guard !pairs.isEmpty else { return nil }
        var messages = spec.messages(document: spec.documentText(text: d.text, title: d.title))
        messages.append(ChatMessage(role: "assistant", content: PairsJSON.encode(pairs)))
        return messages
    }

    /// Writes the dataset to `path` (replaced atomically) and returns the number of lines.
    @discardableResult
    public static func write(_ db: Database, generator: String, to path: String) throws -> Int {
        let (gid, spec) = try resolveGenerator(db, generator)
        let tmp = path + ".part"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let out = FileHandle(forWritingAtPath: tmp) else {
            throw GenerateError.badInput("cannot write \(path)")
        }
        defer { try? out.close() }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        struct Line: Encodable {
            var messages: [ChatMessage]
            var document_id: Int64
            var generator: String
        }
        var n = 0
        var buffer = Data()
        let docs = try StoredDocument.cursor(db, where: "EXISTS (SELECT 1 FROM qa_pairs q WHERE q.generator_id = ? AND q.document_id = documents.id)", [gid])
        while let d = try docs.next() {
            let id = d.id
            guard let messages = try conversation(db, generator: gid, spec: spec, document: d) else { continue }
            buffer.append(try enc.encode(Line(messages: messages, document_id: id, generator: spec.name)))
            buffer.append(0x0A)
            n += 1
            if buffer.count > 1 << 20 { try out.write(contentsOf: buffer); buffer.removeAll(keepingCapacity: true) }
        }
        try out.write(contentsOf: buffer)
        try out.close()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        try FileManager.default.moveItem(atPath: tmp, toPath: path)
        return n
    }
}
