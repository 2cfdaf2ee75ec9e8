import Foundation
import GRDB
import LecternCore
import LecternStore

/// Imports general instruction data (the paper mixes LIMA, WizardLM and Orca into its training
/// sets) into the `instructions` table, as normalised OpenAI-style messages.
///
/// - Shapes: alpaca, ShareGPT and OpenAI messages (``InstructionFormat``), detected per record or
///   forced; the file a JSON array or JSON Lines, optionally gzip-compressed.
/// - Normalisation: an optional system message first, then user/assistant turns alternating, from
///   a user turn to an assistant turn, each content trimmed of surrounding whitespace and
///   non-empty. Trailing user turns (nothing answers them) and leading assistant turns (they answer
///   nothing) are dropped and counted, not refused: they are common at the cut edges of ShareGPT
///   dumps, and the rest of such a conversation is good data.
/// - Dedup: the key is ``ContentHash`` of the exact bytes of the canonical messages JSON, so the
///   same conversation is stored once whatever file or shape it came from. No whitespace folding
///   inside contents: in code answers indentation is meaning.
/// - Bad records (malformed JSON, invalid UTF-8, wrong types, unknown roles, no user or assistant
///   turn, empty contents) are skipped, counted and noted on the stage run with `path:line` and
///   the reason; they never abort the import and never touch existing rows. Only a file that
///   cannot be read, is empty or is not JSON at all fails the run.
/// - Resumable and idempotent: records go in with `INSERT ... ON CONFLICT DO NOTHING`, in
///   transactions of ``batchSize`` records through ``StageRun``, so a `kill -9` loses at most the
///   batch in flight and a re-run inserts exactly what is missing, in file order (the same ids as
///   an uninterrupted run); importing a file again adds nothing.
public struct InstructionImporter {
    public let store: Store
    /// Records per transaction (and per progress step).
    public let batchSize: Int
    /// Bad-record messages returned in the summary (the stage run keeps ``StageRun/keptMessages``).
    public static let keptProblems = 20

    public init(store: Store, batchSize: Int = 500) {
        self.store = store
        self.batchSize = batchSize
    }

    /// What the stage run records as its configuration (no secrets: paths and options only).
    struct RunConfig: Codable {
        var source: String
        var format: InstructionFormat
        var limit: Int?
    }

    /// Imports the records of the file at `path`, at most `limit` of them (counting bad ones) from
    /// its start. Throws ``InstructionImportError`` when the file itself is unusable, and store
    /// errors; bad records are reported in the summary instead.
    public func importFile(path: String, format: InstructionFormat = .auto, limit: Int? = nil) throws -> InstructionImportSummary {
        guard batchSize > 0 else { throw InstructionImportError.invalidArgument("the batch size must be positive") }
        if let limit, limit < 0 { throw InstructionImportError.invalidArgument("the limit must not be negative") }
        let source = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory) else {
            throw InstructionImportError.missing(path: path)
        }
        guard !isDirectory.boolValue else { throw InstructionImportError.unreadable(path: path, detail: "it is a directory") }
        // Opening looks at the first bytes: an unreadable, empty or non-JSON file fails before the
        // run is recorded.
        let reader = try InstructionFileReader(path: path)

