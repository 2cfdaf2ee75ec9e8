import Foundation
import GRDB
import LecternCluster
import LecternCore
import LecternGenerate
import LecternIngest
import LecternMine
import LecternText
import LecternKernels

/// What the loaders left out, for the set's stats and the command's summary.
public struct LoadNotes: Sendable, Codable, Equatable {
    /// Documents (or clusters) with no QA pair from the generator, in a QA recipe.
    public var withoutQA = 0
    /// Documents with no mined text of the chosen configuration, in a ReadCompre recipe.
    public var withoutMined = 0
    /// Documents the clustering does not place (ingested after it ran).
    public var notClustered = 0
    /// Conversations with no question to ask, left out of chat sets.
    public var withoutQuestions = 0
    /// Documents held out because eval items are made from them (`--exclude-eval`).
    public var heldOutForEval: Int?
}

/// The content hashes of the items of the named eval tasks, and which of the names are tasks of
/// the file. Evaluation comes after the build in the pipeline, so the build cannot read its
/// tables itself: the caller that links LecternEval hands this reader in (``BuildStage/evalItems``).
public typealias EvalItemReader = @Sendable (Database, [String]) throws -> (known: Set<String>, contentHashes: Set<Data>)

/// Reads the domain items of a recipe from the file: one per document or per cluster, through
/// the owning modules' requests (documents, QA pairs, mined texts, clusters).
enum DomainItemLoader {
    static func load(_ db: Database, options: BuildOptions, inputs: ResolvedInputs, evalItems: EvalItemReader?) throws -> (items: [BuildItem], notes: LoadNotes) {
        var notes = LoadNotes()
        var docs: [Int64: String] = [:]
        // Each document's content key seeds the random choices that concern it (never its rowid,
        // so a file merged from shards shuffles as a file built in one go).
        var contentKeys: [Int64: UInt64] = [:]
        let cursor = try StoredDocument.cursor(db)
        while let d = try cursor.next() {
            docs[d.id] = d.rendered
            contentKeys[d.id] = d.contentKey
        }
        guard !docs.isEmpty else { throw BuildError.missingInput("the file has no documents: run `lectern ingest FILE CORPUS` first") }
        if let tasks = options.excludeEval, !tasks.isEmpty {
            // The documents eval items are made from (same content hash): never in this set.
            guard let evalItems else {
                throw BuildError.missingInput("--exclude-eval: this build was given no reader of eval items (BuildStage.evalItems)")
            }
            let (known, hashes) = try evalItems(db, tasks)
            if let missing = tasks.first(where: { !known.contains($0) }) {
                throw BuildError.missingInput("--exclude-eval \(missing): no such eval task in the file (import it with `lectern eval import` first)")
            }
            let held = try StoredDocument.ids(db, withContentHashIn: hashes)
            for id in held { docs.removeValue(forKey: id) }
            notes.heldOutForEval = held.count
            guard !docs.isEmpty else { throw BuildError.missingInput("every document is an eval item of \(tasks.joined(separator: ", ")): nothing left to build from") }
        }

        // Groups: (key for the seeded shuffle, item-level parts, member documents in order).
        var groups: [(key: UInt64, parts: [PartRef], members: [Int64])] = []
        if let clustering = inputs.clusteringId {
            var current: Int64 = -1
            var placed = 0
            for (cluster, doc) in try StoredClusterings.members(db, clustering: clustering) {
                guard docs[doc] != nil else { continue }  // held out
                if cluster != current {
                    groups.append((0, [PartRef(.cluster, cluster)], []))
                    current = cluster
                }
                // A cluster's key: its members' content keys, in order.
                groups[groups.count - 1].key = SplitMix64.mix(groups[groups.count - 1].key ^ (contentKeys[doc] ?? 0))
                groups[groups.count - 1].members.append(doc)
                placed += 1
            }
            notes.notClustered = max(0, docs.count - placed)
        } else {
            groups = docs.keys.sorted().map { (contentKeys[$0] ?? 0, [], [$0]) }
        }

        let sep = options.partSeparator
        var items: [BuildItem] = []
        items.reserveCapacity(groups.count)
        switch options.recipe.content {
        case .documents:
            for g in groups {
                let segments = g.members.compactMap { d in docs[d].map { Segment(text: $0, part: PartRef(.document, d), joiner: sep) } }
                if !segments.isEmpty { items.append(BuildItem(origin: .domain, itemParts: g.parts, segments: segments)) }
            }
        case .qaPairs:
            var pairs: [Int64: [(id: Int64, q: String, a: String)]] = [:]
            guard let generator = inputs.generatorId else { throw BuildError.missingInput("recipe \(options.recipe.rawValue) needs a generator") }
            let cursor = try QAPairRecord.filter(generator: generator).fetchCursor(db)
            while let p = try cursor.next() {
                pairs[p.documentID, default: []].append((p.id, p.question, p.answer))
            }
            if options.recipe == .distill {
                // One conversation per document the teacher answered: its prompt, its pairs as JSON.
                let spec = try SFTExport.resolveGenerator(db, String(generator)).spec
                for g in groups {
                    for d in g.members where pairs[d] != nil {
                        guard let doc = try StoredDocument.fetch(db, ids: [d]).first,
                              let messages = try SFTExport.conversation(db, generator: generator, spec: spec, document: doc) else { continue }
                        let segments = [Segment(text: docs[d] ?? "", part: PartRef(.document, d), joiner: sep)]
                            + (pairs[d] ?? []).map { p in Segment(text: QATemplate.render(options.qaTemplate, question: p.q, answer: p.a), part: PartRef(.qaPair, p.id), joiner: sep) }
                        items.append(BuildItem(origin: .domain, itemParts: g.parts, segments: segments, messages: messages))
                    }
                    notes.withoutQA += g.members.filter { pairs[$0] == nil }.count
                }
                break
            }
            for g in groups {
                let docSegments = g.members.compactMap { d in docs[d].map { Segment(text: $0, part: PartRef(.document, d), joiner: sep) } }
                var union = g.members.flatMap { pairs[$0] ?? [] }
                notes.withoutQA += g.members.filter { (pairs[$0] ?? []).isEmpty }.count
                var rng = SplitMix64(seed: options.seed, stream: g.key)
                rng.shuffle(&union)
                let qaSegments = union.map { p in
                    Segment(text: QATemplate.render(options.qaTemplate, question: p.q, answer: p.a), part: PartRef(.qaPair, p.id), joiner: sep)
                }
                if options.format == .chat {
                    guard let first = union.first else { notes.withoutQuestions += 1; continue }
                    var messages = [ChatMessage(role: "user", content: docSegments.map(\.text).joined(separator: sep) + sep + first.q),
                                    ChatMessage(role: "assistant", content: first.a)]
                    for p in union.dropFirst() {
                        messages.append(ChatMessage(role: "user", content: p.q))
                        messages.append(ChatMessage(role: "assistant", content: p.a))
                    }
                    items.append(BuildItem(origin: .domain, itemParts: g.parts, segments: docSegments + qaSegments, messages: messages))
                } else if !docSegments.isEmpty {
                    items.append(BuildItem(origin: .domain, itemParts: g.parts, segments: docSegments + qaSegments))
                }
            }
        case .mined:
            guard let fingerprint = inputs.minedFingerprint else { throw BuildError.missingInput("recipe \(options.recipe.rawValue) needs mined texts") }
            let mined = try MinedTexts.texts(db, fingerprint: fingerprint)
            let tasks: [Int64: [(q: String, a: String)]] = options.format == .chat
                ? try MinedTexts.tasks(db, fingerprint: fingerprint).mapValues { $0.map { (q: $0.prompt, a: $0.answer) } } : [:]
            for g in groups {
                let present = g.members.filter { mined[$0] != nil }
                notes.withoutMined += g.members.count - present.count
                guard !present.isEmpty else { continue }
                let docParts = present.map { PartRef(.document, $0) }
                if options.format == .chat {
                    var union = present.flatMap { tasks[mined[$0]!.id] ?? [] }
                    var rng = SplitMix64(seed: options.seed, stream: g.key)
                    rng.shuffle(&union)
                    guard let first = union.first else { notes.withoutQuestions += 1; continue }
                    let docText = present.compactMap { docs[$0] }.joined(separator: sep)
                    var messages = [ChatMessage(role: "user", content: docText + sep + first.q), ChatMessage(role: "assistant", content: first.a)]
                    for t in union.dropFirst() {
                        messages.append(ChatMessage(role: "user", content: t.q))
                        messages.append(ChatMessage(role: "assistant", content: t.a))
                    }
                    let segments = present.map { Segment(text: docs[$0] ?? "", part: PartRef(.document, $0), joiner: sep) }
                        + union.map { Segment(text: QATemplate.render(options.qaTemplate, question: $0.q, answer: $0.a), part: nil, joiner: sep) }
                    items.append(BuildItem(origin: .domain, itemParts: g.parts + present.map { PartRef(.rcText, mined[$0]!.id) },
                                           segments: segments, messages: messages))
                } else {
                    let segments = present.map { d in Segment(text: mined[d]!.text, part: PartRef(.rcText, mined[d]!.id), joiner: sep) }
                    items.append(BuildItem(origin: .domain, itemParts: g.parts + docParts, segments: segments))
                }
            }
        }
        return (items, notes)
    }
}

