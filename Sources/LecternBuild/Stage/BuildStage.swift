import Foundation
import GRDB
import LecternCluster
import LecternCore
import LecternGenerate
import LecternIngest
import LecternMine
import LecternStore
import LecternText
import LecternTokens

/// What `lectern build` did.
public struct BuildSummary: StageOutput, Sendable {
    public var setId: Int64
    public var name: String
    public var fingerprint: String
    /// Examples written by this run (0 when the set was already complete).
    public var written: Int
    public var alreadyComplete: Bool
    public var stats: BuildStats
    public var counts: [String: Int] {
        ["examples": stats.examples, "tokens": stats.tokens, "domain_tokens": stats.domainTokens, "general_tokens": stats.generalTokens]
    }
}

/// The `build` stage: a recipe's domain items, mixed with general instructions at a token
/// ratio, tokenized with the target tokenizer and packed into sequences, written as one
/// `training_sets` row, its `training_examples` and their `training_example_parts`.
///
/// The set is identified by a fingerprint of the recipe, the options, the tokenizer, the chosen
/// clustering / generator / mined texts and the extent of every input table, so the same
/// command on the same file names the same set. The plan is deterministic for a seed, so an
/// interrupted build resumes by recomputing it and writing only the positions not yet in the
/// file: a `kill -9` at any moment then a re-run gives exactly the set of an uninterrupted run.
public struct BuildStage: Stage {
    public let store: Store
    public let options: BuildOptions
    public let target: TargetTokenizer
    public let selection: InputSelection
    public let name: String?
    public var batchSize = 256
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Progress lines (phases of the plan); the writes report through ``ProgressReporter``.
    public var log: (String) -> Void = { _ in }
    /// Reads the content hashes of eval items, for ``BuildOptions/excludeEval`` (the CLI hands in
    /// LecternEval's reader; a build with `excludeEval` and no reader fails).
    public var evalItems: EvalItemReader?

    public init(store: Store, options: BuildOptions, target: TargetTokenizer, selection: InputSelection = InputSelection(), name: String? = nil) {
        self.store = store
        self.options = options
        self.target = target
        self.selection = selection
        self.name = name
    }

    public struct Config: Encodable {
        let stage = "build-v1"
        let options: BuildOptions
        let ratio: MixRatio
        let tokenizer: String
        let eos: String
        let inputs: ResolvedInputs
        /// Count and largest id of every input table: a file with more data is another set.
        let extent: [String: [Int64]]
    }

    public static let name = "build"

    /// Builds the set (or finds it complete).
    public func run() throws -> BuildSummary { try StageRunner.run(self) }

    /// What ``prepare()`` resolved: the inputs, the mixing ratio, the tokenizer's row.
    public struct Prepared {
        let inputs: ResolvedInputs
        let ratio: MixRatio
        let tokenizerId: Int64
    }

