import GRDB
import LecternStore

/// The generate stage's part of the file catalogue: QA pairs per generator.
public enum GenerateCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'QA pairs', g.id, g.name || ' (' || g.model || ')', count(q.id) FROM generators g
              LEFT JOIN qa_pairs q ON q.generator_id = g.id GROUP BY g.id
            """)]
    }
}
