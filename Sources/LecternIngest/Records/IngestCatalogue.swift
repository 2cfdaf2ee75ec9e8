import GRDB
import LecternStore

/// Ingest's part of the file catalogue: document counts and the sources.
public enum IngestCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [
            try FileCatalogue.section(db, key: "file", title: "File", sql: """
                SELECT 'documents' AS key, count(*) AS value FROM documents
                UNION ALL SELECT 'characters', coalesce(sum(n_chars), 0) FROM documents
                """),
            // Text files from one folder are one source row each (so a re-scan reads only new
            // files); they are shown per folder.
            try FileCatalogue.section(db, key: "sources", title: "Sources (text files grouped by folder)", sql: """
                SELECT CASE WHEN format = 'text' THEN rtrim(path, replace(path, '/', '')) ELSE path END AS path, format,
                       CASE WHEN min(status) = max(status) THEN min(status) ELSE 'mixed' END AS status, count(*) AS files,
                       sum(records_done) AS records, sum(n_added) AS added, sum(n_duplicates) AS duplicates,
                       sum(n_skipped) AS skipped, max(updated_at) AS updated_at
                FROM sources GROUP BY 1, format ORDER BY min(id)
                """),
        ]
    }
}
