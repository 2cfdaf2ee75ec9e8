import Foundation
import GRDB
import LecternCore
import LecternStore

/// `lectern eval import`: a domain task's items into `eval_tasks` / `eval_items`.
///
/// Formats:
/// - `pubmedqa`: PubMedQA's `ori_pqal.json` (id -> {QUESTION, CONTEXTS, final_decision}). Each
///   instance is a three-way choice (yes / no / maybe) with the prompt shape of AdaptLLM's and
///   lm-evaluation-harness's PubMedQA task: `Abstract: <contexts>\nQuestion: <question>\nAnswer:`.
///   Each item keeps the content hash of its abstract, as `lectern ingest` computes it for the
///   same instance, so a set built from the same abstracts is known to be contaminated.
/// - `adaptllm`: AdaptLLM's released task files, JSON Lines of `{"input", "options", "gold_index"}`
///   (choice) or `{"input", "label"}` (generation); other fields are kept in `metadata`.
/// - `lmeval`: an lm-evaluation-harness task YAML over a local JSON Lines file (``LMEvalTask``):
///   each document rendered by the YAML's `doc_to_text` / `doc_to_choice` / `doc_to_target`.
///
/// Bad records are reported with file and line, skipped and counted (or stop the import with
/// `strict`). Importing the same file again adds nothing: an item is keyed by its task and position.
public struct TaskImport: Stage {
    public enum Format: String, Codable, Sendable, CaseIterable { case pubmedqa, adaptllm, lmeval }

    public static let name = "eval-import"
    public let store: Store
    public let path: String
    public let task: String
    public let format: Format
    public var domain: String?
    /// The metric the report shows (``TaskMetric``); nil: the task file's (lm-eval's
    /// `metric_list`), else accuracy for choice tasks and exact match for generation tasks.
    public var metric: TaskMetric?
    public var limit: Int?
    public var strict = false

    public init(store: Store, path: String, task: String, format: Format) {
        self.store = store
        self.path = path
        self.task = task
        self.format = format
    }

    public struct Config: Encodable {
        var task: String
        var format: Format
        var source: String
        var sha256: String
        var limit: Int?
        var metric: String
    }

    /// One parsed item.
    struct Item {
        var externalID: String?
        var input: String
        var options: [String]?
        var gold: Int?
        var label: String?
        var metadata: String?
        var contentHash: Data?
    }

    public struct Summary: StageOutput, Sendable {
        public var taskID: Int64
        public var kind: String
        public var added = 0
        public var alreadyThere = 0
        public var skipped = 0
        public var problems: [String] = []
        public var counts: [String: Int] { ["added": added, "already_there": alreadyThere, "skipped": skipped] }
    }

    public struct Prepared {
        var items: [Item]
        var problems: [String]
    }

