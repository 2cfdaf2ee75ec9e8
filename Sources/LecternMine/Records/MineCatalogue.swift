import GRDB
import LecternStore

/// The mine stage's part of the file catalogue: texts per miner configuration.
public enum MineCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'reading-comprehension texts', NULL, substr(fingerprint, 1, 12), count(*) FROM rc_texts GROUP BY fingerprint
            """)]
    }

    /// The mined tasks by type, per miner configuration.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.section(db, key: "rc_task_types", title: "Mined reading-comprehension tasks by type", sql: """
            SELECT substr(t.fingerprint, 1, 12) AS miner, k.task_type, count(*) AS tasks, count(DISTINCT t.document_id) AS documents
            FROM rc_tasks k JOIN rc_texts t ON t.id = k.rc_text_id GROUP BY t.fingerprint, k.task_type ORDER BY t.fingerprint, k.task_type
            """)]
    }
}
