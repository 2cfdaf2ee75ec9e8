import Foundation

/// LLaMA-Factory's `dataset_info.json`: the registry its `dataset:` option looks names up in,
/// each entry naming a file (relative to `dataset_dir`) and how its columns map onto its roles.
///
/// Entries follow the schema of LLaMA-Factory's data/README.md exactly:
/// - `<set>_text`, the pre-training form: `{"file_name": ..., "columns": {"prompt": "text"}}`
///   (in the `pt` stage only the `prompt` column is used).
/// - `<set>_messages`, the OpenAI messages form: `"formatting": "sharegpt"`,
///   `"columns": {"messages": "messages"}` and the `tags` mapping `role`/`content` and the
///   `user`/`assistant`/`system` role values (sharegpt's defaults are `from`/`value`, `human`/`gpt`).
///
/// The file is shared: a folder may already hold other datasets' entries (or be LLaMA-Factory's
/// own `data/`), so it is merged, not overwritten: our entries replace same-named ones in place,
/// new ones are appended, everything else is kept as written (order, numbers, non-ASCII).
/// A file that is not a JSON object is an error and is left untouched.
public enum LlamaFactoryDatasetInfo {
    /// The entry for a `{"text": ...}` file, for LLaMA-Factory's `pt` stage.
    static func textEntry(fileName: String) -> ExportJSON {
        .object([
            ("file_name", .string(fileName)),
            ("columns", .object([("prompt", .string("text"))])),
        ])
    }

    /// The entry for an OpenAI-messages file, for LLaMA-Factory's `sft` stage.
    static func messagesEntry(fileName: String) -> ExportJSON {
        .object([
            ("file_name", .string(fileName)),
            ("formatting", .string("sharegpt")),
            ("columns", .object([("messages", .string("messages"))])),
            ("tags", .object([
                ("role_tag", .string("role")),
                ("content_tag", .string("content")),
                ("user_tag", .string("user")),
                ("assistant_tag", .string("assistant")),
                ("system_tag", .string("system")),
            ])),
        ])
    }

    /// The entries of an existing file (nil when there is none); an error if it is malformed.
    static func read(_ path: String) throws -> [(key: String, value: ExportJSON)]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingSetExportError.io(path: path, detail: "cannot read it")
        }
        let value: ExportJSON
        do {
            value = try data.withUnsafeBytes { try ExportJSON.parse($0) }
        } catch {
            throw TrainingSetExportError.malformedDatasetInfo(path: path, reason: "\(error)")
        }
        guard case .object(let members) = value else {
            throw TrainingSetExportError.malformedDatasetInfo(path: path, reason: "its top level is not a JSON object")
        }
        return members
    }

    /// Merges `entries` into the file at `path` (created if missing), written atomically.
    static func merge(_ entries: [(key: String, value: ExportJSON)], into path: String) throws {
        var members = try read(path) ?? []
        for entry in entries {
            if let k = members.firstIndex(where: { $0.key == entry.key }) {
                members[k].value = entry.value
                // Later repeats of the key would shadow ours in Python's json (the last one wins).
                members = members.enumerated().filter { $0.offset == k || $0.element.key != entry.key }.map(\.element)
            } else {
                members.append(entry)
            }
        }
        try ExportFileWriter.writeAtomically(ExportJSON.object(members).prettyText(), to: path)
    }
}
