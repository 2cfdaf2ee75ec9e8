import ArgumentParser
import Foundation
import GRDB
import LecternGenerate
import LecternStore

/// `lectern export sft FILE OUT --generator NAME`
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write datasets out of the file.",
        subcommands: [ExportSFTCommand.self])
}

/// `lectern export sft FILE OUT.jsonl --generator NAME`
struct ExportSFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "A generator's question-answer pairs as a chat-format SFT dataset (JSONL), to distil a student generator.",
        discussion: """
        One line per document: {"messages": [{"role": "user", "content": the prompt the generator was sent}, \
        {"role": "assistant", "content": the JSON list of its accepted pairs}], "document_id": N, "generator": NAME}.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @Argument(help: "Output JSONL file (replaced).")
    var output: String

    @Option(help: "Generator name (or a fingerprint prefix when the name is ambiguous).")
    var generator: String

    func run() throws {
        let store = try Store.open(path: file)
        let n = try store.pool.read { db in try SFTExport.write(db, generator: generator, to: output) }
        print("\(output): \(n) conversations from generator \(generator)")
    }
}
