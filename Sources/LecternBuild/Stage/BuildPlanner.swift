import Dispatch
import Foundation
import LecternCore
import LecternText
import LecternTokens
import LecternKernels

/// An item ready to pack: its text, token ids and provenance.
struct PlannedItem: Sendable {
    var origin: ItemOrigin
    var text: String
    var ids: [Int32]
    /// Tokens the item takes in a sequence (ids plus the EOS separator; for chat sets, its tokens).
    var weight: Int
    var parts: [(ref: PartRef, tokens: Int?)]
    var messages: [ChatMessage]?
}

/// The statistics of a built set (stored as `training_sets.stats`).
public struct BuildStats: Sendable, Codable, Equatable {
    public var examples = 0
    public var contextLength = 0
    public var tokens = 0
    public var domainTokens = 0
    public var generalTokens = 0
    public var ratioTarget = ""
    /// General tokens per domain token, as built.
    public var ratioActual = 0.0
    /// Tokens used over tokens available (examples x context length).
    public var fillRatio = 0.0
    /// The same items packed by first-fit decreasing, for comparison.
    public var fillRatioFFD: Double?
    public var packer = ""
    /// Tokens of each kind of part, each part counted on its own (joins make the sum differ slightly from `tokens`).
    public var tokensByPart: [String: Int] = [:]
    public var domainItems = 0
    public var generalItems = 0
    /// Items longer than a sequence: how many were split (into how many pieces), truncated, dropped.
    public var longItemsSplit = 0
    public var longItemPieces = 0
    public var longItemsTruncated = 0
    public var longItemsDropped = 0
    /// Passes over the instruction pool (above 1: instructions were repeated to reach the ratio).
    public var instructionPasses = 0
    public var instructionsAvailable = 0
    public var notes = LoadNotes()
}

/// Turns items into packed (or chat) examples, deterministically for a seed.
struct BuildPlanner {
    let options: BuildOptions
    let target: TargetTokenizer
    let threads: Int

    /// Examples as lists of planned items, in example order.
    struct Plan {
        var examples: [[PlannedItem]]
        var stats: BuildStats
    }

    func plan(domain: [BuildItem], instructions: [InstructionLoader.Instruction], notes: LoadNotes,
              ratio: MixRatio, progress: (String) -> Void) throws -> Plan {
        var stats = BuildStats()
        stats.contextLength = options.contextLength
        stats.ratioTarget = ratio.description
        stats.packer = options.format == .chat ? "none" : options.packer.rawValue
        stats.notes = notes
        stats.instructionsAvailable = instructions.count

        progress("tokenizing \(domain.count) domain items")
        let domainPlanned = prepare(domain, stats: &stats)
        guard !domainPlanned.isEmpty else {
            throw BuildError.missingInput("no domain text to build from (every item was empty or dropped)")
        }
        stats.domainItems = domainPlanned.count
        stats.domainTokens = domainPlanned.reduce(0) { $0 + $1.weight }

        // General instructions: a seeded permutation, taken until the ratio is reached; more
        // passes over the pool when it is too small (counted, so the user sees the repetition).
        let target = ratio.generalTarget(forDomainTokens: stats.domainTokens)
        var general: [PlannedItem] = []
        if target > 0 {
            guard !instructions.isEmpty else {
                throw BuildError.missingInput("ratio \(ratio) asks for \(target) general-instruction tokens but the file has no instructions: run `lectern import-instructions FILE DATA`, or give --ratio 1:0")
            }
            var got = 0
            var pass = 0
            progress("mixing general instructions up to \(target) tokens")
            while got < target {
                var order = Array(instructions.indices)
                var rng = SplitMix64(seed: options.seed, stream: 0x1257_0000 &+ UInt64(pass))
                rng.shuffle(&order)
                pass += 1
                var k = 0
                var addedThisPass = 0
                while k < order.count && got < target {
                    // Tokenize in chunks: the pool may be far larger than what the ratio needs.
                    let chunk = order[k..<min(order.count, k + 512)].map { InstructionLoader.item(instructions[$0], options: options) }
                    for item in prepare(chunk, stats: &stats) where got < target {
                        got += item.weight
                        general.append(item)
                        addedThisPass += 1
                    }
                    k += 512
                }
                if addedThisPass == 0 { break }  // every instruction was dropped as too long
            }
            stats.instructionPasses = pass
        }
        stats.generalItems = general.count
        stats.generalTokens = general.reduce(0) { $0 + $1.weight }
        stats.ratioActual = stats.domainTokens > 0 ? Double(stats.generalTokens) / Double(stats.domainTokens) : 0

        let items = domainPlanned + general
        let weights = items.map(\.weight)
        progress("packing \(items.count) items into \(options.contextLength)-token sequences (\(stats.packer))")
        var bins: [[Int]]
        if options.format == .chat {
            bins = Packing.unpacked(count: items.count)
        } else {
            switch options.packer {
            case .knapsack: bins = Packing.knapsack(weights: weights, capacity: options.capacity, seed: options.seed)
            case .ffd: bins = Packing.firstFitDecreasing(weights: weights, capacity: options.capacity)
            case .none: bins = Packing.unpacked(count: items.count)
            }
            let ffd = options.packer == .ffd ? bins : Packing.firstFitDecreasing(weights: weights, capacity: options.capacity)
            stats.fillRatioFFD = Packing.fillRatio(bins: ffd, weights: weights, contextLength: options.contextLength)
        }
        stats.fillRatio = options.format == .chat ? 0 : Packing.fillRatio(bins: bins, weights: weights, contextLength: options.contextLength)
        stats.tokens = weights.reduce(0, +)
        stats.examples = bins.count
        for item in items {
            for p in item.parts where p.ref.kind != .cluster { if let t = p.tokens { stats.tokensByPart[p.ref.kind.rawValue, default: 0] += t } }
        }

        // Example order and item order within an example: seeded shuffles, so domain and
        // general text interleave and the knapsack's leftovers are not all at the end.
        var rng = SplitMix64(seed: options.seed, stream: 0x0DE5)
        rng.shuffle(&bins)
        for b in bins.indices { rng.shuffle(&bins[b]) }
        return Plan(examples: bins.map { $0.map { items[$0] } }, stats: stats)
    }

