import Foundation
import GRDB

/// The end of one document's request, as written to `llm_requests` (and `qa_pairs`).
public struct RequestOutcome: Sendable {
    public enum Status: String, Sendable { case ok, failed, invalid }

    public var documentId: Int64
    public var key: String
    public var status: Status
    public var attempts: Int
    public var endpoint: String?
    public var rawResponse: String?
    public var pairs: [QAPair]
    public var rejected: [RejectReason: Int]
    public var repaired: Bool
    public var error: String?
    public var usage: ChatUsage?
    public var latencyMs: Double?

    /// Upserts the request row and, when it succeeded, its pairs. Call inside one transaction.
    func write(_ db: Database, generatorId: Int64, now: String) throws {
        let parsed: String? = status == .failed ? nil : PairsJSON.encode(pairs)
        try db.execute(
            sql: """
                INSERT INTO llm_requests (key, generator_id, document_id, status, attempts, endpoint, raw_response,
                    parsed, error, prompt_tokens, completion_tokens, latency_ms, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (key) DO UPDATE SET status = excluded.status,
                    attempts = llm_requests.attempts + excluded.attempts, endpoint = excluded.endpoint,
                    raw_response = excluded.raw_response, parsed = excluded.parsed, error = excluded.error,
                    prompt_tokens = excluded.prompt_tokens, completion_tokens = excluded.completion_tokens,
                    latency_ms = excluded.latency_ms, updated_at = excluded.updated_at
                """,
            arguments: [key, generatorId, documentId, status.rawValue, attempts, endpoint, rawResponse, parsed, error,
                        usage?.promptTokens, usage?.completionTokens, latencyMs, now, now])
        // A retried request replaces whatever an earlier answer left (none, normally).
        try db.execute(sql: "DELETE FROM qa_pairs WHERE generator_id = ? AND document_id = ?",
                       arguments: [generatorId, documentId])
        guard status == .ok else { return }
        for (i, p) in pairs.enumerated() {
            try db.execute(
                sql: """
                    INSERT INTO qa_pairs (document_id, generator_id, request_key, position, question, answer)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [documentId, generatorId, key, i, p.question, p.answer])
        }
    }
}

/// Pairs as a JSON list of `{"question": ..., "answer": ...}`, question first (the order a
/// student model should learn to write them in; a sorted-keys encoder would put answers first).
public enum PairsJSON {
    public static func encode(_ pairs: [QAPair]) -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.withoutEscapingSlashes]
        func s(_ x: String) -> String { String(decoding: (try? enc.encode(x)) ?? Data("\"\"".utf8), as: UTF8.self) }
        return "[" + pairs.map { "{\"question\": \(s($0.question)), \"answer\": \(s($0.answer))}" }
            .joined(separator: ", ") + "]"
    }
}
