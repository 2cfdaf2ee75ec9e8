import Foundation
import GRDB
import LecternStore

/// What a `generate` stage run records in `stage_runs.config`: everything but secrets.
struct GenerateRunConfig: Encodable {
    struct EndpointInfo: Encodable {
        var url: String
        var model: String
        var api_key_env: String?
        var max_in_flight: Int
        var requests_per_minute: Int?
        var tokens_per_minute: Int?
    }
    var generator: String
    var generator_fingerprint: String
    var spec: GeneratorSpec
    var options: GenerateOptions
    var retry: RetryPolicy
    var endpoints: [EndpointInfo]
}

extension GenerateStage {
    /// Runs the stage as a recorded `generate` stage run of `store`: each answer is committed
    /// with the run's counters (processed; `invalid` counted as skipped, `failed` as failed),
    /// the run ends `complete` with the stage's counts, or `failed` with the error.
    @discardableResult
    public static func run(store: Store, client: ChatClient, spec: GeneratorSpec, options: GenerateOptions,
                           extraBody: [String: JSONValue] = [:], showProgress: Bool = true) async throws -> GenerateCounts {
        var stage = GenerateStage(db: store.pool, client: client, spec: spec, options: options)
        stage.extraBody = extraBody
        var pending = try stage.pendingDocuments().count
        if let limit = options.limit { pending = min(pending, limit) }
        let config = GenerateRunConfig(
            generator: spec.name, generator_fingerprint: spec.fingerprint, spec: spec, options: options,
            retry: client.retry,
            endpoints: client.endpoints.map {
                .init(url: $0.displayURL, model: $0.model, api_key_env: $0.apiKeyEnv, max_in_flight: $0.maxInFlight,
                      requests_per_minute: $0.requestsPerMinute, tokens_per_minute: $0.tokensPerMinute)
            })
        let run = try StageRun.begin(store, stage: "generate", config: config, inputs: pending)
        let progress = showProgress ? ProgressReporter(label: "generate", total: pending, unit: "docs") : nil
        let firstError = FirstError()
        do {
            var counts = try await stage.run(
                progress: { _ in progress?.advance(by: 1) },
                commit: { outcome, write in
                    try run.commit(processed: 1, skipped: outcome.status == .invalid ? 1 : 0,
                                   failed: outcome.status == .failed ? 1 : 0) { try write($0) }
                    if outcome.status != .ok, let e = outcome.error {
                        run.note("document \(outcome.documentId): \(outcome.status.rawValue): \(e.prefix(300))")
                        firstError.set("document \(outcome.documentId): \(outcome.status.rawValue): \(e.prefix(300))")
                    }
                })
            counts.firstError = firstError.value
            progress?.finish()
            try run.finish(counts: counts.asDictionary)
            return counts
        } catch {
            progress?.finish()
            try? run.fail(error)
            throw error
        }
    }
}

/// The first error message of a run, kept across the stage's commit callbacks.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    var value: String? { lock.lock(); defer { lock.unlock() }; return message }
    func set(_ m: String) { lock.lock(); if message == nil { message = m }; lock.unlock() }
}
