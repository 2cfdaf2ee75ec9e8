import LecternKernels
/// The documents to cluster: one L2-normalised vector per document, its length in target
/// tokenizer tokens (document plus its QA pairs, or plus a reserved QA budget), and its id.
///
/// Vectors are one contiguous row-major `[Float]` of `count * dim` values, the layout the
/// kernels scan without copying.
public struct ClusterInput: Sendable {
    public let dim: Int
    public let vectors: [Float]
    public let lengths: [Int]
    public let ids: [Int64]

    public var count: Int { ids.count }

    /// Validates the shapes, that every vector is finite and unit-length (within `normTolerance`),
    /// that lengths are non-negative and ids unique. Throws `ClusterError` naming the first bad row.
    public init(vectors: [Float], dim: Int, lengths: [Int], ids: [Int64], normTolerance: Float = 1e-3) throws {
        guard dim > 0 else { throw ClusterError.shapeMismatch("dimension must be > 0, got \(dim)") }
        guard lengths.count == ids.count else {
            throw ClusterError.shapeMismatch("\(lengths.count) lengths for \(ids.count) document ids")
        }
        guard vectors.count == ids.count * dim else {
            throw ClusterError.shapeMismatch(
                "\(vectors.count) floats is not \(ids.count) documents x \(dim) dimensions")
        }
        var seen = Set<Int64>(minimumCapacity: ids.count)
        for id in ids where !seen.insert(id).inserted { throw ClusterError.duplicateID(id) }
        for (i, n) in lengths.enumerated() where n < 0 {
            throw ClusterError.invalidLength(index: i, id: ids[i], length: n)
        }
        try vectors.withUnsafeBufferPointer { vp in
            for i in 0..<ids.count {
                let row = vp.baseAddress! + i * dim
                var finite = true
                for k in 0..<dim where !row[k].isFinite { finite = false; break }
                if !finite { throw ClusterError.invalidVector(index: i, id: ids[i], reason: "has a NaN or infinite value") }
                let norm = dot(row, row, dim).squareRoot()
                if abs(norm - 1) > normTolerance {
                    throw ClusterError.invalidVector(
                        index: i, id: ids[i], reason: "has norm \(norm); vectors must be L2-normalised")
                }
            }
        }
        self.dim = dim
        self.vectors = vectors
        self.lengths = lengths
        self.ids = ids
    }

    /// Document lengths for clustering: document tokens plus the tokens of its QA pairs where
    /// they are known (`qaTokens[i] != nil`, clustering after generation), else plus
    /// `reservedQABudget` (clustering before generation).
    public static func lengths(documentTokens: [Int], qaTokens: [Int?], reservedQABudget: Int) -> [Int] {
        zip(documentTokens, qaTokens).map { doc, qa in doc + (qa ?? reservedQABudget) }
    }

    /// A QA budget measured from the pairs already generated: the mean ratio of QA tokens to
    /// document tokens over the documents that have pairs, applied to `documentTokens`.
    /// `nil` when no document has pairs yet (the caller then sets the budget by hand).
    public static func measuredQARatio(documentTokens: [Int], qaTokens: [Int?]) -> Double? {
        var doc = 0, qa = 0
        for (d, q) in zip(documentTokens, qaTokens) {
            if let q { doc += d; qa += q }
        }
        return doc > 0 ? Double(qa) / Double(doc) : nil
    }
}
