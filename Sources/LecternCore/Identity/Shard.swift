/// One shard of a corpus split over several machines: shard `index` of `count`.
///
/// Which documents a shard owns depends only on their content hash and `count`, never on the
/// scheduler (a Slurm array task resubmitted alone sees `SLURM_ARRAY_TASK_COUNT=1`): the first
/// eight bytes of the hash, read big-endian, modulo `count`. Every machine that splits the same
/// documents the same number of ways makes the same split, and a document's duplicates (same
/// hash) always fall into the same shard, so a shard can drop them as one machine would.
public struct Shard: Sendable, Hashable, Codable, CustomStringConvertible {
    /// 0-based shard number.
    public let index: Int
    /// How many shards the corpus is split into (pinned by whoever plans the run).
    public let count: Int

    /// The most shards a corpus may be split into: far beyond any array size, and small enough
    /// that shard names stay short.
    public static let maxCount = 1_000_000

    public init(index: Int, count: Int) throws {
        guard count >= 1, count <= Self.maxCount else {
            throw ShardError("shard count \(count) must be between 1 and \(Self.maxCount)")
        }
        guard index >= 0, index < count else {
            throw ShardError("shard \(index) of \(count) does not exist: shards are numbered 0 to \(count - 1)")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N` (as `--shard 3/8` writes it).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw ShardError("'\(text)' is not a shard: write INDEX/COUNT, e.g. 3/8 (shards are numbered from 0)")
        }
        try self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// The shard that owns a content hash (at least 8 bytes; shorter hashes go to shard 0).
    public static func of(contentHash hash: some Collection<UInt8>, count: Int) -> Int {
        guard count > 1, hash.count >= 8 else { return 0 }
        var key: UInt64 = 0
        for byte in hash.prefix(8) { key = key << 8 | UInt64(byte) }
        return Int(key % UInt64(count))
    }

    /// Whether this shard owns the document with this content hash.
    public func owns(contentHash hash: some Collection<UInt8>) -> Bool {
        Self.of(contentHash: hash, count: count) == index
    }

    /// Whether this shard owns the n-th record of an input (0-based): how records without a
    /// content hash (bad records, reported once) are split.
    public func owns(record n: Int) -> Bool { n % count == index }

    /// The shard file's name: `shard-0003-of-0008.lectern` (zero-padded so they sort).
    public var fileName: String {
        let width = max(4, String(count - 1).count)
        func pad(_ v: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, width - s.count)) + s }
        return "shard-\(pad(index))-of-\(pad(count)).lectern"
    }
}

/// A malformed shard specification.
public struct ShardError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
