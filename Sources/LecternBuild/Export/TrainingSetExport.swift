import Foundation
import GRDB
import LecternStore

/// The JSONL shapes a training set is exported in, one file each. Each is the shape a training
/// engine reads without a conversion script, so what was built is what gets trained.
public enum TrainingSetExportFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `{"text": ...}` per example: continued pre-training. LLaMA-Factory's `pt` stage (via the
    /// `<set>_text` entry of dataset_info.json), axolotl's `completion` type and
    /// `pretraining_dataset`, TRL's `SFTTrainer` (language modelling).
    case text
    /// `{"messages": [{"role": ..., "content": ...}, ...]}` per chat example: supervised
    /// fine-tuning in the OpenAI messages shape. LLaMA-Factory's `sft` stage (the `<set>_messages`
    /// entry, sharegpt formatting with OpenAI tags), axolotl's `chat_template` type, TRL's
    /// `SFTTrainer` (conversational). Only sets built in chat format have messages.
    case messages
    /// `{"input_ids": [...], "attention_mask": [1, ...], "labels": [...]}` per example: the
    /// token ids the build stored, so the engine trains on exactly the sequences that were packed
    /// (no re-tokenisation, no re-packing). Axolotl's pre-tokenised datasets (empty `type:`); TRL
    /// skips its own tokenisation when `input_ids` is present. Only sets built with a tokenizer.
    case inputIds = "input-ids"

    public var description: String { rawValue }

    /// `--format` values: a comma-separated list of formats, or `all` (nil: every format the set has).
    public static func parseList(_ list: String) throws -> [TrainingSetExportFormat]? {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if names == ["all"] { return nil }
        var formats: [TrainingSetExportFormat] = []
        for name in names {
            guard let f = TrainingSetExportFormat(rawValue: name == "input_ids" || name == "ids" ? "input-ids" : name) else {
                throw TrainingSetExportError.badFormat(name)
            }
            if !formats.contains(f) { formats.append(f) }
        }
        guard !formats.isEmpty else { throw TrainingSetExportError.badFormat(list) }
        return formats
    }
}

/// A training set, as resolved from what the user typed.
public struct TrainingSetRef: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var recipe: String
    public var fingerprint: String
    /// `running` or `complete`.
    public var status: String
    public var createdAt: String
    public var tokenizerId: Int64?

    /// One line for lists in error messages.
    var listing: String { "\(name) (fingerprint \(fingerprint.prefix(12)), \(recipe), \(status), \(createdAt))" }
}

/// What an export wrote.
public struct TrainingSetExportSummary: Sendable {
    /// One JSONL file.
    public struct File: Sendable {
        public var format: TrainingSetExportFormat
        public var path: String
        /// Lines (examples) in the file.
        public var rows: Int
        public var bytes: Int
    }

    public var set: TrainingSetRef
    /// In the order of ``TrainingSetExportFormat/allCases``.
    public var files: [File]
    /// The dataset_info.json written (merged), when a text or messages file was.
    public var datasetInfoPath: String?
    /// The entries of dataset_info.json that are ours (`<set>_text`, `<set>_messages`).
    public var datasetInfoEntries: [String]
    /// Wall time of the export.
    public var seconds: Double

    public var totalBytes: Int { files.reduce(0) { $0 + $1.bytes } }
}

/// Errors of an export. Each says what was wrong and what to do.
public enum TrainingSetExportError: Error, CustomStringConvertible, Sendable {
    case noSuchSet(query: String, available: [String])
    case ambiguous(query: String, candidates: [String])
    case incomplete(set: String, fingerprint: String)
    case noMessages(set: String)
    case noInputIds(set: String)
    /// An example that cannot be exported as it is stored (corrupt ids, bad messages, bad UTF-8).
    case badExample(set: String, position: Int64, id: Int64, reason: String)
    case malformedDatasetInfo(path: String, reason: String)
    case badFormat(String)
    case io(path: String, detail: String)

