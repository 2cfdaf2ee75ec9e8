import ArgumentParser
import Foundation
import LecternStore
import LecternTrain

extension TrainOptions.Method: ExpressibleByArgument {}
extension TrainOptions.Targets: ExpressibleByArgument {}
extension TrainOptions.Scheduler: ExpressibleByArgument {}
extension TrainOptions.Precision: ExpressibleByArgument {}
extension TrainOptions.Loss: ExpressibleByArgument {}

/// `lectern train FILE --set NAME --base MODEL`
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a base model on a training set with LoRA (rank 256 on every linear layer, the paper's PEFT setting) or fully.",
        discussion: """
        The engine is transformers + PEFT on torch (trainer/lectern_train.py, installed by scripts/setup.d/60-trainer.sh); \
        Lectern hands it the set's token ids and reads its events back: per-step metrics go to training_metrics, \
        checkpoints (every --checkpoint-every steps and at the end) to checkpoints / checkpoint_tensors / \
        checkpoint_state, all in the file. The run is identified by the set, the base model's weights and the \
        options that change the result: re-running the same command continues it from its last checkpoint in the \
        file, with the same data order and RNG states. --base is a Hugging Face model folder (safetensors) or a \
        GGUF file (converted once into a cached safetensors copy); its tokenizer must be the set's. \
        Several processes (--processes N) train data-parallel under torchrun. See docs/training.md.
        """)

    @Argument(help: "The Lectern file.")
    var file: String

    @OptionGroup var options: TrainArguments

    func validate() throws {
        if options.set == nil { throw ValidationError("--set NAME is required (a training set name or fingerprint prefix)") }
    }

    func run() async throws {
        var made = PipelineOutputs()
        try await options.run(in: try Store.open(path: file), made: &made)
    }
}

/// The options of `lectern train`, and the `[train]` section of a recipe.
struct TrainArguments: PipelineStage {
    static let section = "train"
    static let pathKeys: Set<String> = ["base"]

    @Option(help: "Training set: name (the newest complete set of that name) or fingerprint prefix (in a pipeline: the set `build` made).")
    var set: String?

    @Option(help: "Base model: a Hugging Face model folder (config.json, *.safetensors) or a GGUF file.")
    var base: String

    @Option(help: "lora (adapters on the --targets layers) or full fine-tuning.")
    var method = TrainOptions.Method.lora

    @Option(help: "LoRA rank (the paper: 256; a rank above a layer's smaller side trains updates of that side's rank there).")
    var rank = 256

    @Option(help: "LoRA alpha (default: twice the rank).")
    var alpha: Double?

    @Option(help: "LoRA dropout.")
    var dropout = 0.05

    @Option(help: "Layers with adapters: all-linear (the paper), attention, or qv (the paper's Table 3 ablation).")
    var targets = TrainOptions.Targets.allLinear

    @Option(help: "Peak learning rate.")
    var learningRate = 1e-4

    @Option(help: "Learning-rate schedule after the warm-up.")
    var scheduler = TrainOptions.Scheduler.cosine

    @Option(help: "Share of the steps spent warming the learning rate up from 0.")
    var warmupRatio = 0.03

    @Option(help: "Passes over the set.")
    var epochs = 1

    @Option(help: "Stop after this many optimizer steps (instead of --epochs).")
    var steps: Int?

    @Option(help: "Examples per micro-batch.")
    var batchSize = 1

    @Option(help: "Micro-batches per optimizer step.")
    var gradAccum = 1

    @Option(help: "AdamW weight decay.")
    var weightDecay = 0.0

    @Option(help: "Gradient clipping norm (0: none).")
    var maxGradNorm = 1.0

    @Option(help: "Seed of the data order, dropout and adapter initialisation.")
    var seed: UInt64 = 0

    @Option(help: "auto (bf16 on a GPU, fp32 on CPU), fp32 or bf16.")
    var precision = TrainOptions.Precision.auto

    @Option(help: "auto (every token of packed sets, as AdaptLLM; assistant turns of chat sets), all, or assistant.")
    var loss = TrainOptions.Loss.auto

    @Flag(help: "8-bit base weights (bitsandbytes, GPU only), as in the paper's experiment.")
    var int8 = false

    @Option(help: "CPU threads per process (under load one is often fastest here).")
    var threads = 1

    @Flag(help: "Recompute activations in the backward pass: about half the memory at 2048 tokens, about 25% slower.")
    var gradientCheckpointing = false

    @Option(help: "Optimizer steps between checkpoints (the last step always gets one). A kill loses at most this many steps.")
    var checkpointEvery = 50

    @Option(help: "Training processes (data parallel under torchrun; gloo on CPU, nccl on GPUs). Only the first talks to Lectern.")
    var processes = 1

    @Flag(help: "Only continue an existing run from its last checkpoint (re-running the same command does that too); fail if there is none.")
    var resume = false

    @Flag(help: ArgumentHelp("Keep the engine's work folder (FILE.train/...) after the run.", visibility: .hidden))
    var keepWork = false

    func validate() throws {
        do { try trainOptions().validate() } catch { throw ValidationError("\(error)") }
        guard threads >= 1, checkpointEvery >= 1, processes >= 1 else {
            throw ValidationError("--threads, --checkpoint-every and --processes must be at least 1")
        }
    }

    func trainOptions() -> TrainOptions {
        var o = TrainOptions()
        o.method = method
        o.rank = rank
        o.alpha = alpha
        o.dropout = dropout
        o.targets = targets
        o.learningRate = learningRate
        o.scheduler = scheduler
        o.warmupRatio = warmupRatio
        o.epochs = epochs
        o.maxSteps = steps
        o.batchSize = batchSize
        o.gradAccum = gradAccum
        o.weightDecay = weightDecay
        o.maxGradNorm = maxGradNorm
        o.seed = seed
        o.precision = precision
        o.loss = loss
        o.int8 = int8
        return o
    }

    mutating func handOn(_ made: PipelineOutputs) {
        if set == nil { set = made.trainingSetFingerprint }
    }

    func stage(_ store: Store) throws -> TrainStage {
        guard let set else { throw CLIError("train: no training set: give --set NAME") }
        var runtime = TrainOptions.Runtime()
        runtime.threads = threads
        runtime.gradientCheckpointing = gradientCheckpointing
        runtime.checkpointEvery = checkpointEvery
        runtime.processes = processes
        runtime.keepWork = keepWork
        let cache = TrainingEngine.modelCache
        return TrainStage(store: store, set: set, base: base, options: trainOptions(), runtime: runtime,
                          engine: try TrainingEngine.locate(), cache: cache)
    }

    func run(in store: Store, made: inout PipelineOutputs) async throws {
        let stage = try stage(store)
        if resume {
            let plan = try stage.prepare()
            guard plan.prepared.lastCheckpointStep != nil else {
                throw CLIError("train --resume: no checkpoint of this run (these options on this set and base) in \(store.path); run without --resume to start it")
            }
        }
        let s = try StageRunner.run(stage)
        if s.alreadyComplete {
            print("\(store.path): training run \(s.runID) (\(s.fingerprint.prefix(12))) is already complete: \(s.totalSteps) steps")
        } else {
            print("\(store.path): training run \(s.runID) (\(s.fingerprint.prefix(12))): steps \(s.resumedFrom + 1)-\(s.resumedFrom + s.stepsRun) of \(s.totalSteps)"
                + (s.lastLoss.map { String(format: ", last loss %.4f", $0) } ?? "") + ", \(s.checkpoints) checkpoints stored")
        }
        made.trainingRunID = s.runID
        made.baseModel = base
    }
}
