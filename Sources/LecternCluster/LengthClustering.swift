/// Algorithm 1 of arXiv 2401.07284, length-based clustering, as the paper gives it:
///
/// ```
/// while documents remain:
///     c <- a random remaining document d;  L <- len(d) + len(qa(d));  N <- 1
///     while L < Lmax and N < Dmax:
///         d <- the remaining document closest to c
///         if sim(d, c) < threshold: break
///         add d to c; L += len(d) + len(qa(d)); N += 1
///     remove c's documents; emit c
/// ```
///
/// The open choices are `ClusterOptions` fields: `similarityTo` (seed or centroid), `oversize`
/// (a document longer than `Lmax`) and `overflow` (a close document that does not fit).
/// "Closest remaining" is answered by `RemainingIndex`, brute force or IVF; without a probe cap
/// both return the same documents, so both give the same clusters.
public enum LengthClustering {
    /// Statistics of one run, for benchmarks and logs.
    public struct Stats: Sendable {
        public var lists = 1
        public var queries = 0
        public var listsSearched = 0
        public var indexSeconds = 0.0
        public var clusterSeconds = 0.0
        public init() {}
        init(lists: Int, queries: Int, listsSearched: Int, indexSeconds: Double, clusterSeconds: Double) {
            (self.lists, self.queries, self.listsSearched) = (lists, queries, listsSearched)
            (self.indexSeconds, self.clusterSeconds) = (indexSeconds, clusterSeconds)
        }
    }

    /// Clusters `input` under `options`; deterministic for a given seed.
    public static func run(_ input: ClusterInput, options: ClusterOptions) throws -> Clustering {
        try run(input, options: options, stats: nil)
    }

    public static func run(_ input: ClusterInput, options: ClusterOptions, stats: UnsafeMutablePointer<Stats>?) throws -> Clustering {
        try options.validate()
        if options.oversize == .reject {
            for i in 0..<input.count where input.lengths[i] > options.maxTokens {
                throw ClusterError.oversizeDocument(id: input.ids[i], length: input.lengths[i], maxTokens: options.maxTokens)
            }
        }
        return input.vectors.withUnsafeBufferPointer { vp in
            let t0 = DispatchTime.now().uptimeNanoseconds
            let index = makeIndex(base: vp.baseAddress!, input: input, options: options)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let result = cluster(input: input, index: index, options: options)
            let t2 = DispatchTime.now().uptimeNanoseconds
            stats?.pointee = Stats(
                lists: index.listCount, queries: index.queries, listsSearched: index.probes,
                indexSeconds: Double(t1 - t0) / 1e9, clusterSeconds: Double(t2 - t1) / 1e9)
            return result
        }
    }

    static func makeIndex(base: UnsafePointer<Float>, input: ClusterInput, options: ClusterOptions) -> RemainingIndex {
        let n = input.count
        let useIVF: Bool
        switch options.search {
        case .exact: useIVF = false
        case .ivf: useIVF = true
        case .auto: useIVF = n >= ClusterOptions.autoIndexThreshold
        }
        if !useIVF || n < 2 { return RemainingIndex(base: base, count: n, dim: input.dim) }
        let lists = options.ivfLists ?? max(1, Int(Double(n).squareRoot()))
        let probes = options.search == .auto ? (options.ivfMaxProbes ?? ClusterOptions.autoProbes) : options.ivfMaxProbes
        return RemainingIndex(base: base, count: n, dim: input.dim, lists: lists, seed: options.seed, maxProbes: probes)
    }

