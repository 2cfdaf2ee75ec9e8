import Foundation

/// The `Retry-After` header of a 429 or 503, which both OpenAI-compatible clients (chat and
/// embeddings) honour before their own backoff.
package enum RetryAfter {
    /// Seconds to wait: the header as delta-seconds, or an HTTP date (RFC 9110) measured from
    /// `now`; nil when absent or unreadable; never negative.
    package static func seconds(_ value: String?, now: Date = Date()) -> Double? {
        guard let v = value?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        if let s = Double(v), s.isFinite { return max(0, s) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: v).map { max(0, $0.timeIntervalSince(now)) }
    }
}

extension HTTPReply {
    /// The reply's `Retry-After`, in seconds.
    package var retryAfter: Double? { RetryAfter.seconds(headers["retry-after"]) }
}
