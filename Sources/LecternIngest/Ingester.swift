import Foundation
import GRDB
import LecternCore
import LecternStore

/// Options of `lectern ingest`.
public struct IngestOptions: Codable, Sendable {
    /// Format of every source, or nil to detect each one.
    public var format: SourceFormat?
    /// Field (JSONL) or column (CSV/TSV) names.
    public var fields = FieldNames()
    /// Plain text: the first line of each file is its title (as AdaptLLM does).
    public var titleFirstLine = false
    /// Stop at the first bad record instead of skipping and counting it.
    public var strict = false
    /// Larger documents are bad records (default 16 MiB of UTF-8).
    public var maxDocumentBytes = 16 << 20
    /// Documents per transaction (and per progress step).
    public var batchDocuments = 50_000
    /// Text bytes per transaction, whichever limit comes first. Large on purpose: every
    /// transaction rewrites the content-hash index pages it touches (random keys touch most of
    /// them), so 4 MiB transactions wrote more index pages to the WAL than text. A killed
    /// ingest loses at most one transaction's work, which the re-run redoes.
    public var batchBytes = 16 << 20
    /// Page cache of the writing connection during the ingest, in bytes. It must hold one
    /// transaction's pages (else SQLite spills them to the WAL mid-transaction) and the hot
    /// part of the content-hash index.
    public var writerCacheBytes = 64 << 20
    /// Ingest only this shard's documents (those whose content hash it owns, see ``Shard``) and
    /// its share of the bad records, into a shard file. Not part of a source's identity: every
    /// shard records the same sources, and a merge adds up their counters.
    public var shard: Shard?

    public init() {}

    /// What decides how a source is read (its fingerprint includes these; batching does not).
    struct ReadConfig: Codable {
        var format: SourceFormat
        var fields: FieldNames
        var titleFirstLine: Bool
        var maxDocumentBytes: Int
        /// Plain text only: how a file's text is normalised (``TextFilesReader/normalisation``).
        /// Part of the identity, so text files read before line ends were normalised are read
        /// again (their documents were kept with "\r" or dropped as empty under --title-first-line).
        var normalisation: String?
    }
}

/// What one source gave.
public struct SourceSummary: Sendable {
    public var path: String
    public var format: SourceFormat
    public var added = 0
    public var duplicates = 0
    public var skipped = 0
    /// Paths under a directory that could not be listed or read: reported, counted, and not
    /// marked ingested, so the next run tries them again.
    public var unreadable = 0
    /// True when the source had been ingested completely before and was not read again.
    public var alreadyIngested = false
    /// Records consumed before this run (a resumed source).
    public var resumedAt = 0
    /// With a shard: valid documents read that belong to other shards (not written here).
    public var otherShards = 0
    /// Plain text: files ingested by an earlier run and not read again.
    public var filesAlreadyIngested = 0
    /// Why the source is not ingested completely (the message names the path), or nil: it could
    /// not be read to its end, some of its paths could not be read, or it has no valid record.
    public var failure: String?
}

/// The result of `lectern ingest`.
public struct IngestSummary: Sendable {
    public var sources: [SourceSummary] = []
    public var added: Int { sources.reduce(0) { $0 + $1.added } }
    public var duplicates: Int { sources.reduce(0) { $0 + $1.duplicates } }
    public var skipped: Int { sources.reduce(0) { $0 + $1.skipped } }
    public var unreadable: Int { sources.reduce(0) { $0 + $1.unreadable } }
    /// The sources that were not ingested completely.
    public var failed: [SourceSummary] { sources.filter { $0.failure != nil } }
}

