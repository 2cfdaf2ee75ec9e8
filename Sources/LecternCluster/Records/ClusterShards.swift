import GRDB
import LecternStore

/// Clustering is a global stage: it runs on the merged file, and a shard holding clusters is refused.
public enum ClusterShards: ShardMergeContributor {
    public static func checkShard(_ db: Database, shard schema: String) throws {
        try ShardMerge.refuseRows(db, shard: schema, tables: ["clusterings"], stage: "cluster")
    }
    public static func mergeShard(_ db: Database, shard schema: String) throws -> [String: Int] { [:] }
}