    public var description: String {
        switch self {
        case .noSuchSet(let query, let available):
            return "no training set named '\(query)' or with a fingerprint starting with it; "
                + (available.isEmpty ? "the file has none yet (make one with lectern build)"
                                     : "the file has: " + available.joined(separator: "; "))
        case .ambiguous(let query, let candidates):
            return "'\(query)' is the start of \(candidates.count) training sets' fingerprints; give more of it: "
                + candidates.joined(separator: "; ")
        case .incomplete(let set, let fingerprint):
            return "training set \(set) (fingerprint \(fingerprint.prefix(12))) is incomplete: re-run lectern build "
                + "(its build was interrupted or is still writing; an export would miss examples)"
        case .noMessages(let set):
            return "training set \(set) has no chat messages: it is packed text. Export it with --format text, "
                + "or build it with chat format (lectern build --format chat) for a messages (SFT) export"
        case .noInputIds(let set):
            return "training set \(set) has no input_ids: it was built without a tokenizer. Export it with "
                + "--format text, or build it with a tokenizer for a pre-tokenised export"
        case .badExample(let set, let position, let id, let reason):
            return "training set \(set), example at position \(position) (training_examples.id \(id)): \(reason); "
                + "nothing was written under the final file names"
        case .malformedDatasetInfo(let path, let reason):
            return "\(path) is not a valid dataset_info.json (\(reason)); it was left untouched and nothing was "
                + "exported. Fix or move it, or export into another folder"
        case .badFormat(let f):
            return "unknown export format '\(f)'; give text, messages, input-ids (comma-separated) or all"
        case .io(let path, let detail):
            return "\(path): \(detail)"
        }
    }
}

/// Exports a training set (what `lectern build` wrote into `training_sets` and
/// `training_examples`) as JSONL files training engines read directly, plus LLaMA-Factory's
/// `dataset_info.json`.
///
/// Rows are streamed in `position` order through one cursor, with every requested file
/// written in the same pass: memory stays flat for sets of millions of rows, and the set is
/// read once however many formats are asked for. Every file is written under a temporary name
/// and renamed only when the whole set has been written and checked, so an export that fails
/// halfway (a corrupt row at position 900 000) leaves every final name as it was.
public enum TrainingSetExport {
    /// The set `query` names.
    ///
    /// - A name: names are not unique (each rebuild with other parameters adds a set), so the
    ///   newest *complete* set with that name. If all sets of that name are still `running`:
    ///   refused, because their examples may be partial.
    /// - Otherwise a prefix of a fingerprint (as `lectern status` prints them): exactly one set
    ///   must match, and it must be complete. Several: an error listing them.
    /// - Nothing: an error listing the sets the file has.
    public static func resolve(_ db: Database, _ query: String) throws -> TrainingSetRef {
        let columns = "id, name, recipe, fingerprint, status, created_at, tokenizer_id"
        func ref(_ r: Row) -> TrainingSetRef {
            TrainingSetRef(id: r["id"], name: r["name"], recipe: r["recipe"], fingerprint: r["fingerprint"],
                           status: r["status"], createdAt: r["created_at"], tokenizerId: r["tokenizer_id"])
        }
        let named = try Row.fetchAll(db, sql: "SELECT \(columns) FROM training_sets WHERE name = ? ORDER BY created_at DESC, id DESC",
                                     arguments: [query]).map(ref)
        if !named.isEmpty {
            guard let set = named.first(where: { $0.status == "complete" }) else {
                throw TrainingSetExportError.incomplete(set: named[0].name, fingerprint: named[0].fingerprint)
            }
            return set
        }
        let prefix = query.lowercased()
        let matches = prefix.isEmpty ? [] : try Row.fetchAll(db, sql: """
            SELECT \(columns) FROM training_sets WHERE substr(fingerprint, 1, ?) = ? ORDER BY created_at DESC, id DESC
            """, arguments: [prefix.count, prefix]).map(ref)
        switch matches.count {
        case 0:
            let all = try Row.fetchAll(db, sql: "SELECT \(columns) FROM training_sets ORDER BY name, created_at DESC").map(ref)
            throw TrainingSetExportError.noSuchSet(query: query, available: all.map(\.listing))
        case 1:
            guard matches[0].status == "complete" else {
                throw TrainingSetExportError.incomplete(set: matches[0].name, fingerprint: matches[0].fingerprint)
            }
            return matches[0]
        default:
            throw TrainingSetExportError.ambiguous(
                query: query, candidates: matches.map { "\($0.fingerprint) \($0.name) (\($0.recipe), \($0.status), \($0.createdAt))" })
        }
    }

