import Foundation
import GRDB

/// Prices of one model, in the user's currency per million tokens.
public struct ModelPrice: Codable, Sendable, Hashable {
    public var inputPerMillion: Double
    public var outputPerMillion: Double
    public init(inputPerMillion: Double, outputPerMillion: Double) {
        self.inputPerMillion = inputPerMillion
        self.outputPerMillion = outputPerMillion
    }
    enum CodingKeys: String, CodingKey {
        case inputPerMillion = "input_per_million"
        case outputPerMillion = "output_per_million"
    }
}

/// A user-supplied price table: a JSON object from model name to price,
/// e.g. `{"gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.6}}`;
/// the key `"*"` prices every model not listed.
public struct PriceTable: Codable, Sendable, Hashable {
    public var models: [String: ModelPrice]
    public init(models: [String: ModelPrice]) { self.models = models }

    public static func load(path: String) throws -> PriceTable {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GenerateError.badInput("price table \(path): cannot read the file")
        }
        do {
            return PriceTable(models: try JSONDecoder().decode([String: ModelPrice].self, from: data))
        } catch {
            throw GenerateError.badInput(
                "price table \(path): expected {\"MODEL\": {\"input_per_million\": X, \"output_per_million\": Y}}: \(error)")
        }
    }

    public func price(for model: String) -> ModelPrice? { models[model] ?? models["*"] }
}

/// Requests, tokens, failures and cost of one served model, over all its generators.
public struct ModelUsage: Sendable, Equatable {
    public var model: String
    /// Documents with a request row.
    public var requests: Int
    public var ok: Int
    public var invalid: Int
    public var failed: Int
    /// HTTP requests sent, retries included.
    public var attempts: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var pairs: Int
    /// Tokens times prices, when the table prices this model.
    public var estimatedCost: Double?
}

/// Cost and usage of the generate stage, for `lectern status`.
public enum GenerationUsage {
    /// One row per model, by model name.
    public static func summary(_ db: Database, prices: PriceTable? = nil) throws -> [ModelUsage] {
        let pairs = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: """
            SELECT g.model AS model, count(*) AS n FROM qa_pairs q JOIN generators g ON g.id = q.generator_id
            GROUP BY g.model
            """).map { ($0["model"] as String, $0["n"] as Int) })
        return try Row.fetchAll(db, sql: """
            SELECT g.model AS model, count(*) AS requests,
                   sum(r.status = 'ok') AS ok, sum(r.status = 'invalid') AS invalid, sum(r.status = 'failed') AS failed,
                   sum(r.attempts) AS attempts, coalesce(sum(r.prompt_tokens), 0) AS pt,
                   coalesce(sum(r.completion_tokens), 0) AS ct
            FROM llm_requests r JOIN generators g ON g.id = r.generator_id
            GROUP BY g.model ORDER BY g.model
            """).map { r in
            let model: String = r["model"]
            let pt: Int = r["pt"], ct: Int = r["ct"]
            let cost = prices?.price(for: model).map {
                Double(pt) / 1e6 * $0.inputPerMillion + Double(ct) / 1e6 * $0.outputPerMillion
            }
            return ModelUsage(model: model, requests: r["requests"], ok: r["ok"], invalid: r["invalid"],
                              failed: r["failed"], attempts: r["attempts"], promptTokens: pt, completionTokens: ct,
                              pairs: pairs[model] ?? 0, estimatedCost: cost)
        }
    }

    /// The summary as text lines for a status report.
    public static func report(_ rows: [ModelUsage]) -> [String] {
        guard !rows.isEmpty else { return ["generate: no LLM requests yet"] }
        return rows.map { u in
            var s = "\(u.model): \(u.requests) documents (\(u.ok) ok, \(u.invalid) invalid, \(u.failed) failed), "
                + "\(u.attempts) HTTP requests, \(u.promptTokens) prompt + \(u.completionTokens) completion tokens, "
                + "\(u.pairs) pairs"
            if let c = u.estimatedCost { s += String(format: ", estimated cost %.4f", c) }
            return s
        }
    }
}
