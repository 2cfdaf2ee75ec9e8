import Foundation
import LecternHTTP

/// A failed completion, with what is known about it for the request log.
public struct ChatFailure: Error, CustomStringConvertible, Sendable {
    public var error: ChatClientError
    /// HTTP requests sent, retries included.
    public var attempts: Int
    /// Endpoint of the last attempt, if one was made.
    public var endpoint: String?
    /// Body of the last response, if there was one.
    public var lastBody: String?
    public var latencyMs: Double?
    public var description: String { error.description }
}

/// An OpenAI-compatible chat client over a pool of endpoints (OpenAI, vLLM, llama.cpp's
/// `llama-server`, ...).
///
/// Concurrency is the caller's: run as many `complete` calls at once as wanted; the pool
/// caps each endpoint at its `maxInFlight` and rate limits and queues the rest. Failed
/// attempts (timeouts, dropped connections, 429, 5xx, unreadable bodies) are retried with
/// backoff on the least-loaded healthy endpoint, preferring another one than the one that failed.
///
/// ## Topics
/// - ``complete(_:)``
/// - ``Endpoint``, ``RetryPolicy``, ``ChatRequest``, ``ChatResult``, ``ChatFailure``
public final class ChatClient: Sendable {
    public let endpoints: [Endpoint]
    public let retry: RetryPolicy
    private let pool: EndpointPool
    private let transport: HTTPTransport

    public convenience init(endpoints: [Endpoint], retry: RetryPolicy = RetryPolicy()) throws {
        try self.init(endpoints: endpoints, retry: retry, rateWindow: 60)
    }

    init(endpoints: [Endpoint], retry: RetryPolicy, rateWindow: Double) throws {
        guard !endpoints.isEmpty else { throw ChatClientError.noEndpoints }
        for e in endpoints { _ = try e.apiKey() }   // fail early on a missing key, not per request
        self.endpoints = endpoints
        self.retry = retry
        self.pool = EndpointPool(endpoints.map {
            EndpointLimits(maxInFlight: $0.maxInFlight, requestsPerMinute: $0.requestsPerMinute, tokensPerMinute: $0.tokensPerMinute)
        }, window: rateWindow)
        self.transport = NIOHTTPTransport(maxConnectionsPerHost: endpoints.reduce(0) { $0 + $1.maxInFlight })
    }

    /// Total requests the pool can have in flight: a good concurrency for callers.
    public var capacity: Int { endpoints.reduce(0) { $0 + $1.maxInFlight } }

    /// Sends `request` until it succeeds or the retry policy gives up.
    public func complete(_ request: ChatRequest) async throws -> ChatResult {
        var avoid = Set<Int>()
        var attempts = 0
        var last: ChatFailure?
        while attempts < retry.maxAttempts {
            attempts += 1
            let lease = await pool.acquire(estimatedTokens: request.estimatedTokens, avoid: avoid)
            let endpoint = endpoints[lease.index]
            let started = DispatchTime.now().uptimeNanoseconds
            var retryAfter: Double?
            var body: String?
            do {
                let reply = try await send(request, to: endpoint)
                body = String(decoding: reply.body, as: UTF8.self)
                retryAfter = reply.retryAfter
                let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
                guard (200..<300).contains(reply.status) else {
                    throw ChatClientError.http(endpoint: endpoint.displayURL, status: reply.status, body: body ?? "")
                }
                var result = try Self.decode(reply.body, endpoint: endpoint)
                result.latencyMs = ms
                result.attempts = attempts
                let used = result.usage.map { $0.promptTokens + $0.completionTokens }
                await pool.release(lease, usedTokens: used, failed: false, retryAfter: nil)
                return result
            } catch {
                let ms = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
                let e = Self.classify(error, endpoint: endpoint)
                // A 4xx other than the retryable ones is the request's fault, not the endpoint's.
                await pool.release(lease, usedTokens: nil, failed: e.isRetryable ? true : nil, retryAfter: retryAfter)
                last = ChatFailure(error: e, attempts: attempts, endpoint: endpoint.displayURL,
                                   lastBody: body, latencyMs: ms)
                guard e.isRetryable else { throw last! }
                if endpoints.count > 1 { avoid.insert(lease.index) }
                if avoid.count == endpoints.count { avoid.removeAll() }
                if attempts < retry.maxAttempts {
                    let d = retry.delay(afterAttempt: attempts, retryAfter: retryAfter)
                    try? await Task.sleep(nanoseconds: UInt64(d * 1e9))
                }
            }
        }
        var f = last!
        f.error = .exhausted(attempts: attempts, last: f.error.description)
        throw f
    }

    private func send(_ request: ChatRequest, to endpoint: Endpoint) async throws -> HTTPReply {
        var headers = ["Content-Type": "application/json", "Accept": "application/json"]
        if let key = try endpoint.apiKey() { headers["Authorization"] = "Bearer \(key)" }
        let body = try request.body(model: endpoint.model)
        return try await transport.post(endpoint.chatCompletionsURL, headers: headers, body: body,
                                        timeout: endpoint.timeout)
    }

    static func decode(_ data: Data, endpoint: Endpoint) throws -> ChatResult {
        let raw = String(decoding: data, as: UTF8.self)
        let parsed: ChatCompletionBody
        do {
            parsed = try JSONDecoder().decode(ChatCompletionBody.self, from: data)
        } catch {
            throw ChatClientError.badResponse(endpoint: endpoint.displayURL,
                                              reason: "not a chat completion: \(raw.prefix(120))")
        }
        guard let choice = parsed.choices.first, let content = choice.message?.content ?? choice.text else {
            throw ChatClientError.badResponse(endpoint: endpoint.displayURL, reason: "no choices[0].message.content")
        }
        let usage = parsed.usage.flatMap { u -> ChatUsage? in
            guard let p = u.prompt_tokens, let c = u.completion_tokens else { return nil }
            return ChatUsage(promptTokens: p, completionTokens: c)
        }
        return ChatResult(content: content, finishReason: choice.finish_reason, usage: usage, rawBody: raw,
                          endpoint: endpoint.displayURL, latencyMs: 0, attempts: 0)
    }

    static func classify(_ error: Error, endpoint: Endpoint) -> ChatClientError {
        if let e = error as? ChatClientError { return e }
        switch HTTPAttemptFailure(error) {
        case .timeout: return .timeout(endpoint: endpoint.displayURL, seconds: endpoint.timeout)
        case .transport(let message): return .transport(endpoint: endpoint.displayURL, message: message)
        }
    }
}
