// swift-tools-version: 6.0
// Lectern: domain adaptation of LLMs by extended-text reading comprehension, one SQLite file.
//
// The folder names follow the pipeline (see ARCHITECTURE.md):
//   ingest -> embed -> cluster -> generate | mine -> build -> (train -> evaluate)
// with the store (LecternStore), the text tools (LecternText) and the vector extension
// (LecternVec, also shipped as the loadable library libLecternVec.so) underneath.
import PackageDescription

// The encoder's Swift kernels are compiled for the AVX2+FMA baseline (haswell) on x86-64; other
// CPUs (arm64) build them for their own baseline, so the package builds everywhere.
#if arch(x86_64)
let encoderFlags = ["-O", "-target-cpu", "haswell"]
#else
let encoderFlags = ["-O"]
#endif

let package = Package(
    name: "Lectern",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "lectern", targets: ["LecternCLI"]),
        // The loadable SQLite extension: `.load .build/release/libLecternVec` in the sqlite3 shell.
        // A thin target, so the static Swift runtime goes only into this .so.
        .library(name: "LecternVec", type: .dynamic, targets: ["LecternVecLoadable"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // HTTP for the LLM client: NIO's epoll loop. URLSession on Linux (libcurl driven by
        // libdispatch) spun at ~20% of a core per 4 requests in flight, stolen from a local server.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // NIO's error types, to turn a refused connection into a plain message.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // Recipe files of `lectern run`.
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        // lm-evaluation-harness task YAMLs (`lectern eval import --format lmeval`).
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // Pure Swift, no dependencies: the seeded generator and the vector kernels that the vector
        // extension and clustering share (so it can go into the loadable library too).
        .target(name: "LecternKernels", swiftSettings: [.unsafeFlags(["-O"])]),
        // C shim: sqlite3ext.h routines and macros Swift cannot import (variadics, SQLITE_TRANSIENT).
        .target(name: "CSQLiteExt"),
        // zlib, for gzip-compressed corpora.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

        // Vector similarity extension: knows nothing of Lectern, talks to SQLite only through
        // the sqlite3_api_routines pointer it is handed.
        // Optimised even in debug builds: the scan and k-means loops are ~50x slower at -Onone,
        // which every test that touches a vector table (embed, cluster) would pay.
        .target(name: "LecternVec", dependencies: ["CSQLiteExt", "LecternKernels"], swiftSettings: [.unsafeFlags(["-O"])]),
        // Entry point of the loadable library; -static-stdlib makes it load with no Swift toolchain.
        .target(
            name: "LecternVecLoadable",
            dependencies: ["LecternVec", "CSQLiteExt"],
            linkerSettings: [.unsafeFlags(["-static-stdlib"])]
        ),

        // No SQL: the single copies of what several modules need (fingerprints and canonical JSON,
        // content hashes, timestamps, chat messages, document-text rendering, the JSON scanner, the
        // gzip-aware byte stream, the async bridge).
        .target(name: "LecternCore", dependencies: ["CZlib", .product(name: "Crypto", package: "swift-crypto")]),

        // The one-file store: open, migrate (migrations/ embedded by the plugin), stage bookkeeping.
        .target(
            name: "LecternStore",
            dependencies: [
                "LecternCore", "LecternVec",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            plugins: ["EmbedMigrations"]
        ),
        // Tokenizers, sentence splitting, token counting.
        .target(name: "LecternText"),

        // Pipeline stages, in order.
        .target(name: "LecternIngest", dependencies: ["LecternCore", "LecternStore", "LecternKernels",
                                                      .product(name: "GRDB", package: "GRDB.swift"),
                                                      .product(name: "GRDBSQLite", package: "GRDB.swift")]),
        // The encoder's kernels need FMA/AVX2 codegen and optimisation even in debug builds
        // (the tests run all 1000 PubMedQA abstracts through it). haswell = the AVX2+FMA baseline.
        // HTTP for the OpenAI-compatible clients (chat in LecternGenerate, embeddings in LecternEmbed).
        .target(name: "LecternHTTP", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        // AVX-512 fp32 and AVX512_BF16 GEMM kernels in C (target attributes per function, so the
        // package builds for any x86-64 CPU; LecternEmbed picks them at run time from cpuid).
        .target(name: "CLecternKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(
            name: "LecternEmbed",
            dependencies: ["LecternCore", "LecternStore", "LecternIngest", "LecternText", "LecternHTTP", "CLecternKernels",
                           .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift"),  // incremental blob I/O
                           .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: [.unsafeFlags(encoderFlags)]
        ),
        .target(name: "LecternCluster", dependencies: ["LecternCore", "LecternStore", "LecternKernels", "LecternIngest", "LecternEmbed",
                                                       "LecternTokens", "LecternGenerate"]),
        .target(
            name: "LecternGenerate",
            dependencies: [
                "LecternCore", "LecternStore", "LecternIngest", "LecternHTTP", "LecternKernels",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The target model's tokenizer (`TargetTokenizer`) and the `tokens` stage: token counts
        // of every document, which clustering budgets with and the build packs by.
        .target(name: "LecternTokens", dependencies: ["LecternCore", "LecternStore", "LecternIngest", "LecternGenerate", "LecternText",
                                                      .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "LecternMine", dependencies: ["LecternStore", "LecternIngest", "LecternText", "LecternKernels"]),
        .target(
            name: "LecternBuild",
            dependencies: ["LecternCore", "LecternStore", "LecternText", "LecternTokens", "LecternKernels", "LecternIngest",
                           "LecternMine", "LecternGenerate", "LecternCluster", .product(name: "GRDB", package: "GRDB.swift")]
        ),

        // Training: the PEFT engine (trainer/lectern_train.py) driven as a child process; runs,
        // metrics and checkpoints (adapter tensors, resume state) in the file.
        .target(
            name: "LecternTrain",
            dependencies: ["LecternCore", "LecternStore", "LecternBuild", "LecternTokens", "LecternText",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")]
        ),

        // Evaluation: domain tasks imported into the file, scored by the engine, metrics and report.
        .target(
            name: "LecternEval",
            dependencies: ["LecternCore", "LecternKernels", "LecternStore", "LecternIngest", "LecternTrain", "LecternHTTP",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Yams", package: "Yams")]
        ),

        // The whole file's catalogue (status, the run summary, the report): every module's
        // description of its own tables, in pipeline order.
        .target(
            name: "LecternCatalogue",
            dependencies: ["LecternStore", "LecternIngest", "LecternTokens", "LecternEmbed", "LecternCluster", "LecternGenerate",
                           "LecternMine", "LecternBuild", "LecternTrain", "LecternEval", .product(name: "GRDB", package: "GRDB.swift")]
        ),

        // Beyond one machine: shard files (`--shard I/N`), `lectern merge`, the Slurm launcher's
        // scripts. Every module merges its own tables (its `ShardMergeContributor`); this target
        // only orders them, checks shard files and moves them into place.
        .target(
            name: "LecternShard",
            dependencies: ["LecternCore", "LecternStore", "LecternIngest", "LecternTokens", "LecternEmbed", "LecternCluster",
                           "LecternGenerate", "LecternMine", "LecternBuild", "LecternTrain", "LecternEval",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto")]
        ),

        // `lectern report`: one self-contained HTML page (inline SVG) drawn from the catalogue.
        .target(name: "LecternReport", dependencies: ["LecternStore", "LecternCatalogue", .product(name: "GRDB", package: "GRDB.swift")]),

        // The `lectern` command.
        .executableTarget(
            name: "LecternCLI",
            dependencies: [
                "LecternCore", "LecternStore", "LecternVec", "LecternIngest", "LecternEmbed", "LecternCluster",
                "LecternGenerate", "LecternMine", "LecternTokens", "LecternBuild", "LecternText", "LecternTrain", "LecternEval", "LecternCatalogue",
                "LecternReport", "LecternShard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),

        // Benchmark driver for benchmarks/generate/run.sh (the stage against a live server).
        .executableTarget(
            name: "lectern-generate-bench",
            dependencies: ["LecternGenerate", "LecternStore", .product(name: "GRDB", package: "GRDB.swift")],
            path: "benchmarks/generate/Sources"
        ),
        // Benchmark: LecternText tokenizers vs Rust `tokenizers` (benchmarks/tokenizers/run.sh).
        .executableTarget(name: "lectern-bench-tokenizers", dependencies: ["LecternText"],
                          path: "benchmarks/tokenizers/Bench"),
        // Benchmark: the miner over a directory of raw texts (benchmarks/miner/run.sh).
        .executableTarget(name: "lectern-miner-bench", dependencies: ["LecternMine", "LecternText"], path: "benchmarks/miner/bench"),
        // Benchmark: length-based clustering vs exact-neighbour clustering (benchmarks/cluster/run.sh).
        .executableTarget(name: "lectern-bench-cluster", dependencies: ["LecternCluster", "LecternKernels"]),
        // Benchmark: `lectern merge` of 8 shards against plain SQLite copies (benchmarks/merge/run.sh).
        .executableTarget(name: "lectern-bench-merge", dependencies: ["LecternShard", "LecternStore", "LecternCore", "LecternKernels",
                                                                  .product(name: "GRDB", package: "GRDB.swift")],
                          path: "benchmarks/merge/Bench"),
        // Benchmark: the Swift MiniLM encoder on PubMedQA (benchmarks/embed/run.sh compares it with sentence-transformers).
        .executableTarget(
            name: "EmbedBenchmark", dependencies: ["LecternEmbed"], path: "benchmarks/embed/EmbedBenchmark"
        ),

        // Build-time: turns migrations/*.sql into Swift string constants.
        .executableTarget(name: "EmbedSQL"),
        .plugin(name: "EmbedMigrations", capability: .buildTool(), dependencies: ["EmbedSQL"]),

        // Paths, fixtures and process helpers shared by the test targets.
        .target(name: "LecternTestSupport", dependencies: ["LecternKernels"], path: "Tests/Support"),
        .testTarget(name: "LecternCoreTests", dependencies: ["LecternCore"]),
        .testTarget(name: "LecternKernelsTests", dependencies: ["LecternKernels"]),
        .testTarget(name: "LecternReportTests", dependencies: ["LecternReport", "LecternCatalogue", "LecternStore", "LecternTestSupport",
                                                                .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "LecternCatalogueTests", dependencies: ["LecternCatalogue", "LecternStore", "LecternTestSupport",
                                                                   .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "LecternStoreTests", dependencies: ["LecternCore", "LecternStore", "LecternTestSupport"]),
        .testTarget(name: "LecternIngestTests", dependencies: ["LecternIngest", "LecternCore", "LecternStore", "LecternTestSupport"]),
        .testTarget(
            name: "LecternEvalTests",
            dependencies: ["LecternEval", "LecternTrain", "LecternStore", "LecternTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "LecternTrainTests",
            dependencies: ["LecternTrain", "LecternGenerate", "LecternTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "LecternCLITests",
            dependencies: ["LecternStore", "LecternText", "LecternCluster", "LecternTestSupport",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "LecternVecTests", dependencies: ["LecternVec", "LecternKernels", "LecternStore", "LecternTestSupport"]),
        .testTarget(name: "LecternTextTests", dependencies: ["LecternText", "LecternTestSupport"]),
        .testTarget(name: "LecternEmbedTests", dependencies: ["LecternEmbed", "LecternHTTP", "LecternText", "LecternStore", "LecternTestSupport"],
                    exclude: ["Fixtures", "Reference"]),
        .testTarget(name: "LecternClusterTests", dependencies: ["LecternCluster", "LecternKernels", "LecternStore", "LecternVec", "LecternTestSupport"]),
        .testTarget(
            name: "LecternGenerateTests",
            dependencies: ["LecternGenerate", "LecternCore", "LecternKernels", "LecternStore", "LecternTestSupport", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"]  // the fault-injection server, run as a subprocess
        ),
        .testTarget(name: "LecternMineTests", dependencies: ["LecternMine", "LecternCore", "LecternText", "LecternStore", "LecternTestSupport"]),
        .testTarget(
            name: "LecternBuildTests",
            dependencies: ["LecternBuild", "LecternCore", "LecternKernels", "LecternStore", "LecternText", "LecternTokens", "LecternTestSupport",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
