import Foundation
import LecternCore

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
