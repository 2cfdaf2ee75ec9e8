import ArgumentParser
import Foundation
import LecternCatalogue
import GRDB
import LecternGenerate
import LecternStore

/// `lectern status FILE`
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what the file holds and which stages are complete for which configuration.")

    @Argument(help: "The Lectern file.")
    var file: String

    @Flag(help: "Print JSON instead of tables.")
    var json = false

    @Option(help: "A JSON price table for LLM cost estimates: {\"models\": {\"NAME\": {\"inputPerMillion\": 0.15, \"outputPerMillion\": 0.6}}}.")
    var prices: String?

    func run() throws {
        let store = try Store.open(path: file, access: .read)
        let table = try prices.map { try PriceTable.load(path: $0) }
        let report = try store.pool.read { db in
            var report = try StatusReport.make(db)
            let usage = try GenerationUsage.summary(db, prices: table)
            report.sections.append(StatusReport.Section(
                key: "llm_usage", title: "LLM usage (question-answer generation)",
                columns: ["model", "documents", "ok", "invalid", "failed", "requests_sent", "prompt_tokens", "completion_tokens", "pairs", "estimated_cost"],
                rows: usage.map { u in
                    [.text(u.model), .int(Int64(u.requests)), .int(Int64(u.ok)), .int(Int64(u.invalid)), .int(Int64(u.failed)),
                     .int(Int64(u.attempts)), .int(Int64(u.promptTokens)), .int(Int64(u.completionTokens)), .int(Int64(u.pairs)),
                     u.estimatedCost.map { .double(($0 * 10000).rounded() / 10000) } ?? .null]
                }))
            return report
        }
        if json {
            print(report.json())
        } else {
            print(report.text(file: file))
        }
    }
}

/// What `lectern status` shows: a list of titled tables, each from one SQL query, so the text and
/// JSON forms come from the same data.
struct StatusReport {
    struct Section {
        var key: String
        var title: String
        var columns: [String]
        var rows: [[TableOutput.Cell]]
    }
    var sections: [Section] = []

    /// The file's catalogue (`FileCatalogue`, shared with `lectern run`'s summary) as tables of
    /// cells. A section whose table is empty is left out of the text form.
    static func make(_ db: Database) throws -> StatusReport {
        let catalogue = try LecternCatalogue.read(db)
        return StatusReport(sections: catalogue.sections.map { section in
            Section(key: section.key, title: section.title, columns: section.columns,
                    rows: section.rows.map { $0.map(TableOutput.Cell.init) })
        })
    }

    func text(file: String) -> String {
        var out = ["\(file)"]
        for section in sections where !section.rows.isEmpty {
            out.append("")
            out.append("\(section.title):")
            if section.key == "file" {
                let width = section.rows.map { $0[0].plain.count }.max() ?? 0
                for row in section.rows {
                    let key = row[0].plain
                    out.append("  " + key + String(repeating: " ", count: width - key.count) + "  " + row[1].plain)
                }
            } else {
                out.append(TableOutput.text(columns: section.columns, rows: section.rows, maxWidth: section.key == "problems" ? 200 : 60)
                    .split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
            }
        }
        return out.joined(separator: "\n")
    }

    /// One JSON object: `file` as an object of key -> value, every other section as an array of
    /// row objects (keys in column order, made unique as in `lectern sql --json`).
    func json() -> String {
        var out = "{"
        for (i, section) in sections.enumerated() {
            out += i == 0 ? "\n  " : ",\n  "
            TableOutput.appendJSONString(section.key, to: &out)
            out += ": "
            if section.key == "file" {
                out += "{"
                var seen: Set<String> = []
                for row in section.rows where row.count >= 2 && seen.insert(row[0].plain).inserted {
                    if seen.count > 1 { out += ", " }
                    TableOutput.appendJSONString(row[0].plain, to: &out)
                    out += ": "
                    row[1].appendJSON(to: &out)
                }
                out += "}"
            } else {
                out += TableOutput.json(columns: section.columns, rows: section.rows)
                    .replacingOccurrences(of: "\n", with: "\n  ")
            }
        }
        out += "\n}"
        return out
    }
}
