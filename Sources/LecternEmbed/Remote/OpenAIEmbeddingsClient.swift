import Foundation
import LecternCore
import LecternHTTP

/// An ``Embedder`` backed by any OpenAI-compatible `POST /v1/embeddings` server
/// (text-embeddings-inference, vLLM, OpenAI, `llama-server --embeddings`).
///
/// Texts go out in batches of `batchSize`, up to `concurrency` requests at once per server.
/// Several URLs (servers of the same model) form a pool: each batch goes to the least-loaded
/// healthy server, and a failed attempt is retried on another one while the failed one cools
/// down, so a dead server costs an attempt, never a batch. 429, 5xx, timeouts and dropped
/// connections are retried with exponential backoff and full jitter, never sooner than the
/// server's `Retry-After`. Results are put back in input order by their
/// `index`. The API key is read from the environment variable `apiKeyVariable` at request
/// time; it is sent only as `Authorization: Bearer`, never logged, stored or fingerprinted.
///
/// HTTP goes through ``NIOHTTPTransport`` (AsyncHTTPClient), shared with the chat client: it
/// idles while a server computes, which URLSession on Linux does not.
public final class OpenAIEmbeddingsClient: Embedder, @unchecked Sendable {
    /// Connection and batching settings.
    public struct Options: Sendable {
        /// Base URLs (`http://host:8080`, `.../v1`, or the full `.../v1/embeddings`) of one or
        /// more servers of the same model; several form a pool.
        public var urls: [URL]
        /// The served model name, sent as `model`.
        public var model: String
        /// Environment variable holding the API key (absent or empty: no Authorization header).
        public var apiKeyVariable = "OPENAI_API_KEY"
        public var batchSize = 64
        /// Requests in flight per server.
        public var concurrency = 4
        public var maxAttempts = 6
        /// First backoff; doubles per attempt, capped at `maxBackoff`, full jitter.
        public var initialBackoff: TimeInterval = 0.5
        public var maxBackoff: TimeInterval = 30
        public var timeout: TimeInterval = 120
        /// Expected vector length; probed with one request when nil.
        public var dimension: Int?
        public init(url: URL, model: String) { self.init(urls: [url], model: model) }
        public init(urls: [URL], model: String) { self.urls = urls; self.model = model }
    }

    /// What determines the vectors: the model and its dimension (not the endpoint, which may
    /// change between runs of the same served model, and never the key).
    struct Fingerprinted: Codable { var kind = "openai"; var model: String; var dimension: Int }

    public let options: Options
    /// The `/v1/embeddings` URL of each server, in the order given.
    public let endpoints: [URL]
    /// The first server's: the one a single-server client talks to.
    public var endpoint: URL { endpoints[0] }
    /// The servers as recorded with the embedder in the file (space-separated).
    public var endpointsDescription: String { endpoints.map(\.absoluteString).joined(separator: " ") }
    public let dimension: Int
    public var name: String { options.model }
    public let configJSON: String
    public let fingerprint: String
    private let transport: HTTPTransport
    private let pool: EndpointPool

