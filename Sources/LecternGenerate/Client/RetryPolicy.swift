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

    /// `Retry-After` as seconds: either delta-seconds or an HTTP date.
    static func parseRetryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        if let s = Double(v) { return max(0, s) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let d = f.date(from: v) { return max(0, d.timeIntervalSince(now)) }
        return nil
    }
}
