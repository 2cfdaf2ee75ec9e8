import XCTest
@testable import LecternBuild
import LecternKernels

/// The packers on random and adversarial weight lists: every item placed exactly once, no
/// sequence over capacity, the knapsack's sequences as full as the best subset allows, and a
/// fill at least first-fit decreasing's.
final class PackingTests: XCTestCase {
    private func check(_ bins: [[Int]], _ weights: [Int], capacity: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(bins.flatMap { $0 }.sorted(), Array(weights.indices), "every item exactly once", file: file, line: line)
        for b in bins {
            XCTAssertFalse(b.isEmpty, file: file, line: line)
            XCTAssertLessThanOrEqual(b.reduce(0) { $0 + weights[$1] }, capacity, file: file, line: line)
        }
    }

    private func randomWeights(_ n: Int, capacity: Int, seed: UInt64, smallBias: Bool) -> [Int] {
        var g = SplitMix64(seed: seed)
        return (0..<n).map { _ in
            // Mixed lengths like a corpus: many short items (instructions), some long (clusters).
            let r = g.below(100)
            if smallBias && r < 60 { return 1 + g.below(capacity / 8) }
            return 1 + g.below(capacity)
        }
    }

    func testEveryItemOnceWithinCapacityAndAtLeastFFDsFill() {
        for seed in 0..<12 as Range<UInt64> {
            let capacity = [64, 512, 2048][Int(seed % 3)]
            let weights = randomWeights(300 + Int(seed) * 50, capacity: capacity, seed: seed, smallBias: seed % 2 == 0)
            let k = Packing.knapsack(weights: weights, capacity: capacity, seed: seed)
            let f = Packing.firstFitDecreasing(weights: weights, capacity: capacity)
            check(k, weights, capacity: capacity)
            check(f, weights, capacity: capacity)
            XCTAssertLessThanOrEqual(k.count, f.count, "seed \(seed): knapsack used more sequences than FFD")
            let lowerBound = (weights.reduce(0, +) + capacity - 1) / capacity
            XCTAssertGreaterThanOrEqual(k.count, lowerBound)
        }
    }

    /// Each sequence holds its opening (largest remaining) item plus the best subset of what was
    /// left, checked against brute force on small instances.
    func testEachSequenceIsAnOptimalKnapsackOverTheRemainingItems() {
        for seed in 0..<40 as Range<UInt64> {
            var g = SplitMix64(seed: 100 + seed)
            let capacity = 20 + g.below(60)
            let weights = (0..<(6 + g.below(9))).map { _ in 1 + g.below(capacity) }
            let bins = Packing.knapsack(weights: weights, capacity: capacity, seed: seed)
            check(bins, weights, capacity: capacity)
            var remaining = Set(weights.indices)
            for bin in bins {
                let largest = remaining.map { weights[$0] }.max()!
                XCTAssertTrue(bin.contains { weights[$0] == largest }, "a sequence opens with the largest remaining item")
                let space = capacity - largest
                // Best subset sum of the other remaining items within `space`, by brute force.
                var others = Array(remaining)
                others.remove(at: others.firstIndex { weights[$0] == largest }!)
                var best = 0
                for mask in 0..<(1 << others.count) {
                    var s = 0
                    for (i, item) in others.enumerated() where mask & (1 << i) != 0 { s += weights[item] }
                    if s <= space { best = max(best, s) }
                }
                XCTAssertEqual(bin.reduce(0) { $0 + weights[$1] }, largest + best, "seed \(seed): sequence not optimally filled")
                remaining.subtract(bin)
            }
            XCTAssertTrue(remaining.isEmpty)
        }
    }

    func testDeterministicForASeedAndEdgeCases() {
        let weights = randomWeights(500, capacity: 256, seed: 7, smallBias: true)
        XCTAssertEqual(Packing.knapsack(weights: weights, capacity: 256, seed: 3), Packing.knapsack(weights: weights, capacity: 256, seed: 3))
        XCTAssertEqual(Packing.knapsack(weights: [], capacity: 10), [])
        XCTAssertEqual(Packing.firstFitDecreasing(weights: [], capacity: 10), [])
        XCTAssertEqual(Packing.knapsack(weights: [10, 10, 10], capacity: 10).count, 3)
        XCTAssertEqual(Packing.knapsack(weights: [1, 1, 1, 1], capacity: 10).count, 1)
        // FFD's classic bad case: 2 sequences suffice, FFD needs 3.
        let hard = [6, 5, 5, 4, 3, 3, 2, 2] // total 30, capacity 15: {6,5,4},{5,3,3,2,2}
        XCTAssertEqual(Packing.knapsack(weights: hard, capacity: 15).count, 2)
        XCTAssertEqual(Packing.fillRatio(bins: Packing.knapsack(weights: hard, capacity: 15), weights: hard, contextLength: 15), 1.0)
    }
}
