import ArgumentParser
import Foundation
import GRDB
import LecternBuild
import LecternGenerate
import LecternStore

/// `lectern export sft FILE OUT --generator NAME`, `lectern export set FILE OUTDIR --set NAME`
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write datasets out of the file.",
        subcommands: [ExportSFTCommand.self, ExportSetCommand.self, ExportAdapterCommand.self])
}

/// `lectern export sft FILE OUT.jsonl --generator NAME`
struct ExportSFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft",
        abstract: "A generator's question-answer pairs as a chat-format SFT dataset (JSONL), to distil a student generator.",
        discussion: """
        One line per document: {"messages": [{"role": "user", "content": the prompt the generator was sent}, \
        {"role": "assistant", "content": the JSON list of its accepted pairs}], "document_id": N, "generator": NAME}.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @Argument(help: "Output JSONL file (replaced).")
    var output: String

    @Option(help: "Generator name (or a fingerprint prefix when the name is ambiguous).")
    var generator: String

    func run() throws {
        let store = try Store.open(path: file, access: .read)
        let n = try store.pool.read { db in try SFTExport.write(db, generator: generator, to: output) }
        print("\(output): \(n) conversations from generator \(generator)")
    }
}

/// `lectern export set FILE OUTDIR --set NAME [--format text,messages,input-ids | all]`
struct ExportSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "A training set as JSONL files for LLaMA-Factory, axolotl and TRL, plus LLaMA-Factory's dataset_info.json.",
        discussion: """
        Writes OUTDIR/<name>.<format>.jsonl for each format, each file replaced atomically:
          text       {"text": ...} per example (continued pre-training; LLaMA-Factory pt, axolotl completion, TRL)
          messages   {"messages": [{"role": ..., "content": ...}, ...]} per chat example (SFT)
          input-ids  {"input_ids": [...], "attention_mask": [...], "labels": [...]} (pre-tokenised; axolotl, TRL)
        and merges <name>_text / <name>_messages entries into OUTDIR/dataset_info.json (other entries kept).
        The set is the newest complete set of that name, or the one whose fingerprint starts with NAME.
        See docs/build.md, "Exports", for the engines' configs.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: ExportArguments

    func validate() throws {
        if options.set == nil { throw ValidationError("--set NAME is required (a training set name or fingerprint prefix)") }
    }

    func run() async throws {
        // A file this user cannot write is still exported (as `status` and `sql` inspect it); only
        // the stage run that records the export is left out.
        if FileManager.default.fileExists(atPath: file), !FileManager.default.isWritableFile(atPath: file) {
            guard let set = options.set else { return }
            let store = try Store.open(path: file, access: .read)
            let formats = try options.formats(), dir = options.dir
            let summary = try await store.pool.read { db in
                try TrainingSetExport.export(db, set: set, formats: formats, to: dir,
                                             progress: ProgressReporter(label: "export", total: nil, unit: "examples"))
            }
            ExportArguments.printSummary(summary)
            FileHandle.standardError.write(Data("export: \(file) is read-only: the export is not recorded in it\n".utf8))
            return
        }
        var made = PipelineOutputs()
        try await options.run(in: try Store.open(path: file), made: &made)
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 10_000_000 ? String(format: "%.0f MB", Double(bytes) / 1e6)
            : bytes >= 10_000 ? String(format: "%.0f kB", Double(bytes) / 1e3) : "\(bytes) bytes"
    }
}

/// The options of `lectern export set`, and the `[export]` section of a recipe.
struct ExportArguments: PipelineStage {
    static let section = "export"
    static let positionalKeys = ["dir"]
    static let pathKeys: Set<String> = ["dir"]
    static let inputPathKeys: Set<String> = []

    @Argument(help: "Output folder (created if missing).")
    var dir: String

    @Option(help: "Training set name (the newest complete set of that name) or a fingerprint prefix (in a pipeline: the set `build` made).")
    var set: String?

    @Option(help: "Formats, comma-separated or repeated: text, messages, input-ids; or all. Default: every format the set has (text, plus messages for chat sets, plus input-ids when token ids were stored).")
    var format: [String] = []

    func validate() throws {
        do { _ = try formats() } catch { throw ValidationError("\(error)") }
    }

    func formats() throws -> [TrainingSetExportFormat]? {
        if format.isEmpty { return nil }
        var all: [TrainingSetExportFormat] = []
        for f in format {
            guard let list = try TrainingSetExportFormat.parseList(f) else { return nil }  // "all"
            all += list.filter { !all.contains($0) }
        }
        return all
    }

    mutating func handOn(_ made: PipelineOutputs) {
        if set == nil { set = made.trainingSetFingerprint }
    }

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        guard let set else { throw CLIError("export: no training set: give --set NAME") }
        let progress = ProgressReporter(label: "export", total: nil, unit: "examples")
        let summary = try StageRunner.run(TrainingSetExport.Job(store: store, set: set, formats: try formats(), directory: dir, progress: progress))
        Self.printSummary(summary)
    }

    static func printSummary(_ summary: TrainingSetExportSummary) {
        let s = summary.set
        print("training set \(s.name) (fingerprint \(s.fingerprint.prefix(12)), \(s.recipe), created \(s.createdAt))")
        for f in summary.files {
            print("\(f.path): \(f.rows) examples, \(ExportSetCommand.size(f.bytes)) (\(f.format))")
        }
        if let info = summary.datasetInfoPath {
            print("\(info): entries \(summary.datasetInfoEntries.joined(separator: ", "))")
        }
        let rate = summary.seconds > 0 ? Double(summary.totalBytes) / 1e6 / summary.seconds : 0
        print(String(format: "%.2f s, %.0f MB/s", summary.seconds, rate))
    }
}
