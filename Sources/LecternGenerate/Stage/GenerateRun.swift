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
        var stage = GenerateStage(store: store, client: client, spec: spec, options: options)
        stage.extraBody = extraBody
        return try await StageRunner.run(GenerateJob(stage: stage, showProgress: showProgress))
    }
}

/// `generate` as an ``AsyncStage``: the pending documents counted in `prepare`, each answer
/// committed with the run's counters.
struct GenerateJob: AsyncStage {
    static let name = "generate"
    let stage: GenerateStage
    let showProgress: Bool
    var store: Store { stage.store }

    func prepare() async throws -> StagePlan<GenerateRunConfig, Void> {
        let options = stage.options, client = stage.client, spec = stage.spec
        var pending = try stage.pendingDocuments().count
        if let limit = options.limit { pending = min(pending, limit) }
        let config = GenerateRunConfig(
            generator: spec.name, generator_fingerprint: spec.fingerprint, spec: spec, options: options,
            retry: client.retry,
            endpoints: client.endpoints.map {
                .init(url: $0.displayURL, model: $0.model, api_key_env: $0.apiKeyEnv, max_in_flight: $0.maxInFlight,
                      requests_per_minute: $0.requestsPerMinute, tokens_per_minute: $0.tokensPerMinute)
            })
        return StagePlan(configuration: config, pendingInputs: pending)
    }

    func execute(_ work: StagePlan<GenerateRunConfig, Void>, in run: StageContext) async throws -> GenerateCounts {
        let progress = showProgress ? ProgressReporter(label: "generate", total: work.pendingInputs, unit: "docs") : nil
        defer { progress?.finish() }
        let firstError = FirstError()
        var counts = try await stage.run(
            progress: { counts in
                progress?.advance(by: 1)
                run.report(counts: counts.asDictionary)
            },
            commit: { outcome, write in
                try run.commit(processed: 1, skipped: outcome.status == .invalid ? 1 : 0,
                               failed: outcome.status == .failed ? 1 : 0) { try write($0) }
                if outcome.status != .ok, let e = outcome.error {
                    run.note("document \(outcome.documentId): \(outcome.status.rawValue): \(e.prefix(300))")
                    firstError.set("document \(outcome.documentId): \(outcome.status.rawValue): \(e.prefix(300))")
                }
            })
        counts.firstError = firstError.value
        return counts
    }
}

extension GenerateCounts: StageOutput {
    public var counts: [String: Int] { asDictionary }
}

/// The first error message of a run, kept across the stage's commit callbacks.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    var value: String? { lock.lock(); defer { lock.unlock() }; return message }
    func set(_ m: String) { lock.lock(); if message == nil { message = m }; lock.unlock() }
}
