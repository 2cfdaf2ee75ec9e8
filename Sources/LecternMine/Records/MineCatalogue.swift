import GRDB
import LecternStore

/// The mine stage's part of the file catalogue: texts per miner configuration.
public enum MineCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'reading-comprehension texts', NULL, substr(fingerprint, 1, 12), count(*) FROM rc_texts GROUP BY fingerprint
            """)]
    }
}
