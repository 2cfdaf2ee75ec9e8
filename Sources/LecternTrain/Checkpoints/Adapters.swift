import Foundation
import GRDB
import LecternBuild
import LecternCore
import LecternStore

/// Adapters in and out of the file: a stored checkpoint written as a PEFT folder (what
/// `PeftModel.from_pretrained` and vLLM's `--enable-lora` load), or converted by llama.cpp's own
/// `convert_lora_to_gguf.py` for `llama-server --lora`; and an adapter trained elsewhere
/// (LLaMA-Factory, axolotl, TRL) stored as a checkpoint, to be evaluated and reported like ours.
public enum Adapters {
    /// A run named by id or fingerprint prefix, and one of its checkpoints (the last by default).
    public struct Located: Sendable {
        public var runID: Int64
        public var runFingerprint: String
        public var baseModel: String
        public var checkpointID: Int64
        public var step: Int
        public var kind: String
    }

    public static func locate(_ db: Database, run reference: String, step: Int?) throws -> Located {
        let ref = try RowReference.resolve(db, table: "training_runs", kind: "training run", reference)
        let base = try String.fetchOne(db, sql: "SELECT base_model FROM training_runs WHERE id = ?", arguments: [ref.id]) ?? ""
        let row: Row?
        if let step {
            row = try Row.fetchOne(db, sql: "SELECT id, step, kind FROM checkpoints WHERE run_id = ? AND step = ?", arguments: [ref.id, step])
        } else {
            row = try Row.fetchOne(db, sql: "SELECT id, step, kind FROM checkpoints WHERE run_id = ? ORDER BY step DESC LIMIT 1", arguments: [ref.id])
        }
        guard let row else {
            let steps = try Int.fetchAll(db, sql: "SELECT step FROM checkpoints WHERE run_id = ? ORDER BY step", arguments: [ref.id])
            throw TrainError.badCheckpoint("training run \(ref.id) has no checkpoint" + (step.map { " at step \($0)" } ?? "")
                + " (its checkpoints: \(steps.isEmpty ? "none" : steps.map(String.init).joined(separator: ", ")))")
        }
        return Located(runID: ref.id, runFingerprint: ref.fingerprint, baseModel: base, checkpointID: row["id"], step: row["step"], kind: row["kind"])
    }

    /// Writes the checkpoint as a PEFT adapter folder (`adapter_config.json`,
    /// `adapter_model.safetensors`, the latter written by Lectern from the stored tensors).
    public static func exportPEFT(_ store: Store, _ located: Located, to dir: String) throws {
        guard located.kind != "full" else {
            throw TrainError.badCheckpoint("training run \(located.runID) is a full fine-tuning: its step-\(located.step) checkpoint is a whole model, not an adapter")
        }
        try store.pool.read { db in try CheckpointStore.materialize(db, checkpointID: located.checkpointID, into: dir, state: false) }
        try? FileManager.default.removeItem(atPath: dir + "/probe.json")
    }

