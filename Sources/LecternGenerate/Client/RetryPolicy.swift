import Foundation

/// When and how long to wait before trying a failed request again.
///
/// Exponential backoff with full jitter (a random delay in `[0, min(maxDelay, base * 2^n)]`),
/// so that many clients rejected together do not come back together; a server's
/// `Retry-After` overrides it (plus up to 10% jitter), because the server knows best.
public struct RetryPolicy: Codable, Sendable, Hashable {
    /// HTTP requests per completion, the first included.
    public var maxAttempts: Int
    /// Seconds of the first backoff step.
    public var baseDelay: Double
    /// Upper bound of one backoff, in seconds.
    public var maxDelay: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.5, maxDelay: Double = 30) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// Seconds to wait after failed attempt number `attempt` (1-based).
    func delay(afterAttempt attempt: Int, retryAfter: Double?) -> Double {
        if let retryAfter, retryAfter >= 0 {
            return min(retryAfter, 3600) * (1 + Double.random(in: 0..<0.1))
        }
        let cap = min(maxDelay, baseDelay * pow(2, Double(max(0, attempt - 1))))
        return Double.random(in: 0...cap)
    }
}
