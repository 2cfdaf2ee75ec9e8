import Foundation
import GRDB
import LecternStore
import LecternCore
import LecternIngest
import LecternKernels

/// Options of one `lectern generate` run that do not change what a request returns (so they
/// are outside the generator fingerprint).
public struct GenerateOptions: Codable, Sendable, Hashable {
    /// Only this many documents, picked by `seed` (the teacher subset); nil: all.
    public var sample: Int?
    public var seed: UInt64
    /// A request whose attempts (HTTP requests, all runs together) reached this is not retried.
    public var maxAttempts: Int
    /// Requests in flight; nil: the client's capacity.
    public var concurrency: Int?
    /// Stop after this many requests in this run (for a quick look); nil: no limit.
    public var limit: Int?

    public init(sample: Int? = nil, seed: UInt64 = 0, maxAttempts: Int = 12, concurrency: Int? = nil,
                limit: Int? = nil) {
        self.sample = sample
        self.seed = seed
        self.maxAttempts = maxAttempts
        self.concurrency = concurrency
        self.limit = limit
    }
}

/// Counters of one run, for the stage log and the command's summary.
public struct GenerateCounts: Codable, Sendable, Equatable {
    public var pending = 0
    public var requests = 0
    public var ok = 0
    public var invalid = 0
    public var failed = 0
    public var pairs = 0
    public var repaired = 0
    public var promptTokens = 0
    public var completionTokens = 0
    public var rejected: [String: Int] = [:]
    /// The first failure of this run (document and error), for a message that says why.
    public var firstError: String?
    public init() {}

    public var asDictionary: [String: Int] {
        var d = ["requests": requests, "ok": ok, "invalid": invalid, "failed": failed, "pairs": pairs,
                 "repaired": repaired, "prompt_tokens": promptTokens, "completion_tokens": completionTokens]
        for (k, v) in rejected { d["rejected_" + k] = v }
        return d
    }
}

/// The generate stage: asks a generator for question-answer pairs about each document that
/// has no answer from it yet, and logs every request in `llm_requests`.
///
/// Resumable per request: each answer is written in its own short transaction as it
/// arrives, so `kill -9` loses only the requests in flight, and a re-run sends only
/// documents with no `ok`/`invalid` row (and `failed` ones under the attempt limit).
///
/// ## Topics
/// - ``run(progress:commit:)``
/// - ``pendingDocuments()``
public struct GenerateStage: Sendable {
    /// Writes one request's rows; `RequestOutcome` says what for the stage's counters.
    /// The default writes with `db.write`; a stage runner passes its own (e.g. `StageRun.commit`).
    public typealias Committer = @Sendable (RequestOutcome, (Database) throws -> Void) throws -> Void

    /// The file: documents are read from it, requests and pairs written to it.
    public let store: Store
    var db: DatabasePool { store.pool }
    public let client: ChatClient
    public let spec: GeneratorSpec
    public let options: GenerateOptions
    /// Extra body fields for every request (e.g. `cache_prompt: false` for llama.cpp benchmarks).
    public var extraBody: [String: JSONValue] = [:]

    public init(store: Store, client: ChatClient, spec: GeneratorSpec, options: GenerateOptions) {
        self.store = store
        self.client = client
        self.spec = spec
        self.options = options
    }