    /// Converts a PEFT folder with llama.cpp's `convert_lora_to_gguf.py` (its `gguf-py` beside it)
    /// against `baseFolder` (a Hugging Face folder with `config.json`).
    public static func convertToGGUF(peft: String, baseFolder: String, output: String, python: String, converter: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [converter, "--base", baseFolder, "--outfile", output, "--outtype", "f32", peft]
        var env = ProcessInfo.processInfo.environment
        let gguf = URL(fileURLWithPath: converter).deletingLastPathComponent().appendingPathComponent("gguf-py").path
        env["PYTHONPATH"] = [gguf, env["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        env["HF_HUB_OFFLINE"] = "1"
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.standardError
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: output) else {
            throw TrainError.engine("convert_lora_to_gguf.py failed: " + text.split(separator: "\n").suffix(3).joined(separator: " | "))
        }
    }

    /// Stores a PEFT adapter folder trained elsewhere as a complete run of engine `external` with one
    /// checkpoint at `step`, on training set `set` (the data it was trained on, for the report).
    /// The same adapter imported twice is one run.
    public static func importPEFT(_ store: Store, folder dir: String, set: String, step: Int, name: String?) throws -> (runID: Int64, checkpointID: Int64, created: Bool) {
        let checkpoint = try CheckpointStore.read(folder: dir)
        guard checkpoint.kind == "lora-adapter" else {
            throw TrainError.badCheckpoint("\(dir): no adapter_model.safetensors (a PEFT adapter folder has adapter_config.json and adapter_model.safetensors)")
        }
        guard let config = (try? JSONSerialization.jsonObject(with: Data(checkpoint.config.utf8))) as? [String: Any] else {
            throw TrainError.badCheckpoint("\(dir)/adapter_config.json: not a JSON object")
        }
        let peftType = config["peft_type"] as? String ?? "LORA"
        guard peftType.uppercased() == "LORA" else { throw TrainError.badCheckpoint("\(dir): peft_type \(peftType), only LoRA adapters are stored") }
        let base = name ?? (config["base_model_name_or_path"] as? String) ?? "unknown"
        var digest = Array(checkpoint.config.utf8)
        for t in checkpoint.tensors { digest += Array(t.name.utf8) + Array(t.dtype.utf8); digest += Array(t.data) }
        let fingerprint = Fingerprint.hex(of: digest)
        return try StageRunner.run(ImportJob(store: store, set: set, fingerprint: fingerprint, base: base, step: step,
                                             checkpoint: checkpoint, configJSON: checkpoint.config, source: dir)).tuple
    }

    struct ImportJob: Stage {
        static let name = "import-adapter"
        let store: Store
        let set: String
        let fingerprint: String
        let base: String
        let step: Int
        let checkpoint: CheckpointStore.Folder
        let configJSON: String
        let source: String

        struct Config: Encodable { var adapter: String; var set: String; var step: Int }

        func prepare() throws -> StagePlan<Config, TrainingSetRef> {
            let ref = try store.pool.read { db in try TrainingSetExport.resolve(db, set) }
            return StagePlan(configuration: Config(adapter: fingerprint, set: ref.fingerprint, step: step), pendingInputs: 1, prepared: ref)
        }

        func execute(_ work: StagePlan<Config, TrainingSetRef>, in run: StageContext) throws -> Imported {
            try run.commit(processed: 1) { db in
                if let existing = try Row.fetchOne(db, sql: "SELECT r.id AS run, c.id AS cp FROM training_runs r JOIN checkpoints c ON c.run_id = r.id WHERE r.fingerprint = ?",
                                                   arguments: [fingerprint]) {
                    return Imported(runID: existing["run"], checkpointID: existing["cp"], created: false)
                }
                let params = try Fingerprint.canonicalJSON(["source": source, "adapter_config": configJSON])
                try db.execute(sql: """
                    INSERT INTO training_runs(training_set_id, base_model, engine, method, params, fingerprint, status, started_at, finished_at, stage_run_id)
                    VALUES (?, ?, 'external', 'lora', ?, ?, 'complete', ?, ?, ?)
                    """, arguments: [work.prepared.id, base, params, fingerprint, Timestamp.now(), Timestamp.now(), run.runID])
                let runID = db.lastInsertedRowID
                let (cp, _) = try CheckpointStore.insert(db, runID: runID, step: step, folder: checkpoint)
                return Imported(runID: runID, checkpointID: cp, created: true)
            }
        }
    }

    struct Imported: StageOutput {
        var runID: Int64
        var checkpointID: Int64
        var created: Bool
        var counts: [String: Int] { ["imported": created ? 1 : 0] }
    }
}

extension Adapters.Imported {
    var tuple: (runID: Int64, checkpointID: Int64, created: Bool) { (runID, checkpointID, created) }
}
