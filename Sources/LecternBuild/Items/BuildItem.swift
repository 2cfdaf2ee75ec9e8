import Foundation

/// The tables a training example's parts point into (`training_example_parts.part_kind`).
public enum PartKind: String, Sendable, Codable, CaseIterable {
    case document
    case cluster
    case qaPair = "qa_pair"
    case rcText = "rc_text"
    case instruction
}

/// One row of provenance: a part kind and the id in its table.
public struct PartRef: Hashable, Sendable {
    public var kind: PartKind
    public var id: Int64

    public init(_ kind: PartKind, _ id: Int64) {
        self.kind = kind
        self.id = id
    }
}

/// A piece of an item's text and the row it came from. `joiner` goes before it when it is not
/// the item's first segment (the part separator between documents and QA pairs, or nothing
/// between sentences of one part after a split).
public struct Segment: Sendable, Equatable {
    public var text: String
    public var part: PartRef?
    public var joiner: String

    public init(text: String, part: PartRef?, joiner: String) {
        self.text = text
        self.part = part
        self.joiner = joiner
    }
}

/// Where an item's tokens are counted in the mixing ratio.
public enum ItemOrigin: String, Sendable, Codable {
    case domain
    case general
}

/// A unit of training text before packing: a cluster's text, a document, a mined text or an
/// instruction. Its provenance is the item-level parts (a cluster) plus its segments' parts.
public struct BuildItem: Sendable {
    public var origin: ItemOrigin
    /// Parts that cover the whole item (the cluster it renders).
    public var itemParts: [PartRef]
    public var segments: [Segment]
    /// The conversation, for chat sets.
    public var messages: [ChatMessage]?

    public init(origin: ItemOrigin, itemParts: [PartRef] = [], segments: [Segment], messages: [ChatMessage]? = nil) {
        self.origin = origin
        self.itemParts = itemParts
        self.segments = segments
        self.messages = messages
    }

    /// The item's text: segments joined by their joiners.
    public var text: String {
        var out = ""
        for (i, s) in segments.enumerated() {
            if i > 0 { out += s.joiner }
            out += s.text
        }
        return out
    }

    /// Provenance in order: item-level parts, then each distinct segment part.
    public var parts: [PartRef] {
        var seen = Set<PartRef>()
        var out: [PartRef] = []
        for p in itemParts + segments.compactMap(\.part) where seen.insert(p).inserted { out.append(p) }
        return out
    }
}

/// One message of a chat conversation (OpenAI messages shape).
public struct ChatMessage: Sendable, Codable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A small seeded generator (SplitMix64): a seed gives the same set on every machine.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    /// A generator for one key under one seed, so an item's shuffle does not depend on the order
    /// items are processed in.
    init(seed: UInt64, key: UInt64) {
        var g = SplitMix64(seed: seed ^ 0x5EED_1EC7_E000_0000)
        state = g.next() ^ (key &* 0x9E37_79B9_7F4A_7C15)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int {
        let b = UInt64(bound)
        let limit = UInt64.max - UInt64.max % b
        var x = next()
        while x >= limit { x = next() }
        return Int(x % b)
    }

    /// Fisher-Yates, platform-independent (the standard library's shuffle may change between versions).
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
