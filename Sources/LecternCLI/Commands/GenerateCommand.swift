import ArgumentParser
import Foundation
import LecternCatalogue
import LecternCore
import LecternGenerate
import LecternStore
import LecternTrain

/// `lectern generate FILE --endpoint URL --model NAME [--name NAME] ...`
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Ask an LLM for question-answer pairs about each document (any OpenAI-compatible server).",
        discussion: """
        The default prompt is the paper's, verbatim (template paper-v1). Every request is logged in the file \
        (llm_requests): an interrupted run resumes with what has no answer yet; failed requests are retried on \
        re-run until --max-attempts. Several --endpoint values form a pool with load balancing and fail-over. \
        API keys are read from the environment variable named by --api-key-env, never stored. \
        Use --sample N --seed S for the teacher subset, then `lectern export sft` to distil a student.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: GenerateArguments

    @OptionGroup var sharding: ShardArguments

    func run() async throws {
        var made = PipelineOutputs()
        made.shard = try sharding.spec
        try await sharding.run(file: file, stage: "generate") { store in try await options.run(in: store, made: &made) }
    }
}

/// The options of `lectern generate`, and the `[generate]` section of a recipe (used when
/// `qa.source` is `llm`).
struct GenerateArguments: PipelineStage {
    static let section = "generate"
    static let pathKeys: Set<String> = ["template"]

    @Option(help: "Base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (repeat for a pool).")
    var endpoint: [String]

    @Option(help: "Served model name.")
    var model: String

    @Option(help: "Generator name recorded in the file (default: the model name).")
    var name: String?

    @Option(help: "Domain filled into {DOMAIN} (default: the file's domain).")
    var domain: String?

    @Option(help: "A prompt template file with {DOCUMENT} (and optionally {DOMAIN}); default: the paper's prompt.")
    var template: String?

    @Option(help: "Version label of --template (default: derived from its text).")
    var templateVersion: String?

    @Option(help: "Optional system message.")
    var systemPrompt: String?

    @Option(help: "Maximum tokens per answer.")
    var maxTokens = 512

    @Option(help: "Sampling temperature.")
    var temperature = 0.0

    @Option(help: "Nucleus sampling top_p.")
    var topP: Double?

    @Option(help: "Sampling seed sent to the server.")
    var samplingSeed: Int?

    @Option(help: "The requests' response_format: json_schema (a list of question/answer objects: llama.cpp, vLLM), json_schema_object (the list in {\"pairs\": ...}, for OpenAI strict), json_object (valid JSON, shape unchecked), none (the tolerant parser copes).")
    var responseFormat = ResponseFormatMode.jsonSchema

    @Option(help: "Schema bound: at most this many pairs per document.")
    var maxItems = 5

    @Option(help: "Schema bound: question length in characters.")
    var maxQuestionLength = 300

    @Option(help: "Schema bound: answer length in characters.")
    var maxAnswerLength = 600

    @Option(help: "Cut documents longer than this many characters before prompting.")
    var maxDocumentChars: Int?

    @Option(help: "Only this many documents, picked by --seed (the teacher subset).")
    var sample: Int?

    @Option(help: "Seed of --sample.")
    var seed: UInt64 = 0

    @Option(help: "Requests in flight (default: the sum of --max-in-flight over endpoints).")
    var concurrency: Int?

    @Option(help: "Requests in flight per endpoint.")
    var maxInFlight = 4

    @Option(help: "Requests per minute per endpoint.")
    var rpm: Int?

    @Option(help: "Tokens per minute per endpoint.")
    var tpm: Int?

    @Option(help: "Name of the environment variable holding the API key (e.g. OPENAI_API_KEY).")
    var apiKeyEnv: String?

    @Option(help: "Seconds to wait for one response.")
    var timeout = 600.0

    @Option(help: "HTTP attempts per request within this run.")
    var retries = 5

    @Option(help: "Stop retrying a document once its attempts (all runs) reach this.")
    var maxAttempts = 12

    @Option(help: "Send at most this many requests in this run.")
    var limit: Int?

    @Option(help: "The served model applies this training run's checkpoint (id or fingerprint prefix): a student generator. Recorded in the generator (its own fingerprint), so the report can compare it with its teacher.")
    var adapter: String?

    @Option(help: "With --adapter: the checkpoint's step (default: the run's last).")
    var adapterStep: Int?

    @Option(help: "llama.cpp only: false turns the server's prompt cache off (benchmarks).")
    var cachePrompt: Bool?

    @Option(help: "Fail when fewer than this share (0 to 1) of the requests sent in this run succeeded (default: fail only when none did). The answers received are kept either way.")
    var minOk: Double?

    func validate() throws {
        guard !endpoint.isEmpty else { throw ValidationError("give at least one --endpoint URL") }
        for e in endpoint {
            guard let u = URL(string: e), u.scheme == "http" || u.scheme == "https", u.host != nil else {
                throw ValidationError("--endpoint \(e) is not an http(s) URL")
            }
            guard u.user == nil, u.password == nil else {
                throw ValidationError("--endpoint \(e) holds credentials: put the key in an environment variable and name it with --api-key-env")
            }
        }
        guard maxTokens > 0, maxItems > 0, maxInFlight > 0, retries > 0, maxAttempts > 0, timeout > 0 else {
            throw ValidationError("--max-tokens, --max-items, --max-in-flight, --retries, --max-attempts and --timeout must be positive")
        }
        if let sample, sample < 1 { throw ValidationError("--sample must be positive") }
        if let minOk, !(0...1).contains(minOk) { throw ValidationError("--min-ok must be between 0 and 1, got \(minOk)") }
    }

    /// Runs the stage and prints its summary line; hands on the generator's fingerprint. A run in
    /// which too few requests succeeded (``minOk``), or a generator left with no pair at all, is an
    /// error: building a set without its QA pairs would look like success.
    func run(in store: Store, made: inout PipelineOutputs) async throws {
        guard let domain = domain ?? store.domain else {
            throw ValidationError("the file has no domain: give --domain")
        }
        var promptTemplate = PromptTemplate.paper
        if let template {
            guard let text = FileManager.default.contents(atPath: template).map({ String(decoding: $0, as: UTF8.self) }) else {
                throw ValidationError("cannot read the template file \(template)")
            }
            promptTemplate = try PromptTemplate(text: text, version: templateVersion)
        }
        let params = GenerationParams(
            domain: domain, maxTokens: maxTokens, temperature: temperature, topP: topP, seed: samplingSeed,
            responseFormat: responseFormat,
            schema: QASchema(maxItems: maxItems, maxQuestionLength: maxQuestionLength, maxAnswerLength: maxAnswerLength),
            systemPrompt: systemPrompt, maxDocumentChars: maxDocumentChars)
        var paramsWithAdapter = params
        if let adapter {
            paramsWithAdapter.adapter = try await store.pool.read { db in
                let located = try Adapters.locate(db, run: adapter, step: adapterStep)
                return AdapterSource(checkpoint: located.checkpointID, run: located.runID, step: located.step)
            }
        }
        let spec = GeneratorSpec(name: name ?? model, model: model, template: promptTemplate, params: paramsWithAdapter)
        let endpoints = endpoint.map {
            Endpoint(baseURL: URL(string: $0)!, model: model, apiKeyEnv: apiKeyEnv, maxInFlight: maxInFlight,
                     requestsPerMinute: rpm, tokensPerMinute: tpm, timeout: timeout)
        }
        let client = try ChatClient(endpoints: endpoints, retry: RetryPolicy(maxAttempts: retries))
        let options = GenerateOptions(sample: sample, seed: seed, maxAttempts: maxAttempts, concurrency: concurrency,
                                      limit: limit)
        let extra: [String: JSONValue] = cachePrompt.map { ["cache_prompt": .bool($0)] } ?? [:]
        let counts = try await GenerateStage.run(store: store, client: client, spec: spec, options: options, extraBody: extra)
        var line = "\(spec.name): \(counts.requests) requests: \(counts.ok) ok, \(counts.invalid) invalid, "
            + "\(counts.failed) failed; \(counts.pairs) pairs; \(counts.promptTokens) prompt + \(counts.completionTokens) completion tokens"
        if !counts.rejected.isEmpty {
            line += "; rejected: " + counts.rejected.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
        print(line)
        if counts.failed > 0 { print("re-run the same command to retry the failed requests") }
        try check(counts, store: store, spec: spec)
        made.generator = spec.fingerprint
    }

    private func check(_ counts: GenerateCounts, store: Store, spec: GeneratorSpec) throws {
        let first = counts.firstError.map { "; first error: \($0)" } ?? ""
        if counts.requests > 0 {
            let share = Double(counts.ok) / Double(counts.requests)
            if counts.ok == 0 || share < (minOk ?? 0) {
                throw CLIError("generate: \(counts.requests) requests: \(counts.ok) ok, \(counts.invalid) invalid, \(counts.failed) failed "
                    + "(\(Int((share * 100).rounded()))% ok\(minOk.map { ", below min_ok = \($0)" } ?? ""))\(first). "
                    + "Check the endpoint and model, then re-run: the answers already received are kept.")
            }
        }
        let pairs = try store.pool.read { db in
            let generator = try RowReference.resolve(db, table: "generators", kind: "generator", spec.fingerprint)
            return try LecternCatalogue.read(db).artifactRows("QA pairs", id: generator.id)
        }
        if pairs == 0 {
            throw CLIError("generate: generator \(spec.name) has no QA pairs in \(store.path)\(first); nothing to build a QA set from")
        }
    }
}
