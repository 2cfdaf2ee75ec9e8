import Foundation
import GRDB
import LecternStore

/// `lectern report`: one self-contained HTML page about a Lectern file, drawn from its catalogue
/// (``FileCatalogue`` with details), in pipeline order: corpus, embeddings and clusters, QA,
/// training sets, training, evaluation, what ran.
///
/// The page has no script and fetches nothing (styles and SVG charts are inline), and its bytes
/// depend only on the file's contents (no clock, no locale, no random order), so two reports of
/// the same file are byte-equal and a changed report means a changed file. A section with no
/// rows in the file is left out, not drawn empty.
public struct FileReport {
    public let catalogue: FileCatalogue
    /// The file's name as the page shows it (not its path: the page may be shared).
    public let fileName: String
    /// Estimated LLM cost per model (from a price table), when the caller has one.
    public var costs: [String: Double] = [:]

    public init(catalogue: FileCatalogue, fileName: String) {
        self.catalogue = catalogue
        self.fileName = fileName
    }

    /// The sections of the page, by anchor: those that have something to show.
    public var sectionIDs: [String] {
        var ids: [String] = []
        if has("sources") || has("token_lengths") { ids.append("corpus") }
        if has("cluster_quality") || has("cluster_sizes") || has("embedders") { ids.append("clusters") }
        if has("qa_per_document") || has("rc_task_types") { ids.append("qa") }
        if has("training_sets") { ids.append("training-sets") }
        if has("training_runs") { ids.append("training") }
        if has("eval_scores") { ids.append("evaluation") }
        if has("stage_runs") { ids.append("stages") }
        return ids
    }

    func has(_ key: String) -> Bool { !(catalogue.section(key)?.rows.isEmpty ?? true) }

