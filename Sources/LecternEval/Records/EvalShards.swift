import GRDB
import LecternStore

/// Evaluation runs on the merged file: a shard holding tasks or predictions is refused.
public enum EvalShards: ShardMergeContributor {
    public static func checkShard(_ db: Database, shard schema: String) throws {
        try ShardMerge.refuseRows(db, shard: schema, tables: ["eval_tasks", "eval_predictions"], stage: "eval")
    }
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] { [:] }
}