    /// Checks the options, resolves the inputs (clustering, generator, mined texts) and measures
    /// their extent: the set's identity.
    public func prepare() throws -> StagePlan<Config, Prepared> {
        try options.validate()
        let ratio = options.ratio ?? MixRatio.paperDefault(domain: store.domain)
        let (inputs, extent, tokenizerId) = try store.pool.write { db -> (ResolvedInputs, [String: [Int64]], Int64) in
            let inputs = try InputResolver.resolve(db, recipe: options.recipe, selection: selection)
            // Each input's extent, read through its owner's request.
            let instructions = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(rowid), 0) FROM instructions")
            let extent: [String: [Int64]] = [
                "documents": try StoredDocument.extent(db),
                "instructions": [instructions?[0] ?? 0, instructions?[1] ?? 0],
                "qa_pairs": try QAPairRecord.extent(db, generator: inputs.generatorId),
                "rc_texts": try MinedTexts.extent(db, fingerprint: inputs.minedFingerprint),
                "cluster_members": try StoredClusterings.extent(db, clustering: inputs.clusteringId),
            ]
            return (inputs, extent, try target.register(db))
        }
        let config = Config(options: options, ratio: ratio, tokenizer: target.fingerprint, eos: target.eosText, inputs: inputs, extent: extent)
        return StagePlan(configuration: config, pendingInputs: 0, prepared: Prepared(inputs: inputs, ratio: ratio, tokenizerId: tokenizerId))
    }

    /// Plans the set and writes the examples not yet written, batch by batch.
    public func execute(_ work: StagePlan<Config, Prepared>, in run: StageContext) throws -> BuildSummary {
        let (inputs, ratio, tokenizerId) = (work.prepared.inputs, work.prepared.ratio, work.prepared.tokenizerId)
        let fingerprint = run.fingerprint
        let setName = name ?? options.recipe.rawValue
        if let done = try existing(fingerprint: fingerprint), done.complete {
            return BuildSummary(setId: done.id, name: done.name, fingerprint: fingerprint, written: 0, alreadyComplete: true, stats: done.stats ?? BuildStats())
        }
        do {
            let (domain, instructions, notes) = try store.pool.read { db in
                let (items, notes) = try DomainItemLoader.load(db, options: options, inputs: inputs, evalItems: evalItems)
                let instructions = (ratio.general > 0) ? try InstructionLoader.load(db) : []
                return (items, instructions, notes)
            }
            let plan = try BuildPlanner(options: options, target: target, threads: threads)
                .plan(domain: domain, instructions: instructions, notes: notes, ratio: ratio, progress: log)
            try run.setInputs(plan.examples.count)
            let paramsJSON = try Fingerprint.canonicalJSON(ParamsRecord(options: options, ratio: ratio, eos: target.eosText,
                                                                         minedFingerprint: inputs.minedFingerprint))
            let (setId, start) = try store.pool.write { db -> (Int64, Int) in
                try db.execute(sql: """
                    INSERT INTO training_sets(name, recipe, clustering_id, generator_id, tokenizer_id, params, fingerprint, status, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?) ON CONFLICT(fingerprint) DO NOTHING
                    """, arguments: [setName, options.recipe.rawValue, inputs.clusteringId, inputs.generatorId, tokenizerId,
                                     paramsJSON, fingerprint, Timestamp.now()])
                let id = try Int64.fetchOne(db, sql: "SELECT id FROM training_sets WHERE fingerprint = ?", arguments: [fingerprint])!
                let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(position), -1) FROM training_examples WHERE training_set_id = ?", arguments: [id])!
                let count: Int = row[0], maxPosition: Int = row[1]
                if count != maxPosition + 1 || count > plan.examples.count {
                    // Not a prefix of the plan (cannot happen with batch commits; repaired rather than trusted).
                    try db.execute(sql: "DELETE FROM training_examples WHERE training_set_id = ?", arguments: [id])
                    return (id, 0)
                }
                return (id, count)
            }
            let progress = ProgressReporter(label: "build", total: plan.examples.count - start, unit: "examples")
            var position = start
            while position < plan.examples.count {
                let end = min(plan.examples.count, position + batchSize)
                try run.commit(processed: end - position) { db in
                    let insert = try db.makeStatement(sql: """
                        INSERT INTO training_examples(training_set_id, position, text, messages, input_ids, n_tokens) VALUES (?, ?, ?, ?, ?, ?)
                        """)
                    let part = try db.makeStatement(sql: """
                        INSERT INTO training_example_parts(example_id, position, part_kind, ref_id, n_tokens) VALUES (?, ?, ?, ?, ?)
                        """)
                    for p in position..<end {
                        let example = render(plan.examples[p])
                        try insert.execute(arguments: [setId, p, example.text, example.messages, example.ids, example.tokens])
                        let exampleId = db.lastInsertedRowID
                        var k = 0
                        for item in plan.examples[p] {
                            for ref in item.parts {
                                try part.execute(arguments: [exampleId, k, ref.ref.kind.rawValue, ref.ref.id, ref.tokens])
                                k += 1
                            }
                        }
                    }
                }
                progress.advance(by: end - position)
                position = end
            }
            progress.finish()
            let statsJSON = try Fingerprint.canonicalJSON(plan.stats)
            try store.pool.write { db in
                try db.execute(sql: "UPDATE training_sets SET status = 'complete', stats = ? WHERE id = ?", arguments: [statsJSON, setId])
            }
            return BuildSummary(setId: setId, name: setName, fingerprint: fingerprint, written: plan.examples.count - start,
                                alreadyComplete: false, stats: plan.stats)
        }
    }

    /// The parameters as stored in `training_sets.params` (the options plus resolved defaults).
    struct ParamsRecord: Encodable {
        let options: BuildOptions
        let ratio: MixRatio
        let eos: String
        let minedFingerprint: String?
    }

    private func existing(fingerprint: String) throws -> (id: Int64, name: String, complete: Bool, stats: BuildStats?)? {
        try store.pool.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, name, status, stats FROM training_sets WHERE fingerprint = ?",
                                             arguments: [fingerprint]) else { return nil }
            let stats = (row["stats"] as String?).flatMap { try? JSONDecoder().decode(BuildStats.self, from: Data($0.utf8)) }
            return (row["id"], row["name"], (row["status"] as String) == "complete", stats)
        }
    }

    /// An example's stored form: packed text with the EOS text after every item and the same
    /// ids, or (chat sets) the one conversation.
    private func render(_ items: [PlannedItem]) -> (text: String, messages: String?, ids: Data?, tokens: Int) {
        if options.format == .chat, let item = items.first {
            let messages = try? String(decoding: JSONEncoder.sortedKeys.encode(item.messages ?? []), as: UTF8.self)
            return (item.text, messages, nil, item.weight)
        }
        var text = ""
        var ids: [Int32] = []
        for item in items {
            text += item.text
            text += target.eosText
            ids += item.ids
            ids.append(target.eosId)
        }
        let data = ids.withUnsafeBufferPointer { buf -> Data in
            var d = Data(capacity: buf.count * 4)
            for id in buf { withUnsafeBytes(of: id.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }
        return (text, nil, data, ids.count)
    }
}

extension JSONEncoder {
    static let sortedKeys: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()
}