    static func cluster(input: ClusterInput, index: RemainingIndex, options: ClusterOptions) -> Clustering {
        let n = input.count
        let d = input.dim
        let lmax = options.maxTokens
        let dmax = options.maxDocuments
        var rng = SplitMix64(seed: options.seed)
        // A random remaining document = the next unplaced row of one seeded permutation.
        let order = rng.permutation(n)
        var cursor = 0
        var clusters: [Clustering.Cluster] = []
        let base = index.base
        var centroid = [Float](repeating: 0, count: d)
        var query = [Float](repeating: 0, count: d)

        // Seed mode, speculatively in parallel: the next `batch` seeds query the index as it
        // stands (both cores), then the clusters are formed one by one as in the paper, each
        // skipping candidates taken meanwhile. A seed whose fetched list runs out while it was
        // truncated queries again, so the result equals the one-by-one loop.
        let batch = options.similarityTo == .seed ? 32 : 1
        let fetch = 2 * max(1, dmax - 1) + 1  // +1: the seed finds itself
        var prefetched: [Int32: [(sim: Float, row: Int32)]] = [:]

        while index.remaining > 0 {
            while !index.contains(order[cursor]) { cursor += 1 }
            let s = order[cursor]
            if batch > 1 && prefetched[s] == nil && index.remaining > 1 && input.lengths[Int(s)] < lmax && dmax > 1 {
                var seeds: [Int32] = []
                var c = cursor
                while seeds.count < batch && c < n {
                    let r = order[c]
                    if index.contains(r) && input.lengths[Int(r)] < lmax { seeds.append(r) }
                    c += 1
                }
                var results = [([(sim: Float, row: Int32)], Int)](repeating: ([], 0), count: seeds.count)
                results.withUnsafeMutableBufferPointer { rp in
                    let out = rp.baseAddress!
                    DispatchQueue.concurrentPerform(iterations: seeds.count) { j in
                        out[j] = index.searchReadOnly(base + Int(seeds[j]) * d, threshold: options.threshold, limit: fetch, parallel: false)
                    }
                }
                prefetched.removeAll(keepingCapacity: true)
                for (j, r) in seeds.enumerated() { prefetched[r] = results[j].0 }
                index.record(queries: seeds.count, listsSearched: results.reduce(0) { $0 + $1.1 })
            }
            index.remove(s)
            var members: [Int32] = [s]
            var sims: [Float] = [1]
            var length = input.lengths[Int(s)]
            var skipped = Set<Int32>()

            func fits(_ r: Int32) -> Bool { length + input.lengths[Int(r)] <= lmax }
            func add(_ r: Int32, _ sim: Float) {
                index.remove(r)
                members.append(r)
                sims.append(sim)
                length += input.lengths[Int(r)]
            }

            switch options.similarityTo {
            case .seed:
                var exhausted = false
                if let pre = prefetched.removeValue(forKey: s) {
                    var decided = false
                    prefetchWalk: for (sim, r) in pre where r != s && index.contains(r) {
                        if !(length < lmax && members.count < dmax) { decided = true; break }
                        if !fits(r) {
                            if options.overflow == .stop { decided = true; break prefetchWalk }
                            skipped.insert(r)
                            continue
                        }
                        add(r, sim)
                    }
                    if !(length < lmax && members.count < dmax) { decided = true }
                    // An untruncated list held every remaining document above the threshold.
                    if pre.count < fetch { exhausted = true }
                    if decided || exhausted {
                        clusters.append(Clustering.Cluster(members: members, joinSimilarity: sims, tokens: length))
                        continue
                    }
                }
                // The closest remaining documents to the seed, in order, are fixed while the
                // cluster grows (only its own members leave), so one query serves the cluster.
                var want = dmax - 1
                growing: while length < lmax && members.count < dmax {
                    let limit = want + skipped.count
                    let cands = index.search(base + Int(s) * d, threshold: options.threshold, limit: limit)
                    var progressed = false
                    for (sim, r) in cands where !skipped.contains(r) {
                        if !(length < lmax && members.count < dmax) { break growing }
                        if !fits(r) {
                            if options.overflow == .stop { break growing }
                            skipped.insert(r)
                            continue
                        }
                        add(r, sim)
                        progressed = true
                    }
                    // Fewer candidates than asked: nothing else reaches the threshold.
                    if cands.count < limit || (!progressed && options.overflow == .stop) { break }
                    want *= 2
                }
            case .centroid:
                for k in 0..<d { centroid[k] = base[Int(s) * d + k] }
                while length < lmax && members.count < dmax {
                    var norm2: Float = 0
                    for k in 0..<d { norm2 += centroid[k] * centroid[k] }
                    let inv = norm2 > 0 ? 1 / norm2.squareRoot() : 0
                    for k in 0..<d { query[k] = centroid[k] * inv }
                    let cands = query.withUnsafeBufferPointer {
                        index.search($0.baseAddress!, threshold: options.threshold, limit: skipped.count + 1)
                    }
                    guard let pick = cands.first(where: { !skipped.contains($0.row) }) else { break }
                    if !fits(pick.row) {
                        if options.overflow == .stop { break }
                        skipped.insert(pick.row)
                        continue
                    }
                    add(pick.row, pick.sim)
                    for k in 0..<d { centroid[k] += base[Int(pick.row) * d + k] }
                }
            }
            clusters.append(Clustering.Cluster(members: members, joinSimilarity: sims, tokens: length))
        }
        return Clustering(clusters: clusters, documentCount: n)
    }
}

import Dispatch
import LecternKernels
