import Foundation
import GRDB

/// Reads of `checkpoints`, which only training writes (``CheckpointStore``); evaluation names
/// checkpoints through this type.
public enum StoredCheckpoints {
    /// The run and step of every checkpoint, by checkpoint id.
    public static func steps(_ db: Database) throws -> [Int64: (run: Int64, step: Int)] {
        var out: [Int64: (run: Int64, step: Int)] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT id, run_id, step FROM checkpoints")
        while let r = try rows.next() { out[r["id"]] = (r["run_id"], r["step"]) }
        return out
    }
}
