/// What "closest to the cluster" means; the paper says only "closest to c".
public enum SimilarityTarget: String, Codable, Sendable, CaseIterable {
    /// Similarity to the cluster's seed document (default): one neighbour query per cluster,
    /// and the threshold keeps every member within 0.7 of one document.
    case seed
    /// Similarity to the normalised mean of the members so far: follows the cluster as it
    /// grows, one neighbour query per added document.
    case centroid
}

/// What to do with a document whose own length exceeds `maxTokens`.
public enum OversizePolicy: String, Codable, Sendable, CaseIterable {
    /// Default: it becomes a cluster of its own (the paper's loop, seeded with it, stops at once;
    /// as a candidate it never fits). Downstream packing truncates it.
    case singleton
    /// Fail with an error naming the document, for users who want to split long documents first.
    case reject
}

/// What to do when the closest remaining document is similar enough but would push the cluster
/// past `maxTokens` (the paper's loop tests the length only before adding).
public enum OverflowPolicy: String, Codable, Sendable, CaseIterable {
    /// Default: the cluster ends, as in the paper's loop; no cluster exceeds `maxTokens`.
    case stop
    /// Pass over that document and try the next closest one that still fits (fuller clusters).
    case skip
}

/// How "closest remaining document" is found.
public enum NeighbourSearch: String, Codable, Sendable, CaseIterable {
    /// Brute force below `ClusterOptions.autoIndexThreshold` documents; above, the IVF index
    /// searching `ivfMaxProbes ?? ClusterOptions.autoProbes` lists per query (approximate).
    case auto
    /// Brute force over all remaining documents (both cores).
    case exact
    /// An inverted-file index (k-means lists); exact unless `ivfMaxProbes` caps the lists searched.
    case ivf
}

/// Parameters of a length-based clustering. Defaults are Lectern's choices where the paper is
/// silent; every field is part of the clustering's fingerprint.
public struct ClusterOptions: Codable, Hashable, Sendable {
    /// `Lmax`: token budget of a cluster (documents plus QA pairs).
    public var maxTokens: Int = 2048
    /// `Dmax`: most documents in a cluster.
    public var maxDocuments: Int = 16
    /// Cosine similarity below which a cluster stops growing (the paper: 0.7).
    public var threshold: Float = 0.7
    /// Seed of the random choice of seed documents.
    public var seed: UInt64 = 0
    public var similarityTo: SimilarityTarget = .seed
    public var oversize: OversizePolicy = .singleton
    public var overflow: OverflowPolicy = .stop
    public var search: NeighbourSearch = .auto
    /// IVF lists; `nil` picks about `sqrt(n)`.
    public var ivfLists: Int? = nil
    /// Lists searched per query at most; `nil` searches until the triangle-inequality bound
    /// proves no unseen list can hold a better document (exact). A cap trades exactness for speed.
    public var ivfMaxProbes: Int? = nil

    /// Document count from which `.auto` builds the IVF index.
    public static let autoIndexThreshold = 20_000
    /// Lists searched per query by `.auto` on large inputs (see docs/clustering.md for its agreement with exact).
    public static let autoProbes = 8

    public init() {}

    public init(maxTokens: Int, maxDocuments: Int, threshold: Float = 0.7, seed: UInt64 = 0) {
        self.maxTokens = maxTokens
        self.maxDocuments = maxDocuments
        self.threshold = threshold
        self.seed = seed
    }

    /// Throws `ClusterError.invalidOption` naming the first bad field.
    public func validate() throws {
        if maxTokens <= 0 { throw ClusterError.invalidOption("maxTokens must be > 0, got \(maxTokens)") }
        if maxDocuments <= 0 { throw ClusterError.invalidOption("maxDocuments must be > 0, got \(maxDocuments)") }
        if !(threshold >= -1 && threshold <= 1) {
            throw ClusterError.invalidOption("threshold must be a cosine similarity in [-1, 1], got \(threshold)")
        }
        if let l = ivfLists, l <= 0 { throw ClusterError.invalidOption("ivfLists must be > 0, got \(l)") }
        if let p = ivfMaxProbes, p <= 0 { throw ClusterError.invalidOption("ivfMaxProbes must be > 0, got \(p)") }
    }
}

/// The result: clusters in order of emission, each listing row indices into the `ClusterInput`.
public struct Clustering: Sendable {
    public struct Cluster: Sendable, Equatable {
        /// Row indices into the input, in order of joining (the seed or walk start first).
        public var members: [Int32]
        /// Similarity of each member to the seed/centroid (or walk predecessor) when it joined;
        /// 1 for the first member.
        public var joinSimilarity: [Float]
        /// Sum of the members' lengths.
        public var tokens: Int
    }

    public var clusters: [Cluster]
    public var documentCount: Int

    /// `cluster index` for each input row (-1 if unplaced, which a valid clustering never has).
    public func assignment() -> [Int32] {
        var a = [Int32](repeating: -1, count: documentCount)
        for (c, cl) in clusters.enumerated() {
            for m in cl.members { a[Int(m)] = Int32(c) }
        }
        return a
    }
}
