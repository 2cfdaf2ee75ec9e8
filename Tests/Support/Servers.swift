import Foundation
import XCTest

// Servers the tests start and stop: any child process, the fault-injection chat server
// (Tests/LecternGenerateTests/Fixtures/fault_server.py) and llama.cpp's llama-server with SmolLM2.

/// A child process started by a test and ended by it.
public final class ChildProcess {
    public let process = Process()
    public let stdout = Pipe()

    public init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The first stdout line that starts with `prefix`, waiting up to `timeout` seconds.
    public func readLine(prefix: String, timeout: Double = 20) throws -> String {
        let handle = stdout.fileHandleForReading
        var buffer = ""
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let d = handle.availableData
            if d.isEmpty { throw NSError(domain: "child", code: 1, userInfo: [NSLocalizedDescriptionKey: "child exited before printing \(prefix)"]) }
            buffer += String(decoding: d, as: UTF8.self)
            for line in buffer.split(separator: "\n") where line.hasPrefix(prefix) { return String(line) }
        }
        throw NSError(domain: "child", code: 2, userInfo: [NSLocalizedDescriptionKey: "no \(prefix) line within \(timeout) s"])
    }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}

/// The Python fault-injection server (Fixtures/fault_server.py).
public final class FaultServer {
    public let child: ChildProcess
    public let port: Int

    /// The server's script (stdlib Python), `Tests/LecternGenerateTests/Fixtures/fault_server.py`.
    public static let script = TestSupport.packageRoot.appendingPathComponent("Tests/LecternGenerateTests/Fixtures/fault_server.py").path

    public init(port: Int = 0) throws {
        child = try ChildProcess("/usr/bin/env", ["python3", Self.script, String(port)])
        let line = try child.readLine(prefix: "PORT ")
        self.port = Int(line.dropFirst(5))!
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/v1")! }

    public func plan(_ behaviours: [String], reset: Bool = true) throws {
        _ = try Self.http("http://127.0.0.1:\(port)/control", body: ["plan": behaviours, "reset": reset])
    }

    public func stats() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Self.http("http://127.0.0.1:\(port)/stats", body: nil)) as! [String: Any]
    }

    public func stop() { child.stop() }

    /// Blocking HTTP for test control (curl: no async plumbing needed in setup code).
    public static func http(_ url: String, body: [String: Any]?) throws -> Data {
        var args = ["-sS", "--max-time", "10", url]
        if let body {
            let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            args += ["-H", "Content-Type: application/json", "-d", json]
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return data
    }
}

/// llama.cpp's llama-server with SmolLM2-135M-Instruct, started by the test on a free port.
public final class LlamaServer {
    public let child: ChildProcess
    public let port: Int

    /// nil when the binary or the model is not installed.
    public static func paths() -> (server: String, model: String)? {
        let env = ProcessInfo.processInfo.environment
        guard let s = env["LECTERN_LLAMA_SERVER"], let m = env["LECTERN_SMOLLM2_GGUF"],
              FileManager.default.isExecutableFile(atPath: s), FileManager.default.fileExists(atPath: m) else { return nil }
        return (s, m)
    }

    /// Starts the server with `parallel` slots of 2048 tokens, or with `arguments` after the
    /// model, host and port when given (an embeddings server, say).
    public init(server: String, model: String, parallel: Int = 2, arguments: [String]? = nil) throws {
        port = try Self.freePort()
        let rest = arguments ?? ["-c", String(2048 * parallel), "-np", String(parallel), "-t", "2", "--cache-ram", "0", "--no-webui"]
        child = try ChildProcess(server, ["-m", model, "--host", "127.0.0.1", "--port", String(port)] + rest)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let d = try? FaultServer.httpGet("http://127.0.0.1:\(port)/health"),
               String(decoding: d, as: UTF8.self).contains("ok") { return }
            guard child.process.isRunning else { throw NSError(domain: "llama", code: 1, userInfo: [NSLocalizedDescriptionKey: "llama-server exited at start"]) }
            Thread.sleep(forTimeInterval: 0.25)
        }
        child.stop()
        throw NSError(domain: "llama", code: 2, userInfo: [NSLocalizedDescriptionKey: "llama-server not healthy within 60 s"])
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)/v1")! }

    public func stop() { child.stop() }

    /// A port the kernel just handed out and released.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw NSError(domain: "port", code: 1) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

extension FaultServer {
    public static func httpGet(_ url: String) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-sf", "--max-time", "2", url]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw NSError(domain: "curl", code: Int(p.terminationStatus)) }
        return data
    }
}