    /// The formats a set can be exported in: text always, messages when any example has them
    /// (chat sets), input-ids when any example has token ids (sets built with a tokenizer).
    public static func availableFormats(_ db: Database, _ set: TrainingSetRef) throws -> [TrainingSetExportFormat] {
        var formats: [TrainingSetExportFormat] = [.text]
        if try hasAny(db, set, "messages") { formats.append(.messages) }
        if try hasAny(db, set, "input_ids") { formats.append(.inputIds) }
        return formats
    }

    private static func hasAny(_ db: Database, _ set: TrainingSetRef, _ column: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM training_examples WHERE training_set_id = ? AND \(column) IS NOT NULL)",
                          arguments: [set.id]) ?? false
    }

    /// The file-name stem for a set name: the name with anything but letters, digits, `.`, `_`
    /// and `-` replaced by `_` (a name is free text; a file name and a dataset_info key must
    /// not hold `/` or spaces), and no leading dot (no hidden files).
    public static func fileStem(for name: String) -> String {
        var out = String(String.UnicodeScalarView(name.unicodeScalars.map { s in
            (s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s) || s == "." || s == "_" || s == "-")) ? s : "_"
        }))
        if out.hasPrefix(".") { out = "_" + out.dropFirst() }
        return out.isEmpty ? "set" : out
    }

    /// The path of a format's file for a set in `directory`: `<directory>/<stem>.<format>.jsonl`.
    public static func filePath(directory: String, set: TrainingSetRef, format: TrainingSetExportFormat) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + "\(fileStem(for: set.name)).\(format.rawValue).jsonl"
    }

    /// Exports the set `query` names (see ``resolve(_:_:)``) into `directory` (created if
    /// missing) and merges its entries into `directory/dataset_info.json`.
    ///
    /// - Parameters:
    ///   - formats: the files to write; nil: every format the set has (``availableFormats(_:_:)``).
    ///     Asking for messages of a set without any, or input-ids of a set without any, is an error.
    ///   - progress: advanced by one per example read.
    /// - Important: call inside one read transaction (`store.pool.read`), so the files are one
    ///   snapshot of the set even if a build writes the file meanwhile.
    public static func export(_ db: Database, set query: String, formats: [TrainingSetExportFormat]? = nil,
                              to directory: String, progress: ProgressReporter? = nil) throws -> TrainingSetExportSummary {
        let started = DispatchTime.now().uptimeNanoseconds
        let set = try resolve(db, query)
        let wanted: [TrainingSetExportFormat]
        if let formats {
            wanted = TrainingSetExportFormat.allCases.filter { formats.contains($0) }
            if wanted.contains(.messages), try !hasAny(db, set, "messages") { throw TrainingSetExportError.noMessages(set: set.name) }
            if wanted.contains(.inputIds), try !hasAny(db, set, "input_ids") { throw TrainingSetExportError.noInputIds(set: set.name) }
        } else {
            wanted = try availableFormats(db, set)
        }
        guard !wanted.isEmpty else { throw TrainingSetExportError.badFormat("") }

        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingSetExportError.io(path: directory, detail: "cannot create the folder: \(error.localizedDescription)")
        }
        let infoPath = (directory.hasSuffix("/") ? directory : directory + "/") + "dataset_info.json"
        let writesInfo = wanted.contains(.text) || wanted.contains(.messages)
        // Checked before anything is written: a malformed dataset_info.json stops the export
        // with no file changed, rather than after gigabytes of JSONL.
        if writesInfo { _ = try LlamaFactoryDatasetInfo.read(infoPath) }

        let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM training_examples WHERE training_set_id = ?", arguments: [set.id]) ?? 0
        progress?.setTotal(total)

        var writers: [TrainingSetExportFormat: ExportFileWriter] = [:]
        defer { for w in writers.values { w.discard() } }  // no-op for committed files
        for f in wanted { writers[f] = try ExportFileWriter(path: filePath(directory: directory, set: set, format: f)) }

        let textWriter = writers[.text], messagesWriter = writers[.messages], idsWriter = writers[.inputIds]
        let onlyMessages = wanted == [.messages]
        let sql = """
            SELECT id, position, n_tokens, \(textWriter != nil ? "text" : "NULL"), \(messagesWriter != nil ? "messages" : "NULL"),
                   \(idsWriter != nil ? "input_ids" : "NULL")
            FROM training_examples WHERE training_set_id = ?\(onlyMessages ? " AND messages IS NOT NULL" : "") ORDER BY position
            """
        let cursor = try Row.fetchCursor(db, sql: sql, arguments: [set.id])
        var textRows = 0, messageRows = 0, idRows = 0
        while let row = try cursor.next() {
            let id: Int64 = row[0]
            let position: Int64 = row[1]
            let nTokens: Int64? = row[2]
            func bad(_ reason: String) -> TrainingSetExportError {
                .badExample(set: set.name, position: position, id: id, reason: reason)
            }
            if let w = textWriter {
                try row.withUnsafeData(atIndex: 3) { data in
                    try w.reserve(8)
                    w.put("{\"text\":")
                    if let offset = try (data ?? Data()).withUnsafeBytes({ try w.putJSONString($0) }) {
                        throw bad("its text is not valid UTF-8 (byte \(offset))")
                    }
                    try w.reserve(2)
                    w.put("}\n")
                }
                textRows += 1
            }
            if let w = messagesWriter {
                try row.withUnsafeData(atIndex: 4) { data in
                    guard let data else { return }
                    let turns: [(role: String, content: String)]
                    do {
                        turns = try data.withUnsafeBytes { try ChatTurns.parse($0) }
                    } catch let e as ChatTurns.Invalid {
                        throw bad(e.reason)
                    } catch {
                        throw bad("its messages are not valid JSON (\(error))")
                    }
                    try w.reserve(16)
                    w.put("{\"messages\":[")
                    for (k, t) in turns.enumerated() {
                        try w.reserve(24)
                        if k > 0 { w.put(",") }
                        w.put("{\"role\":")
                        try w.putJSONString(t.role)
                        try w.reserve(16)
                        w.put(",\"content\":")
                        try w.putJSONString(t.content)
                        try w.reserve(2)
                        w.put("}")
                    }
                    try w.reserve(4)
                    w.put("]}\n")
                    messageRows += 1
                }
            }
            if let w = idsWriter {
                try row.withUnsafeData(atIndex: 5) { data in
                    guard let data else {
                        throw bad("it has no input_ids although other examples of the set have them; rebuild the set")
                    }
                    let bytes = data.count
                    guard bytes % 4 == 0 else {
                        throw bad("its input_ids BLOB is \(bytes) bytes, not a multiple of 4 (little-endian int32 ids): corrupt")
                    }
                    let n = bytes / 4
                    guard let nTokens, nTokens == Int64(n) else {
                        throw bad("its input_ids BLOB holds \(n) ids but n_tokens is \(nTokens.map(String.init) ?? "NULL"): corrupt")
                    }
                    // ids: at most 10 digits and a comma each, twice (labels); the mask 2 bytes each.
                    try w.reserve(64 + n * 24)
                    w.put("{\"input_ids\":[")
                    let start = w.used
                    var negativeAt: Int?
                    data.withUnsafeBytes { raw in
                        for k in 0..<n {
                            let v = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))
                            if v < 0 { negativeAt = k; return }
                            if k > 0 { w.put(UInt8(ascii: ",")) }
                            w.putUInt32(UInt32(v))
                        }
                    }
                    if let k = negativeAt { throw bad("its input_ids hold a negative id at index \(k): corrupt") }
                    let end = w.used
                    w.put("],\"attention_mask\":[")
                    w.putOnes(n)
                    w.put("],\"labels\":[")
                    w.repeatOutput(from: start, to: end)
                    w.put("]}\n")
                }
                idRows += 1
            }
            progress?.advance()
        }
        progress?.finish()

        // Only now, with every row of every file written and checked, do the final names change.
        var files: [TrainingSetExportSummary.File] = []
        for f in wanted {
            let w = writers[f]!
            try w.commit()
            let rows = f == .text ? textRows : f == .messages ? messageRows : idRows
            files.append(.init(format: f, path: w.path, rows: rows, bytes: w.bytesWritten))
        }

        var entries: [String] = []
        if writesInfo {
            let stem = fileStem(for: set.name)
            var ours: [(key: String, value: ExportJSON)] = []
            if wanted.contains(.text) {
                ours.append((stem + "_text", LlamaFactoryDatasetInfo.textEntry(fileName: "\(stem).text.jsonl")))
            }
            if wanted.contains(.messages) {
                ours.append((stem + "_messages", LlamaFactoryDatasetInfo.messagesEntry(fileName: "\(stem).messages.jsonl")))
            }
            try LlamaFactoryDatasetInfo.merge(ours, into: infoPath)
            entries = ours.map(\.key)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return TrainingSetExportSummary(set: set, files: files, datasetInfoPath: writesInfo ? infoPath : nil,
                                        datasetInfoEntries: entries, seconds: seconds)
    }
}

