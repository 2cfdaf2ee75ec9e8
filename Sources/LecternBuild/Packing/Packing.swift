import Foundation
import LecternKernels

/// Packs items (given by their token weights) into sequences of a fixed capacity.
///
/// The paper packs "into max-context sequences with 0/1 knapsack". ``knapsack(weights:capacity:seed:)``
/// does that one sequence at a time: the longest remaining item opens the sequence (it has to
/// go somewhere, and large items are the ones that pack badly late), then an exact 0/1
/// knapsack over all remaining items fills the space left, with value = weight, so the
/// sequence is as full as any subset of the remaining items can make it.
///
/// The knapsack is a bounded subset-sum over the distinct weights (items of equal weight are
/// interchangeable for the fill), O(distinct weights x space left) per sequence with an early
/// exit on a perfect fill, which is the common case while small items remain.
public enum Packing {
    /// Sequences as lists of item indices, each list's weights summing to at most `capacity`.
    /// Every weight must be in `1...capacity`.
    public static func knapsack(weights: [Int], capacity: Int, seed: UInt64 = 0) -> [[Int]] {
        precondition(capacity > 0)
        precondition(weights.allSatisfy { $0 >= 1 && $0 <= capacity }, "every weight must be in 1...capacity")
        // Items of each weight, in a seeded order: which of several equal-weight items a sequence
        // takes decides how domain and general items mix.
        var order = Array(weights.indices)
        var rng = SplitMix64(seed: seed, stream: 0xB1A5)
        rng.shuffle(&order)
        var buckets = [[Int]](repeating: [], count: capacity + 1)
        for i in order { buckets[weights[i]].append(i) }
        var remaining = weights.count
        var top = capacity
        var bins: [[Int]] = []
        // Scratch arrays for the subset-sum, reused across sequences.
        var parent = [Int32](repeating: 0, count: capacity + 1)   // weight that first reached a sum, 0 = unreached
        var used = [Int32](repeating: 0, count: capacity + 1)     // copies of the current weight on that path
        var distinct: [Int] = []
        distinct.reserveCapacity(capacity)

        while remaining > 0 {
            while buckets[top].isEmpty { top -= 1 }
            var bin = [buckets[top].removeLast()]
            remaining -= 1
            let space = capacity - top
            if space > 0 && remaining > 0 {
                distinct.removeAll(keepingCapacity: true)
                var w = min(space, top)
                while w >= 1 {
                    if !buckets[w].isEmpty { distinct.append(w) }
                    w -= 1
                }
                for s in 0...space { parent[s] = 0 }
                parent[0] = -1
                var best = 0
                for w in distinct {
                    let available = Int32(buckets[w].count)
                    for s in 0...space { used[s] = 0 }
                    var s = w
                    while s <= space {
                        if parent[s] == 0 && parent[s - w] != 0 && used[s - w] < available {
                            parent[s] = Int32(w)
                            used[s] = used[s - w] + 1
                            if s > best { best = s }
                        }
                        s += 1
                    }
                    if best == space { break }
                }
                var s = best
                while s > 0 {
                    let w = Int(parent[s])
                    bin.append(buckets[w].removeLast())
                    remaining -= 1
                    s -= w
                }
            }
            bins.append(bin)
        }
        return bins
    }

    /// First-fit decreasing: items by weight, largest first, each into the first sequence with
    /// room (found in O(log n) with a max segment tree over the sequences' free space).
    public static func firstFitDecreasing(weights: [Int], capacity: Int) -> [[Int]] {
        precondition(weights.allSatisfy { $0 >= 1 && $0 <= capacity }, "every weight must be in 1...capacity")
        let order = weights.indices.sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
        var size = 1
        while size < max(1, weights.count) { size *= 2 }
        var tree = [Int](repeating: capacity, count: 2 * size)   // free space; unopened sequences are empty
        var bins: [[Int]] = []
        for i in order {
            let w = weights[i]
            var node = 1
            while node < size { node = tree[2 * node] >= w ? 2 * node : 2 * node + 1 }
            let b = node - size
            if b == bins.count { bins.append([]) }
            bins[b].append(i)
            tree[node] -= w
            node /= 2
            while node >= 1 {
                tree[node] = max(tree[2 * node], tree[2 * node + 1])
                node /= 2
            }
        }
        return bins
    }

    /// One item per sequence.
    public static func unpacked(count: Int) -> [[Int]] { (0..<count).map { [$0] } }

    /// Tokens used over tokens available: sum of weights / (sequences x context length).
    public static func fillRatio(bins: [[Int]], weights: [Int], contextLength: Int) -> Double {
        guard !bins.isEmpty else { return 0 }
        let used = bins.reduce(0) { $0 + $1.reduce(0) { $0 + weights[$1] } }
        return Double(used) / Double(bins.count * contextLength)
    }
}
