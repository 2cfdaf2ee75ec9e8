import GRDB
import LecternStore

/// Training runs on the merged file (several GPUs go through the engine's launcher, not shards).
public enum TrainShards: ShardMergeContributor {
    public static func checkShard(_ db: Database, shard schema: String) throws {
        try ShardMerge.refuseRows(db, shard: schema, tables: ["training_runs"], stage: "train")
    }
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] { [:] }
}