/// Reading the `messages` column: the OpenAI messages list the build stored (a JSON array of
/// `{"role", "content"}` objects, or an object holding it under `"messages"`).
///
/// Checked against the shape LLaMA-Factory's sharegpt converter accepts: an optional `system`
/// turn first, then `user` and `assistant` turns alternating, starting with `user` and ending
/// with `assistant`. LLaMA-Factory drops any other conversation with only a log warning, so a
/// set with such rows would train on less than it claims; the export refuses it instead.
/// Other keys of a message are not exported (no engine reads them for these sets).
enum ChatTurns {
    struct Invalid: Error { var reason: String }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> [(role: String, content: String)] {
        var value = try ExportJSON.parse(bytes)
        if case .object = value, let inner = value["messages"] { value = inner }
        guard case .array(let items) = value else { throw Invalid(reason: "its messages are not a JSON list of messages") }
        var turns: [(role: String, content: String)] = []
        for (k, item) in items.enumerated() {
            guard case .string(let role)? = item["role"] else { throw Invalid(reason: "its message \(k) has no string \"role\"") }
            guard case .string(let content)? = item["content"] else { throw Invalid(reason: "its message \(k) has no string \"content\"") }
            turns.append((role, content))
        }
        let roles = turns.map(\.role)
        let dialogue = roles.first == "system" ? Array(roles.dropFirst()) : roles
        let alternating = dialogue.enumerated().allSatisfy { $0.element == ($0.offset % 2 == 0 ? "user" : "assistant") }
        guard !dialogue.isEmpty, dialogue.count % 2 == 0, alternating else {
            throw Invalid(reason: "its messages have roles [\(roles.joined(separator: ", "))], not an optional system turn then "
                + "user/assistant turns alternating and ending with assistant (LLaMA-Factory would silently drop it)")
        }
        return turns
    }
}