        return try StageRunner.run(ImportJob(importer: self, reader: reader, format: format, limit: limit, source: source, path: path))
    }

    /// One import as a ``Stage``: the file was checked and opened before the run is recorded.
    struct ImportJob: Stage {
        static let name = "import-instructions"
        let importer: InstructionImporter
        let reader: InstructionFileReader
        let format: InstructionFormat
        let limit: Int?
        let source: String
        let path: String
        var store: Store { importer.store }

        func prepare() throws -> StagePlan<RunConfig, Void> {
            StagePlan(configuration: RunConfig(source: source, format: format, limit: limit), pendingInputs: 0)
        }

        func execute(_ work: StagePlan<RunConfig, Void>, in run: StageContext) throws -> InstructionImportSummary {
            var summary = InstructionImportSummary(source: source)
            summary.stageRunID = run.runID
            let progress = ProgressReporter(label: "import-instructions \((path as NSString).lastPathComponent)", total: limit, unit: "records")
            defer { progress.finish() }
            do {
                try importer.read(reader, format: format, limit: limit, source: source, run: run, progress: progress, into: &summary)
            } catch {
                run.report(counts: summary.counts)
                throw error
            }
            try run.setInputs(summary.records)
            return summary
        }
    }

    static func counts(_ s: InstructionImportSummary) -> [String: Int] {
        var c = ["records": s.records, "imported": s.imported, "duplicates": s.duplicates, "skipped": s.skipped,
                 "dropped_turns": s.droppedTurns]
        for f in InstructionFormat.shapes {
            if let n = s.importedByFormat[f] { c["imported_\(f.rawValue)"] = n }
            if let n = s.duplicatesByFormat[f] { c["duplicates_\(f.rawValue)"] = n }
        }
        return c
    }

    func read(_ reader: InstructionFileReader, format: InstructionFormat, limit: Int?, source: String,
                      run: StageContext, progress: ProgressReporter, into summary: inout InstructionImportSummary) throws {
        var good: [NormalisedInstruction] = []
        var bad = 0
        var parsedAny = false
        var firstSyntaxError: String?

        func note(_ message: String) {
            run.note(message)
            if summary.problems.count < Self.keptProblems { summary.problems.append(message) }
        }
        func flush() throws {
            guard !good.isEmpty || bad > 0 else { return }
            let inserted = try run.commit(processed: good.count, skipped: bad) { db in try insert(good, source: source, db: db) }
            for (record, added) in zip(good, inserted) {
                if added {
                    summary.imported += 1
                    summary.importedByFormat[record.format, default: 0] += 1
                } else {
                    summary.duplicates += 1
                    summary.duplicatesByFormat[record.format, default: 0] += 1
                }
                summary.droppedTurns += record.droppedTurns
            }
            summary.skipped += bad
            progress.advance(by: good.count + bad)
            good.removeAll(keepingCapacity: true)
            bad = 0
        }

        while limit.map({ summary.records < $0 }) ?? true, let record = try reader.next() {
            summary.records += 1
            switch record.parsed {
            case .bad(let message):
                if firstSyntaxError == nil { firstSyntaxError = "\(record.location): \(message)" }
                note("\(record.location): \(message)")
                bad += 1
            case .value(let value):
                parsedAny = true
                do {
                    good.append(try InstructionNormaliser.normalise(value, format: format))
                } catch let problem as InstructionNormaliser.Problem {
                    note("\(record.location): \(problem.message)")
                    bad += 1
                }
            }
            if good.count + bad >= batchSize { try flush() }
        }
        try flush()
        let reachedEnd = limit.map { summary.records < $0 } ?? true
        if reachedEnd {
            if summary.records == 0 {
                if let problem = reader.fileProblems.first { throw InstructionImportError.notJSON(path: reader.path, detail: problem) }
                throw InstructionImportError.empty(path: reader.path)
            }
            // Nothing parsed anywhere: not instruction data with a few bad lines, but not JSON.
            if !parsedAny, let firstSyntaxError {
                throw InstructionImportError.notJSON(path: reader.path, detail: "no record is valid JSON; the first: \(firstSyntaxError)")
            }
            for problem in reader.fileProblems { note(problem) }
        }
    }

    /// Inserts a batch; for each record, whether it was new.
    private func insert(_ records: [NormalisedInstruction], source: String, db: Database) throws -> [Bool] {
        let now = Timestamp.now()
        let statement = try db.cachedStatement(sql: """
            INSERT INTO instructions(source, format, external_id, messages, n_chars, content_hash, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(content_hash) DO NOTHING
            """)
        var inserted: [Bool] = []
        inserted.reserveCapacity(records.count)
        for r in records {
            try statement.execute(arguments: [source, r.format.rawValue, r.externalID, r.messagesJSON, r.nChars, Data(r.contentHash), now])
            inserted.append(db.changesCount > 0)
        }
        return inserted
    }
}

extension InstructionImportSummary: StageOutput {
    public var counts: [String: Int] { InstructionImporter.counts(self) }
}
