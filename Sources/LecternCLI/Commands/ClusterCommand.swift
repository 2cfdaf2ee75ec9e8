import ArgumentParser
import Foundation
import GRDB
import LecternCluster
import LecternStore
import LecternBuild
import LecternTokens

/// `lectern cluster FILE --embedder NAME [--tokenizer NAME] [--generator NAME | --qa-budget N] ... [--report]`
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Group similar documents so that each group with its QA pairs fits the context (Algorithm 1 of arXiv 2401.07284, or a kNN-graph walk).",
        usage: """
            lectern cluster <file> --embedder <embedder> [--tokenizer <tokenizer>] [--generator <generator>] [<options>]
                   lectern cluster <file> --report
            """,
        discussion: """
        Lengths are the tokenizer's token counts of each document plus its QA pairs (with --generator), \
        or plus a reserved --qa-budget for documents without pairs (clustering before generation). \
        Resumable: re-run the same command after an interruption and it finishes the same clustering; \
        new documents, QA pairs or options make a new clustering. --report prints the quality report \
        (mean intra-cluster similarity, fill, sizes, and a random grouping as the baseline).
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: ClusterArguments

    @Flag(help: "Print the quality report (of this clustering, or of the latest complete one when no --embedder is given).")
    var report = false

    func validate() throws {
        if options.embedder == nil && !report { throw ValidationError("--embedder is required (or --report alone to show the latest clustering's report)") }
    }

    func run() async throws {
        let store = try Store.open(path: file)
        guard options.embedder != nil else {
            guard let (id, r) = try ClusterStage.storedReport(store) else {
                throw CLIError("\(file) has no complete clustering yet: run `lectern cluster \(file) --embedder NAME` first")
            }
            print("clustering \(id)\n" + r.text())
            return
        }
        var options = options
        options.report = options.report || report
        var made = PipelineOutputs()
        try await options.run(in: store, made: &made)
    }
}

/// The options of `lectern cluster`, and the `[cluster]` section of a recipe.
struct ClusterArguments: PipelineStage {
    static let section = "cluster"

    @Option(help: "Embedder whose vectors to use (name, id or fingerprint prefix). Required, except with --report alone.")
    var embedder: String?

    @Option(help: "Tokenizer whose token counts measure lengths (name, id or fingerprint prefix). Default: the file's tokenizer when it holds exactly one; else about 4 characters a token.")
    var tokenizer: String?

    @Option(help: "Generator whose QA pairs count in each document's length (name, id or fingerprint prefix).")
    var generator: String?

    @Option(name: .customLong("qa-template"), help: "The build's QA template ({question}, {answer}; \\n for a newline): what each QA pair adds to a document's length beyond its question and answer, once `lectern tokens` has counted the pairs. Give the same as to `lectern build`.")
    var qaTemplate = EscapedText(BuildOptions.defaultQATemplate)

    @Option(name: .customLong("qa-budget"), help: "Tokens reserved for the QA pairs of a document without pairs (default: measured from the pairs already generated, else 0).")
    var qaBudget: Int?

    @Option(help: "length: the paper's Algorithm 1; knn-walk: the kNN-graph walk of In-Context Pretraining, under the same budget.")
    var algorithm: ClusterStage.Algorithm = .length

    @Option(name: .customLong("lmax"), help: "Lmax: token budget of a cluster.")
    var maxTokens: Int = 2048

    @Option(name: .customLong("dmax"), help: "Dmax: most documents in a cluster.")
    var maxDocuments: Int = 16

    @Option(help: "Cosine similarity below which a cluster stops growing.")
    var threshold: Float = 0.7

    @Option(help: "Seed of the random seed-document choice.")
    var seed: UInt64 = 0

    @Option(name: .customLong("similarity-to"), help: "What closeness is measured to: the cluster's seed document, or the mean of its members so far.")
    var similarityTo: SimilarityTarget = .seed

    @Option(help: "A document longer than Lmax: a cluster of its own, or an error naming it.")
    var oversize: OversizePolicy = .singleton

    @Option(help: "A close document that does not fit: stop the cluster (the paper), or skip it and try the next closest.")
    var overflow: OverflowPolicy = .stop

    @Option(help: "How the closest remaining document is found: exact, an IVF index, or auto (exact for small inputs, IVF above).")
    var search: NeighbourSearch = .auto

    @Option(help: "IVF lists searched per query (default: exact for --search ivf, 8 for auto on large inputs).")
    var probes: Int?

    @Option(help: "knn-walk: neighbours per document.")
    var k: Int = 16

    @Option(help: ArgumentHelp("Clusters written per transaction.", visibility: .hidden))
    var batchClusters = 2000

    /// Set by the command's --report.
    var report = false

    func validate() throws {
        guard qaTemplate.value.contains("{question}"), qaTemplate.value.contains("{answer}") else {
            throw ValidationError("--qa-template must contain {question} and {answer}")
        }
        guard batchClusters > 0 else { throw ValidationError("--batch-clusters must be positive") }
    }

    /// The tokenizer to measure lengths with: the one given, else the file's only tokenizer (said
    /// on stderr), else nil (an estimate of 4 characters a token, with a warning).
    static func defaultTokenizer(_ store: Store, given: String?, log: (String) -> Void) throws -> String? {
        if let given { return given }
        let rows = try store.pool.read { db in
            try TokenCounts.tokenizers(db)
        }
        if rows.count == 1 {
            let name = rows[0].name, fp = rows[0].fingerprint
            log("lengths in tokens of '\(name)' (\(fp.prefix(12))), the file's only tokenizer")
            return fp
        }
        if rows.isEmpty {
            log("no tokenizer in the file: lengths are estimated at 4 characters a token (run `lectern tokens` for exact counts)")
        } else {
            let names = rows.map(\.name).joined(separator: ", ")
            log("the file holds \(rows.count) tokenizers (\(names)): lengths are estimated at 4 characters a token; choose one with --tokenizer")
        }
        return nil
    }

    /// In a pipeline: the vectors `embed` made, the tokenizer `tokens` counted with, the pairs
    /// `generate` made.
    mutating func handOn(_ made: PipelineOutputs) {
        if embedder == nil { embedder = made.embedder }
        if tokenizer == nil { tokenizer = made.tokenizer }
        if generator == nil { generator = made.generator }
    }

    /// Runs the stage and prints its summary; hands on the clustering it made or found complete.
    func run(in store: Store, made: inout PipelineOutputs) async throws {
        guard let embedder else {
            throw CLIError("cluster: no embedder: give --embedder (or run `lectern embed` first in a pipeline)")
        }
        var o = ClusterOptions(maxTokens: maxTokens, maxDocuments: maxDocuments, threshold: threshold, seed: seed)
        o.similarityTo = similarityTo
        o.oversize = oversize
        o.overflow = overflow
        o.search = search
        o.ivfMaxProbes = probes
        var w = GraphWalkClustering.Options()
        w.k = k
        w.graph = o.search
        if let probes { w.ivfProbes = probes }
        let log: (String) -> Void = { FileHandle.standardError.write(Data(("cluster: " + $0 + "\n").utf8)) }
        let tokenizer = try Self.defaultTokenizer(store, given: tokenizer, log: log)
        var source = ClusterInputReader.Source(embedder: embedder, tokenizer: tokenizer, generator: generator, qaBudget: qaBudget)
        if generator != nil, let tokenizer {
            // What a pair adds beyond its stored question and answer counts, under the same tokenizer.
            if let tok = try TargetTokenizer.recorded(store, reference: tokenizer) {
                source.qaPairOverhead = QATemplate.ownTokens(template: qaTemplate.value, separator: BuildOptions.defaultPartSeparator,
                                                             count: tok.count)
            } else {
                log("tokenizer \(tokenizer): its file is gone or changed; QA pairs count without the template's own tokens")
            }
        }
        let result = try ClusterStage.run(
            store, source: source, algorithm: algorithm, options: o, walk: w,
            batchClusters: batchClusters, log: log)
        print("clustering \(result.clusteringID): \(result.clusters) clusters of \(result.documents) documents\(result.reused ? " (already complete)" : ", \(result.written) written")")
        if !result.skipped.isEmpty { print("skipped \(result.skipped.count) documents, first: \(result.skipped[0])") }
        if report, let r = result.report { print(r.text()) }
        made.clusteringID = result.clusteringID
    }
}