extension TrainingSetExport {
    /// `export set` as a ``Stage``: the set is resolved before the run is recorded (an unknown or
    /// incomplete set leaves no trace); the files are written from one read transaction, so they
    /// hold one consistent state of the set; the run records which set went where.
    public struct Job: Stage {
        public static let name = "export"
        public let store: Store
        public let set: String
        public let formats: [TrainingSetExportFormat]?
        public let directory: String
        public var progress: ProgressReporter?

        public init(store: Store, set: String, formats: [TrainingSetExportFormat]?, directory: String, progress: ProgressReporter? = nil) {
            self.store = store
            self.set = set
            self.formats = formats
            self.directory = directory
            self.progress = progress
        }

        public struct Config: Encodable {
            let set: String
            let formats: [String]?
            let directory: String
        }

        public func prepare() throws -> StagePlan<Config, Void> {
            let ref = try store.pool.read { db in try TrainingSetExport.resolve(db, set) }
            let directory = URL(fileURLWithPath: directory).standardizedFileURL.path
            return StagePlan(configuration: Config(set: ref.fingerprint, formats: formats?.map(\.rawValue), directory: directory),
                             pendingInputs: 0)
        }

        public func execute(_ work: StagePlan<Config, Void>, in run: StageContext) throws -> TrainingSetExportSummary {
            let summary = try store.pool.read { db in
                try TrainingSetExport.export(db, set: work.configuration.set, formats: formats, to: directory, progress: progress)
            }
            let rows = summary.files.first?.rows ?? 0
            try run.commit(processed: rows) { _ in }
            return summary
        }
    }
}

extension TrainingSetExportSummary: StageOutput {
    public var counts: [String: Int] {
        ["files": files.count, "examples": files.first?.rows ?? 0, "bytes": totalBytes]
    }
}
