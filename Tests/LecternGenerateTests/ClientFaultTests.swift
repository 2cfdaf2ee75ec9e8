import LecternTestSupport
import XCTest
@testable import LecternGenerate

/// The chat client against a misbehaving server (Fixtures/fault_server.py, run by each test).
final class ClientFaultTests: XCTestCase {
    var server: FaultServer!

    override func setUpWithError() throws {
        server = try FaultServer()
    }

    override func tearDown() {
        server?.stop()
    }

    private func request() -> ChatRequest {
        GeneratorSpec(name: "t", model: "fault-model", params: GenerationParams(domain: "biomedicine"))
            .request(document: "Aspirin lowers fever in adults.")
    }

    private func fastRetry(_ n: Int = 5) -> RetryPolicy { RetryPolicy(maxAttempts: n, baseDelay: 0.05, maxDelay: 0.2) }

    func testRetryAfterOn429IsHonoured() async throws {
        try server.plan(["429:1"])
        let client = try ChatClient(endpoints: [server.endpoint()], retry: fastRetry())
        let t0 = Date()
        let r = try await client.complete(request())
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 0.95, "Retry-After: 1 not waited for")
        XCTAssertEqual(r.attempts, 2)
        XCTAssertEqual(try QAParser.parse(r.content).pairs.count, 3)
    }

    func testServerErrorsAndGarbageAreRetried() async throws {
        try server.plan(["500", "503", "garbage"])
        let client = try ChatClient(endpoints: [server.endpoint()], retry: fastRetry())
        let r = try await client.complete(request())
        XCTAssertEqual(r.attempts, 4)
        XCTAssertEqual(r.usage, ChatUsage(promptTokens: 50, completionTokens: 40))
        XCTAssertEqual(try server.stats()["requests"] as? Int, 4)
    }

    func testTimeoutIsRetried() async throws {
        try server.plan(["sleep:3"])
        let client = try ChatClient(endpoints: [server.endpoint(timeout: 1)], retry: fastRetry())
        let r = try await client.complete(request())
        XCTAssertEqual(r.attempts, 2)
    }

    func testConnectionDroppedMidResponseAndClosedAreRetried() async throws {
        try server.plan(["drop", "close"])
        let client = try ChatClient(endpoints: [server.endpoint()], retry: fastRetry())
        let r = try await client.complete(request())
        XCTAssertEqual(r.attempts, 3)
        XCTAssertEqual(try QAParser.parse(r.content).pairs.count, 3)
    }

    func testGivesUpAfterMaxAttemptsAndDoesNotRetry400() async throws {
        try server.plan(["500", "500", "500", "500"])
        let client = try ChatClient(endpoints: [server.endpoint()], retry: fastRetry(3))
        do {
            _ = try await client.complete(request())
            XCTFail("expected a failure")
        } catch let f as ChatFailure {
            XCTAssertEqual(f.attempts, 3)
            XCTAssertTrue(f.description.contains("HTTP 500"), f.description)
        }
        try server.plan(["400"])
        do {
            _ = try await client.complete(request())
            XCTFail("expected a failure")
        } catch let f as ChatFailure {
            XCTAssertEqual(f.attempts, 1, "a 400 is the request's fault: retrying cannot help")
        }
    }

    func testServerThatDiesAndComesBack() async throws {
        let port = server.port
        server.stop()
        let client = try ChatClient(endpoints: [server.endpoint(timeout: 5)],
                                    retry: RetryPolicy(maxAttempts: 10, baseDelay: 0.2, maxDelay: 0.5))
        let restart = Task.detached { () -> FaultServer in
            try await Task.sleep(nanoseconds: 1_500_000_000)
            return try FaultServer(port: port)
        }
        let r = try await client.complete(request())
        server = try await restart.value
        XCTAssertGreaterThan(r.attempts, 1)
        XCTAssertEqual(try server.stats()["requests"] as? Int, 1)
    }

    func testDeadEndpointFailsOverAtOnce() async throws {
        // A refused connection must not hold a request for the endpoint's timeout (30 s here):
        // the attempt fails, the dead endpoint cools down, and the healthy one answers.
        let healthy = try FaultServer()
        defer { healthy.stop() }
        server.stop()
        let client = try ChatClient(endpoints: [server.endpoint(maxInFlight: 2, timeout: 30), healthy.endpoint(maxInFlight: 2)],
                                    retry: fastRetry(4))
        let t0 = Date()
        let results = try await withThrowingTaskGroup(of: ChatResult.self) { g in
            for _ in 0..<4 { g.addTask { try await client.complete(self.request()) } }
            return try await g.reduce(into: []) { $0.append($1) }
        }
        XCTAssertLessThan(Date().timeIntervalSince(t0), 5, "a refused connection waited instead of failing over")
        XCTAssertEqual(results.count, 4)
        XCTAssertTrue(results.allSatisfy { $0.endpoint == healthy.endpoint().displayURL })
        XCTAssertEqual(try healthy.stats()["requests"] as? Int, 4)
    }

    func testBusyHealthyEndpointIsWaitedForInsteadOfRetryingTheDeadOne() async throws {
        // The shape of a pool of slow LLM servers with one dead: the dead endpoint leaves its
        // cool-down long before the healthy one has a free slot. A request that failed there must
        // wait for the healthy one, not spend its attempts on the dead one (CI lost a document so).
        let healthy = try FaultServer()
        defer { healthy.stop() }
        try healthy.plan(Array(repeating: "sleep:0.6", count: 6))
        server.stop()
        let client = try ChatClient(endpoints: [server.endpoint(maxInFlight: 1), healthy.endpoint(maxInFlight: 1)],
                                    retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02))
        let results = try await withThrowingTaskGroup(of: ChatResult.self) { g in
            for _ in 0..<6 { g.addTask { try await client.complete(self.request()) } }
            return try await g.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.count, 6)
        XCTAssertTrue(results.allSatisfy { $0.endpoint == healthy.endpoint().displayURL && $0.attempts <= 2 })
        XCTAssertEqual(try healthy.stats()["requests"] as? Int, 6)
    }

    func testFailOverToAHealthyEndpoint() async throws {
        let healthy = try FaultServer()
        defer { healthy.stop() }
        try server.plan(Array(repeating: "500", count: 50))
        let client = try ChatClient(endpoints: [server.endpoint(maxInFlight: 2), healthy.endpoint(maxInFlight: 2)],
                                    retry: fastRetry(4))
        let results = try await withThrowingTaskGroup(of: ChatResult.self) { g in
            for _ in 0..<8 { g.addTask { try await client.complete(self.request()) } }
            return try await g.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(results.count, 8)
        XCTAssertTrue(results.allSatisfy { $0.endpoint == healthy.endpoint().displayURL })
        XCTAssertEqual(try healthy.stats()["requests"] as? Int, 8)
    }

    func testInFlightAndRequestsPerMinuteLimits() async throws {
        try server.plan(Array(repeating: "sleep:0.3", count: 6))
        // A 1-second window stands in for the minute: at most 3 requests start per second.
        let client = try ChatClient(endpoints: [server.endpoint(maxInFlight: 2, rpm: 3)], retry: fastRetry(),
                                    rateWindow: 1)
        let t0 = Date()
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<6 { g.addTask { _ = try await client.complete(self.request()) } }
            try await g.waitForAll()
        }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 1.0, "6 requests at 3 per window need 2 windows")
        XCTAssertEqual(try server.stats()["max_concurrent"] as? Int, 2)
    }

    func testTokensPerMinuteLimitUsesReportedUsage() async throws {
        // Each answer reports 90 tokens; a budget of 150 per window lets one request start per window.
        var e = server.endpoint(maxInFlight: 4)
        e.tokensPerMinute = 150
        let client = try ChatClient(endpoints: [e], retry: fastRetry(), rateWindow: 1)
        let t0 = Date()
        try await withThrowingTaskGroup(of: Void.self) { g in
            for _ in 0..<3 { g.addTask { _ = try await client.complete(self.request()) } }
            try await g.waitForAll()
        }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(t0), 1.9, "3 requests at 1 per window need 3 windows")
        XCTAssertEqual(try server.stats()["max_concurrent"] as? Int, 1)
    }

    func testAPIKeyComesFromTheEnvironmentOnly() async throws {
        let variable = "LECTERN_TEST_KEY_\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertThrowsError(try ChatClient(endpoints: [server.endpoint(apiKeyEnv: variable)])) {
            XCTAssertTrue("\($0)".contains(variable))
        }
        setenv(variable, "sk-secret-123", 1)
        defer { unsetenv(variable) }
        let e = server.endpoint(apiKeyEnv: variable)
        let client = try ChatClient(endpoints: [e])
        _ = try await client.complete(request())
        XCTAssertEqual(try server.stats()["last_auth"] as? String, "Bearer sk-secret-123")
        XCTAssertFalse(Canonical.json(e).contains("sk-secret"), "the key must not be part of the endpoint's JSON")
    }
}
