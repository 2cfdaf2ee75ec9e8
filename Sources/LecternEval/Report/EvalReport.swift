import Foundation
import GRDB
import LecternIngest
import LecternTrain

/// The paper's Table 1 shape from `eval_scores`: tasks as columns, models (a base alone, or a base
/// with a checkpoint) as rows, each task's own metric with its bootstrap 95% interval, the domain
/// average, and the difference to the same base without an adapter.
public struct EvalReport: Sendable {
    public struct Cell: Sendable, Encodable {
        public var value: Double
        public var low: Double?
        public var high: Double?
        public var items: Int
    }
    public struct Row: Sendable, Encodable {
        public var model: String
        public var checkpoint: String?
        public var cells: [String: Cell]
        public var average: Double?
        public var differenceToBase: Double?
    }
    public var tasks: [String]
    public var metrics: [String: String]
    public var rows: [Row]
    /// Tasks whose items come from documents of the file (a model trained on them is contaminated).
    public var contaminated: [String: Int]

    public static func read(_ db: Database) throws -> EvalReport {
        let taskRows = try GRDB.Row.fetchAll(db, sql: "SELECT id, name, metric FROM eval_tasks ORDER BY id")
        var tasks: [String] = [], metrics: [String: String] = [:]
        for t in taskRows { tasks.append(t["name"]); metrics[t["name"]] = t["metric"] }
        let scores = try GRDB.Row.fetchAll(db, sql: """
            SELECT s.model, s.checkpoint_id, t.name AS task, s.value, s.ci_low, s.ci_high, s.n_items
            FROM eval_scores s JOIN eval_tasks t ON t.id = s.task_id
            WHERE s.metric = t.metric ORDER BY s.model, s.checkpoint_id IS NOT NULL, s.checkpoint_id
            """)
        let checkpoints = try StoredCheckpoints.steps(db)
        var order: [String] = []
        var byKey: [String: Row] = [:]
        for s in scores {
            let model: String = s["model"]
            let checkpoint: String? = (s["checkpoint_id"] as Int64?).map { id in
                checkpoints[id].map { "run \($0.run) step \($0.step)" } ?? "checkpoint \(id) (deleted)"
            }
            let key = model + "\u{0}" + (checkpoint ?? "")
            if byKey[key] == nil { order.append(key); byKey[key] = Row(model: model, checkpoint: checkpoint, cells: [:]) }
            byKey[key]?.cells[s["task"]] = Cell(value: s["value"], low: s["ci_low"], high: s["ci_high"], items: s["n_items"])
        }
        var rows = order.compactMap { byKey[$0] }
        for i in rows.indices {
            let values = tasks.compactMap { rows[i].cells[$0]?.value }
            rows[i].average = values.count == tasks.count && !values.isEmpty ? values.reduce(0, +) / Double(values.count) : nil
        }
        for i in rows.indices where rows[i].checkpoint != nil {
            if let base = rows.first(where: { $0.model == rows[i].model && $0.checkpoint == nil }), let a = rows[i].average, let b = base.average {
                rows[i].differenceToBase = a - b
            }
        }
        var contaminated: [String: Int] = [:]
        for t in taskRows {
            let name: String = t["name"]
            let n = try StoredDocument.ids(db, withContentHashIn: EvalItems.contentHashes(db, tasks: [name]).contentHashes).count
            if n > 0 { contaminated[name] = n }
        }
        return EvalReport(tasks: tasks, metrics: metrics, rows: rows, contaminated: contaminated)
    }

    /// The terminal table.
    public func text() -> String {
        guard !rows.isEmpty else { return "no scores yet: run `lectern eval run FILE --task NAME --base MODEL`" }
        var header = ["model", "checkpoint"] + tasks.map { "\($0) (\(metrics[$0] ?? "?"))" } + ["average", "vs base"]
        var lines: [[String]] = []
        for r in rows {
            var line = [r.model, r.checkpoint ?? "-"]
            for t in tasks {
                if let c = r.cells[t] {
                    line.append(String(format: "%.1f", c.value) + (c.low.map { l in String(format: " [%.1f, %.1f]", l, c.high ?? l) } ?? "") + " n=\(c.items)")
                } else { line.append("-") }
            }
            line.append(r.average.map { String(format: "%.1f", $0) } ?? "-")
            line.append(r.differenceToBase.map { String(format: "%+.1f", $0) } ?? "")
            lines.append(line)
        }
        var widths = header.map(\.count)
        for l in lines { for (k, v) in l.enumerated() { widths[k] = max(widths[k], v.count) } }
        func row(_ cells: [String]) -> String {
            cells.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }.joined(separator: "  ")
        }
        var out = [row(header), row(widths.map { String(repeating: "-", count: $0) })] + lines.map(row)
        header.removeAll()
        for (task, n) in contaminated.sorted(by: { $0.key < $1.key }) {
            out.append("note: \(n) items of \(task) are made from documents in this file: adapters trained on sets built without --exclude-eval \(task) are contaminated on \(task)")
        }
        return out.joined(separator: "\n")
    }
}
