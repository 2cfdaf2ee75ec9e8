import Foundation
import Yams

/// An lm-evaluation-harness task: its YAML (the fields that decide what is asked and what counts
/// as right) over local JSON Lines documents, read offline.
///
/// Supported: `output_type` `multiple_choice` or `generate_until`; `dataset_path: json` with
/// `dataset_kwargs.data_files` (a path, or a map from split to path; `test_split`, else
/// `validation_split`, picks one), relative to the YAML's folder; `doc_to_text`, `doc_to_choice`,
/// `doc_to_target` as a field name, a Jinja template of fields (`{{question}}`, `{{ doc.a.b }}`,
/// `{{choices[0]}}`, `{{ text | trim }}`, `{{ text.strip() }}`), a list (choices) or an integer
/// (target); `target_delimiter` " " (the default, and the only one AdaptLLM's scoring uses);
/// `num_fewshot` 0; `metric_list` (`acc`, `acc_norm`, `exact_match`, `f1` -> macro F1).
/// Anything else that changes the items (Python `!function` hooks, Jinja control blocks, few-shot
/// examples, other delimiters) is refused with the field named, never half-applied.
struct LMEvalTask {
    enum OutputType: String { case multipleChoice = "multiple_choice", generateUntil = "generate_until" }

    var outputType: OutputType
    var dataFile: String
    var docToText: Any
    var docToChoice: Any?
    var docToTarget: Any
    /// The task's metric in Lectern's names (nil: the kind's default).
    var metric: String?

