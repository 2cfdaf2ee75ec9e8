import Foundation
import GRDB
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

    public init() {}

    /// What decides how a source is read (its fingerprint includes these; batching does not).
    struct ReadConfig: Codable {
        var format: SourceFormat
        var fields: FieldNames
        var titleFirstLine: Bool
        var maxDocumentBytes: Int
    }
}

/// What one source gave.
public struct SourceSummary: Sendable {
    public var path: String
    public var format: SourceFormat
    public var added = 0
    public var duplicates = 0
    public var skipped = 0
    /// True when the source had been ingested completely before and was not read again.
    public var alreadyIngested = false
    /// Records consumed before this run (a resumed source).
    public var resumedAt = 0
}

/// The result of `lectern ingest`.
public struct IngestSummary: Sendable {
    public var sources: [SourceSummary] = []
    public var added: Int { sources.reduce(0) { $0 + $1.added } }
    public var duplicates: Int { sources.reduce(0) { $0 + $1.duplicates } }
    public var skipped: Int { sources.reduce(0) { $0 + $1.skipped } }
}

/// Brings raw documents into the file: reads each source in order, drops exact duplicates by
/// content hash, and commits in short transactions together with the source's resume point, so
/// a killed ingest resumes exactly where its last transaction ended and ingesting the same
/// sources again adds nothing. Parsing and hashing run on one core while the other writes.
public final class Ingester {
    public let store: Store
    public let options: IngestOptions
    /// Where warnings about bad records go (stderr by default).
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8)) }
    /// Bad-record warnings printed per source before only counting.
    public var warningsPerSource = 20

    public init(store: Store, options: IngestOptions) {
        self.store = store
        self.options = options
    }

    struct RunConfig: Codable {
        var sources: [String]
        var options: IngestOptions
    }

    /// Ingests the given files and directories. Every path is checked before anything is read.
    public func ingest(paths: [String]) throws -> IngestSummary {
        var resolved: [(path: String, format: SourceFormat)] = []
        for p in paths {
            let absolute = Self.absolute(p)
            guard FileManager.default.fileExists(atPath: absolute) else { throw IngestError.missingPath(p) }
            guard FileManager.default.isReadableFile(atPath: absolute) else {
                throw IngestError.unreadable(path: p, detail: "permission denied")
            }
            resolved.append((absolute, try options.format ?? SourceFormat.detect(path: absolute)))
        }
        let cacheKiB = max(1, options.writerCacheBytes >> 10)
        let previousCache = try store.pool.writeWithoutTransaction { db -> Int in
            let previous = try Int.fetchOne(db, sql: "PRAGMA cache_size") ?? -2000
            try db.execute(sql: "PRAGMA cache_size = -\(cacheKiB)")
            return previous
        }
        defer { try? store.pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA cache_size = \(previousCache)") } }
        let run = try StageRun.begin(store, stage: "ingest", config: RunConfig(sources: resolved.map(\.path), options: options), inputs: resolved.count)
        var summary = IngestSummary()
        do {
            for (path, format) in resolved {
                summary.sources.append(try ingestSource(path: path, format: format, run: run))
            }
        } catch {
            try? run.fail(error, counts: ["added": summary.added, "duplicates": summary.duplicates, "skipped": summary.skipped])
            throw error
        }
        try run.finish(counts: ["added": summary.added, "duplicates": summary.duplicates, "skipped": summary.skipped])
        return summary
    }

    static func absolute(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.standardizedFileURL.path
    }

    // MARK: - One source

    struct SourceRow {
        var id: Int64
        var recordsDone: Int
        var complete: Bool
    }

    private func sourceFingerprint(path: String, format: SourceFormat) throws -> (String, String, Int, Double) {
        var st = stat()
        guard stat(path, &st) == 0 else { throw IngestError.unreadable(path: path, detail: String(cString: strerror(errno))) }
        var size = Int(st.st_size)
        var mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        if (st.st_mode & S_IFMT) == S_IFDIR {
            // A directory changes when any file under it does.
            let files = try TextFilesReader.listFiles(path)
            size = 0
            var parts: [String] = []
            for f in files {
                var fs = stat()
                if stat(f, &fs) == 0 {
                    size += Int(fs.st_size)
                    mtime = max(mtime, Double(fs.st_mtim.tv_sec) + Double(fs.st_mtim.tv_nsec) / 1e9)
                    parts.append("\(f)\t\(fs.st_size)\t\(fs.st_mtim.tv_sec).\(fs.st_mtim.tv_nsec)")
                }
            }
            mtime = Double(Int(mtime * 1000)) / 1000
            let listing = Fingerprint.hex(of: Array(parts.joined(separator: "\n").utf8))
            let readJSON = try Fingerprint.canonicalJSON(readConfig(format))
            return (Fingerprint.hex(of: Array("\(path)\n\(listing)\n\(readJSON)".utf8)), readJSON, size, mtime)
        }
        let readJSON = try Fingerprint.canonicalJSON(readConfig(format))
        let fp = Fingerprint.hex(of: Array("\(path)\n\(size)\n\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)\n\(readJSON)".utf8))
        return (fp, readJSON, size, mtime)
    }

    private func readConfig(_ format: SourceFormat) -> IngestOptions.ReadConfig {
        IngestOptions.ReadConfig(format: format, fields: options.fields, titleFirstLine: options.titleFirstLine, maxDocumentBytes: options.maxDocumentBytes)
    }

    private func makeReader(path: String, format: SourceFormat) throws -> RecordReader {
        switch format {
        case .jsonl: return try JSONLReader(path: path, fields: options.fields, maxBytes: options.maxDocumentBytes)
        case .text: return try TextFilesReader(path: path, titleFirstLine: options.titleFirstLine, maxBytes: options.maxDocumentBytes)
        case .csv: return try DelimitedReader(path: path, tabs: false, fields: options.fields, maxBytes: options.maxDocumentBytes)
        case .tsv: return try DelimitedReader(path: path, tabs: true, fields: options.fields, maxBytes: options.maxDocumentBytes)
        case .pubmedqa: return try PubMedQAReader(path: path, maxBytes: options.maxDocumentBytes)
        }
    }

    private func ingestSource(path: String, format: SourceFormat, run: StageRun) throws -> SourceSummary {
        var summary = SourceSummary(path: path, format: format)
        let (fingerprint, readJSON, size, mtime) = try sourceFingerprint(path: path, format: format)
        let row: SourceRow = try store.pool.write { db in
            if let r = try Row.fetchOne(db, sql: "SELECT id, records_done, status FROM sources WHERE path = ? AND fingerprint = ?",
                                        arguments: [path, fingerprint]) {
                return SourceRow(id: r["id"], recordsDone: r["records_done"], complete: (r["status"] as String) == "complete")
            }
            let now = Timestamp.now()
            try db.execute(
                sql: """
                INSERT INTO sources(path, format, options, size_bytes, mtime, fingerprint, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                arguments: [path, format.rawValue, readJSON, size, mtime, fingerprint, now, now])
            return SourceRow(id: db.lastInsertedRowID, recordsDone: 0, complete: false)
        }
        if row.complete {
            summary.alreadyIngested = true
            return summary
        }
        summary.resumedAt = row.recordsDone
        let reader = try makeReader(path: path, format: format)
        try reader.skip(row.recordsDone)

        let progress = ProgressReporter(label: "ingest \((path as NSString).lastPathComponent)", total: nil, unit: "docs")
        defer { progress.finish() }
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
                        if options.strict { throw IngestError.badRecord(location: location, message: message) }
                        batch.bad.append("\(location): \(message)")
                    case .document(let doc):
                        batch.bytes += doc.text.utf8.count
                        batch.docs.append(PreparedDocument(record: doc, hash: ContentHash.of(text: doc.text), nChars: scalarCount(doc.text)))
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
                queue.put(.failure(error))
            }
        }
        producer.stackSize = 8 << 20
        producer.start()

        let checkpointer = try BackgroundCheckpointer(store: store, restartBytes: max(4 * options.batchBytes, 32 << 20))
        var finished = false
        defer { if !finished { try? checkpointer.finish() } }
        var warned = 0
        while true {
            switch queue.take() {
            case .failure(let error):
                queue.drain()
                throw error
            case .end:
                if warned > warningsPerSource {
                    warn("\(path): \(warned - warningsPerSource) more bad records not shown (all are counted; `lectern status` shows the first \(StageRun.keptMessages))")
                }
                try store.pool.write { db in
                    try db.execute(sql: "UPDATE sources SET status = 'complete', updated_at = ? WHERE id = ?", arguments: [Timestamp.now(), row.id])
                }
                finished = true
                try checkpointer.finish()
                return summary
            case .batch(let batch):
                for message in batch.bad {
                    run.note(message)
                    if warned < warningsPerSource { warn(message) }
                    warned += 1
                }
                let added = try run.commit(processed: batch.docs.count, skipped: batch.bad.count) { db -> Int in
                    try insert(batch, sourceId: row.id, label: path, db: db)
                }
                try checkpointer.committed(bytes: batch.bytes)
                summary.added += added
                summary.duplicates += batch.docs.count - added
                summary.skipped += batch.bad.count
                progress.advance(by: batch.docs.count)
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
