import Foundation
import LecternTestSupport
import XCTest

/// Properties of the repository itself that a fresh clone on another machine relies on.
final class RepositoryHygieneTests: XCTestCase {
    /// Files git tracks (the test runs in a checkout; CI's is a fresh clone).
    func trackedFiles() throws -> [String] {
        let git = URL(fileURLWithPath: "/usr/bin/git")
        try TestSupport.requireComponent(FileManager.default.isExecutableFile(atPath: git.path), "git")
        let r = try TestSupport.run(git, ["-C", TestSupport.packageRoot.path, "ls-files"])
        guard r.status == 0 else { throw XCTSkip("not a git checkout: \(r.stderr)") }
        return r.stdout.split(separator: "\n").map(String.init)
    }

    /// Issue 13, item 19: one resolver for the shared data folder. No source, test, script or
    /// benchmark names one machine's folder or one of the old variables.
    func testNoHardCodedSharedDataFolder() throws {
        let banned = ["/work/shared", "LECTERN_DATA_DIR", "\"LECTERN_DATA\"", "${LECTERN_DATA:", "LECTERN_PUBMEDQA", "${PUBMEDQA"]
        var hits: [String] = []
        for path in try trackedFiles() where [".swift", ".sh", ".py", ".toml"].contains(where: path.hasSuffix) {
            guard path != "Tests/LecternStoreTests/RepositoryHygieneTests.swift",
                  let text = try? String(contentsOf: TestSupport.packageRoot.appendingPathComponent(path), encoding: .utf8) else { continue }
            for b in banned where text.contains(b) { hits.append("\(path): \(b)") }
        }
        XCTAssertEqual(hits, [], "use LECTERN_SHARED_DATA (scripts/lib.sh, TestSupport.sharedData)")
    }

    /// The resolver itself: the variable wins; without it, ../shared/data beside the checkout.
    func testSharedDataResolver() throws {
        let lib = TestSupport.packageRoot.appendingPathComponent("scripts/lib.sh").path
        let bash = URL(fileURLWithPath: "/bin/bash")
        let set = try TestSupport.run(bash, ["-c", ". \"$0\"; echo \"$LECTERN_SHARED_DATA\"", lib],
                                      environment: ["LECTERN_SHARED_DATA": "/somewhere/data", "LECTERN_CACHE": NSTemporaryDirectory() + "lectern-hygiene"])
        XCTAssertEqual(set.stdout, "/somewhere/data\n")
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LECTERN_SHARED_DATA")
        let process = Process()
        process.executableURL = bash
        process.arguments = ["-c", "unset LECTERN_SHARED_DATA; . \"$0\"; echo \"$LECTERN_SHARED_DATA\"", lib]
        process.environment = env.merging(["LECTERN_CACHE": NSTemporaryDirectory() + "lectern-hygiene"]) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(out, TestSupport.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data").path + "\n")
    }

    /// Issue 13, item 14: installers of one component run one at a time (flock), so two runs of
    /// the setup scripts on one machine do not remove each other's build trees.
    func testSetupScriptsTakeAComponentLock() throws {
        let setup = TestSupport.packageRoot.appendingPathComponent("scripts/setup.d")
        for name in try FileManager.default.contentsOfDirectory(atPath: setup.path) where name.hasSuffix(".sh") {
            let text = try String(contentsOf: setup.appendingPathComponent(name), encoding: .utf8)
            XCTAssertTrue(text.contains("\nlock_component "), "\(name) takes no component lock")
        }
        // Two holders of one lock: the second waits for the first.
        let cache = try TestSupport.temporaryDirectory(self)
        let lib = TestSupport.packageRoot.appendingPathComponent("scripts/lib.sh").path
        let script = ". \"$0\"; lock_component demo; echo \"start $(date +%s.%N)\"; sleep 1.5; echo \"end $(date +%s.%N)\""
        func start() throws -> (Process, Pipe) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/bash")
            p.arguments = ["-c", script, lib]
            p.environment = ProcessInfo.processInfo.environment.merging(["LECTERN_CACHE": cache.path]) { $1 }
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            try p.run()
            return (p, pipe)
        }
        let a = try start(), b = try start()
        func times(_ x: (Process, Pipe)) -> (Double, Double) {
            let text = String(decoding: x.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            x.0.waitUntilExit()
            let v = text.split(separator: "\n").compactMap { Double($0.split(separator: " ").last ?? "") }
            return (v.first ?? 0, v.last ?? 0)
        }
        let ta = times(a), tb = times(b)
        let (first, second) = ta.0 < tb.0 ? (ta, tb) : (tb, ta)
        XCTAssertGreaterThanOrEqual(second.0, first.1, "the second holder started before the first one ended")
    }
}
