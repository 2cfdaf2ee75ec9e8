import GRDB
import LecternStore

/// The tokens stage's part of the file catalogue: documents counted per tokenizer.
public enum TokensCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'token counts', t.id, t.name, count(c.document_id) FROM tokenizers t
              LEFT JOIN token_counts c ON c.tokenizer_id = t.id GROUP BY t.id
            """)]
    }
}
