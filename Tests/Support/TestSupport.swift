import Foundation
import XCTest
import LecternKernels

/// Paths and helpers shared by Lectern's test targets.
public enum TestSupport {
    /// The package root (where Package.swift is).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// `../shared/data` beside the checkout, or `$LECTERN_SHARED_DATA`.
    public static var sharedData: URL {
        if let env = ProcessInfo.processInfo.environment["LECTERN_SHARED_DATA"] { return URL(fileURLWithPath: env) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }

    /// PubMedQA's ori_pqal.json, or a failure/skip when it is missing.
    public static func pubmedqaPath() throws -> String {
        let path = sharedData.appendingPathComponent("pubmedqa/ori_pqal.json").path
        try requireComponent(FileManager.default.fileExists(atPath: path), "PubMedQA data at \(path) (set LECTERN_SHARED_DATA)")
        return path
    }

    /// The one rule for a missing component (a model, a server, a reference tool, the shared
    /// data): fail under `LECTERN_REQUIRE_COMPONENTS=1` (scripts/test.sh, CI), skip otherwise (a
    /// quick local run). `setup` names what installs it.
    public static func requireComponent(_ present: Bool, _ what: String, setup: String = "scripts/test.sh",
                                        file: StaticString = #filePath, line: UInt = #line) throws {
        guard !present else { return }
        try missing(what, setup: setup, file: file, line: line)
    }

    /// ``requireComponent(_:_:setup:file:line:)`` for a component known to be missing.
    public static func missing(_ what: String, setup: String = "scripts/test.sh",
                               file: StaticString = #filePath, line: UInt = #line) throws -> Never {
        let message = "\(what) is missing: run \(setup) (scripts/test.sh runs every installer)"
        if requireComponents {
            XCTFail(message, file: file, line: line)
            throw XCTSkip("failed: " + message)
        }
        throw XCTSkip(message)
    }

    /// Whether missing components fail the tests (`LECTERN_REQUIRE_COMPONENTS=1`) or skip them.
    public static var requireComponents: Bool { ProcessInfo.processInfo.environment["LECTERN_REQUIRE_COMPONENTS"] == "1" }

    /// A fresh temporary directory, removed at the end of the test.
    public static func temporaryDirectory(_ test: XCTestCase) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// The built `lectern` executable (built by `swift build`, next to the test bundle).
    public static func lecternExecutable() throws -> URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundleDir, bundleDir.deletingLastPathComponent(), packageRoot.appendingPathComponent(".build/debug")] {
            let candidate = dir.appendingPathComponent("lectern")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        XCTFail("the lectern executable is not built next to the tests; run `swift build` first")
        throw XCTSkip("no lectern executable")
    }

    /// Runs a process to completion and returns its exit status, stdout and stderr.
    @discardableResult
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                           currentDirectory: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["LECTERN_PROGRESS"] = "off"
        for (k, v) in environment ?? [:] { env[k] = v }
        process.environment = env
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errBox.data, as: UTF8.self))
    }

    /// How a process started by ``runAndKill(_:_:after:environment:)`` ended.
    public enum KilledRun: Equatable {
        /// SIGKILL stopped it.
        case killed
        /// It exited with status 0 before the kill.
        case finished
        /// It exited with this non-zero status before the kill.
        case failed(Int32)
    }

    /// Starts `executable` (progress off, output discarded), sends SIGKILL after `delay` seconds
    /// if it is still running, and says how it ended: the step of every kill-and-resume test.
    /// `environment` replaces the inherited environment when given.
    public static func runAndKill(_ executable: URL, _ arguments: [String], after delay: Double,
                                  environment: [String: String]? = nil) throws -> KilledRun {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = environment ?? ProcessInfo.processInfo.environment
        env["LECTERN_PROGRESS"] = "off"
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(UInt32(max(0, delay) * 1e6))
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if process.terminationReason == .uncaughtSignal { return .killed }
        return process.terminationStatus == 0 ? .finished : .failed(process.terminationStatus)
    }
}

/// The seeded generator for reproducible test data and kill schedules: the pipeline's own.
public typealias TestRandom = SplitMix64
