import Foundation
import LecternCore
import LecternStore

/// What the steps of a pipeline made, by identity: each step reads what it needs from the steps
/// before it (the embedder `embed` used, the tokenizer `tokens` counted with, the generator
/// `generate` asked, the set `build` wrote), never a "newest row" guess or a name.
struct PipelineOutputs {
    /// Fingerprint of the embedder whose vectors were made or found complete.
    var embedder: String?
    /// Fingerprint and file of the target tokenizer.
    var tokenizer: String?
    var tokenizerPath: String?
    /// Fingerprint of the generator whose QA pairs were made.
    var generator: String?
    /// The clustering made or found complete.
    var clusteringID: Int64?
    /// The training set made or found complete.
    var trainingSetID: Int64?
    var trainingSetName: String?
    var trainingSetFingerprint: String?
    /// The training run made or continued, and the base model it adapts (as given).
    var trainingRunID: Int64?
    var baseModel: String?
    /// The shard this pipeline writes (`--shard I/N`), set before the first step: ingest keeps
    /// only the documents the shard owns. The other per-document steps need nothing of it: the
    /// shard file they run on holds only the shard's documents.
    var shard: Shard?
}

/// One step of `lectern run`: a configured stage value, given what the steps before it made.
protocol PipelineStep {
    /// The step's name in progress lines and the closing summary.
    var stepName: String { get }
    /// Fills what earlier steps made into options the recipe left unset (an embedder, a
    /// tokenizer, a generator), so `validate()`'s requirements are met at run time.
    mutating func handOn(_ made: PipelineOutputs)
    /// Checks the options once the earlier steps' outputs are in.
    mutating func validate() throws
    /// The message for an error of `validate()`.
    func message(for error: Error) -> String
    /// Runs the stage on `store`, prints its summary line, and records what it made in `made`.
    func run(in store: Store, made: inout PipelineOutputs) async throws
}

/// One configured stage of `lectern run` (and the body of its command): a ``RecipeSection``
/// whose values, with the earlier steps' outputs, make a stage value that ``StageRunner`` runs.
protocol PipelineStage: RecipeSection, PipelineStep {}

extension PipelineStage {
    var stepName: String { Self.section }
    mutating func handOn(_ made: PipelineOutputs) {}
    func message(for error: Error) -> String { Self.message(for: error) }
}

/// The held-out half of `[eval]`, run before the build: imports the task's first `items` items,
/// so a build with `exclude_eval` keeps their documents out of the training set.
struct EvalImportStep: PipelineStep {
    var arguments: EvalArguments
    var stepName: String { "eval import" }
    mutating func handOn(_ made: PipelineOutputs) {}
    mutating func validate() throws {}
    func message(for error: Error) -> String { String(describing: error) }
    func run(in store: Store, made: inout PipelineOutputs) async throws {
        try arguments.importTask(into: store)
    }
}

/// A stage of one `[[experiment]]`: the stage as configured for it, named after it in progress
/// lines and the summary ("train (readcompre+cluster)").
struct ExperimentStep: PipelineStep {
    var name: String
    var inner: any PipelineStage
    var stepName: String { "\(inner.stepName) (\(name))" }
    mutating func handOn(_ made: PipelineOutputs) { inner.handOn(made) }
    mutating func validate() throws { try inner.validate() }
    func message(for error: Error) -> String { inner.message(for: error) }
    func run(in store: Store, made: inout PipelineOutputs) async throws { try await inner.run(in: store, made: &made) }
}
