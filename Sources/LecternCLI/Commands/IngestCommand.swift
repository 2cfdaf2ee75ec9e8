import ArgumentParser
import Foundation
import LecternIngest
import LecternStore

/// `lectern ingest FILE SOURCE...`
struct IngestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Add documents from JSONL, plain-text files or directories, CSV/TSV or PubMedQA's ori_pqal.json (any gzip-compressed).",
        discussion: """
        Exact duplicates (same text after trimming and collapsing whitespace) are dropped. Ingesting the same \
        sources again adds nothing; an interrupted ingest resumes where it stopped. Bad records (malformed JSON, \
        invalid UTF-8, NUL characters, empty or oversized texts, a missing text field) are reported with their \
        file and line, skipped and counted; --strict stops at the first one instead.
        """)

    @Argument(help: "The Lectern file (made by `lectern init`).")
    var file: String

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

    func run() throws {
        let store = try Store.open(path: file)
        var options = IngestOptions()
        options.format = format
        options.fields = FieldNames(text: textField, title: titleField, id: idField)
        options.titleFirstLine = titleFirstLine
        options.strict = strict
        options.maxDocumentBytes = maxDocumentBytes
        options.batchDocuments = batchSize
        options.batchBytes = batchMb << 20
        options.writerCacheBytes = cacheMb << 20
        let summary = try Ingester(store: store, options: options).ingest(paths: sources)
        for s in summary.sources {
            if s.alreadyIngested {
                print("\(s.path): already ingested (\(s.format.rawValue)), nothing to do")
            } else {
                let resumed = s.resumedAt > 0 ? ", resumed after record \(s.resumedAt)" : ""
                print("\(s.path): \(s.added) added, \(s.duplicates) duplicates, \(s.skipped) skipped (\(s.format.rawValue)\(resumed))")
            }
        }
        let total = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0 }
        print("\(file): \(total) documents")
    }
}

extension SourceFormat: ExpressibleByArgument {}
