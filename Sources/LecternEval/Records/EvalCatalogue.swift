import GRDB
import LecternStore

/// Evaluation's part of the file catalogue: scores per task.
public enum EvalCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.artifacts(db, sql: """
            SELECT 'eval scores', t.id, t.name, count(s.id) FROM eval_tasks t LEFT JOIN eval_scores s ON s.task_id = t.id GROUP BY t.id
            """)]
    }
}
