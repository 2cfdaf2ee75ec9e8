import ArgumentParser
import Foundation
import GRDB
import LecternCatalogue
import LecternGenerate
import LecternReport
import LecternStore

/// `lectern report FILE -o report.html`
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page about the file: corpus, clusters, QA, training sets, training, evaluation, what ran.",
        discussion: """
        The page has no script and loads nothing from the network (inline styles and SVG charts), so it opens \
        offline and can be mailed as one file. Its bytes depend only on the file: the same file gives the same page. \
        Sections the file has nothing for are left out. See docs/report.md.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: ReportArguments

    func run() throws {
        try options.write(store: try Store.open(path: file, access: .read))
    }
}

/// The options of `lectern report`, and the `[report]` section of a recipe (the last step).
struct ReportArguments: PipelineStage {
    static let section = "report"
    static let pathKeys: Set<String> = ["output", "prices"]
    static let inputPathKeys: Set<String> = ["prices"]

    @Option(name: [.short, .customLong("output")], help: "Where to write the page (default: the file's name with .html).")
    var output: String?

    @Option(help: "A JSON price table for the LLM cost estimate: {\"models\": {\"NAME\": {\"inputPerMillion\": 0.15, \"outputPerMillion\": 0.6}}}.")
    var prices: String?

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        try write(store: store)
    }

    func write(store: Store) throws {
        let table = try prices.map { try PriceTable.load(path: $0) }
        let (catalogue, usage) = try store.pool.read { db in
            (try LecternCatalogue.read(db, details: true), try GenerationUsage.summary(db, prices: table))
        }
        var report = FileReport(catalogue: catalogue, fileName: URL(fileURLWithPath: store.path).lastPathComponent)
        for u in usage { if let c = u.estimatedCost { report.costs[u.model] = c } }
        let target = output ?? URL(fileURLWithPath: store.path).deletingPathExtension().appendingPathExtension("html").path
        let page = Data(report.html().utf8)
        // Written beside the target and renamed: a reader never sees half a page.
        let url = URL(fileURLWithPath: target)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try page.write(to: url, options: .atomic)
        } catch {
            throw CLIError("report: cannot write \(target): \(error.localizedDescription)")
        }
        print("\(target): report of \(store.path) (\(page.count / 1000) kB; sections: \(report.sectionIDs.joined(separator: ", ")))")
    }
}