    /// Connects (probing the dimension if not given).
    public init(options: Options) throws {
        guard options.batchSize > 0, options.concurrency > 0, options.maxAttempts > 0 else {
            throw EmbedError.invalidArgument("batch size, concurrency and attempts must be positive")
        }
        guard !options.urls.isEmpty else { throw EmbedError.invalidArgument("no embeddings server URL given") }
        for url in options.urls {
            guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
                throw EmbedError.invalidArgument("embeddings URL '\(url.absoluteString)' is not http(s)")
            }
        }
        self.options = options
        let endpoints = options.urls.map(Self.embeddingsEndpoint)
        guard Set(endpoints).count == endpoints.count else {
            throw EmbedError.invalidArgument("an embeddings server URL is given twice: \(endpoints.map(\.absoluteString))")
        }
        self.endpoints = endpoints
        let transport = NIOHTTPTransport(maxConnectionsPerHost: options.concurrency * endpoints.count)
        self.transport = transport
        let pool = EndpointPool(endpoints.map { _ in EndpointLimits(maxInFlight: options.concurrency) })
        self.pool = pool
        var dim = options.dimension ?? 0
        if options.dimension == nil {
            let probe = try runBlocking {
                try await Self.request(["dimension probe"], transport: transport, endpoints: endpoints, pool: pool, options: options)
            }
            dim = probe.vectors[0].count
        }
        guard dim > 0 else { throw EmbedError.remote("\(endpoints[0]) returned an empty embedding") }
        dimension = dim
        configJSON = (try? Fingerprint.canonicalJSON(Fingerprinted(model: options.model, dimension: dim))) ?? "{}"
        fingerprint = Fingerprint.hex(of: Array(configJSON.utf8))
    }

    static func embeddingsEndpoint(_ url: URL) -> URL {
        let path = url.path
        if path.hasSuffix("/embeddings") { return url }
        if path.hasSuffix("/v1") || path.hasSuffix("/v1/") { return url.appendingPathComponent("embeddings") }
        return url.appendingPathComponent("v1").appendingPathComponent("embeddings")
    }

    /// Blocks the calling thread until done; call it from ordinary threads (the CLI), not from
    /// inside Swift concurrency's cooperative pool (use ``embedAsync(_:)`` there).
    public func embed(_ texts: [String]) throws -> [Float] {
        try runBlocking { try await self.embedAsync(texts) }
    }

    /// Requests each server has answered so far (the probe included), in the order of `endpoints`.
    public func requestsServed() async -> [Int] { await pool.servedCounts() }

    /// The vectors of `texts`, flat, in input order.
    public func embedAsync(_ texts: [String]) async throws -> [Float] {
        if texts.isEmpty { return [] }
        let (transport, endpoints, pool, options, dimension) = (self.transport, self.endpoints, self.pool, self.options, self.dimension)
        let size = options.batchSize
        let batches = stride(from: 0, to: texts.count, by: size).map { $0..<min(texts.count, $0 + size) }
        var out = [Float](repeating: 0, count: texts.count * dimension)
        try await withThrowingTaskGroup(of: (Int, Answer).self) { group in
            var next = 0
            func launch() {
                let b = next
                next += 1
                let slice = Array(texts[batches[b]])
                group.addTask { (b, try await Self.request(slice, transport: transport, endpoints: endpoints, pool: pool, options: options)) }
            }
            while next < min(options.concurrency * endpoints.count, batches.count) { launch() }
            while let (b, reply) = try await group.next() {
                for (k, v) in reply.vectors.enumerated() {
                    guard v.count == dimension else {
                        throw EmbedError.remote("\(reply.endpoint) returned a vector of length \(v.count), expected \(dimension)")
                    }
                    let row = batches[b].lowerBound + k
                    out.replaceSubrange((row * dimension)..<((row + 1) * dimension), with: v)
                }
                if next < batches.count { launch() }
            }
        }
        return out
    }

    struct Response: Decodable {
        struct Item: Decodable { let index: Int; let embedding: [Float] }
        let data: [Item]
    }

    /// The vectors of one batch and the server that gave them.
    struct Answer: Sendable { var vectors: [[Float]]; var endpoint: URL }

    /// One batch, with retries on the pool's servers (another one than the one that just
    /// failed when there is one); vectors ordered by `index`.
    static func request(_ texts: [String], transport: HTTPTransport, endpoints: [URL], pool: EndpointPool,
                        options: Options) async throws -> Answer {
        var headers = ["Content-Type": "application/json", "Accept": "application/json"]
        if let key = ProcessInfo.processInfo.environment[options.apiKeyVariable], !key.isEmpty {
            headers["Authorization"] = "Bearer \(key)"
        }
        let body = try JSONSerialization.data(withJSONObject: ["model": options.model, "input": texts, "encoding_format": "float"])
        var lastProblem = ""
        var avoid = Set<Int>()
        for attempt in 0..<options.maxAttempts {
            let lease = await pool.acquire(estimatedTokens: 0, avoid: avoid)
            let endpoint = endpoints[lease.index]
            var retryAfter: TimeInterval?
            let reply: HTTPReply
            do {
                reply = try await transport.post(endpoint, headers: headers, body: body, timeout: options.timeout)
            } catch is CancellationError {
                await pool.release(lease, usedTokens: nil, failed: nil, retryAfter: nil)
                throw CancellationError()
            } catch {
                // Timeouts, refused or dropped connections: worth another attempt.
                switch HTTPAttemptFailure(error) {
                case .timeout: lastProblem = "\(endpoint): no response within \(options.timeout) s"
                case .transport(let message): lastProblem = "\(endpoint): \(message)"
                }
                reply = HTTPReply(status: 0, headers: [:], body: Data())
            }
            if reply.status == 200 {
                do {
                    let vectors = try decode(reply.body, count: texts.count, endpoint: endpoint)
                    await pool.release(lease, usedTokens: nil, failed: false, retryAfter: nil)
                    return Answer(vectors: vectors, endpoint: endpoint)
                } catch {
                    // A server that answers garbage is not to be trusted with the next batch either.
                    await pool.release(lease, usedTokens: nil, failed: true, retryAfter: nil)
                    throw error
                }
            }
            if reply.status != 0 {
                let text = String(decoding: reply.body.prefix(300), as: UTF8.self)
                lastProblem = "\(endpoint): HTTP \(reply.status): \(text)"
                guard reply.status == 429 || reply.status == 408 || (500...599).contains(reply.status) else {
                    // The request's own fault (400, 413, ...): another server would refuse it too.
                    await pool.release(lease, usedTokens: nil, failed: nil, retryAfter: nil)
                    throw EmbedError.remote("\(endpoint) answered HTTP \(reply.status): \(text)")
                }
                retryAfter = reply.retryAfter
            }
            await pool.release(lease, usedTokens: nil, failed: true, retryAfter: retryAfter)
            if endpoints.count > 1 { avoid.insert(lease.index) }
            if avoid.count == endpoints.count { avoid.removeAll() }
            if attempt + 1 == options.maxAttempts { break }
            // Another server not yet tried for this batch takes it at once; backoff is for when
            // every server has failed it (or there is only one).
            if !avoid.isEmpty { continue }
            let cap = min(options.maxBackoff, options.initialBackoff * pow(2, Double(attempt)))
            let delay = max(retryAfter ?? 0, Double.random(in: 0...cap))
            try await Task.sleep(nanoseconds: UInt64(delay * 1e9))
        }
        let servers = endpoints.count == 1 ? "\(endpoints[0])" : "\(endpoints.count) embeddings servers"
        throw EmbedError.remote("\(servers) failed after \(options.maxAttempts) attempts; last: \(lastProblem)")
    }

    static func decode(_ data: Data, count: Int, endpoint: URL) throws -> [[Float]] {
        guard let r = try? JSONDecoder().decode(Response.self, from: data) else {
            throw EmbedError.remote("\(endpoint) returned a body without data[].index/embedding: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        var vectors = [[Float]?](repeating: nil, count: count)
        for item in r.data {
            guard (0..<count).contains(item.index), vectors[item.index] == nil else {
                throw EmbedError.remote("\(endpoint) returned index \(item.index) out of range or twice for \(count) inputs")
            }
            vectors[item.index] = item.embedding
        }
        guard vectors.allSatisfy({ $0 != nil }) else { throw EmbedError.remote("\(endpoint) returned \(r.data.count) vectors for \(count) inputs") }
        return vectors.map { $0! }
    }
}

