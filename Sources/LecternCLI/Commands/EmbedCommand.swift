import ArgumentParser
import Foundation
import GRDB
import LecternEmbed
import LecternStore

/// `lectern embed FILE [--embedder minilm | --url URL --model NAME]`
struct EmbedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed every document that has no vector yet for the chosen embedder.",
        discussion: """
        The built-in embedder is all-MiniLM-L6-v2 run in Swift (installed on first use into \
        $LECTERN_CACHE/models, see `lectern models install minilm`). With --url, any OpenAI-compatible \
        /v1/embeddings server is used instead (several --url values form a pool of servers of the same model, \
        with load balancing and fail-over); its API key is read from the environment variable named by \
        --api-key-env and never stored. Vectors go into the table lectern_vectors_<dimension> (partitioned by \
        embedder id); several embedders coexist. Re-running after an interruption embeds only what is missing.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: EmbedArguments

    @OptionGroup var sharding: ShardArguments

    func run() async throws {
        var made = PipelineOutputs()
        made.shard = try sharding.spec
        try await sharding.run(file: file, stage: "embed") { store in try await options.run(in: store, made: &made) }
    }
}

/// The options of `lectern embed`, and the `[embed]` section of a recipe.
struct EmbedArguments: PipelineStage {
    static let section = "embed"

    @Option(help: "Built-in embedder.")
    var embedder = BuiltinEmbedder.minilm

    @Option(help: "Base URL of an OpenAI-compatible embeddings server (e.g. http://127.0.0.1:8080); repeat for a pool of servers of the same model.")
    var url: [String] = []

    @Option(help: "Served model name (with --url).")
    var model: String?

    @Option(help: "Environment variable holding the API key (with --url).")
    var apiKeyEnv = "OPENAI_API_KEY"

    @Option(help: "Concurrent requests per server (with --url).")
    var concurrency = 4

    @Option(help: "Texts per request (with --url).")
    var requestBatch = 64

    @Option(help: "Encoder tokens per text for the built-in embedder (truncation length, at most 512).")
    var maxTokens = 256

    @Flag(help: "Built-in embedder: embed long documents as the mean of their 256-token chunks instead of truncating.")
    var meanOfChunks = false

    @Option(help: "Built-in embedder: arithmetic of the linear layers (bf16 needs AVX512_BF16 and is a separate embedder: its vectors never mix with fp32 ones).")
    var precision = Precision.fp32

    @Option(help: "Most documents per transaction.")
    var batchSize = 256

    @Option(help: "Most seconds between two commits: a kill loses at most this much work.")
    var commitSeconds: Double = 5

    func validate() throws {
        if !url.isEmpty, model == nil { throw ValidationError("--url needs --model NAME (the served model)") }
        if !url.isEmpty, precision != .fp32 { throw ValidationError("--precision applies to the built-in embedder only") }
        guard batchSize > 0, concurrency > 0, requestBatch > 0, commitSeconds > 0 else { throw ValidationError("sizes must be positive") }
    }

    /// Embeds and prints the summary; hands on the embedder's fingerprint (what `cluster` reads).
    func run(in store: Store, made: inout PipelineOutputs) async throws {
        let chosen: any Embedder
        let kind: String
        var endpoint: String?
        var remote: OpenAIEmbeddingsClient?
        if !url.isEmpty, let model {
            let urls = try url.map { s -> URL in
                guard let u = URL(string: s), u.host != nil else { throw ValidationError("--url '\(s)' is not a URL") }
                return u
            }
            var o = OpenAIEmbeddingsClient.Options(urls: urls, model: model)
            o.apiKeyVariable = apiKeyEnv
            o.concurrency = concurrency
            o.batchSize = requestBatch
            let client = try OpenAIEmbeddingsClient(options: o)
            remote = client
            chosen = client
            kind = "openai"
            endpoint = client.endpointsDescription
        } else {
            chosen = try MiniLMEmbedder(install: true, maxTokens: maxTokens, longDocuments: meanOfChunks ? .meanOfChunks : .truncate,
                                        precision: precision)
            kind = "builtin"
        }
        let stage = EmbedStage(store: store, embedder: chosen, kind: kind, endpoint: endpoint)
        stage.batchSize = batchSize
        stage.commitInterval = commitSeconds
        let s = try StageRunner.run(stage)
        print("\(store.path): embedder \(s.embedderID) (\(chosen.name), \(chosen.dimension) dims, table \(s.vectorTable)): \(s.embedded) embedded, \(s.alreadyDone) already done")
        if let remote, remote.endpoints.count > 1 {
            let served = await remote.requestsServed()
            let parts = zip(remote.endpoints, served).map { "\($0.absoluteString) \($1)" }
            print("  requests answered per server: " + parts.joined(separator: ", "))
        }
        made.embedder = s.fingerprint
    }
}
