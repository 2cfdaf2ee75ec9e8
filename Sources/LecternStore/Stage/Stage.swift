import Foundation
import GRDB
import LecternCore

/// A resumable pipeline stage: what every Lectern stage (ingest, tokens, embed, mine, cluster,
/// generate, import-instructions, build, export, train, ...) is to ``StageRunner``.
///
/// A stage is a value: its store, its options, and the outputs of earlier stages it reads (an
/// embedder's fingerprint, a tokenizer, a generator). Running it is always the same four steps,
/// of which the stage writes two and ``StageRunner`` the rest:
///
/// 1. **Prepare** (``prepare()``, the stage's): check and resolve everything the run needs, load
///    its models, compute the ``StageWork/configuration`` (whose canonical JSON and fingerprint
///    the runner records) and count the ``StageWork/pendingInputs``. Nothing is recorded yet, so
///    bad input, a missing model or an unknown reference fails here and leaves no trace in the
///    file. Preparing may register identities (a tokenizer, an embedder) that are idempotent.
/// 2. **Begin** (the runner's): a `stage_runs` row in state `running`, with the configuration, its
///    fingerprint, the pid and the host; earlier `running` rows of this host whose process is gone
///    are marked `interrupted`.
/// 3. **Execute** (``execute(_:in:)``, the stage's): select the inputs that have no output row
///    carrying ``StageContext/fingerprint``, process them in batches **outside any transaction**,
///    and write each batch with ``StageContext/commit(processed:skipped:failed:_:)``: one short
///    transaction that writes the batch's outputs and advances the run's counters together.
/// 4. **End** (the runner's): `complete` with the output's ``StageOutput/counts``; `failed` with
///    the error and the counts reported so far; `interrupted` on `CancellationError`.
///
/// The guarantees that follow, and that each stage's kill-and-resume test checks: a `kill -9` at
/// any moment loses at most the batch in flight; re-running the same stage value finds the old
/// row `running` with its process gone, marks it `interrupted`, and its step 3 selects exactly the
/// inputs still missing, so the file ends as an uninterrupted run would have left it.
///
/// Stages that talk to the network are ``AsyncStage``s instead; the contract is the same.
public protocol Stage {
    associatedtype Work: StageWork
    associatedtype Output: StageOutput
    /// `stage_runs.stage`: `ingest`, `embed`, ...
    static var name: String { get }
    /// The file the stage reads and writes.
    var store: Store { get }
    /// Step 1: checks, resolves and loads; records nothing.
    func prepare() throws -> Work
    /// Step 3: the batches, each written through `context`.
    func execute(_ work: Work, in context: StageContext) throws -> Output
}

/// A ``Stage`` whose steps await (the LLM client, remote embedders, the training engine).
public protocol AsyncStage {
    associatedtype Work: StageWork
    associatedtype Output: StageOutput
    static var name: String { get }
    var store: Store { get }
    func prepare() async throws -> Work
    func execute(_ work: Work, in context: StageContext) async throws -> Output
}

/// What ``Stage/prepare()`` found: the configuration to fingerprint and the inputs to process.
public protocol StageWork {
    associatedtype Configuration: Encodable
    /// Everything that decides the stage's outputs and nothing secret (it is stored in the file).
    var configuration: Configuration { get }
    /// Inputs still to process (the run's `n_inputs`; 0 when unknown until executing).
    var pendingInputs: Int { get }
}

/// The usual ``StageWork``: a configuration, a pending count and whatever the stage prepared.
public struct StagePlan<Configuration: Encodable, Prepared>: StageWork {
    public var configuration: Configuration
    public var pendingInputs: Int
    public var prepared: Prepared
    public init(configuration: Configuration, pendingInputs: Int, prepared: Prepared) {
        self.configuration = configuration
        self.pendingInputs = pendingInputs
        self.prepared = prepared
    }
}

extension StagePlan where Prepared == Void {
    public init(configuration: Configuration, pendingInputs: Int) {
        self.init(configuration: configuration, pendingInputs: pendingInputs, prepared: ())
    }
}