/// Reads general instructions (imported by `lectern import-instructions`) as items.
enum InstructionLoader {
    struct Instruction {
        var id: Int64
        var messages: [ChatMessage]
    }

    static func load(_ db: Database) throws -> [Instruction] {
        let decoder = JSONDecoder()
        // In content-hash order, not rowid order: the seeded permutation the planner draws over
        // this list then picks the same instructions whatever order they were imported in.
        return try Row.fetchAll(db, sql: "SELECT id, messages FROM instructions ORDER BY content_hash").map { row in
            let id: Int64 = row["id"]
            let json: String = row["messages"]
            do {
                return Instruction(id: id, messages: try decoder.decode([ChatMessage].self, from: Data(json.utf8)))
            } catch {
                throw BuildError.missingInput("instruction \(id): messages are not a [{role, content}] array: \(error)")
            }
        }
    }

    static func item(_ ins: Instruction, options: BuildOptions) -> BuildItem {
        let part = PartRef(.instruction, ins.id)
        let segments = ins.messages.map { m -> Segment in
            let text: String
            switch options.instructionTemplate {
            case .plain: text = m.content
            case .labelled: text = (m.role.prefix(1).uppercased() + m.role.dropFirst()) + ": " + m.content
            }
            return Segment(text: text, part: part, joiner: "\n\n")
        }
        return BuildItem(origin: .general, segments: segments, messages: options.format == .chat ? ins.messages : nil)
    }
}
