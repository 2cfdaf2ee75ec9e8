import Foundation

/// What a training run does: the paper's method by default (LoRA, rank 256, on every linear layer
/// of attention and feed-forward alike, arXiv 2401.07284's "PEFT" section; AdaptLLM's loss on every
/// token of the packed sequences). The fields that change the result are fingerprinted with the
/// set and the base model; ``Runtime`` holds those that do not.
public struct TrainOptions: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable { case lora, full }
    /// Which linear layers get an adapter: all of them (the paper), attention only, or q and v
    /// (the paper's Table 3 ablation).
    public enum Targets: String, Codable, Sendable, CaseIterable {
        case allLinear = "all-linear", attention, qv
    }
    public enum Scheduler: String, Codable, Sendable, CaseIterable { case cosine, linear, constant }
    public enum Precision: String, Codable, Sendable, CaseIterable {
        /// bf16 on a GPU, fp32 on CPU.
        case auto, fp32, bf16
    }
    public enum Loss: String, Codable, Sendable, CaseIterable {
        /// Every token of packed sets (continued pre-training), assistant turns of chat sets.
        case auto
        /// Every token.
        case all
        /// Assistant turns only (chat sets).
        case assistant
    }

    public var method: Method = .lora
    public var rank = 256
    /// LoRA alpha (default: twice the rank, so the update's scale alpha/r is 2).
    public var alpha: Double?
    public var dropout = 0.05
    public var targets: Targets = .allLinear
    public var learningRate = 1e-4
    public var scheduler: Scheduler = .cosine
    /// Share of the steps spent warming up linearly.
    public var warmupRatio = 0.03
    public var epochs = 1
    /// Stop after this many optimizer steps (overrides epochs).
    public var maxSteps: Int?
    public var batchSize = 1
    public var gradAccum = 1
    public var weightDecay = 0.0
    public var maxGradNorm = 1.0
    public var seed: UInt64 = 0
    public var precision: Precision = .auto
    public var loss: Loss = .auto
    /// 8-bit base weights (bitsandbytes; GPU only), as in the paper's experiment.
    public var int8 = false

    public init() {}

    public func validate() throws {
        guard rank >= 1, rank <= 65536 else { throw TrainError.badOption("--rank must be between 1 and 65536, got \(rank)") }
        if let alpha, !(alpha > 0) { throw TrainError.badOption("--alpha must be positive") }
        guard (0..<1).contains(dropout) else { throw TrainError.badOption("--dropout must be in [0, 1), got \(dropout)") }
        guard learningRate > 0, learningRate.isFinite else { throw TrainError.badOption("--learning-rate must be positive") }
        guard (0..<1).contains(warmupRatio) else { throw TrainError.badOption("--warmup-ratio must be in [0, 1)") }
        guard epochs >= 1 else { throw TrainError.badOption("--epochs must be at least 1") }
        if let maxSteps, maxSteps < 1 { throw TrainError.badOption("--steps must be at least 1") }
        guard batchSize >= 1, gradAccum >= 1 else { throw TrainError.badOption("--batch-size and --grad-accum must be at least 1") }
        guard weightDecay >= 0, maxGradNorm >= 0 else { throw TrainError.badOption("--weight-decay and --max-grad-norm must not be negative") }
        if int8 && method == .full { throw TrainError.badOption("--int8 applies to LoRA only (8-bit base weights stay frozen)") }
    }

    /// Settings that do not change the result: a resumed run may change them.
    public struct Runtime: Sendable {
        /// CPU threads per process.
        public var threads = 1
        public var gradientCheckpointing = false
        /// Optimizer steps between checkpoints (the last step always has one).
        public var checkpointEvery = 50
        /// Processes (data parallel, `torchrun`); only the first talks to Lectern.
        public var processes = 1
        /// Keep the engine's work folder (examples, checkpoint folders) after the run (tests).
        public var keepWork = false
        public init() {}
    }
}
