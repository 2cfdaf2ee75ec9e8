import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP response as Lectern's clients need it.
package struct HTTPReply: Sendable {
    package var status: Int
    /// Lower-cased names.
    package var headers: [String: String]
    package var body: Data

    package init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends one POST. A protocol so tests and other transports can stand in.
package protocol HTTPTransport: Sendable {
    func post(_ url: URL, headers: [String: String], body: Data, timeout: Double) async throws -> HTTPReply
}

/// What went wrong with an attempt, as far as retrying cares.
package enum HTTPAttemptFailure {
    /// No complete response within the timeout (connect, read or the whole deadline).
    case timeout
    /// Any other transport failure: refused or dropped connection, TLS, DNS.
    case transport(String)

    package init(_ error: Error) {
        if let h = error as? HTTPClientError,
           [.deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout].contains(h) {
            self = .timeout
        } else if let h = error as? HTTPClientError {
            self = .transport(h.description)
        } else {
            self = .transport(Self.describe(error))
        }
    }

    /// A socket error in plain words: NIO's own descriptions of `IOError` carry an unbalanced
    /// parenthesis ("connection reset (error set): Connection refused) (errno: 111)").
    static func describe(_ error: Error) -> String {
        if let io = error as? IOError {
            return "\(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))"
        }
        if let c = error as? NIOConnectionError {
            var reasons: [String] = []
            for failure in c.connectionErrors {
                let r = describe(failure.error)
                if !reasons.contains(r) { reasons.append(r) }
            }
            if reasons.isEmpty, let dns = c.dnsAError ?? c.dnsAAAAError { reasons.append("DNS: \(describe(dns))") }
            return "cannot connect to \(c.host):\(c.port)" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))
        }
        return String(describing: error)
    }
}

/// Lectern's HTTP: AsyncHTTPClient (SwiftNIO): keep-alive connections pooled per host, HTTP/1.1
/// or HTTP/2 over TLS, and an epoll loop that sleeps while a response is being generated.
///
/// Why not URLSession: on Linux it drives libcurl from libdispatch sources and, measured with
/// `strace -c` against llama-server, made about 19,000 `epoll_ctl`/`poll`/`ioctl` calls a second
/// while waiting, about a fifth of a core for 4 requests in flight. On a machine where the LLM
/// server shares the cores that cost the server 15-30% of its throughput.
package final class NIOHTTPTransport: HTTPTransport, @unchecked Sendable {
    private let client: HTTPClient
    /// Largest response body accepted (a chat completion is kilobytes; this catches a runaway).
    static let maxResponseBytes = 64 << 20

    package init(maxConnectionsPerHost: Int) {
        var config = HTTPClient.Configuration()
        config.connectionPool = .init(idleTimeout: .seconds(90),
                                      concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, maxConnectionsPerHost))
        // A refused connection fails the attempt at once, so the client's own retry policy
        // decides: back off, cool the endpoint down, fail over to another one. (AsyncHTTPClient
        // would otherwise keep reconnecting to a dead endpoint for the whole connect timeout.)
        config.connectionPool.retryConnectionEstablishment = false
        config.timeout.connect = .seconds(10)
        config.decompression = .enabled(limit: .ratio(100))
        config.redirectConfiguration = .follow(max: 3, allowCycles: false)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    deinit {
        // The shared event loop group outlives this client; its connections must be closed.
        try? client.syncShutdown()
    }

    package func post(_ url: URL, headers: [String: String], body: Data, timeout: Double) async throws -> HTTPReply {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        request.body = .bytes(ByteBuffer(bytes: body))
        // A non-streamed completion is silent until it is done, so the deadline covers it all.
        let deadline = NIODeadline.now() + .milliseconds(Int64(max(0.001, timeout) * 1000))
        let response = try await client.execute(request, deadline: deadline)
        var buffer = try await response.body.collect(upTo: Self.maxResponseBytes)
        var h: [String: String] = [:]
        for (k, v) in response.headers { h[k.lowercased()] = v }
        return HTTPReply(status: Int(response.status.code), headers: h,
                         body: Data(buffer.readBytes(length: buffer.readableBytes) ?? []))
    }
}