    /// Tokenizes items on all cores, applies the long-item policy, and counts parts.
    private func prepare(_ items: [BuildItem], stats: inout BuildStats) -> [PlannedItem] {
        let tok = target.tokenizer
        let chat = options.format == .chat
        let limit = chat ? options.capacity : options.capacity - 1   // packed items carry an EOS
        let splitter = ItemSplitter(tokenizer: tok, limit: limit)
        let policy = options.longItems
        struct Out { var items: [PlannedItem] = []; var split = 0, pieces = 0, truncated = 0, dropped = 0 }
        var outs = [Out](repeating: Out(), count: items.count)
        let workers = max(1, min(threads, items.count / 8))
        outs.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: workers) { w in
                let lo = items.count * w / workers, hi = items.count * (w + 1) / workers
                for i in lo..<hi {
                    var out = Out()
                    var item = items[i]
                    if chat {
                        // Conversations are cut by whole question-answer turns from the end.
                        var n = tok.count(item.text)
                        if n > limit && policy != .drop {
                            while n > limit, let m = item.messages, m.count > 2 {
                                item.messages = Array(m.dropLast(2))
                                if item.origin == .general {
                                    item.segments.removeLast(min(2, item.segments.count - 1))
                                } else if let last = item.segments.lastIndex(where: { $0.part?.kind != .document }) {
                                    item.segments.remove(at: last)
                                }
                                n = tok.count(item.text)
                            }
                            if n <= limit { out.truncated += 1 }
                        }
                        if n > limit { out.dropped += 1 } else { out.items.append(planned(item, ids: [], weight: n, tok: tok)) }
                    } else {
                        let ids = tok.encode(item.text, addSpecialTokens: false)
                        if ids.count <= limit {
                            if !ids.isEmpty { out.items.append(planned(item, ids: ids, weight: ids.count + 1, tok: tok)) }
                        } else if policy == .drop {
                            out.dropped += 1
                        } else {
                            var pieces = splitter.pieces(of: item)
                            if policy == .truncate { pieces = Array(pieces.prefix(1)); out.truncated += 1 } else { out.split += 1; out.pieces += pieces.count }
                            for p in pieces {
                                let pids = tok.encode(p.text, addSpecialTokens: false)
                                if !pids.isEmpty && pids.count <= limit { out.items.append(planned(p, ids: pids, weight: pids.count + 1, tok: tok)) }
                            }
                        }
                    }
                    base[i] = out
                }
            }
        }
        var result: [PlannedItem] = []
        result.reserveCapacity(items.count)
        for o in outs {
            result += o.items
            stats.longItemsSplit += o.split
            stats.longItemPieces += o.pieces
            stats.longItemsTruncated += o.truncated
            stats.longItemsDropped += o.dropped
        }
        return result
    }

    private func planned(_ item: BuildItem, ids: [Int32], weight: Int, tok: any Tokenizer) -> PlannedItem {
        // Each part's own tokens: the item total for whole-item parts, the segments' for the rest.
        var own: [PartRef: Int] = [:]
        for s in item.segments { if let p = s.part { own[p, default: 0] += tok.count(s.text) } }
        let parts = item.parts.map { ref -> (ref: PartRef, tokens: Int?) in (ref, own[ref] ?? (ref.kind == .cluster ? weight : nil)) }
        return PlannedItem(origin: item.origin, text: item.text, ids: ids, weight: weight, parts: parts, messages: item.messages)
    }
}
