import Foundation
import LecternKernels
import LecternTestSupport
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

/// Deterministic random numbers for test data: the pipeline's seeded generator.
typealias TestRNG = SplitMix64

extension SplitMix64 {
    init(_ seed: UInt64) { self.init(seed: seed) }
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
func requireComponent(_ ok: Bool, _ what: String, setup: String, file: StaticString = #filePath, line: UInt = #line) throws {
    try LecternTestSupport.TestSupport.requireComponent(ok, what, setup: setup, file: file, line: line)
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

/// The loadable library built alongside this test bundle (same build directory, so never a stale
/// one from another configuration), or LECTERN_VEC_LIB; returned without its ".so".
func loadableLibrary() -> String? {
    if let p = ProcessInfo.processInfo.environment["LECTERN_VEC_LIB"], FileManager.default.fileExists(atPath: p) {
        return p.hasSuffix(".so") ? String(p.dropLast(3)) : p
    }
    var dirs: [URL] = []
    if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
    let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    dirs += [bundleDir, bundleDir.deletingLastPathComponent()]   // Linux: the .xctest file; macOS: inside the bundle
    for d in dirs {
        let p = d.appendingPathComponent("libLecternVec.so").path
        if FileManager.default.fileExists(atPath: p) { return String(p.dropLast(3)) }
    }
    return nil
}

/// sqlite-vec's vec0 (SQLITE_VEC_PATH, set by scripts/setup.d/20-sqlite-vec.sh).
func sqliteVecPath() -> String? {
    guard let p = ProcessInfo.processInfo.environment["SQLITE_VEC_PATH"], FileManager.default.fileExists(atPath: p + ".so") else { return nil }
    return p
}

/// Runs each statement (in a write transaction) and checks that it fails with a message
/// containing its fragment.
func assertSQLErrors(_ q: DatabaseQueue, _ cases: [(sql: String, arguments: StatementArguments, fragment: String)],
                     file: StaticString = #filePath, line: UInt = #line) {
    for c in cases {
        XCTAssertThrowsError(try q.write { try $0.execute(sql: c.sql, arguments: c.arguments) }, c.sql, file: file, line: line) { error in
            let m = (error as? DatabaseError)?.message ?? "\(error)"
            XCTAssertTrue(m.contains(c.fragment), "\(c.sql): \(m)", file: file, line: line)
        }
    }
}

/// The same for statements without arguments.
func assertSQLErrors(_ q: DatabaseQueue, _ cases: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
    assertSQLErrors(q, cases.map { (sql: $0.0, arguments: StatementArguments(), fragment: $0.1) }, file: file, line: line)
}