/// What a stage made, named so the next stages can use it (ids and fingerprints), plus the
/// counters its `stage_runs` row keeps.
public protocol StageOutput {
    var counts: [String: Int] { get }
}

/// A stage's handle on its run, lent by ``StageRunner`` for step 3. It can commit batches, note
/// bad input and report counters; it cannot begin or end the run.
public final class StageContext: @unchecked Sendable {
    let run: StageRun
    private let lock = NSLock()
    private var reported: [String: Int] = [:]

    init(run: StageRun) { self.run = run }

    /// The file.
    public var store: Store { run.store }
    /// `stage_runs.id` of this run.
    public var runID: Int64 { run.id }
    /// The fingerprint of the configuration; the outputs carry it.
    public var fingerprint: String { run.fingerprint }
    /// The configuration as stored (canonical JSON).
    public var configJSON: String { run.configJSON }

    /// Writes one batch of outputs and advances the counters, in one short transaction (see
    /// ``StageRun/commit(processed:skipped:failed:_:)``).
    @discardableResult
    public func commit<T>(processed: Int, skipped: Int = 0, failed: Int = 0, _ write: (Database) throws -> T) throws -> T {
        try run.commit(processed: processed, skipped: skipped, failed: failed, write)
    }

    /// Sets the number of pending inputs once known (e.g. after scanning a source).
    public func setInputs(_ n: Int) throws { try run.setInputs(n) }

    /// Remembers a bad-input message (the first ``StageRun/keptMessages`` are stored with the run).
    public func note(_ message: String) { run.note(message) }

    /// Number of messages noted so far.
    public var noteCount: Int { run.noteCount }

    /// Counters so far: recorded with the run if it fails (a complete run records its output's).
    public func report(counts: [String: Int]) {
        lock.lock(); reported = counts; lock.unlock()
    }

    var reportedCounts: [String: Int] {
        lock.lock(); defer { lock.unlock() }
        return reported
    }
}

/// Runs ``Stage``s: the one owner of `stage_runs` (begin, commit counters, interruption, finish,
/// fail). See ``Stage`` for the contract.
public enum StageRunner {
    /// Prepares, records, executes and ends one run of `stage`; returns what it made.
    @discardableResult
    public static func run<S: Stage>(_ stage: S) throws -> S.Output {
        let work = try stage.prepare()
        let context = try begin(S.name, stage.store, work)
        do {
            let output = try stage.execute(work, in: context)
            try context.run.finish(counts: output.counts)
            return output
        } catch {
            end(context, error)
            throw error
        }
    }

    /// The same for an ``AsyncStage``.
    @discardableResult
    public static func run<S: AsyncStage>(_ stage: S) async throws -> S.Output {
        let work = try await stage.prepare()
        let context = try begin(S.name, stage.store, work)
        do {
            let output = try await stage.execute(work, in: context)
            try context.run.finish(counts: output.counts)
            return output
        } catch {
            end(context, error)
            throw error
        }
    }

    /// The fingerprint a run of stage `name` with this configuration gets: what its outputs carry.
    /// Stages that key outputs by it before executing (a set, a clustering) compute it here.
    public static func fingerprint<C: Encodable>(stage name: String, configuration: C) throws -> String {
        StageRun.fingerprint(stage: name, configJSON: try Fingerprint.canonicalJSON(configuration))
    }

    private static func begin<W: StageWork>(_ name: String, _ store: Store, _ work: W) throws -> StageContext {
        StageContext(run: try StageRun.begin(store, stage: name, config: work.configuration, inputs: work.pendingInputs))
    }

    /// A cancelled run (a test's interruption, Ctrl-C through the task tree) ends `interrupted`,
    /// as a killed one would be found; any other error ends it `failed`.
    private static func end(_ context: StageContext, _ error: Error) {
        if error is CancellationError {
            try? context.run.interrupt(counts: context.reportedCounts)
        } else {
            try? context.run.fail(error, counts: context.reportedCounts)
        }
    }
}
