import LecternKernels
/// The kNN-graph walk of In-Context Pretraining (arXiv 2310.10638), adapted to Algorithm 1's
/// budget: start from the unvisited document of lowest in-degree (documents few others point
/// to are the hardest to place later), then repeatedly follow the most similar unvisited
/// neighbour (with similarity >= threshold) while the cluster stays within `Lmax` and `Dmax`.
/// When the newest member has no such neighbour the walk backtracks to earlier members.
/// Finally, clusters filled below `minFill * Lmax` are merged with under-filled clusters they
/// share a graph edge (>= `mergeThreshold`) with, while the merge fits.
public enum GraphWalkClustering {
    /// Parameters of the walk beyond the `ClusterOptions` budget.
    public struct Options: Codable, Hashable, Sendable {
        /// Neighbours per document in the graph.
        public var k: Int = 16
        /// Graph construction: `.exact`, `.ivf`, or `.auto` (IVF from `ClusterOptions.autoIndexThreshold` docs).
        public var graph: NeighbourSearch = .auto
        /// IVF lists (nil: about sqrt(n)) and lists compared per list.
        public var ivfLists: Int? = nil
        public var ivfProbes: Int = 8
        /// Clusters below this fraction of `Lmax` are leftovers to merge.
        public var minFill: Double = 0.5
        public var mergeLeftovers: Bool = true
        /// Least edge similarity to merge two leftovers through; nil: the clustering threshold,
        /// so every member stays linked to another by an edge that passes it.
        public var mergeThreshold: Float? = nil
        public init() {}
    }

    public static func buildGraph(_ input: ClusterInput, options: ClusterOptions, walk: Options) -> KNNGraph {
        let useIVF: Bool
        switch walk.graph {
        case .exact: useIVF = false
        case .ivf: useIVF = true
        case .auto: useIVF = input.count >= ClusterOptions.autoIndexThreshold
        }
        return useIVF
            ? KNNGraph.ivf(input, k: walk.k, lists: walk.ivfLists, probes: walk.ivfProbes, seed: options.seed)
            : KNNGraph.exact(input, k: walk.k)
    }

    public static func run(_ input: ClusterInput, options: ClusterOptions, walk: Options = Options()) throws -> Clustering {
        try options.validate()
        if walk.k <= 0 { throw ClusterError.invalidOption("k must be > 0, got \(walk.k)") }
        if !(walk.minFill >= 0 && walk.minFill <= 1) {
            throw ClusterError.invalidOption("minFill must be in [0, 1], got \(walk.minFill)")
        }
        if options.oversize == .reject {
            for i in 0..<input.count where input.lengths[i] > options.maxTokens {
                throw ClusterError.oversizeDocument(id: input.ids[i], length: input.lengths[i], maxTokens: options.maxTokens)
            }
        }
        if input.count == 0 { return Clustering(clusters: [], documentCount: 0) }
        let graph = buildGraph(input, options: options, walk: walk)
        return walkGraph(input: input, graph: graph, options: options, walk: walk)
    }

    public static func walkGraph(input: ClusterInput, graph: KNNGraph, options: ClusterOptions, walk: Options) -> Clustering {
        let n = input.count
        let k = graph.k
        let lmax = options.maxTokens, dmax = options.maxDocuments
        let deg = graph.inDegree()
        var starts = (0..<n).map { Int32($0) }
        starts.sort { (a: Int32, b: Int32) -> Bool in
            let da = deg[Int(a)], db = deg[Int(b)]
            return da < db || (da == db && a < b)
        }
        var visited = [Bool](repeating: false, count: n)
        var clusters: [Clustering.Cluster] = []
        var cursor = 0

        while cursor < n {
            let s = starts[cursor]
            cursor += 1
            if visited[Int(s)] { continue }
            visited[Int(s)] = true
            var members: [Int32] = [s]
            var sims: [Float] = [1]
            var length = input.lengths[Int(s)]
            // Walk from the newest member; when it is stuck, from earlier ones.
            var from = 0
            while length < lmax && members.count < dmax && from < members.count {
                let cur = Int(members[members.count - 1 - from])
                var pick: (Int32, Float)? = nil
                var blocked = false
                for m in 0..<k {
                    let r = graph.neighbours[cur * k + m]
                    let sim = graph.similarities[cur * k + m]
                    if r < 0 || sim < options.threshold { break }  // best first: the rest are worse
                    if visited[Int(r)] { continue }
                    if length + input.lengths[Int(r)] > lmax {
                        if options.overflow == .stop { blocked = true; break }
                        continue
                    }
                    pick = (r, sim)
                    break
                }
                if blocked { break }
                guard let (r, sim) = pick else {
                    from += 1
                    continue
                }
                visited[Int(r)] = true
                members.append(r)
                sims.append(sim)
                length += input.lengths[Int(r)]
                from = 0
            }
            clusters.append(Clustering.Cluster(members: members, joinSimilarity: sims, tokens: length))
        }
        if walk.mergeLeftovers {
            clusters = mergeLeftovers(clusters, input: input, graph: graph, options: options, walk: walk)
        }
        return Clustering(clusters: clusters, documentCount: n)
    }

    /// Greedy merge of under-filled clusters along graph edges: each leftover, in order of
    /// emission, absorbs the fitting leftover it shares the most similar edge with, until it is
    /// filled or no such neighbour remains.
    static func mergeLeftovers(
        _ clusters: [Clustering.Cluster], input: ClusterInput, graph: KNNGraph, options: ClusterOptions, walk: Options
    ) -> [Clustering.Cluster] {
        let minTokens = walk.minFill * Double(options.maxTokens)
        let edgeMin = walk.mergeThreshold ?? options.threshold
        var out = clusters
        var owner = [Int32](repeating: 0, count: input.count)
        for (c, cl) in out.enumerated() { for m in cl.members { owner[Int(m)] = Int32(c) } }
        var alive = [Bool](repeating: true, count: out.count)
        func under(_ c: Int) -> Bool { Double(out[c].tokens) < minTokens }
        let k = graph.k
        for a in 0..<out.count where alive[a] && under(a) {
            while under(a) {
                var best = -1
                var bestSim = -Float.infinity
                for m in out[a].members {
                    for j in 0..<k {
                        let r = graph.neighbours[Int(m) * k + j]
                        let s = graph.similarities[Int(m) * k + j]
                        if r < 0 || s < edgeMin { break }
                        let b = Int(owner[Int(r)])
                        if b == a || !alive[b] || !under(b) { continue }
                        if out[a].tokens + out[b].tokens > options.maxTokens { continue }
                        if out[a].members.count + out[b].members.count > options.maxDocuments { continue }
                        if s > bestSim || (s == bestSim && b < best) {
                            best = b
                            bestSim = s
                        }
                    }
                }
                if best < 0 { break }
                for m in out[best].members { owner[Int(m)] = Int32(a) }
                out[a].members += out[best].members
                // The first member of the absorbed cluster joined through the merge edge.
                var js = out[best].joinSimilarity
                js[0] = bestSim
                out[a].joinSimilarity += js
                out[a].tokens += out[best].tokens
                alive[best] = false
            }
        }
        return zip(out, alive).filter { $0.1 }.map { $0.0 }
    }
}
