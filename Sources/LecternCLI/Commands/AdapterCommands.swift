import ArgumentParser
import Foundation
import LecternStore
import LecternTrain

/// `lectern export adapter FILE DIR --run R [--step S] [--format peft|gguf]`
struct ExportAdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapter",
        abstract: "A training run's LoRA adapter (its last checkpoint, or --step) as a PEFT folder, or as a GGUF adapter for llama-server.",
        discussion: """
        peft writes DIR/adapter_config.json and DIR/adapter_model.safetensors (written by Lectern from the stored \
        tensors, bit for bit): PeftModel.from_pretrained(base, DIR) loads it, and vLLM with --enable-lora \
        --max-lora-rank 256 on the Hugging Face base. gguf also converts it with llama.cpp's convert_lora_to_gguf.py \
        into DIR/adapter.gguf, served by `llama-server -m BASE.gguf --lora DIR/adapter.gguf`.
        """)

    enum Format: String, CaseIterable, ExpressibleByArgument { case peft, gguf }

    @Argument(help: "The Lectern file.")
    var file: String

    @Argument(help: "Output folder (created if missing; its adapter files are replaced).")
    var dir: String

    @Option(name: .customLong("run"), help: "Training run: id or fingerprint prefix (`lectern status` lists them).")
    var runReference: String

    @Option(help: "Checkpoint step (default: the run's last checkpoint).")
    var step: Int?

    @Option(help: "peft, or gguf (the PEFT folder plus adapter.gguf).")
    var format = Format.peft

    func run() throws {
        let store = try Store.open(path: file, access: .read)
        let located = try store.pool.read { db in try Adapters.locate(db, run: runReference, step: step) }
        try Adapters.exportPEFT(store, located, to: dir)
        print("\(dir): adapter of training run \(located.runID) (\(located.runFingerprint.prefix(12))) at step \(located.step) (PEFT)")
        guard format == .gguf else { return }
        let env = ProcessInfo.processInfo.environment
        guard let converter = env["LECTERN_LLAMA_CONVERT_LORA"], FileManager.default.fileExists(atPath: converter) else {
            throw CLIError("--format gguf needs llama.cpp's convert_lora_to_gguf.py: run scripts/setup.d/60-trainer.sh (it records LECTERN_LLAMA_CONVERT_LORA)")
        }
        let engine = try TrainingEngine.locate()
        let cache = TrainingEngine.modelCache
        let base = try BaseModel.resolve(located.baseModel, engine: engine, cache: cache)
        let output = URL(fileURLWithPath: dir).appendingPathComponent("adapter.gguf").path
        try Adapters.convertToGGUF(peft: dir, baseFolder: base.folder, output: output, python: engine.python, converter: converter)
        print("\(output): GGUF adapter for \(base.gguf ?? base.folder)")
    }
}

/// `lectern import adapter FILE DIR --set NAME`
struct ImportAdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapter",
        abstract: "Store a PEFT LoRA adapter trained elsewhere (LLaMA-Factory, axolotl, TRL) as a checkpoint, to evaluate and report it like Lectern's own.",
        discussion: """
        DIR holds adapter_config.json and adapter_model.safetensors. The adapter becomes a complete training run of \
        engine 'external' with one checkpoint; importing the same adapter again adds nothing.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @Argument(help: "The PEFT adapter folder.")
    var dir: String

    @Option(help: "The training set it was trained on (name or fingerprint prefix).")
    var set: String

    @Option(help: "Base model it adapts (default: adapter_config.json's base_model_name_or_path).")
    var base: String?

    @Option(help: "The step to record for the checkpoint.")
    var step = 0

    func run() throws {
        let store = try Store.open(path: file)
        let r = try Adapters.importPEFT(store, folder: dir, set: set, step: step, name: base)
        print("\(file): \(r.created ? "imported" : "already imported") as training run \(r.runID), checkpoint \(r.checkpointID)")
    }
}

/// `lectern import adapter ...`
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bring artifacts made elsewhere into the file.",
        subcommands: [ImportAdapterCommand.self])
}
