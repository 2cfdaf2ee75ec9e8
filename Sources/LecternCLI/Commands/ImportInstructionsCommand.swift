import ArgumentParser
import Foundation
import LecternBuild
import LecternStore

/// `lectern import-instructions FILE SOURCE...`
struct ImportInstructionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-instructions",
        abstract: "Add general instruction data (alpaca, ShareGPT or OpenAI messages; JSON array or JSONL, maybe gzip) to mix into training sets.",
        discussion: """
        Each record becomes an OpenAI-style messages array: an optional system message, then user and assistant \
        turns alternating, from a user turn to an assistant turn (trailing user turns and leading assistant turns \
        are dropped and counted). The same conversation, from any file or shape, is stored once. Bad records \
        (malformed JSON, invalid UTF-8, wrong types, unknown roles, no user or assistant turn, empty contents) are \
        reported with their file and line, skipped and counted; importing the same file again adds nothing, and an \
        interrupted import finishes when re-run.
        """)

    @Argument(help: "The Lectern file (made by `lectern init`).")
    var file: String

    @OptionGroup var options: InstructionsArguments

    func run() async throws {
        var made = PipelineOutputs()
        try await options.run(in: try Store.open(path: file), made: &made)
    }
}

/// The options of `lectern import-instructions`, and the `[instructions]` section of a recipe.
struct InstructionsArguments: PipelineStage {
    static let section = "instructions"
    static let positionalKeys = ["sources"]
    static let pathKeys: Set<String> = ["sources"]
    var stepName: String { "import-instructions" }

    @Argument(help: "The instruction data: JSON arrays of objects or JSON Lines, optionally gzip-compressed; each file is its own stage run.")
    var sources: [String]

    @Option(help: "Record shape: auto (per record, from its keys), alpaca, sharegpt or messages.")
    var format: InstructionFormat = .auto

    @Option(help: "Read at most this many records from the start of the file (bad ones included).")
    var limit: Int?

    @Option(help: ArgumentHelp("Records per transaction.", visibility: .hidden))
    var batchSize = 500

    /// Bad-record reasons printed; all are counted, `lectern status` keeps the first 100.
    static let shownProblems = 5

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("give at least one instruction file") }
        if let limit, limit <= 0 { throw ValidationError("--limit must be positive") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
    }

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        for source in sources { try importOne(store, source) }
        let total = try await store.pool.read { db in try StoredInstructions.count(db) }
        print("\(store.path): \(total) instructions")
    }

    private func importOne(_ store: Store, _ source: String) throws {
        let summary = try InstructionImporter(store: store, batchSize: batchSize)
            .importFile(path: source, format: format, limit: limit)
        print("\(summary.source): \(summary.records) records: \(summary.imported) imported, \(summary.duplicates) duplicates, \(summary.skipped) skipped")
        for shape in InstructionFormat.shapes {
            let imported = summary.importedByFormat[shape] ?? 0, duplicates = summary.duplicatesByFormat[shape] ?? 0
            if imported + duplicates > 0 { print("  \(shape.rawValue): \(imported) imported, \(duplicates) duplicates") }
        }
        if summary.droppedTurns > 0 {
            print("  \(summary.droppedTurns) edge turns dropped (unanswered trailing user turns, leading assistant turns)")
        }
        if !summary.problems.isEmpty {
            print("skipped:")
            for problem in summary.problems.prefix(Self.shownProblems) { print("  \(problem)") }
            if summary.skipped > Self.shownProblems {
                print("  ... \(summary.skipped - Self.shownProblems) more (`lectern status` shows the stage run; its error column keeps the first 100)")
            }
        }
    }
}
