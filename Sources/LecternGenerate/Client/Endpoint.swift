import Foundation

/// One OpenAI-compatible server: where it is, what it serves, and how hard it may be pushed.
///
/// The API key is never part of this value: `apiKeyEnv` names the environment variable that
/// holds it, so configurations can be logged, fingerprinted and stored in the file safely.
public struct Endpoint: Codable, Sendable, Hashable {
    /// Base URL up to and including the API version, e.g. `http://127.0.0.1:8080/v1`.
    public var baseURL: URL
    /// Served model name used when a request names none.
    public var model: String
    /// Name of the environment variable holding the bearer token, if the server needs one.
    public var apiKeyEnv: String?
    /// Requests this endpoint may have in flight at once.
    public var maxInFlight: Int
    /// Requests per minute allowed by the provider (nil: unlimited).
    public var requestsPerMinute: Int?
    /// Prompt plus completion tokens per minute allowed by the provider (nil: unlimited).
    public var tokensPerMinute: Int?
    /// Seconds to wait for a whole response before giving up on the attempt.
    public var timeout: Double

    public init(baseURL: URL, model: String, apiKeyEnv: String? = nil, maxInFlight: Int = 4,
                requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, timeout: Double = 600) {
        self.baseURL = baseURL
        self.model = model
        self.apiKeyEnv = apiKeyEnv
        self.maxInFlight = max(1, maxInFlight)
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.timeout = timeout
    }

    /// `baseURL` without credentials or query, for logs and the file.
    public var displayURL: String {
        guard var c = URLComponents(url: baseURL, resolvingAgainstBaseURL: false) else { return "?" }
        c.user = nil
        c.password = nil
        c.query = nil
        return c.string ?? "?"
    }

    var chatCompletionsURL: URL { baseURL.appendingPathComponent("chat/completions") }

    /// The bearer token, read from the environment at request time.
    func apiKey() throws -> String? {
        guard let name = apiKeyEnv, !name.isEmpty else { return nil }
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
            throw ChatClientError.missingAPIKey(endpoint: displayURL, variable: name)
        }
        return v
    }
}

/// Why a chat completion failed.
public enum ChatClientError: Error, CustomStringConvertible, Sendable {
    case missingAPIKey(endpoint: String, variable: String)
    case http(endpoint: String, status: Int, body: String)
    case transport(endpoint: String, message: String)
    case timeout(endpoint: String, seconds: Double)
    case badResponse(endpoint: String, reason: String)
    case exhausted(attempts: Int, last: String)
    case noEndpoints

    public var description: String {
        switch self {
        case .missingAPIKey(let e, let v):
            return "endpoint \(e) needs an API key: set the environment variable \(v)"
        case .http(let e, let s, let b): return "\(e): HTTP \(s): \(b.prefix(300))"
        case .transport(let e, let m): return "\(e): connection failed: \(m)"
        case .timeout(let e, let s): return "\(e): no complete response within \(s) s"
        case .badResponse(let e, let r): return "\(e): unreadable response: \(r)"
        case .exhausted(let n, let last): return "gave up after \(n) attempts; last error: \(last)"
        case .noEndpoints: return "no endpoint configured: give at least one --endpoint URL"
        }
    }

    /// Whether another attempt (here or on another endpoint) may succeed.
    var isRetryable: Bool {
        switch self {
        case .missingAPIKey, .noEndpoints, .exhausted: return false
        case .transport, .timeout, .badResponse: return true
        case .http(_, let s, _): return s == 408 || s == 409 || s == 425 || s == 429 || s >= 500
        }
    }
}
