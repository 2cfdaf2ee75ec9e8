import ArgumentParser
import Foundation
import LecternIngest
import LecternStore

/// `lectern ingest FILE SOURCE...`
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add documents from JSONL, plain-text files or directories, CSV/TSV or PubMedQA's ori_pqal.json (any gzip-compressed).",
        discussion: """
        Exact duplicates (same text after trimming and collapsing whitespace) are dropped. Ingesting the same \
        sources again adds nothing; an interrupted ingest resumes where it stopped. Bad records (malformed JSON, \
        invalid UTF-8, NUL characters, empty or oversized texts, a missing text field) are reported with their \
        file and line, skipped and counted; --strict stops at the first one instead. A source that cannot be read \
        to its end (a truncated gzip file keeps its records before the damage), a path under a directory that \
        cannot be read, or a source with no valid record is reported; the other sources are still read, and the \
        command then exits non-zero. Plain-text files are read with "\\r\\n" and "\\r" as "\\n" and their \
        surrounding whitespace stripped, as AdaptLLM reads them.
        """)

    @Argument(help: "The Lectern file (made by `lectern init`).")
    var file: String

    @OptionGroup var options: IngestArguments

    @OptionGroup var sharding: ShardArguments

    func run() async throws {
        var made = PipelineOutputs()
        made.shard = try sharding.spec
        try await sharding.run(file: file, stage: "ingest") { store in try await options.run(in: store, made: &made) }
    }

    /// One source's line of the summary.
    static func line(_ s: SourceSummary) -> String {
        if s.alreadyIngested && s.failure == nil {
            return "\(s.path): already ingested (\(s.format.rawValue)), nothing to do"
        }
        var counts = "\(s.added) added, \(s.duplicates) duplicates, \(s.skipped) skipped"
        if s.unreadable > 0 { counts += ", \(s.unreadable) unreadable" }
        if s.otherShards > 0 { counts += ", \(s.otherShards) left to other shards" }
        var notes = [s.format.rawValue]
        if s.resumedAt > 0 { notes.append("resumed after record \(s.resumedAt)") }
        if s.filesAlreadyIngested > 0 { notes.append("\(s.filesAlreadyIngested) \(s.filesAlreadyIngested == 1 ? "file" : "files") already ingested") }
        if s.alreadyIngested { notes.append("already ingested") }
        return "\(s.path): \(counts) (\(notes.joined(separator: ", ")))" + (s.failure == nil ? "" : ", NOT COMPLETE")
    }
}


/// The options of `lectern ingest`, and the `[ingest]` section of a recipe.
struct IngestArguments: PipelineStage {
    static let section = "ingest"
    static let positionalKeys = ["sources"]
    static let pathKeys: Set<String> = ["sources"]

    @Argument(help: "Source files or directories.")
    var sources: [String]

    @Option(help: "Input format for every source (default: detect from the name and content).")
    var format: SourceFormat?

    @Option(help: "JSONL field / CSV column holding the text.")
    var textField = "text"

    @Option(help: "JSONL field / CSV column holding the title.")
    var titleField = "title"

    @Option(help: "JSONL field / CSV column holding the source's id for the document.")
    var idField = "id"

    @Flag(help: "Plain text: the first line of each file is the document's title (AdaptLLM's convention).")
    var titleFirstLine = false

    @Flag(help: "Fail at the first bad record instead of skipping it.")
    var strict = false

    @Option(help: "Documents larger than this many bytes are bad records.")
    var maxDocumentBytes = 16 << 20

    @Option(help: ArgumentHelp("Documents per transaction.", visibility: .hidden))
    var batchSize = IngestOptions().batchDocuments

    @Option(help: ArgumentHelp("Text megabytes per transaction.", visibility: .hidden))
    var batchMb = IngestOptions().batchBytes >> 20

    @Option(help: ArgumentHelp("Writer page cache in megabytes.", visibility: .hidden))
    var cacheMb = IngestOptions().writerCacheBytes >> 20

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("give at least one source file or directory") }
        guard maxDocumentBytes > 0 else { throw ValidationError("--max-document-bytes must be positive") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard batchMb > 0 else { throw ValidationError("--batch-mb must be positive") }
    }

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        var options = IngestOptions()
        options.format = format
        options.fields = FieldNames(text: textField, title: titleField, id: idField)
        options.titleFirstLine = titleFirstLine
        options.strict = strict
        options.maxDocumentBytes = maxDocumentBytes
        options.batchDocuments = batchSize
        options.batchBytes = batchMb << 20
        options.writerCacheBytes = cacheMb << 20
        options.shard = made.shard
        let summary: IngestSummary
        var incomplete: IngestError?
        do {
            summary = try Ingester(store: store, options: options).ingest(paths: sources)
        } catch IngestError.incomplete(let partial) {
            summary = partial
            incomplete = .incomplete(partial)
        }
        for s in summary.sources {
            print(IngestCommand.line(s))
        }
        let total = try await store.pool.read { db in try StoredDocument.count(db) }
        print("\(store.path): \(total) documents")
        if let incomplete { throw incomplete }
    }

}