    /// The page.
    public func html() -> String {
        var body = header()
        let titles = ["corpus": "Corpus", "clusters": "Embeddings and clusters", "qa": "Question-answer pairs and mined tasks",
                      "training-sets": "Training sets", "training": "Training", "evaluation": "Evaluation", "stages": "What ran"]
        let ids = sectionIDs
        body += "<nav>" + ids.map { "<a href=\"#\($0)\">\(titles[$0] ?? $0)</a>" }.joined(separator: " · ") + "</nav>"
        for id in ids {
            body += "<section id=\"\(id)\"><h2>\(titles[id] ?? id)</h2>"
            switch id {
            case "corpus": body += corpus()
            case "clusters": body += clusters()
            case "qa": body += qa()
            case "training-sets": body += trainingSets()
            case "training": body += training()
            case "evaluation": body += evaluation()
            default: body += stages()
            }
            body += "</section>"
        }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="lectern report">
            <title>Lectern report: \(SVG.escape(fileName))</title>
            <style>\(Self.style)</style></head>
            <body>\(body)
            <footer>Made by <code>lectern report</code> from the file alone: every number on this page is a row of the file, queryable with <code>lectern sql</code>.</footer>
            </body></html>

            """
    }

    static let style = """
        body{font:14px/1.45 "DejaVu Sans",system-ui,sans-serif;color:#1d232b;max-width:1060px;margin:24px auto;padding:0 20px;background:#fff}
        h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;border-bottom:2px solid #0072B2;padding-bottom:3px;margin-top:34px}
        h3{font-size:15px;margin:20px 0 6px}p.note{color:#555;margin:4px 0 10px}nav{margin:10px 0 4px;font-size:13px}
        nav a{color:#0072B2;text-decoration:none}table{border-collapse:collapse;margin:6px 0 14px;font-size:12.5px}
        th,td{border-bottom:1px solid #dde2e8;padding:3px 9px;text-align:left;vertical-align:top}
        th{background:#f2f5f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
        .cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}.card{border:1px solid #dde2e8;border-radius:6px;padding:8px 14px;min-width:110px}
        .card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
        .charts{display:flex;flex-wrap:wrap;gap:8px 18px}.chart{max-width:100%;height:auto;background:#fcfdfe;border:1px solid #eef1f4}
        .chart .grid{stroke:#e3e7ec;stroke-width:1}.chart .axisline{stroke:#7a8591}.chart .whisker{stroke:#1d232b;stroke-width:1.3}
        .chart text{font-family:"DejaVu Sans",sans-serif;fill:#1d232b}.chart .tick{font-size:10px;fill:#555}
        .chart .axis{font-size:11px;fill:#333}.chart .value{font-size:10.5px;font-weight:600}.chart .value.small{font-size:8px}
        .chart .legend{font-size:11px}.better{color:#007a4d;font-weight:600}.worse{color:#b3261e;font-weight:600}
        details{margin:2px 0}summary{cursor:pointer;color:#0072B2}code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
        pre{white-space:pre-wrap;word-break:break-all;background:#f6f8fa;padding:6px;margin:4px 0}
        footer{margin:40px 0 10px;color:#666;font-size:12px;border-top:1px solid #dde2e8;padding-top:8px}
        .example li{margin:3px 0}.warn{background:#fff6e0;border-left:4px solid #E69F00;padding:6px 10px}
        """

    // MARK: values

    func text(_ v: DatabaseValue?) -> String {
        switch v?.storage {
        case .int64(let i)?: return String(i)
        case .double(let d)?: return SVG.number(d, decimals: 4)
        case .string(let s)?: return s
        case .blob(let b)?: return "(\(b.count) bytes)"
        default: return ""
        }
    }
    func double(_ v: DatabaseValue?) -> Double? {
        switch v?.storage {
        case .int64(let i)?: return Double(i)
        case .double(let d)?: return d
        case .string(let s)?: return Double(s)
        default: return nil
        }
    }
    func int(_ v: DatabaseValue?) -> Int { double(v).map { $0.isFinite && abs($0) < 9e15 ? Int($0) : 0 } ?? 0 }

    func rows(_ key: String) -> [[String: DatabaseValue]] {
        guard let s = catalogue.section(key) else { return [] }
        return s.rows.map { row in Dictionary(s.columns.enumerated().map { ($0.element, $0.offset < row.count ? row[$0.offset] : .null) },
                                              uniquingKeysWith: { a, _ in a }) }
    }

    func grouped(_ rows: [[String: DatabaseValue]], by column: String) -> [(key: String, rows: [[String: DatabaseValue]])] {
        var order: [String] = [], groups: [String: [[String: DatabaseValue]]] = [:]
        for r in rows {
            let k = text(r[column])
            if groups[k] == nil { order.append(k) }
            groups[k, default: []].append(r)
        }
        return order.map { ($0, groups[$0] ?? []) }
    }

    static func grouping(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A table of a catalogue section (`columns` picked and renamed), numbers right-aligned.
    func table(_ key: String, columns: [(String, String)]? = nil, limit: Int = 200, fileNames: Set<String> = [],
               where keep: ([String: DatabaseValue]) -> Bool = { _ in true }) -> String {
        guard let s = catalogue.section(key) else { return "" }
        let cols = columns ?? s.columns.map { ($0, $0.replacingOccurrences(of: "_", with: " ")) }
        let kept = rows(key).filter(keep)
        guard !kept.isEmpty else { return "" }
        var out = "<table data-section=\"\(SVG.escape(key))\"><tr>" + cols.map { "<th>\(SVG.escape($0.1))</th>" }.joined() + "</tr>"
        for r in kept.prefix(limit) {
            out += "<tr>" + cols.map { c in
                let v = r[c.0]
                switch v?.storage {
                case .int64(let i)?: return "<td class=\"num\">\(Self.grouping(Int(i)))</td>"
                case .double(let d)?: return "<td class=\"num\">\(SVG.number(d, decimals: 4))</td>"
                default:
                    // A path shown by its last component (the whole path on hover).
                    if fileNames.contains(c.0), case .string(let s)? = v?.storage, s.contains("/") {
                        return "<td title=\"\(SVG.escape(s))\">\(SVG.escape(URL(fileURLWithPath: s).lastPathComponent))</td>"
                    }
                    return "<td>\(SVG.escape(text(v)))</td>"
                }
            }.joined() + "</tr>"
        }
        out += "</table>"
        if kept.count > limit { out += "<p class=\"note\">\(kept.count - limit) more rows in the file.</p>" }
        return out
    }

    func card(_ value: String, _ label: String) -> String { "<div class=\"card\"><b>\(SVG.escape(value))</b><span>\(SVG.escape(label))</span></div>" }

    // MARK: sections

    func header() -> String {
        var out = "<h1>Lectern report: \(SVG.escape(fileName))</h1>"
        let domain = text(catalogue.fileFact("domain"))
        let facts = [("domain", domain), ("schema version", text(catalogue.fileFact("schema_version"))),
                     ("created", text(catalogue.fileFact("created_at"))), ("last written by", text(catalogue.fileFact("last_written_by")))]
        out += "<p class=\"note\">" + facts.filter { !$0.1.isEmpty }.map { "\($0.0): <b>\(SVG.escape($0.1))</b>" }.joined(separator: " · ") + "</p>"
        out += "<div class=\"cards\">"
        out += card(Self.grouping(int(catalogue.fileFact("documents"))), "documents")
        out += card(Self.grouping(int(catalogue.fileFact("characters"))), "characters")
        for (artifact, label) in [("QA pairs", "QA pairs"), ("reading-comprehension texts", "mined texts"), ("instructions", "general instructions"),
                                  ("training examples", "training examples"), ("checkpoints", "checkpoints")] {
            let n = catalogue.artifactRows(artifact)
            if n > 0 { out += card(Self.grouping(n), label) }
        }
        if let best = evalModels().filter({ $0.run != nil }).compactMap({ m in m.difference.map { (m, $0) } }).max(by: { $0.1 < $1.1 }) {
            out += card(String(format: "%+.1f", best.1), "best adapter vs base (points)")
        }
        return out + "</div>"
    }

    func corpus() -> String {
        var out = table("sources", columns: [("path", "source"), ("format", "format"), ("status", "status"), ("files", "files"), ("records", "records read"),
                                             ("added", "documents added"), ("duplicates", "duplicates"), ("skipped", "bad records")], fileNames: ["path"])
        var charts = ""
        for (tokenizer, bins) in grouped(rows("token_lengths"), by: "tokenizer") {
            let bars = bins.map { SVG.Bar(label: "\(int($0["from"]))–\(int($0["to"]))", value: Double(int($0["documents"])), series: tokenizer) }
            charts += SVG.bars(id: "token-lengths-\(tokenizer)", title: "Document length in \(tokenizer) tokens", bars: bars,
                               yLabel: "documents", xLabel: "document length (\(tokenizer) tokens; bin start–end)")
        }
        if !charts.isEmpty { out += "<h3>Document lengths</h3><div class=\"charts\">\(charts)</div>" }
        let bad = rows("problems").filter { text($0["stage"]) == "ingest" }
        if !bad.isEmpty {
            out += "<h3>Bad records</h3><p class=\"note\">Skipped at ingest, with the reason (the first 100 a run keeps).</p>"
            out += table("problems", columns: [("run", "run"), ("message", "message")], limit: 30) { text($0["stage"]) == "ingest" }
        }
        return out
    }

    func clusters() -> String {
        var out = table("embedders", columns: [("name", "embedder"), ("model", "model"), ("dim", "dimension"), ("metric", "metric"), ("documents", "documents embedded")])
        let quality = rows("cluster_quality")
        if !quality.isEmpty {
            out += "<h3>Are the clusters better than chance?</h3><p class=\"note\">Mean pairwise cosine similarity of the documents within a cluster, "
                + "against the same documents grouped at random into clusters of the same sizes; fill is the share of the token budget the clusters use.</p>"
            out += table("cluster_quality", columns: [("clustering", "clustering"), ("algorithm", "algorithm"), ("documents", "documents"), ("clusters", "clusters"),
                                                      ("singletons", "singletons"), ("similarity", "similarity"), ("random_similarity", "random"),
                                                      ("fill", "fill"), ("random_fill", "random fill"), ("max_tokens", "token budget")])
            var bars: [SVG.Bar] = []
            for q in quality {
                let label = "#\(text(q["clustering"])) \(text(q["algorithm"]))"
                bars.append(SVG.Bar(label: label, value: double(q["similarity"]) ?? 0, colour: 0, series: "clusters"))
                bars.append(SVG.Bar(label: label, value: double(q["random_similarity"]) ?? 0, colour: 1, series: "random"))
            }
            out += "<div class=\"charts\">" + SVG.bars(id: "cluster-similarity", title: "Intra-cluster similarity: clusters against random groups",
                                                          bars: bars, yLabel: "mean cosine similarity", xLabel: "clustering", decimals: 3,
                                                          legend: ["clusters", "random groups of the same sizes"]) + "</div>"
        }
        var charts = ""
        for (clustering, sizes) in grouped(rows("cluster_sizes"), by: "clustering") {
            charts += SVG.bars(id: "cluster-sizes-\(clustering)", title: "Documents per cluster (clustering \(clustering))",
                               bars: sizes.map { SVG.Bar(label: text($0["documents"]), value: Double(int($0["clusters"])), series: "clustering \(clustering)") },
                               yLabel: "clusters", xLabel: "documents in the cluster (clustering \(clustering))")
        }
        for (clustering, bins) in grouped(rows("cluster_fill"), by: "clustering") {
            charts += SVG.bars(id: "cluster-fill-\(clustering)", title: "Token fill of the clusters (clustering \(clustering))",
                               bars: bins.map { SVG.Bar(label: "\(int($0["from_percent"]))–\(int($0["to_percent"]))%", value: Double(int($0["clusters"])), colour: 2, series: "clustering \(clustering)") },
                               yLabel: "clusters", xLabel: "tokens used, share of the budget (clustering \(clustering))")
        }
        if !charts.isEmpty { out += "<h3>Cluster sizes and fill</h3><div class=\"charts\">\(charts)</div>" }
        let example = rows("example_cluster")
        if let first = example.first {
            out += "<h3>An example cluster</h3><p class=\"note\">Cluster \(text(first["cluster"])) of clustering \(text(first["clustering"])), "
                + "the largest: its documents in order, with each one's similarity when it joined.</p><ol class=\"example\">"
            for m in example {
                let sim = double(m["similarity"]).map { " <code>" + String(format: "%.3f", $0) + "</code>" } ?? ""
                out += "<li>document \(text(m["document"]))\(sim): \(SVG.escape(text(m["excerpt"])))</li>"
            }
            out += "</ol>"
        }
        return out
    }

    func qa() -> String {
        var out = ""
        var charts = ""
        for (generator, bins) in grouped(rows("qa_per_document"), by: "generator") {
            charts += SVG.bars(id: "qa-per-document-\(generator)", title: "QA pairs per document (\(generator))",
                               bars: bins.map { SVG.Bar(label: text($0["pairs"]), value: Double(int($0["documents"])), series: generator) },
                               yLabel: "documents", xLabel: "QA pairs in the answer (\(generator))")
        }
        for (miner, types) in grouped(rows("rc_task_types"), by: "miner") {
            charts += SVG.bars(id: "rc-task-types-\(miner)", title: "Mined tasks by type (miner \(miner))",
                               bars: types.map { SVG.Bar(label: text($0["task_type"]), value: Double(int($0["tasks"])), colour: 3, series: miner) },
                               yLabel: "tasks", xLabel: "task type (AdaptLLM's reading-comprehension tasks, miner \(miner))")
        }
        if !charts.isEmpty { out += "<div class=\"charts\">\(charts)</div>" }
        if has("qa_requests") {
            out += "<h3>Yield and failures</h3>" + table("qa_requests", columns: [("generator", "generator"), ("status", "outcome"), ("reason", "reason"),
                                                                                   ("requests", "documents"), ("attempts", "requests sent"), ("mean_latency_ms", "mean latency (ms)")])
        }
        let usage = rows("llm_usage")
        if !usage.isEmpty {
            out += "<h3>LLM usage</h3><table data-section=\"llm_usage\"><tr><th>model</th><th>documents</th><th>ok</th><th>invalid</th><th>failed</th>"
                + "<th>prompt tokens</th><th>completion tokens</th><th>pairs</th><th>estimated cost</th></tr>"
            for u in usage {
                let model = text(u["model"])
                let cost = costs[model].map { String(format: "$%.4f", $0) } ?? "no price (lectern report --prices)"
                out += "<tr><td>\(SVG.escape(model))</td>" + ["documents", "ok", "invalid", "failed", "prompt_tokens", "completion_tokens", "pairs"]
                    .map { "<td class=\"num\">\(Self.grouping(int(u[$0])))</td>" }.joined() + "<td>\(SVG.escape(cost))</td></tr>"
            }
            out += "</table>"
        }
        return out + distillation()
    }

    /// The paper's cost cut: each student generator (a served model applying a checkpoint of this
    /// file) against its teacher (the generator whose pairs made the student's training set).
    func distillation() -> String {
        let generators = rows("generators")
        let students = generators.filter { !(($0["adapter_run"] ?? .null).isNull) }
        guard !students.isEmpty else { return "" }
        let byID = Dictionary(generators.map { (int($0["id"]), $0) }, uniquingKeysWith: { a, _ in a })
        let runs = Dictionary(rows("training_runs").map { (int($0["id"]), $0) }, uniquingKeysWith: { a, _ in a })
        let sets = Dictionary(rows("training_sets").map { (int($0["id"]), $0) }, uniquingKeysWith: { a, _ in a })
        let overlap = rows("answer_overlap")
        let learnt = rows("distill_documents")
        var out = "<h3>Teacher and student generators</h3><p class=\"note\">A student is a served model applying a checkpoint of this file "
            + "(<code>lectern generate --adapter</code>), fine-tuned on its teacher's conversations (a <code>distill</code> set). Answer overlap: token F1 "
            + "between the two generators' answers on the documents both answered that the student did not learn from. Time: the requests' summed "
            + "latency per 1,000 documents (one request at a time; divide by the concurrency).</p>"
        out += "<table data-section=\"distillation\"><tr><th>generator</th><th>role</th><th>documents</th><th>valid JSON</th><th>pairs per document</th>"
            + "<th>answer overlap with the teacher</th><th>seconds per 1,000 documents</th><th>tokens per 1,000 documents</th><th>cost per 1,000 documents</th></tr>"
        func line(_ g: [String: DatabaseValue], role: String, overlapText: String) -> String {
            let documents = int(g["documents"]), ok = int(g["ok"]), invalid = int(g["invalid"])
            let valid = ok + invalid > 0 ? String(format: "%.1f%%", 100 * Double(ok) / Double(ok + invalid)) : "–"
            let perDoc = ok > 0 ? String(format: "%.2f", Double(int(g["pairs"])) / Double(ok)) : "–"
            let seconds = documents > 0 ? String(format: "%.0f", double(g["latency_ms"]).map { $0 / Double(documents) } ?? 0) : "–"
            let tokens = documents > 0 ? Self.grouping((int(g["prompt_tokens"]) + int(g["completion_tokens"])) * 1000 / documents) : "–"
            let model = text(g["model"])
            let cost = costs[model].map { c in documents > 0 ? String(format: "$%.4f", c * 1000 / Double(documents)) : "–" } ?? "no price"
            return "<tr><td>\(SVG.escape(text(g["name"]))) <small>(\(SVG.escape(model)))</small></td><td>\(SVG.escape(role))</td><td class=\"num\">\(documents)</td>"
                + "<td class=\"num\">\(valid)</td><td class=\"num\">\(perDoc)</td><td class=\"num\">\(overlapText)</td><td class=\"num\">\(seconds)</td>"
                + "<td class=\"num\">\(tokens)</td><td>\(SVG.escape(cost))</td></tr>"
        }
        for s in students {
            let run = runs[int(s["adapter_run"])] ?? [:]
            let set = sets[int(run["set_id"])] ?? [:]
            let teacherID = int(set["generator_id"])
            let seen = Set(learnt.filter { int($0["set"]) == int(run["set_id"]) }.map { int($0["document"]) })
            let scores = overlap.filter { int($0["student"]) == int(s["id"]) && int($0["generator"]) == teacherID && !seen.contains(int($0["document"])) }
                .compactMap { double($0["f1"]) }
            let overlapText = scores.isEmpty ? "no held-out document answered by both"
                : String(format: "%.3f <small>on %d documents</small>", scores.reduce(0, +) / Double(scores.count), scores.count)
            if let teacher = byID[teacherID] { out += line(teacher, role: "teacher", overlapText: "") }
            out += line(s, role: "student of \(text(byID[teacherID]?["name"] ?? .null)) (run \(text(s["adapter_run"])) step \(text(s["adapter_step"])))", overlapText: overlapText)
        }
        return out + "</table>"
    }

    func trainingSets() -> String {
        var out = "<p class=\"note\">Each set's tokens by where they come from (domain: documents, clusters, QA pairs, mined texts; general: instructions), "
            + "and how full the packed sequences are (against first-fit decreasing).</p>"
        out += table("training_sets", columns: [("id", "id"), ("name", "name"), ("recipe", "recipe"), ("status", "status"), ("examples", "examples"),
                                                ("context", "context"), ("tokens", "tokens"), ("domain_tokens", "domain tokens"),
                                                ("general_tokens", "general tokens"), ("fill_ratio", "fill ratio"), ("fill_ffd", "fill (FFD)")])
        var charts = ""
        for set in rows("training_sets") {
            let id = text(set["id"])
            let parts: [(String, String)] = [("document", "documents"), ("qa_pair", "QA pairs"), ("rc_text", "mined texts"), ("instruction", "instructions")]
            let bars = parts.enumerated().map { i, p in SVG.Bar(label: p.1, value: Double(int(set[p.0])), colour: i, series: "set \(id)") }
            guard bars.contains(where: { $0.value > 0 }) else { continue }
            let d = int(set["domain_tokens"]), g = int(set["general_tokens"])
            let ratio = g > 0 ? String(format: "domain : general = %.2f : 1", Double(d) / Double(g)) : "no general tokens"
            charts += SVG.bars(id: "set-tokens-\(id)", title: "Tokens by source, set \(id) '\(text(set["name"]))' (\(ratio))", bars: bars,
                               yLabel: "tokens", xLabel: "set \(id) '\(text(set["name"]))' (\(text(set["recipe"]))): \(ratio)")
        }
        if !charts.isEmpty { out += "<div class=\"charts\">\(charts)</div>" }
        if has("training_set_parts") {
            out += "<h3>Provenance</h3>" + table("training_set_parts", columns: [("set", "set"), ("part", "part"), ("parts", "parts"),
                                                                                ("distinct_rows", "distinct rows"), ("tokens", "tokens")])
        }
        return out
    }

    func training() -> String {
        var out = table("training_runs", columns: [("id", "run"), ("set", "set"), ("base", "base"), ("method", "method"), ("rank", "rank"), ("targets", "targets"),
                                                   ("status", "status"), ("steps", "steps done"), ("total_steps", "of"), ("last_loss", "last loss"),
                                                   ("checkpoints", "checkpoints"), ("tensor_bytes", "adapter bytes")], fileNames: ["base"])
        let curves = rows("training_curves")
        var charts = ""
        for (name, title, decimals) in [("loss", "Training loss", 4), ("learning_rate", "Learning rate", 6)] {
            let series = grouped(curves.filter { text($0["name"]) == name }, by: "run").map { run, points in
                (name: "run \(run)", points: points.map { (x: Double(int($0["step"])), y: double($0["value"]) ?? 0) })
            }
            guard !series.isEmpty else { continue }
            charts += SVG.lines(id: "training-\(name)", title: "\(title) per step", series: series, xLabel: "optimiser step",
                                yLabel: name == "learning_rate" ? "learning rate" : name, decimals: decimals)
        }
        if !charts.isEmpty { out += "<div class=\"charts\">\(charts)</div>" }
        if has("checkpoints") {
            out += "<h3>Checkpoints</h3>" + table("checkpoints", columns: [("id", "id"), ("run", "run"), ("step", "step"), ("kind", "kind"), ("bytes", "bytes"), ("created_at", "saved")])
        }
        return out
    }

    // MARK: evaluation

    /// One evaluated model: the base alone, or the base with a run's checkpoint.
    struct EvalModel {
        var key: String
        var label: String
        var model: String
        var run: Int?
        var step: Int?
        var checkpoint: String
        var cells: [String: (value: Double, low: Double?, high: Double?, items: Int)] = [:]
        var average: Double?
        var difference: Double?
        var set: [String: DatabaseValue] = [:]
        var runRow: [String: DatabaseValue] = [:]
    }

    var evalTasks: [(name: String, metric: String)] {
        var seen: Set<String> = [], out: [(String, String)] = []
        for r in rows("eval_scores") where seen.insert(text(r["task"])).inserted { out.append((text(r["task"]), text(r["metric"]))) }
        return out
    }

    func evalModels() -> [EvalModel] {
        let runs = Dictionary(rows("training_runs").map { (int($0["id"]), $0) }, uniquingKeysWith: { a, _ in a })
        let sets = Dictionary(rows("training_sets").map { (int($0["id"]), $0) }, uniquingKeysWith: { a, _ in a })
        var order: [String] = [], models: [String: EvalModel] = [:]
        for r in rows("eval_scores") {
            let model = text(r["model"]), checkpoint = text(r["checkpoint"])
            let key = model + "\u{0}" + checkpoint
            if models[key] == nil {
                order.append(key)
                let run = r["run"].flatMap { $0.isNull ? nil : int($0) }
                var m = EvalModel(key: key, label: "", model: model, run: run, step: r["step"].flatMap { $0.isNull ? nil : int($0) }, checkpoint: checkpoint)
                let base = URL(fileURLWithPath: model).lastPathComponent
                if let run {
                    m.runRow = runs[run] ?? [:]
                    m.set = sets[int(m.runRow["set_id"])] ?? [:]
                    let setName = text(m.set["name"]).isEmpty ? "run \(run)" : text(m.set["name"])
                    m.label = "\(setName) · r\(text(m.runRow["rank"])) \(text(m.runRow["targets"])) · run \(run) step \(m.step.map(String.init) ?? "?")"
                } else if !checkpoint.isEmpty {
                    m.label = "\(base) + checkpoint \(checkpoint) (deleted run)"
                } else {
                    m.label = "base: \(base)"
                }
                models[key] = m
            }
            models[key]?.cells[text(r["task"])] = (double(r["score"]) ?? 0, double(r["low"]), double(r["high"]), int(r["items"]))
        }
        let tasks = evalTasks.map(\.name)
        var out = order.compactMap { models[$0] }
        for i in out.indices {
            let values = tasks.compactMap { out[i].cells[$0]?.value }
            out[i].average = values.count == tasks.count && !values.isEmpty ? values.reduce(0, +) / Double(values.count) : nil
        }
        for i in out.indices where out[i].run != nil {
            if let base = out.first(where: { $0.model == out[i].model && $0.run == nil && $0.checkpoint.isEmpty }), let a = out[i].average, let b = base.average {
                out[i].difference = a - b
            }
        }
        return out
    }

    func evaluation() -> String {
        let tasks = evalTasks
        let models = evalModels()
        var out = "<h3>Scores (the paper's Table 1)</h3><p class=\"note\">Tasks as columns in their own metric (0–100), with bootstrap 95% intervals and the "
            + "number of items scored; the average over the tasks and the difference to the same base model alone.</p>"
        out += "<table data-section=\"eval_table\"><tr><th>model</th>" + tasks.map { "<th>\(SVG.escape($0.name)) (\(SVG.escape($0.metric)))</th>" }.joined()
            + "<th>average</th><th>vs base</th></tr>"
        for m in models {
            out += "<tr><td>\(SVG.escape(m.label))</td>"
            for t in tasks {
                if let c = m.cells[t.name] {
                    let interval = c.low.map { l in String(format: " [%.1f, %.1f]", l, c.high ?? l) } ?? ""
                    out += "<td class=\"num\">\(String(format: "%.1f", c.value))\(interval) <small>n=\(c.items)</small></td>"
                } else { out += "<td>–</td>" }
            }
            out += "<td class=\"num\">\(m.average.map { String(format: "%.1f", $0) } ?? "–")</td>"
            if let d = m.difference {
                out += "<td class=\"num \(d > 0 ? "better" : d < 0 ? "worse" : "")\">\(String(format: "%+.1f", d))</td>"
            } else { out += "<td></td>" }
            out += "</tr>"
        }
        out += "</table>"
        var charts = ""
        for t in tasks {
            let bars = models.enumerated().compactMap { i, m in
                m.cells[t.name].map { SVG.Bar(label: m.run.map { "run \($0)" } ?? "base", value: $0.value, low: $0.low, high: $0.high,
                                              colour: m.run == nil ? 7 : 1 + i % 6, series: m.label) }
            }
            charts += SVG.bars(id: "eval-\(t.name)", title: "\(t.name): \(t.metric) per model, with 95% intervals", bars: bars,
                               yLabel: "\(t.metric) (0–100)", xLabel: "\(t.name): models (table above)", decimals: 1)
        }
        out += "<div class=\"charts\">\(charts)</div>"
        out += clusteringAblation(models) + loraAblation(models)
        for c in rows("eval_contamination") {
            let task = text(c["task"])
            let trained = models.filter { $0.run != nil && $0.cells[task] != nil }
            let leaky = trained.filter { m in !text(m.set["held_out_tasks"]).contains("\"\(task)\"") }
            if leaky.isEmpty {
                out += "<p class=\"note\">\(int(c["documents"])) documents of this file are \(SVG.escape(task)) items; every adapter scored on it was trained on a set "
                    + "that held them out (<code>exclude_eval</code>).</p>"
            } else {
                out += "<p class=\"warn\">\(int(c["documents"])) documents of this file are \(SVG.escape(task)) items, and the sets of runs "
                    + leaky.compactMap { $0.run }.map(String.init).joined(separator: ", ")
                    + " did not hold them out: those scores on \(SVG.escape(task)) are contaminated (build with <code>exclude_eval</code>).</p>"
            }
        }
        return out
    }

    /// The paper's Figure 2: each content recipe with and without clustering, same budget.
    func clusteringAblation(_ models: [EvalModel]) -> String {
        // Only adapters trained alike compare: the same base, LoRA rank and target modules (the
        // LoRA ablation's other runs on a clustered set are not its "with clustering" bar). Per
        // recipe and training configuration, the latest checkpoint of the first run.
        func config(_ m: EvalModel) -> String { "\(m.model)|\(text(m.runRow["rank"]))|\(text(m.runRow["targets"]))" }
        var byRecipe: [String: EvalModel] = [:]
        for m in models where m.run != nil && m.average != nil {
            let key = text(m.set["recipe"]) + "\u{0}" + config(m)
            if let old = byRecipe[key], old.run != m.run || (old.step ?? 0) > (m.step ?? 0) { continue }
            byRecipe[key] = m
        }
        let pairs = byRecipe.keys.filter { key in
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            return parts.count == 2 && !parts[0].hasSuffix("+cluster") && byRecipe[parts[0] + "+cluster\u{0}" + parts[1]] != nil
        }.sorted()
        guard !pairs.isEmpty else { return "" }
        var bars: [SVG.Bar] = []
        var rowsHTML = ""
        for key in pairs {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            let r = parts[0]
            guard let plain = byRecipe[key], let clustered = byRecipe[r + "+cluster\u{0}" + parts[1]],
                  let a = plain.average, let b = clustered.average else { continue }
            let lora = "r\(text(plain.runRow["rank"])) \(text(plain.runRow["targets"]))"
            bars.append(SVG.Bar(label: r, value: a, colour: 0, series: "without clustering"))
            bars.append(SVG.Bar(label: r + "+cluster", value: b, colour: 1, series: "with clustering"))
            rowsHTML += "<tr><td>\(SVG.escape(r))</td><td>\(SVG.escape(lora))</td><td class=\"num\">\(String(format: "%.1f", a)) <small>run \(plain.run ?? 0)</small></td>"
                + "<td class=\"num\">\(String(format: "%.1f", b)) <small>run \(clustered.run ?? 0)</small></td>"
                + "<td class=\"num\">\(String(format: "%+.1f", b - a))</td></tr>"
        }
        return "<h3>Clustering ablation (the paper's Figure 2)</h3><p class=\"note\">Average score of the adapter trained on each recipe, without and with "
            + "clustering the documents into context-sized groups (same budget and seed).</p>"
            + "<table data-section=\"clustering_ablation\"><tr><th>recipe</th><th>LoRA</th><th>without</th><th>with clustering</th><th>difference</th></tr>\(rowsHTML)</table>"
            + "<div class=\"charts\">" + SVG.bars(id: "clustering-ablation", title: "Average score without and with clustering", bars: bars,
                                                 yLabel: "average score", xLabel: "recipe", decimals: 1,
                                                 legend: ["without clustering", "with clustering"]) + "</div>"
    }

    /// The paper's Table 3: runs on the same set that differ in LoRA rank or target modules.
    func loraAblation(_ models: [EvalModel]) -> String {
        var latest: [Int: EvalModel] = [:]
        for m in models where m.run != nil && m.average != nil {
            if let old = latest[m.run ?? 0], (old.step ?? 0) > (m.step ?? 0) { continue }
            latest[m.run ?? 0] = m
        }
        let bySet = Dictionary(grouping: latest.values, by: { int($0.runRow["set_id"]) })
        var out = ""
        for (set, runs) in bySet.sorted(by: { $0.key < $1.key }) {
            let variants = Set(runs.map { "\(text($0.runRow["rank"]))/\(text($0.runRow["targets"]))" })
            guard variants.count > 1 else { continue }
            let sorted = runs.sorted { (text($0.runRow["targets"]), int($0.runRow["rank"])) < (text($1.runRow["targets"]), int($1.runRow["rank"])) }
            let tasks = evalTasks
            out += "<p class=\"note\">Set \(set) '\(SVG.escape(text(sorted.first?.set["name"])))'.</p><table data-section=\"lora_ablation\"><tr><th>target modules</th><th>rank</th><th>run</th>"
                + tasks.map { "<th>\(SVG.escape($0.name))</th>" }.joined() + "<th>average</th><th>vs base</th></tr>"
            for m in sorted {
                out += "<tr><td>\(SVG.escape(text(m.runRow["targets"])))</td><td class=\"num\">\(SVG.escape(text(m.runRow["rank"])))</td><td class=\"num\">\(m.run ?? 0)</td>"
                    + tasks.map { t in m.cells[t.name].map { "<td class=\"num\">\(String(format: "%.1f", $0.value))</td>" } ?? "<td>–</td>" }.joined()
                    + "<td class=\"num\">\(m.average.map { String(format: "%.1f", $0) } ?? "–")</td>"
                    + "<td class=\"num\">\(m.difference.map { String(format: "%+.1f", $0) } ?? "")</td></tr>"
            }
            out += "</table>"
        }
        return out.isEmpty ? "" : "<h3>LoRA ablation (the paper's Table 3)</h3><p class=\"note\">Adapters on the same set with other target modules or ranks, same budget and seed.</p>" + out
    }

    func stages() -> String {
        guard let s = catalogue.section("stage_runs") else { return "" }
        var out = "<p class=\"note\">Every stage run recorded in the file, oldest first; open a row's configuration to see exactly what ran.</p>"
        out += "<table data-section=\"stage_runs\"><tr><th>run</th><th>stage</th><th>configuration</th><th>status</th><th>started</th><th>seconds</th>"
            + "<th>processed</th><th>skipped</th><th>failed</th></tr>"
        for r in rows("stage_runs").suffix(300) {
            let config = text(r["config"])
            out += "<tr><td class=\"num\">\(text(r["id"]))</td><td>\(SVG.escape(text(r["stage"])))</td>"
                + "<td><details><summary>\(SVG.escape(text(r["config_id"])))</summary><pre>\(SVG.escape(String(config.prefix(4000))))</pre></details></td>"
                + "<td>\(SVG.escape(text(r["status"])))</td><td>\(SVG.escape(text(r["started_at"])))</td>"
                + "<td class=\"num\">\(double(r["seconds"]).map { String(format: "%.1f", $0) } ?? "")</td>"
                + ["processed", "skipped", "failed"].map { "<td class=\"num\">\(Self.grouping(int(r[$0])))</td>" }.joined() + "</tr>"
        }
        out += "</table>"
        if s.rows.count > 300 { out += "<p class=\"note\">The last 300 of \(s.rows.count) runs.</p>" }
        return out
    }
}