    public func prepare() throws -> StagePlan<Config, Prepared> {
        guard !task.isEmpty, task.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw EvalError.badOption("--task '\(task)': use letters, digits, '-', '_' and '.'")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvalError.badTaskFile("\(path): cannot read the file (missing or unreadable)")
        }
        var problems: [String] = []
        var items: [Item]
        var hashed = Array(data)
        var fileMetric: String?
        switch format {
        case .pubmedqa: items = try Self.pubmedqa(data, path: path, problems: &problems, strict: strict)
        case .adaptllm: items = try Self.adaptllm(data, path: path, problems: &problems, strict: strict)
        case .lmeval:
            let spec = try LMEvalTask(yamlAt: path)
            guard let docs = FileManager.default.contents(atPath: spec.dataFile) else {
                throw EvalError.badTaskFile("\(path): cannot read its data file \(spec.dataFile) (dataset_kwargs.data_files)")
            }
            hashed += [0] + Array(docs)
            fileMetric = spec.metric
            items = try Self.lmeval(docs, spec: spec, path: spec.dataFile, problems: &problems, strict: strict)
        }
        if let limit { items = Array(items.prefix(max(0, limit))) }
        guard !items.isEmpty else {
            throw EvalError.noItems("\(path): no valid item" + (problems.first.map { " (first problem: \($0))" } ?? ""))
        }
        let kinds = Set(items.map { $0.options == nil ? "generation" : "choice" })
        guard kinds.count == 1, let kind = kinds.first else { throw EvalError.badTaskFile("\(path): mixes choice items (with options) and generation items (with a label)") }
        let taskMetric = try TaskMetric.resolve(given: metric, file: fileMetric, kind: kind)
        let sha = Fingerprint.hex(of: hashed)
        return StagePlan(configuration: Config(task: task, format: format, source: URL(fileURLWithPath: path).standardizedFileURL.path,
                                               sha256: sha, limit: limit, metric: taskMetric.rawValue),
                         pendingInputs: items.count, prepared: Prepared(items: items, problems: problems))
    }

    public func execute(_ work: StagePlan<Config, Prepared>, in run: StageContext) throws -> Summary {
        let items = work.prepared.items, skippedProblems = work.prepared.problems
        let kind = items.first?.options == nil ? "generation" : "choice"
        let taskID: Int64 = try run.commit(processed: 0) { db in
            if let row = try Row.fetchOne(db, sql: "SELECT id, kind FROM eval_tasks WHERE name = ?", arguments: [task]) {
                let existing: String = row["kind"]
                guard existing == kind else {
                    throw EvalError.badTaskFile("task \(task) holds \(existing) items; \(path) has \(kind) items: import it under another --task")
                }
                return row["id"]
            }
            try db.execute(sql: "INSERT INTO eval_tasks(name, domain, kind, metric, source, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [task, domain ?? store.domain, kind, work.configuration.metric, work.configuration.source, Timestamp.now()])
            return db.lastInsertedRowID
        }
        var summary = Summary(taskID: taskID, kind: kind)
        var position = 0
        for batch in stride(from: 0, to: items.count, by: 500) {
            let slice = items[batch..<min(items.count, batch + 500)]
            let added: Int = try run.commit(processed: slice.count) { db in
                let insert = try db.makeStatement(sql: """
                    INSERT INTO eval_items(task_id, position, external_id, input, options, gold_index, label, metadata, content_hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(task_id, position) DO NOTHING
                    """)
                var n = 0
                for item in slice {
                    let options = try item.options.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
                    try insert.execute(arguments: [taskID, position, item.externalID, item.input, options, item.gold, item.label,
                                                   item.metadata, item.contentHash])
                    n += db.changesCount
                    position += 1
                }
                return n
            }
            summary.added += added
            summary.alreadyThere += slice.count - added
        }
        summary.problems = skippedProblems
        summary.skipped = skippedProblems.count
        for p in skippedProblems.prefix(StageRun.keptMessages) { run.note(p) }
        return summary
    }

    // MARK: - Readers

    /// PubMedQA's ori_pqal.json, in its key order (the file's order; lm-evaluation-harness and
    /// AdaptLLM read the same file).
    static func pubmedqa(_ data: Data, path: String, problems: inout [String], strict: Bool) throws -> [Item] {
        let root: JSONScanner.Value
        do {
            root = try [UInt8](data).withUnsafeBufferPointer { buf in
                var scanner = JSONScanner(buf)
                let v = try scanner.value()
                return v
            }
        } catch {
            throw EvalError.badTaskFile("\(path): not valid JSON: \(error)")
        }
        guard case .object(let entries) = root else { throw EvalError.badTaskFile("\(path): PubMedQA's ori_pqal.json is an object of id -> instance") }
        var items: [Item] = []
        let choices = ["yes", "no", "maybe"]
        for (id, value) in entries {
            func bad(_ why: String) throws {
                let m = "\(path): instance \(id): \(why)"
                if strict { throw EvalError.badTaskFile(m) }
                problems.append(m)
            }
            guard case .array(let contexts)? = value["CONTEXTS"], let question = value["QUESTION"]?.stringValue,
                  let decision = value["final_decision"]?.stringValue else { try bad("needs CONTEXTS, QUESTION and final_decision"); continue }
            let parts = contexts.compactMap(\.stringValue)
            guard parts.count == contexts.count, !parts.isEmpty else { try bad("CONTEXTS is not a list of strings"); continue }
            guard let gold = choices.firstIndex(of: decision.lowercased()) else { try bad("final_decision '\(decision)' is not yes, no or maybe"); continue }
            let abstract = parts.joined(separator: " ")
            let meta = try JSONSerialization.data(withJSONObject: ["question": question, "final_decision": decision], options: [.sortedKeys])
            items.append(Item(externalID: id, input: "Abstract: \(abstract)\nQuestion: \(question)\nAnswer:", options: choices, gold: gold,
                              label: nil, metadata: String(decoding: meta, as: UTF8.self), contentHash: Data(ContentHash.of(text: abstract))))
        }
        return items
    }

    /// Each non-blank line of a JSON Lines file as an object, to `body` with a way to report the
    /// line as bad (file:line: why; skipped and counted, or thrown with `strict`). Lines that are
    /// not UTF-8 or not a JSON object are reported here.
    static func jsonLines(_ data: Data, path: String, problems: inout [String], strict: Bool,
                          _ body: ([String: Any], (String) throws -> Void) throws -> Void) throws {
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            func bad(_ why: String) throws {
                let m = "\(path):\(lineNumber): \(why)"
                if strict { throw EvalError.badTaskFile(m) }
                problems.append(m)
            }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard String(data: Data(line), encoding: .utf8) != nil else { try bad("not valid UTF-8"); continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any] else { try bad("not a JSON object"); continue }
            try body(object, bad)
        }
    }

    /// An lm-evaluation-harness task's JSON Lines documents through its YAML's templates.
    static func lmeval(_ data: Data, spec: LMEvalTask, path: String, problems: inout [String], strict: Bool) throws -> [Item] {
        var items: [Item] = []
        try jsonLines(data, path: path, problems: &problems, strict: strict) { doc, bad in
            do {
                let it = try spec.item(doc)
                guard !it.input.isEmpty else { try bad("doc_to_text renders an empty prompt"); return }
                let meta = String(decoding: try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]), as: UTF8.self)
                items.append(Item(externalID: (doc["id"] ?? doc["doc_id"]).map { "\($0)" }, input: it.input, options: it.options, gold: it.gold,
                                  label: it.label, metadata: meta, contentHash: nil))
            } catch EvalError.badTaskFile(let why) {
                try bad(why)
            }
        }
        return items
    }

    /// AdaptLLM's task JSONL.
    static func adaptllm(_ data: Data, path: String, problems: inout [String], strict: Bool) throws -> [Item] {
        var items: [Item] = []
        try jsonLines(data, path: path, problems: &problems, strict: strict) { object, bad in
            guard let input = object["input"] as? String, !input.isEmpty else { try bad("no \"input\" string"); return }
            var rest = object
            rest.removeValue(forKey: "input")
            if let options = object["options"] {
                guard let list = options as? [String], !list.isEmpty else { try bad("\"options\" is not a list of strings"); return }
                guard let goldNumber = object["gold_index"] as? NSNumber, let gold = Int(exactly: goldNumber.doubleValue), (0..<list.count).contains(gold) else {
                    try bad("\"gold_index\" must be an integer in 0..<\(list.count)"); return
                }
                rest.removeValue(forKey: "options"); rest.removeValue(forKey: "gold_index")
                let meta = rest.isEmpty ? nil : String(decoding: try JSONSerialization.data(withJSONObject: rest, options: [.sortedKeys]), as: UTF8.self)
                items.append(Item(externalID: (object["id"]).map { "\($0)" }, input: input, options: list, gold: gold, label: nil, metadata: meta, contentHash: nil))
            } else if let label = object["label"] as? String {
                rest.removeValue(forKey: "label")
                let meta = rest.isEmpty ? nil : String(decoding: try JSONSerialization.data(withJSONObject: rest, options: [.sortedKeys]), as: UTF8.self)
                items.append(Item(externalID: (object["id"]).map { "\($0)" }, input: input, options: nil, gold: nil, label: label, metadata: meta, contentHash: nil))
            } else {
                try bad("neither \"options\" with \"gold_index\" (a choice item) nor \"label\" (a generation item)")
            }
        }
        return items
    }
}
