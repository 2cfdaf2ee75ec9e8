import Foundation
import GRDB
import GRDBSQLite
import LecternVec
import XCTest

/// Registers LecternVec into every connection this test process opens (as the store does).
let registerExtension: Void = {
    sqlite3_auto_extension(lecternVecAutoExtension)
}()

func openQueue(_ path: String = ":memory:") throws -> DatabaseQueue {
    _ = registerExtension
    return try DatabaseQueue(path: path)
}

func tempPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-vec-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let p = dir.appendingPathComponent(name).path
    for s in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: p + s) }
    return p
}

/// Deterministic random numbers for test data.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
    mutating func gaussian() -> Float {
        let u = max(Double(next() >> 11) / Double(1 << 53), 1e-12), v = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
    }
    mutating func vector(_ d: Int) -> [Float] { (0..<d).map { _ in float() } }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

func blob(_ v: [Float]) -> Data { v.withUnsafeBytes { Data($0) } }
func blob(_ v: [Int8]) -> Data { v.withUnsafeBytes { Data($0) } }

// Float64 references of the metrics.
func refL2(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + pow(Double($1.0) - Double($1.1), 2) }.squareRoot() }
func refL1(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } }
func refDot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
func refCosine(_ a: [Float], _ b: [Float]) -> Double { 1 - refDot(a, b) / (refDot(a, a).squareRoot() * refDot(b, b).squareRoot()) }
func refDistance(_ metric: String, _ a: [Float], _ b: [Float]) -> Double {
    switch metric {
    case "l2": return refL2(a, b)
    case "l1": return refL1(a, b)
    case "cosine": return refCosine(a, b)
    default: return -refDot(a, b)
    }
}

/// Whether a missing component fails the test (scripts/test.sh) or skips it.
func requireComponent(_ ok: Bool, _ what: String, setup: String) throws {
    if ok { return }
    if ProcessInfo.processInfo.environment["LECTERN_REQUIRE_COMPONENTS"] == "1" {
        XCTFail("\(what) is missing: run \(setup)")
        throw XCTSkip("missing \(what)")
    }
    throw XCTSkip("\(what) is missing: run \(setup)")
}

/// Runs a command, returning (status, stdout+stderr).
func runProcess(_ exe: String, _ args: [String], env: [String: String] = [:], stdin: String? = nil) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    let inPipe = Pipe()
    p.standardInput = inPipe
    try p.run()
    if let stdin { inPipe.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
    try inPipe.fileHandleForWriting.close()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// The package root (for .build/ and the built library).
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The loadable library built by `swift build` (debug or release), without its suffix.
func loadableLibrary() -> String? {
    if let p = ProcessInfo.processInfo.environment["LECTERN_VEC_LIB"], FileManager.default.fileExists(atPath: p) {
        return p.hasSuffix(".so") ? String(p.dropLast(3)) : p
    }
    // The library built with these tests sits next to the test bundle (whatever the scratch path).
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [bundleDir, bundleDir.deletingLastPathComponent()].map { $0.appendingPathComponent("libLecternVec.so").path }
        + ["debug", "release"].map { packageRoot.appendingPathComponent(".build/\($0)/libLecternVec.so").path }
    return candidates.first { FileManager.default.fileExists(atPath: $0) }.map { String($0.dropLast(3)) }
}

/// sqlite-vec's vec0 (SQLITE_VEC_PATH, set by scripts/setup.d/20-sqlite-vec.sh).
func sqliteVecPath() -> String? {
    guard let p = ProcessInfo.processInfo.environment["SQLITE_VEC_PATH"], FileManager.default.fileExists(atPath: p + ".so") else { return nil }
    return p
}
