import LecternKernels
import XCTest

/// The pipeline's one seeded generator: the reference sequence, streams, and the draws every
/// stage relies on to be the same on every machine.
final class SplitMix64Tests: XCTestCase {
    func testFirstOutputsMatchTheReferenceImplementation() {
        // Vigna's splitmix64.c with x = 0.
        var g = SplitMix64(seed: 0)
        XCTAssertEqual([g.next(), g.next(), g.next()], [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        XCTAssertEqual(SplitMix64.mix(0), 0xE220_A839_7B1D_CDAF)
    }

    func testStreamsAreIndependentOfProcessingOrder() {
        var a = SplitMix64(seed: 7, stream: 1), b = SplitMix64(seed: 7, stream: 2)
        let first = (0..<4).map { _ in a.next() }
        _ = (0..<100).map { _ in b.next() }
        var again = SplitMix64(seed: 7, stream: 1)
        XCTAssertEqual((0..<4).map { _ in again.next() }, first)
        var other = SplitMix64(seed: 8, stream: 1)
        XCTAssertNotEqual((0..<4).map { _ in other.next() }, first)
    }

    func testDrawsStayInRangeAndCoverIt() {
        var g = SplitMix64(seed: 3)
        var seen = Set<Int>()
        for _ in 0..<2000 {
            let x = g.below(7)
            XCTAssertTrue((0..<7).contains(x))
            seen.insert(x)
        }
        XCTAssertEqual(seen.count, 7)
        let p = g.permutation(50)
        XCTAssertEqual(p.sorted(), (0..<50).map { Int32($0) })
        XCTAssertNotEqual(p, (0..<50).map { Int32($0) })
        var empty = SplitMix64(seed: 1)
        XCTAssertEqual(empty.permutation(0), [])
        var w = SplitMix64(seed: 4)
        let counts = (0..<3000).reduce(into: [0, 0, 0]) { c, _ in c[w.weighted([1, 0, 3])] += 1 }
        XCTAssertEqual(counts[1], 0)
        XCTAssertEqual(Double(counts[2]) / Double(counts[0]), 3, accuracy: 0.6)
        var f = SplitMix64(seed: 5)
        for _ in 0..<1000 { XCTAssertTrue((0..<1).contains(f.unitFloat())) }
    }

    func testStreamKeyReadsTheDigestLittleEndian() {
        XCTAssertEqual(SplitMix64.streamKey([0x01, 0x02, 0, 0, 0, 0, 0, 0, 0xFF]), 0x0201)
        XCTAssertEqual(SplitMix64.streamKey([UInt8]()), 0)
        XCTAssertEqual(SplitMix64.streamKey([0xFF]), 0xFF)
    }
}
