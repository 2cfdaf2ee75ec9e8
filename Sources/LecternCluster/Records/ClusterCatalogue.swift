import GRDB
import LecternIngest
import LecternStore

/// The cluster stage's part of the file catalogue: clusters per clustering.
public enum ClusterCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'clusters', c.id, c.algorithm || ' #' || c.id || ' (' || c.status || ')', count(k.id) FROM clusterings c
              LEFT JOIN clusters k ON k.clustering_id = c.id GROUP BY c.id
            """)]
    }

    /// Per complete clustering: its quality against the random baseline (from the stored report),
    /// the cluster-size and token-fill distributions, and the members of its largest cluster.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        let quality = try FileCatalogue.section(db, key: "cluster_quality", title: "Clusterings against a random grouping of the same sizes", sql: """
            SELECT id AS clustering, algorithm, json_extract(report, '$.documents') AS documents,
                   json_extract(report, '$.maxTokens') AS max_tokens,
                   json_extract(report, '$.clustering.clusters') AS clusters,
                   json_extract(report, '$.clustering.singletons') AS singletons,
                   json_extract(report, '$.clustering.meanIntraSimilarity') AS similarity,
                   json_extract(report, '$.randomBaseline.meanIntraSimilarity') AS random_similarity,
                   json_extract(report, '$.clustering.overallFill') AS fill,
                   json_extract(report, '$.randomBaseline.overallFill') AS random_fill
            FROM clusterings WHERE status = 'complete' AND report IS NOT NULL ORDER BY id
            """)
        let sizes = try FileCatalogue.section(db, key: "cluster_sizes", title: "Documents per cluster", sql: """
            SELECT k.clustering_id AS clustering, k.n_documents AS documents, count(*) AS clusters
            FROM clusters k JOIN clusterings c ON c.id = k.clustering_id WHERE c.status = 'complete'
            GROUP BY k.clustering_id, k.n_documents ORDER BY k.clustering_id, k.n_documents
            """)
        // Token fill of each cluster against the clustering's budget, in 10% bins (over 100%:
        // a single document longer than the budget).
        let fill = try FileCatalogue.section(db, key: "cluster_fill", title: "Token fill of the clusters (share of the budget)", sql: """
            SELECT clustering, min(bin, 10) * 10 AS from_percent, min(bin, 10) * 10 + 10 AS to_percent, count(*) AS clusters FROM (
                SELECT k.clustering_id AS clustering,
                       CAST(k.n_tokens * 10 / max(1, coalesce(json_extract(c.report, '$.maxTokens'), json_extract(c.params, '$.lmax'), 1)) AS INTEGER) AS bin
                FROM clusters k JOIN clusterings c ON c.id = k.clustering_id WHERE c.status = 'complete')
            GROUP BY clustering, min(bin, 10) ORDER BY clustering, 2
            """)
        // The largest cluster of the latest complete clustering (first in emission order on ties).
        var example = FileCatalogue.Section(key: "example_cluster", title: "An example cluster", columns: [], rows: [])
        if let cluster = try Row.fetchOne(db, sql: """
            SELECT k.id, k.clustering_id FROM clusters k
            WHERE k.clustering_id = (SELECT max(id) FROM clusterings WHERE status = 'complete')
            ORDER BY k.n_documents DESC, k.ordinal LIMIT 1
            """) {
            example = try FileCatalogue.section(db, key: "example_cluster", title: "An example cluster (the largest of the latest clustering)", sql: """
                SELECT m.clustering_id AS clustering, m.cluster_id AS cluster, m.position, m.document_id AS document, m.similarity
                FROM cluster_members m WHERE m.cluster_id = ? ORDER BY m.position LIMIT 12
                """, arguments: [cluster["id"] as Int64])
            // The members' titles and openings, through ingest's read API.
            let ids = example.rows.compactMap { $0.count > 3 ? Int64.fromDatabaseValue($0[3]) : nil }
            var docs: [Int64: String] = [:]
            for d in try StoredDocument.fetch(db, ids: ids) {
                let opening = d.text.prefix(160).split(whereSeparator: \.isNewline).joined(separator: " ")
                docs[d.id] = (d.title.map { $0 + ": " } ?? "") + opening + (d.text.count > 160 ? "…" : "")
            }
            example.columns.append("excerpt")
            for i in example.rows.indices {
                let id = Int64.fromDatabaseValue(example.rows[i][3]) ?? -1
                example.rows[i].append((docs[id] ?? "").databaseValue)
            }
        }
        return [quality, sizes, fill, example]
    }
}
