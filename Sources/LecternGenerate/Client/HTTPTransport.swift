import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An HTTP response as the client needs it.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [String: String]   // lower-cased names
    var body: Data
}

/// Sends one POST. A protocol so tests and other transports can stand in.
protocol HTTPTransport: Sendable {
    func post(_ url: URL, headers: [String: String], body: Data, timeout: Double) async throws -> HTTPReply
}

/// URLSession (FoundationNetworking, libcurl underneath on Linux): keep-alive connections are
/// pooled per host by libcurl, and it ships with the toolchain, so the stage adds no
/// dependency graph (swift-nio) to a build that two shared cores must compile.
final class URLSessionTransport: HTTPTransport, @unchecked Sendable {
    private let session: URLSession

    init(maxConnectionsPerHost: Int) {
        let config = URLSessionConfiguration.ephemeral
        config.httpMaximumConnectionsPerHost = max(1, maxConnectionsPerHost)
        config.urlCache = nil
        config.httpCookieStorage = nil
        config.httpShouldSetCookies = false
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        config.timeoutIntervalForResource = 24 * 3600
        session = URLSession(configuration: config)
    }

    deinit { session.finishTasksAndInvalidate() }

    func post(_ url: URL, headers: [String: String], body: Data, timeout: Double) async throws -> HTTPReply {
        var req = URLRequest(url: url)
        req.httpMethod = "POST"
        req.httpBody = body
        // A non-streamed completion is silent until it is done, so the idle timeout is the whole one.
        req.timeoutInterval = timeout
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await session.data(for: req)
        guard let http = response as? HTTPURLResponse else {
            throw ChatClientError.badResponse(endpoint: url.absoluteString, reason: "not an HTTP response")
        }
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { h[k.lowercased()] = v }
        }
        return HTTPReply(status: http.statusCode, headers: h, body: data)
    }
}