/// Brings raw documents into the file: reads each source in order, drops exact duplicates by
/// content hash, and commits in short transactions together with the source's resume point, so
/// a killed ingest resumes exactly where its last transaction ended and ingesting the same
/// sources again adds nothing. Parsing and hashing run on one core while the other writes.
///
/// A source is a file identified by path, size, mtime and read options (a JSON Lines, CSV/TSV
/// or PubMedQA file resumes at its last committed record). Plain text is identified file by
/// file, also inside a directory: a directory is listed again on every run, and the files with
/// no complete `sources` row (new, changed, or unreadable last time) are read.
///
/// A problem of one source (it cannot be read to its end, a path under it cannot be read, it
/// has no valid record) does not stop the others: every source is tried, what they gave is
/// kept, and the ingest then throws ``IngestError/incomplete(_:)``. Missing paths and unknown
/// formats are found before anything is read; `--strict` stops at the first bad record.
public final class Ingester {
    public let store: Store
    public let options: IngestOptions
    /// Where warnings about bad records and unreadable paths go (stderr by default).
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }
    /// Bad-record warnings printed per source before only counting.
    public var warningsPerSource = 20

    public init(store: Store, options: IngestOptions) {
        self.store = store
        self.options = options
    }

    public struct RunConfig: Codable {
        var sources: [String]
        var options: IngestOptions
    }

    /// Ingests the given files and directories. Every path is checked before anything is read.
    /// Throws ``IngestError/incomplete(_:)``, after trying every source, when some were not
    /// ingested completely.
    public func ingest(paths: [String]) throws -> IngestSummary {
        try StageRunner.run(IngestStage(ingester: self, paths: paths))
    }

    /// Every path checked (exists, readable, a known format) before anything is read.
    func resolve(paths: [String]) throws -> [(path: String, format: SourceFormat)] {
        var resolved: [(path: String, format: SourceFormat)] = []
        for p in paths {
            let absolute = Self.absolute(p)
            guard FileManager.default.fileExists(atPath: absolute) else { throw IngestError.missingPath(p) }
            guard FileManager.default.isReadableFile(atPath: absolute) else {
                throw IngestError.unreadable(path: p, detail: "permission denied")
            }
            resolved.append((absolute, try options.format ?? SourceFormat.detect(path: absolute)))
        }
        return resolved
    }

    func execute(_ resolved: [(path: String, format: SourceFormat)], run: StageContext) throws -> IngestSummary {
        let cacheKiB = max(1, options.writerCacheBytes >> 10)
        let previousCache = try store.pool.writeWithoutTransaction { db -> Int in
            let previous = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? -2000
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
            return previous
        }
        defer { try? store.pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA cache_size = \(previousCache)") } }
        var summary = IngestSummary()
        for (path, format) in resolved {
            if format == .text {
                summary.sources.append(try ingestTextFiles(path: path, run: run))
            } else {
                summary.sources.append(try ingestStream(path: path, format: format, run: run))
            }
            run.report(counts: summary.counts)
        }
        if !summary.failed.isEmpty { throw IngestError.incomplete(summary) }
        return summary
    }

    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.standardizedFileURL.path
    }

    // MARK: - Identity

    struct SourceRow {
        var id: Int64
        var recordsDone: Int
        var complete: Bool
    }

    /// A file as found: its identity is path, size, mtime and read options.
    struct FileIdentity {
        var path: String
        var size: Int
        var mtime: Double
        var fingerprint: String
    }

    private func identity(of path: String, readJSON: String) throws -> FileIdentity {
        var st = stat()
        guard stat(path, &st) == 0 else { throw IngestError.unreadable(path: path, detail: String(cString: strerror(errno))) }
        let fingerprint = Fingerprint.hex(of: Array("\(path)\n\(st.st_size)\n\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n\(readJSON)".utf8))
        return FileIdentity(path: path, size: Int(st.st_size), mtime: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9,
                            fingerprint: fingerprint)
    }

    private func readConfig(_ format: SourceFormat) -> IngestOptions.ReadConfig {
        IngestOptions.ReadConfig(format: format, fields: options.fields, titleFirstLine: options.titleFirstLine,
                                 maxDocumentBytes: options.maxDocumentBytes,
                                 normalisation: format == .text ? TextFilesReader.normalisation : nil)
    }

    private func makeReader(path: String, format: SourceFormat) throws -> RecordReader {
        switch format {
        case .jsonl: return try JSONLReader(path: path, fields: options.fields, maxBytes: options.maxDocumentBytes)
        case .text: throw IngestError.unsupportedFormat(path: path, detail: "plain text is read file by file, not as a record stream")
        case .csv: return try DelimitedReader(path: path, tabs: false, fields: options.fields, maxBytes: options.maxDocumentBytes)
        case .tsv: return try DelimitedReader(path: path, tabs: true, fields: options.fields, maxBytes: options.maxDocumentBytes)
        case .pubmedqa: return try PubMedQAReader(path: path, maxBytes: options.maxDocumentBytes)
        }
    }

    // MARK: - A record stream (JSON Lines, CSV/TSV, PubMedQA)

    private func ingestStream(path: String, format: SourceFormat, run: StageContext) throws -> SourceSummary {
        var summary = SourceSummary(path: path, format: format)
        let readJSON = try Fingerprint.canonicalJSON(readConfig(format))
        let file: FileIdentity
        do {
            file = try identity(of: path, readJSON: readJSON)
        } catch {
            guard let problem = IngestError.ofOneSource(error) else { throw error }
            summary.failure = problem.description
            return summary
        }
        let row: SourceRow = try StageWriteError.naming(stage: "ingest", path: store.path) { try store.pool.write { db in
            if let r = try Row.fetchOne(db, sql: "SELECT id, records_done, status FROM sources WHERE path = ? AND fingerprint = ?",
                                        arguments: [path, file.fingerprint]) {
                return SourceRow(id: r["id"], recordsDone: r["records_done"], complete: (r["status"] as String) == "complete")
            }
            let now = Timestamp.now()
            try db.execute(
                sql: """
                INSERT INTO sources(path, format, options, size_bytes, mtime, fingerprint, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                arguments: [path, format.rawValue, readJSON, file.size, file.mtime, file.fingerprint, now, now])
            return SourceRow(id: db.lastInsertedRowID, recordsDone: 0, complete: false)
        } }
        if row.complete {
            summary.alreadyIngested = true
            if options.shard == nil { try requireValidRecord(sourceId: row.id, &summary) }
            return summary
        }
        summary.resumedAt = row.recordsDone
        let reader: RecordReader
        do {
            reader = try makeReader(path: path, format: format)
            try reader.skip(row.recordsDone)
        } catch {
            guard let problem = IngestError.ofOneSource(error) else { throw error }
            summary.failure = problem.description
            return summary
        }

        let progress = ProgressReporter(label: "ingest \((path as NSString).lastPathComponent)", total: nil, unit: "docs")
        let queue = BatchQueue(capacity: 3)
        let producer = Thread { [options] in
            var batch = Batch(recordsEnd: row.recordsDone)
            var records = row.recordsDone
            do {
                while let (location, outcome) = try reader.next() {
                    records += 1
                    switch outcome {
                    case .blank:
                        break
                    case .bad(let message):
                        // A bad record has no content hash: shards split them by position.
                        if let shard = options.shard, !shard.owns(record: records - 1) { break }
                        if options.strict { throw IngestError.badRecord(location: location, message: message) }
                        batch.bad.append("\(location): \(message)")
                    case .document(let doc):
                        let hash = ContentHash.of(text: doc.text)
                        if let shard = options.shard, !shard.owns(contentHash: hash) {
                            batch.otherShards += 1
                            break
                        }
                        batch.bytes += doc.text.utf8.count
                        batch.docs.append(PreparedDocument(record: doc, hash: hash, nChars: scalarCount(doc.text)))
                    }
                    batch.recordsEnd = records
                    if batch.docs.count >= options.batchDocuments || batch.bytes >= options.batchBytes || batch.bad.count >= 1000 {
                        queue.put(.batch(batch))
                        batch = Batch(recordsEnd: records)
                    }
                }
                queue.put(.batch(batch))
                queue.put(.end)
            } catch {
                if let problem = IngestError.ofOneSource(error) {
                    // The source is damaged or cannot be read on: every record before is kept.
                    queue.put(.batch(batch))
                    queue.put(.failure(problem))
                } else {
                    queue.put(.failure(error))
                }
            }
        }
        producer.stackSize = 8 << 20
        producer.start()
        let failure = try consume(queue, path: path, run: run, progress: progress, summary: &summary) { batch, db in
            try self.insert(batch, sourceId: row.id, label: path, db: db)
        }
        if let failure {
            summary.failure = failure.description
            return summary
        }
        try store.pool.write { db in
            try db.execute(sql: "UPDATE sources SET status = 'complete', updated_at = ? WHERE id = ?", arguments: [Timestamp.now(), row.id])
        }
        // A shard may own none of a small source's documents; the source is empty only when no
        // shard found one.
        if options.shard == nil || summary.added + summary.duplicates + summary.otherShards == 0 {
            try requireValidRecord(sourceId: row.id, &summary)
        }
        progress.finish(failed: summary.failure != nil)
        return summary
    }

    /// A source read to its end with no valid record (empty, blank, or every record bad: a binary
    /// file, the wrong format) is a failure, in this run and the next ones.
    private func requireValidRecord(sourceId: Int64, _ summary: inout SourceSummary) throws {
        let counts = try store.pool.read { db in
            try Row.fetchOne(db, sql: "SELECT n_added + n_duplicates AS valid, n_skipped FROM sources WHERE id = ?", arguments: [sourceId])
        }
        guard let counts, (counts["valid"] as Int) == 0 else { return }
        let skipped: Int = counts["n_skipped"]
        summary.failure = skipped > 0
            ? "\(summary.path): no valid record: all \(skipped) records are bad (see the warnings; `lectern status` keeps the first \(StageRun.keptMessages))"
            : "\(summary.path): no valid record: the file is empty or blank"
    }

    // MARK: - Plain text files

    /// A text file or a directory of them. Each file is its own `sources` row, written in the
    /// same transaction as its document, so a file is read until one run ingests it: new files
    /// in a directory are picked up, and a path that could not be read is tried again next time.
    private func ingestTextFiles(path: String, run: StageContext) throws -> SourceSummary {
        var summary = SourceSummary(path: path, format: .text)
        let readJSON = try Fingerprint.canonicalJSON(readConfig(.text))
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let listing = isDirectory.boolValue ? TextFilesReader.walk(path) : TextFilesReader.Listing(files: [path], problems: [])
        var problems = listing.problems.map { "\($0.path): \($0.detail)" }
        var pending: [FileIdentity] = []
        var validBefore = 0
        try store.pool.read { db in
            let done = try db.cachedStatement(sql: """
                SELECT n_added + n_duplicates FROM sources WHERE path = ? AND fingerprint = ? AND status = 'complete'
                """)
            for filePath in listing.files {
                let file: FileIdentity
                do {
                    file = try identity(of: filePath, readJSON: readJSON)
                } catch {
                    problems.append("\(error)")
                    continue
                }
                if let valid = try Int.fetchOne(done, arguments: [file.path, file.fingerprint]) {
                    summary.filesAlreadyIngested += 1
                    validBefore += valid
                } else {
                    pending.append(file)
                }
            }
        }
        func finish() -> SourceSummary {
            if summary.unreadable > 0 {
                summary.failure = "\(path): \(summary.unreadable) \(summary.unreadable == 1 ? "path" : "paths") under it could not be read "
                    + "(named in the warnings); once readable they are read by the next run"
            } else if validBefore + summary.added + summary.duplicates + summary.otherShards == 0 {
                summary.failure = listing.files.isEmpty
                    ? "\(path): no valid record: no files (hidden files and directories are not read)"
                    : "\(path): no valid record: every file was skipped (see the warnings)"
            }
            return summary
        }
        if pending.isEmpty && problems.isEmpty {
            summary.alreadyIngested = !listing.files.isEmpty
            return finish()
        }

        let progress = ProgressReporter(label: "ingest \((path as NSString).lastPathComponent)", total: pending.count + problems.count, unit: "files")
        let queue = BatchQueue(capacity: 3)
        let root = path
        let producer = Thread { [options, problems, pending] in
            var batch = Batch(recordsEnd: 0)
            batch.unreadable = problems
            for file in pending {
                let relative = file.path == root ? (file.path as NSString).lastPathComponent : String(file.path.dropFirst(root.count).drop { $0 == "/" })
                switch TextFilesReader.read(file.path, relative: relative, titleFirstLine: options.titleFirstLine, maxBytes: options.maxDocumentBytes) {
                case .document(let doc):
                    let hash = ContentHash.of(text: doc.text)
                    // Another shard's file gets no sources row here: that shard records it.
                    if let shard = options.shard, !shard.owns(contentHash: hash) {
                        batch.otherShards += 1
                        continue
                    }
                    batch.bytes += doc.text.utf8.count
                    batch.files.append(FileDone(file: file, document: batch.docs.count))
                    batch.docs.append(PreparedDocument(record: doc, hash: hash, nChars: scalarCount(doc.text)))
                case .bad(let message):
                    // A bad file has no content hash: shards split them by path.
                    if let shard = options.shard, !shard.owns(contentHash: ContentHash.of(text: file.path)) { continue }
                    if options.strict {
                        queue.put(.failure(IngestError.badRecord(location: file.path, message: message)))
                        return
                    }
                    batch.bad.append("\(file.path): \(message)")
                    batch.files.append(FileDone(file: file, document: nil))
                case .unreadable(let detail):
                    batch.unreadable.append("\(file.path): cannot read: \(detail)")
                }
                if batch.docs.count >= options.batchDocuments || batch.bytes >= options.batchBytes || batch.files.count >= options.batchDocuments
                    || batch.bad.count >= 1000 || batch.unreadable.count >= 1000 {
                    queue.put(.batch(batch))
                    batch = Batch(recordsEnd: 0)
                }
            }
            queue.put(.batch(batch))
            queue.put(.end)
        }
        producer.stackSize = 8 << 20
        producer.start()
        _ = try consume(queue, path: path, run: run, progress: progress, summary: &summary) { batch, db in
            try self.insertFiles(batch, readJSON: readJSON, db: db)
        }
        let result = finish()
        progress.finish(failed: result.failure != nil)
        return result
    }

    // MARK: - Writing

    /// Writes the batches the producer queues until it ends. Returns the error that stopped a
    /// source early (it concerns that source only); throws any other.
    private func consume(_ queue: BatchQueue, path: String, run: StageContext, progress: ProgressReporter, summary: inout SourceSummary,
                         insert: @escaping (Batch, Database) throws -> Int) throws -> IngestError? {
        let checkpointer = try BackgroundCheckpointer(store: store, restartBytes: max(4 * options.batchBytes, 32 << 20))
        var finished = false
        defer {
            if !finished {
                progress.finish(failed: true)
                try? checkpointer.finish()
            }
        }
        var warned = 0
        func moreNotShown() {
            if warned > warningsPerSource {
                warn("\(path): \(warned - warningsPerSource) more bad records not shown (all are counted; `lectern status` shows the first \(StageRun.keptMessages))")
            }
        }
        while true {
            switch queue.take() {
            case .failure(let error):
                queue.drain()
                guard let problem = IngestError.ofOneSource(error) else { throw error }
                moreNotShown()
                finished = true
                progress.finish(failed: true)
                try checkpointer.finish()
                return problem
            case .end:
                // (The caller ends the progress line: the source may still fail, unreadable
                // paths or no valid record, and must not be shown as done.)
                moreNotShown()
                finished = true
                try checkpointer.finish()
                return nil
            case .batch(let batch):
                for message in batch.bad {
                    run.note(message)
                    if warned < warningsPerSource { warn(message) }
                    warned += 1
                }
                for message in batch.unreadable {
                    run.note(message)
                    warn(message)
                }
                let added = try run.commit(processed: batch.docs.count, skipped: batch.bad.count, failed: batch.unreadable.count) { db in
                    try insert(batch, db)
                }
                try checkpointer.committed(bytes: batch.bytes)
                summary.added += added
                summary.duplicates += batch.docs.count - added
                summary.otherShards += batch.otherShards
                summary.skipped += batch.bad.count
                summary.unreadable += batch.unreadable.count
                progress.advance(by: progress.unit == "files" ? batch.files.count + batch.unreadable.count : batch.docs.count)
            }
        }
    }

    private func insert(_ batch: Batch, sourceId: Int64, label: String, db: Database) throws -> Int {
        let now = Timestamp.now()
        let statement = try db.cachedStatement(sql: """
            INSERT INTO documents(text, title, source, source_id, external_id, metadata, n_chars, content_hash, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(content_hash) DO NOTHING
            """)
        var added = 0
        for doc in batch.docs {
            try statement.execute(arguments: [
                doc.record.text, doc.record.title, label, sourceId, doc.record.externalId, doc.record.metadata,
                doc.nChars, Data(doc.hash), now,
            ])
            if db.changesCount > 0 { added += 1 }
        }
        try db.execute(
            sql: """
            UPDATE sources SET records_done = ?, n_added = n_added + ?, n_duplicates = n_duplicates + ?,
                n_skipped = n_skipped + ?, updated_at = ? WHERE id = ?
            """,
            arguments: [batch.recordsEnd, added, batch.docs.count - added, batch.bad.count, now, sourceId])
        return added
    }

    /// Plain text: each file's `sources` row (complete, with its counters) and its document.
    private func insertFiles(_ batch: Batch, readJSON: String, db: Database) throws -> Int {
        let now = Timestamp.now()
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO sources(path, format, options, size_bytes, mtime, fingerprint, created_at, updated_at)
            VALUES (?, 'text', ?, ?, ?, ?, ?, ?) ON CONFLICT(path, fingerprint) DO NOTHING
            """)
        let find = try db.cachedStatement(sql: "SELECT id FROM sources WHERE path = ? AND fingerprint = ?")
        let document = try db.cachedStatement(sql: """
            INSERT INTO documents(text, title, source, source_id, external_id, metadata, n_chars, content_hash, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(content_hash) DO NOTHING
            """)
        let complete = try db.cachedStatement(sql: """
            UPDATE sources SET records_done = 1, n_added = n_added + ?, n_duplicates = n_duplicates + ?, n_skipped = n_skipped + ?,
                status = 'complete', updated_at = ? WHERE id = ?
            """)
        var added = 0
        for done in batch.files {
            let file = done.file
            try upsert.execute(arguments: [file.path, readJSON, file.size, file.mtime, file.fingerprint, now, now])
            guard let sourceId = try Int64.fetchOne(find, arguments: [file.path, file.fingerprint]) else {
                throw IngestError.unreadable(path: file.path, detail: "its sources row vanished while writing")
            }
            var counts = (added: 0, duplicates: 0, skipped: 0)
            if let index = done.document {
                let doc = batch.docs[index]
                try document.execute(arguments: [
                    doc.record.text, doc.record.title, file.path, sourceId, doc.record.externalId, doc.record.metadata,
                    doc.nChars, Data(doc.hash), now,
                ])
                if db.changesCount > 0 { counts.added = 1 } else { counts.duplicates = 1 }
            } else {
                counts.skipped = 1
            }
            try complete.execute(arguments: [counts.added, counts.duplicates, counts.skipped, now, sourceId])
            added += counts.added
        }
        return added
    }
}

struct PreparedDocument {
    var record: DocumentRecord
    var hash: [UInt8]
    var nChars: Int
}

struct Batch {
    var docs: [PreparedDocument] = []
    var bad: [String] = []
    var bytes = 0
    /// Records consumed from the source once this batch is written (the resume point).
    var recordsEnd: Int
    /// Plain text: the files this batch completes, in order.
    var files: [FileDone] = []
    /// Plain text: paths that could not be listed or read (`path: cannot read: why`).
    var unreadable: [String] = []
    /// With a shard: valid documents of other shards, read and not written.
    var otherShards = 0
}

/// A text file read to its end: its document (an index into the batch's), or nil for a bad file.
struct FileDone {
    var file: Ingester.FileIdentity
    var document: Int?
}

/// A small blocking queue between the parsing thread and the writer.
final class BatchQueue: @unchecked Sendable {
    enum Item { case batch(Batch), end, failure(Error) }
    private var items: [Item] = []
    private let capacity: Int
    private let condition = NSCondition()
    private var closed = false

    init(capacity: Int) { self.capacity = capacity }

    func put(_ item: Item) {
        condition.lock()
        while items.count >= capacity && !closed { condition.wait() }
        if !closed { items.append(item) }
        condition.broadcast()
        condition.unlock()
    }

    func take() -> Item {
        condition.lock()
        while items.isEmpty { condition.wait() }
        let item = items.removeFirst()
        condition.broadcast()
        condition.unlock()
        return item
    }

    /// Lets a blocked producer finish after the consumer gave up.
    func drain() {
        condition.lock()
        closed = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

/// `ingest` as a ``Stage``: the sources, resolved and checked in `prepare`.
struct IngestStage: Stage {
    static let name = "ingest"
    let ingester: Ingester
    let paths: [String]
    var store: Store { ingester.store }

    func prepare() throws -> StagePlan<Ingester.RunConfig, [(path: String, format: SourceFormat)]> {
        let resolved = try ingester.resolve(paths: paths)
        return StagePlan(configuration: .init(sources: resolved.map(\.path), options: ingester.options),
                         pendingInputs: resolved.count, prepared: resolved)
    }

    func execute(_ work: StagePlan<Ingester.RunConfig, [(path: String, format: SourceFormat)]>, in run: StageContext) throws -> IngestSummary {
        try ingester.execute(work.prepared, run: run)
    }
}

extension IngestSummary: StageOutput {
    public var counts: [String: Int] {
        var c = ["added": added, "duplicates": duplicates, "skipped": skipped]
        if unreadable > 0 { c["unreadable"] = unreadable }
        if !failed.isEmpty { c["failed_sources"] = failed.count }
        return c
    }
}