    /// The `generators` row for this spec, created on first use.
    public func generatorId() throws -> Int64 {
        let fp = spec.fingerprint
        return try db.write { db in
            if let id = try Int64.fetchOne(db, sql: "SELECT id FROM generators WHERE fingerprint = ?", arguments: [fp]) {
                return id
            }
            let endpoint = client.endpoints.count == 1 ? client.endpoints[0].displayURL : nil
            try db.execute(
                sql: """
                    INSERT INTO generators (name, model, endpoint, template_version, template, params, fingerprint, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [spec.name, spec.model, endpoint, spec.template.version, spec.template.text,
                            spec.paramsJSON, fp, Timestamp.now()])
            return db.lastInsertedRowID
        }
    }

    /// Ids of the documents this run would send, in order: the sample (or all documents),
    /// minus those already answered, minus failed ones out of attempts.
    public func pendingDocuments() throws -> [Int64] {
        let gid = try generatorId()
        return try db.read { db in
            let done = try Int64.fetchSet(db, sql: """
                SELECT document_id FROM llm_requests
                WHERE generator_id = ? AND document_id IS NOT NULL AND (status IN ('ok', 'invalid') OR attempts >= ?)
                """, arguments: [gid, options.maxAttempts])
            var ids: [Int64]
            if let n = options.sample {
                // Keyed by content, not rowid: the same documents are sampled in a file built in shards.
                let docs = try StoredDocument.keys(db).map { (id: $0.id, key: $0.contentKey) }
                ids = Sampler.pick(docs, count: n, seed: options.seed)
            } else {
                ids = try StoredDocument.ids(db)
            }
            return ids.filter { !done.contains($0) }
        }
    }

    /// The request-cache key: hash of the generator fingerprint and the document's content hash.
    static func requestKey(generatorFingerprint: String, contentHash: Data) -> String {
        Canonical.sha256Hex(generatorFingerprint + ":" + contentHash.map { String(format: "%02x", $0) }.joined())
    }

    /// Runs the stage. `progress` is called after each request is written, with the counts so far.
    @discardableResult
    public func run(progress: (@Sendable (GenerateCounts) -> Void)? = nil, commit: Committer? = nil) async throws
        -> GenerateCounts
    {
        let gid = try generatorId()
        let fp = spec.fingerprint
        var pending = try pendingDocuments()
        if let limit = options.limit { pending = Array(pending.prefix(limit)) }
        var counts = GenerateCounts()
        counts.pending = pending.count
        let writer = db
        let commit: Committer = commit ?? { _, w in try writer.write { try w($0) } }
        let width = max(1, options.concurrency ?? client.capacity)
        let spec = self.spec, client = self.client, extra = self.extraBody

        struct Doc: Sendable { var id: Int64; var text: String; var key: String }
        var queue: [Doc] = []
        var next = 0
        // Documents are read in small batches so that a billion-token corpus is never in memory.
        func refill() throws {
            guard queue.isEmpty, next < pending.count else { return }
            let ids = Array(pending[next..<min(pending.count, next + 256)])
            next += ids.count
            let rows = try writer.read { db in try StoredDocument.fetch(db, ids: ids) }
            var byId: [Int64: Doc] = [:]
            for r in rows {
                byId[r.id] = Doc(id: r.id, text: spec.documentText(text: r.text, title: r.title),
                                 key: Self.requestKey(generatorFingerprint: fp, contentHash: r.contentHash))
            }
            queue = ids.compactMap { byId[$0] }.reversed()
        }

        try await withThrowingTaskGroup(of: RequestOutcome.self) { group in
            var inFlight = 0
            func launch() throws {
                while inFlight < width {
                    try refill()
                    guard let doc = queue.popLast() else { return }
                    inFlight += 1
                    group.addTask { await Self.answer(doc.id, doc.text, key: doc.key, spec: spec, client: client, extra: extra) }
                }
            }
            try launch()
            while let outcome = try await group.next() {
                inFlight -= 1
                let now = Timestamp.now()
                try commit(outcome) { db in try outcome.write(db, generatorId: gid, now: now) }
                counts.add(outcome)
                progress?(counts)
                try launch()
            }
        }
        return counts
    }

    /// One document: request, parse, validate. Never throws: failures are outcomes to log.
    static func answer(_ id: Int64, _ document: String, key: String, spec: GeneratorSpec, client: ChatClient,
                       extra: [String: JSONValue]) async -> RequestOutcome {
        var o = RequestOutcome(documentId: id, key: key, status: .failed, attempts: 0, endpoint: nil, rawResponse: nil,
                               pairs: [], rejected: [:], repaired: false, error: nil, usage: nil, latencyMs: nil)
        do {
            let r = try await client.complete(spec.request(document: document, extra: extra))
            o.attempts = r.attempts
            o.endpoint = r.endpoint
            o.rawResponse = r.rawBody
            o.usage = r.usage
            o.latencyMs = r.latencyMs
            do {
                let parsed = try QAParser.parse(r.content)
                let v = spec.params.validator.validate(parsed.pairs, document: document)
                o.pairs = v.accepted
                o.rejected = v.rejected
                o.repaired = parsed.repaired
                if v.accepted.isEmpty {
                    o.status = .invalid
                    o.error = "no valid pairs: " + v.rejected.sorted { $0.key < $1.key }
                        .map { "\($0.key.rawValue)=\($0.value)" }.joined(separator: ", ")
                } else {
                    o.status = .ok
                }
            } catch {
                o.status = .invalid
                o.error = "\(error)" + (r.finishReason == "length" ? " (cut off at max_tokens)" : "")
            }
        } catch let f as ChatFailure {
            o.attempts = f.attempts
            o.endpoint = f.endpoint
            o.rawResponse = f.lastBody
            o.latencyMs = f.latencyMs
            o.error = f.description
        } catch {
            o.error = "\(error)"
        }
        return o
    }
}

extension GenerateCounts {
    mutating func add(_ o: RequestOutcome) {
        requests += 1
        switch o.status {
        case .ok: ok += 1
        case .invalid: invalid += 1
        case .failed: failed += 1
        }
        pairs += o.pairs.count
        if o.repaired { repaired += 1 }
        promptTokens += o.usage?.promptTokens ?? 0
        completionTokens += o.usage?.completionTokens ?? 0
        for (k, v) in o.rejected { rejected[k.rawValue, default: 0] += v }
    }
}

/// A deterministic sample: documents ordered by a seeded hash of their content key (the
/// leading bytes of their content hash), first `count` kept, returned in id order. The same seed
/// picks the same texts on every run, and in a file whose rowids differ (shards merged).
public enum Sampler {
    public static func pick(_ docs: [(id: Int64, key: UInt64)], count: Int, seed: UInt64) -> [Int64] {
        guard count < docs.count else { return docs.map(\.id) }
        let salt: UInt64 = SplitMix64.mix(seed)
        var keyed: [(key: UInt64, id: Int64)] = docs.map { (key: SplitMix64.mix($0.key ^ salt), id: $0.id) }
        keyed.sort { a, b in a.key != b.key ? a.key < b.key : a.id < b.id }
        let chosen: [Int64] = keyed.prefix(max(0, count)).map { $0.id }
        return chosen.sorted()
    }
}
