import GRDB
import LecternStore

/// The embed stage's part of the file catalogue: documents embedded per embedder.
public enum EmbedCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'embeddings', e.id, e.name, count(x.document_id) FROM embedders e
              LEFT JOIN embeddings x ON x.embedder_id = e.id GROUP BY e.id
            """)]
    }

    /// The embedders: model, dimension, vectors.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.section(db, key: "embedders", title: "Embedders", sql: """
            SELECT e.id, e.name, e.kind, e.model, e.dim, e.metric, count(x.document_id) AS documents FROM embedders e
              LEFT JOIN embeddings x ON x.embedder_id = e.id GROUP BY e.id ORDER BY e.id
            """)]
    }
}
