import Foundation
import GRDB
import LecternCore

/// Checkpoints in the file: one `checkpoints` row (the adapter or model config, the engine's probe),
/// one `checkpoint_tensors` row per tensor (raw bytes, dtype, shape), and the engine's resume state
/// in `checkpoint_state` parts. Every checkpoint keeps its tensors (each can be exported and
/// evaluated); only the newest checkpoint of a running run keeps a resume state, and a complete
/// run keeps none (for SmolLM2 at rank 256 the state is 626 MB against 313 MB of adapter).
/// The only module that writes these tables.
public enum CheckpointStore {
    /// Resume-state parts: well under SQLite's 1 GB blob limit, and a bounded read at a time.
    public static let statePartBytes = 64 << 20

    /// What a checkpoint folder of the engine holds, read and checked.
    public struct Folder {
        public var kind: String
        public var config: String
        public var tensors: [StoredTensor]
        public var probe: String?
        public var statePath: String?
    }

    /// Reads the engine's `checkpoint-k` folder: `adapter_model.safetensors` + `adapter_config.json`
    /// (LoRA) or `model.safetensors` + `config.json` (full), `probe.json`, `trainer_state.pt`.
    public static func read(folder dir: String) throws -> Folder {
        let fm = FileManager.default
        let lora = fm.fileExists(atPath: dir + "/adapter_model.safetensors")
        let weights = dir + (lora ? "/adapter_model.safetensors" : "/model.safetensors")
        let configPath = dir + (lora ? "/adapter_config.json" : "/config.json")
        guard fm.fileExists(atPath: weights) else { throw TrainError.badCheckpoint("\(dir): no adapter_model.safetensors or model.safetensors") }
        guard let configData = fm.contents(atPath: configPath),
              (try? JSONSerialization.jsonObject(with: configData)) is [String: Any] else {
            throw TrainError.badCheckpoint("\(configPath): missing or not a JSON object")
        }
        let tensors = try SafeTensors.read(path: weights).tensors
        guard !tensors.isEmpty else { throw TrainError.badCheckpoint("\(weights): no tensors") }
        let probe = fm.contents(atPath: dir + "/probe.json").map { String(decoding: $0, as: UTF8.self) }
        let state = fm.fileExists(atPath: dir + "/trainer_state.pt") ? dir + "/trainer_state.pt" : nil
        return Folder(kind: lora ? "lora-adapter" : "full", config: String(decoding: configData, as: UTF8.self),
                      tensors: tensors, probe: probe.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil ? $0 : nil },
                      statePath: state)
    }

    /// Stores a checkpoint of run `runID` at `step` (replacing one of the same step, left by an
    /// interrupted attempt), in the caller's transaction. Returns the checkpoint id and its bytes.
    @discardableResult
    public static func insert(_ db: Database, runID: Int64, step: Int, folder: Folder) throws -> (id: Int64, bytes: Int) {
        try db.execute(sql: "DELETE FROM checkpoints WHERE run_id = ? AND step = ?", arguments: [runID, step])
        let bytes = folder.tensors.reduce(0) { $0 + $1.data.count }
        try db.execute(sql: """
            INSERT INTO checkpoints(run_id, step, kind, config, created_at, probe, n_bytes) VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [runID, step, folder.kind, folder.config, Timestamp.now(), folder.probe, bytes])
        let id = db.lastInsertedRowID
        let insert = try db.makeStatement(sql: "INSERT INTO checkpoint_tensors(checkpoint_id, name, dtype, shape, data) VALUES (?, ?, ?, ?, ?)")
        for t in folder.tensors {
            let shape = "[" + t.shape.map(String.init).joined(separator: ",") + "]"
            try insert.execute(arguments: [id, t.name, t.dtype, shape, t.data])
        }
        if let statePath = folder.statePath {
            guard let handle = FileHandle(forReadingAtPath: statePath) else { throw TrainError.badCheckpoint("\(statePath): cannot read") }
            defer { try? handle.close() }
            let part = try db.makeStatement(sql: "INSERT INTO checkpoint_state(checkpoint_id, part, data) VALUES (?, ?, ?)")
            var k = 0
            while true {
                let chunk = handle.readData(ofLength: statePartBytes)
                if chunk.isEmpty { break }
                try part.execute(arguments: [id, k, chunk])
                k += 1
            }
            // Resuming needs only the newest state; an older one is twice the adapter's size of
            // dead weight (AdamW's two moments), so it goes in the same transaction.
            try db.execute(sql: """
                DELETE FROM checkpoint_state WHERE checkpoint_id IN (SELECT id FROM checkpoints WHERE run_id = ? AND id != ?)
                """, arguments: [runID, id])
        }
        return (id, bytes)
    }

    /// Drops the resume state of every checkpoint of `runID` (the run is complete).
    public static func dropResumeState(_ db: Database, runID: Int64) throws {
        try db.execute(sql: "DELETE FROM checkpoint_state WHERE checkpoint_id IN (SELECT id FROM checkpoints WHERE run_id = ?)", arguments: [runID])
    }

    /// The tensors of checkpoint `id`, each checked against its dtype and shape.
    public static func tensors(_ db: Database, checkpointID id: Int64) throws -> [StoredTensor] {
        let rows = try Row.fetchAll(db, sql: "SELECT name, dtype, shape, data FROM checkpoint_tensors WHERE checkpoint_id = ? ORDER BY name",
                                    arguments: [id])
        return try rows.map { row in
            let name: String = row["name"]
            let shapeText: String = row["shape"]
            guard let shape = (try? JSONSerialization.jsonObject(with: Data(shapeText.utf8))) as? [NSNumber] else {
                throw TrainError.badCheckpoint("checkpoint \(id), tensor \(name): shape \(shapeText) is not a list of integers")
            }
            let t = StoredTensor(name: name, dtype: row["dtype"], shape: shape.map { $0.intValue }, data: row["data"] ?? Data())
            try t.validate(source: "checkpoint \(id)")
            return t
        }
    }

    /// Writes checkpoint `id` out as the engine's checkpoint folder (what `--resume` and the
    /// adapter export read): the weights file written by Lectern from the stored tensors, the
    /// config, the probe and, when `state` is set, the engine's resume state.
    public static func materialize(_ db: Database, checkpointID id: Int64, into dir: String, state: Bool) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT kind, config, probe FROM checkpoints WHERE id = ?", arguments: [id]) else {
            throw TrainError.badCheckpoint("no checkpoint \(id)")
        }
        let kind: String = row["kind"]
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lora = kind != "full"
        try SafeTensors.write(try tensors(db, checkpointID: id), to: dir + (lora ? "/adapter_model.safetensors" : "/model.safetensors"))
        try (row["config"] as String).write(toFile: dir + (lora ? "/adapter_config.json" : "/config.json"), atomically: true, encoding: .utf8)
        if let probe: String = row["probe"] { try probe.write(toFile: dir + "/probe.json", atomically: true, encoding: .utf8) }
        if state {
            let parts = try Row.fetchCursor(db, sql: "SELECT part, data FROM checkpoint_state WHERE checkpoint_id = ? ORDER BY part", arguments: [id])
            let path = dir + "/trainer_state.pt"
            fm.createFile(atPath: path, contents: nil)
            guard let handle = FileHandle(forWritingAtPath: path) else { throw TrainError.badCheckpoint("\(path): cannot write") }
            defer { try? handle.close() }
            var expected = 0, any = false
            while let part = try parts.next() {
                let k: Int = part["part"]
                guard k == expected else { throw TrainError.badCheckpoint("checkpoint \(id): resume state part \(expected) is missing") }
                handle.write(part["data"] as Data? ?? Data())
                expected += 1
                any = true
            }
            guard any else { throw TrainError.badCheckpoint("checkpoint \(id) has no resume state (an imported adapter cannot be resumed)") }
        }
    }
}
