import XCTest
@testable import LecternStore

/// The rate in progress lines: per second for fast work, seconds per unit for slow work (a
/// 30-second training step read "0.0 steps/s" before).
final class ProgressReporterTests: XCTestCase {
    func testRateReadsAsSecondsPerUnitWhenSlow() {
        XCTAssertEqual(ProgressReporter.rate(done: 500, elapsed: 2, unit: "docs"), ", 250.0 docs/s")
        XCTAssertEqual(ProgressReporter.rate(done: 2, elapsed: 61, unit: "steps"), ", 30.5 s/step")
        XCTAssertEqual(ProgressReporter.rate(done: 3, elapsed: 6, unit: "items"), ", 2.0 s/item")
        XCTAssertEqual(ProgressReporter.rate(done: 0, elapsed: 6, unit: "items"), "")
        XCTAssertEqual(ProgressReporter.duration(75), "1:15")
    }
}
