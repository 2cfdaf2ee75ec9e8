import GRDB
import LecternStore

/// Instructions and training sets are made on the merged file: a shard holding them is refused.
public enum BuildShards: ShardMergeContributor {
    public static func checkShard(_ db: Database, shard schema: String) throws {
        try ShardMerge.refuseRows(db, shard: schema, tables: ["instructions"], stage: "import-instructions")
        try ShardMerge.refuseRows(db, shard: schema, tables: ["training_sets"], stage: "build")
    }
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] { [:] }
}
