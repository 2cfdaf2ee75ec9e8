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

    /// Token lengths of the documents, as histogram bins per tokenizer.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        var rows: [[DatabaseValue]] = []
        for t in try Row.fetchAll(db, sql: "SELECT id, name FROM tokenizers ORDER BY id") {
            let lengths = try Int.fetchAll(db, sql: "SELECT n_tokens FROM token_counts WHERE tokenizer_id = ?", arguments: [t["id"] as Int64])
            rows += FileCatalogue.histogramRows(group: (t["name"] as String).databaseValue, values: lengths)
        }
        return [FileCatalogue.Section(key: "token_lengths", title: "Document lengths in tokens",
                                      columns: ["tokenizer", "from", "to", "documents"], rows: rows)]
    }
}
