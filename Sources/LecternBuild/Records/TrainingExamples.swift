import Foundation
import GRDB

/// Reads of `training_examples`, which only the build writes; training reads a set's examples
/// through these requests.
public enum TrainingExamples {
    /// How many examples set `set` has, and how many carry token ids and chat messages.
    public struct Shape: Sendable, Equatable {
        public var examples: Int
        public var withInputIDs: Int
        public var withMessages: Int
    }

    public static func shape(_ db: Database, set: Int64) throws -> Shape {
        let row = try Row.fetchOne(db, sql: """
            SELECT count(*) AS n, count(input_ids) AS ids, count(messages) AS msgs FROM training_examples WHERE training_set_id = ?
            """, arguments: [set])
        return Shape(examples: row?["n"] ?? 0, withInputIDs: row?["ids"] ?? 0, withMessages: row?["msgs"] ?? 0)
    }

    /// The examples of set `set` in order; columns `position`, `input_ids` (little-endian int32
    /// BLOB or NULL) and `messages` (JSON array or NULL).
    public static func cursor(_ db: Database, set: Int64) throws -> RowCursor {
        try Row.fetchCursor(db, sql: """
            SELECT position, input_ids, messages FROM training_examples WHERE training_set_id = ? ORDER BY position
            """, arguments: [set])
    }
}

/// Reads of `instructions`, which only `import-instructions` (``InstructionImporter``) writes.
public enum StoredInstructions {
    /// Number of general instructions in the file.
    public static func count(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM instructions") ?? 0
    }
}

/// Reads of `training_sets` by other modules (sets are resolved by name, id or fingerprint
/// prefix through ``TrainingSetExport/resolve(_:_:)``).
public enum StoredTrainingSets {
    /// Every set's name, by id.
    public static func names(_ db: Database) throws -> [Int64: String] {
        var out: [Int64: String] = [:]
        for r in try Row.fetchAll(db, sql: "SELECT id, name FROM training_sets") { out[r["id"]] = r["name"] }
        return out
    }
}