    /// Reads the YAML at `path`.
    init(yamlAt path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw EvalError.badTaskFile("\(path): cannot read the task YAML (missing, unreadable or not UTF-8)")
        }
        // Python hooks are YAML tags (`doc_to_text: !function utils.doc_to_text`), which the parser
        // would read as the plain string after the tag: refuse them before parsing.
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[1].trimmingCharacters(in: .whitespaces).hasPrefix("!function") {
                throw EvalError.badTaskFile("\(path): \(parts[0].trimmingCharacters(in: .whitespaces)) is a Python function "
                    + "(\(parts[1].trimmingCharacters(in: .whitespaces))): not supported offline; write it as a template of fields")
            }
        }
        let loaded: Any?
        do { loaded = try Yams.load(yaml: text) } catch {
            throw EvalError.badTaskFile("\(path): not valid YAML: \(error)")
        }
        guard let y = loaded as? [String: Any] else { throw EvalError.badTaskFile("\(path): the task YAML is not a mapping of fields") }
        func bad(_ why: String) -> EvalError { EvalError.badTaskFile("\(path): \(why)") }

        guard let type = y["output_type"] as? String, let output = OutputType(rawValue: type) else {
            throw bad("output_type \(y["output_type"].map { "'\($0)'" } ?? "missing"): Lectern scores multiple_choice and generate_until tasks")
        }
        outputType = output
        if let n = y["num_fewshot"], (n as? Int) != 0 { throw bad("num_fewshot \(n): few-shot prompts are not built here; put the examples in doc_to_text or import AdaptLLM's ready-made inputs") }
        if let d = y["target_delimiter"], (d as? String) != " " {
            throw bad("target_delimiter '\(d)': only \" \" is supported (AdaptLLM's and lm-eval's default)")
        }
        if let dataset = y["dataset_path"] as? String, !["json", "jsonl"].contains(dataset) {
            throw bad("dataset_path '\(dataset)': only local JSON Lines (dataset_path: json with dataset_kwargs.data_files) can be read offline")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        let files = (y["dataset_kwargs"] as? [String: Any])?["data_files"]
        let file: String
        if let one = files as? String {
            file = one
        } else if let bySplit = files as? [String: Any] {
            let split = (y["test_split"] as? String) ?? (y["validation_split"] as? String) ?? (bySplit.count == 1 ? bySplit.keys.first : nil)
            guard let split, let f = bySplit[split] else { throw bad("dataset_kwargs.data_files has no split \(y["test_split"] ?? y["validation_split"] ?? "test") (splits: \(bySplit.keys.sorted().joined(separator: ", ")))") }
            guard let s = (f as? String) ?? ((f as? [Any])?.count == 1 ? (f as? [Any])?.first as? String : nil) else {
                throw bad("dataset_kwargs.data_files.\(split) must be one path")
            }
            file = s
        } else {
            throw bad("no dataset_kwargs.data_files: name the JSON Lines file of the items")
        }
        dataFile = file.hasPrefix("/") ? file : folder.appendingPathComponent(file).path

        guard let text = y["doc_to_text"] else { throw bad("no doc_to_text") }
        guard let target = y["doc_to_target"] else { throw bad("no doc_to_target") }
        docToText = text
        docToTarget = target
        docToChoice = y["doc_to_choice"]
        if output == .multipleChoice && docToChoice == nil { throw bad("a multiple_choice task needs doc_to_choice") }
        if let list = y["metric_list"] as? [[String: Any]], let first = list.first?["metric"] as? String {
            switch first {
            case "acc": metric = "acc"
            case "acc_norm": metric = "acc_norm"
            case "exact_match": metric = "exact_match"
            case "f1": metric = "macro_f1"
            default: throw bad("metric '\(first)': Lectern computes acc, acc_norm, exact_match and f1 (pass --metric to choose another of its own)")
            }
        }
    }

    /// One document as an item: the prompt, and the options with the gold index (choice) or the
    /// reference answer (generation). Throws a message for a document the templates cannot render.
    func item(_ doc: [String: Any]) throws -> (input: String, options: [String]?, gold: Int?, label: String?) {
        let input = try Self.text(docToText, doc, field: "doc_to_text")
        switch outputType {
        case .multipleChoice:
            let options = try Self.choices(docToChoice as Any, doc)
            guard !options.isEmpty else { throw EvalError.badTaskFile("doc_to_choice gives no options") }
            let target = try Self.value(docToTarget, doc, field: "doc_to_target")
            if let i = target as? Int {
                guard options.indices.contains(i) else { throw EvalError.badTaskFile("doc_to_target \(i) is not an index of the \(options.count) options") }
                return (input, options, i, nil)
            }
            let s = "\(target)"
            if let i = Int(s.trimmingCharacters(in: .whitespaces)), options.indices.contains(i) { return (input, options, i, nil) }
            guard let i = options.firstIndex(of: s) ?? options.firstIndex(of: s.trimmingCharacters(in: .whitespaces)) else {
                throw EvalError.badTaskFile("doc_to_target '\(s.prefix(60))' is neither an option index nor one of the options")
            }
            return (input, options, i, nil)
        case .generateUntil:
            let target = try Self.value(docToTarget, doc, field: "doc_to_target")
            if let list = target as? [Any], let first = list.first { return (input, nil, nil, "\(first)") }
            return (input, nil, nil, "\(target)")
        }
    }

    // MARK: - The template subset

    /// A field's value, a template rendered to text, or a literal.
    static func value(_ spec: Any, _ doc: [String: Any], field: String) throws -> Any {
        if let n = spec as? Int { return n }
        guard let s = spec as? String else { throw EvalError.badTaskFile("\(field) must be a field name, a template or an integer") }
        if !s.contains("{{") && !s.contains("{%") {
            if let v = doc[s] { return v }
            throw EvalError.badTaskFile("\(field) '\(s)': the document has no field '\(s)'")
        }
        // A template that is one expression keeps the value's type (an index, a list).
        let trimmed = s.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}"), trimmed.components(separatedBy: "{{").count == 2 {
            return try expression(String(trimmed.dropFirst(2).dropLast(2)), doc, field: field)
        }
        return try render(s, doc, field: field)
    }

    static func text(_ spec: Any, _ doc: [String: Any], field: String) throws -> String {
        if let s = spec as? String, !s.contains("{{"), !s.contains("{%"), doc[s] == nil {
            throw EvalError.badTaskFile("\(field) '\(s)': the document has no field '\(s)'")
        }
        let v = try value(spec, doc, field: field)
        return v as? String ?? "\(v)"
    }

    static func choices(_ spec: Any, _ doc: [String: Any]) throws -> [String] {
        if let list = spec as? [Any] {
            return try list.map { item in
                if let s = item as? String, s.contains("{{") { return try render(s, doc, field: "doc_to_choice") }
                return "\(item)"
            }
        }
        let v = try value(spec, doc, field: "doc_to_choice")
        guard let list = v as? [Any] else { throw EvalError.badTaskFile("doc_to_choice does not give a list") }
        return list.map { "\($0)" }
    }

    /// `{{ expr }}` replaced by their values; control blocks refused.
    static func render(_ template: String, _ doc: [String: Any], field: String) throws -> String {
        guard !template.contains("{%") else { throw EvalError.badTaskFile("\(field): Jinja control blocks ({% ... %}) are not supported") }
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else { throw EvalError.badTaskFile("\(field): an unclosed {{ in \(template.prefix(60))") }
            let v = try expression(String(rest[open.upperBound..<close.lowerBound]), doc, field: field)
            out += v as? String ?? "\(v)"
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    /// `a.b[0]`, optionally `doc.` first, then `| trim`, `| lower`, `| upper`, `.strip()`.
    static func expression(_ raw: String, _ doc: [String: Any], field: String) throws -> Any {
        var parts = raw.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        var path = parts.removeFirst()
        var filters = parts
        for (method, filter) in [(".strip()", "trim"), (".lower()", "lower"), (".upper()", "upper")] where path.hasSuffix(method) {
            path = String(path.dropLast(method.count))
            filters.append(filter)
        }
        if path.hasPrefix("doc.") { path = String(path.dropFirst(4)) }
        var value: Any = doc
        for component in path.split(separator: ".") {
            var name = Substring(component)
            var indexes: [Int] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
                guard let i = Int(name[name.index(after: open)..<name.index(before: name.endIndex)]) else {
                    throw EvalError.badTaskFile("\(field): '{{\(raw)}}' is not a field, an index or a supported filter")
                }
                indexes.insert(i, at: 0)
                name = name[..<open]
            }
            guard let object = value as? [String: Any], let next = object[String(name)] else {
                throw EvalError.badTaskFile("\(field): the document has no field '\(path)' (in '{{\(raw)}}')")
            }
            value = next
            for i in indexes {
                guard let list = value as? [Any], list.indices.contains(i) else { throw EvalError.badTaskFile("\(field): '{{\(raw)}}': no element \(i)") }
                value = list[i]
            }
        }
        for f in filters {
            let s = value as? String ?? "\(value)"
            switch f {
            case "trim": value = s.trimmingCharacters(in: .whitespacesAndNewlines)
            case "lower": value = s.lowercased()
            case "upper": value = s.uppercased()
            default: throw EvalError.badTaskFile("\(field): filter '\(f)' in '{{\(raw)}}' is not supported (trim, lower, upper)")
            }
        }
        return value
    }
}
