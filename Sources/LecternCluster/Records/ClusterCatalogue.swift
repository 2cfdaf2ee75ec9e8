import GRDB
import LecternStore

/// The cluster stage's part of the file catalogue: clusters per clustering.
public enum ClusterCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'clusters', c.id, c.algorithm || ' #' || c.id || ' (' || c.status || ')', count(k.id) FROM clusterings c
              LEFT JOIN clusters k ON k.clustering_id = c.id GROUP BY c.id
            """)]
    }
}
