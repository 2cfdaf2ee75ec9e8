import GRDB
import LecternIngest
import LecternStore
import LecternTrain

/// Evaluation's part of the file catalogue: items per task, and every score (each model and
/// checkpoint on each task, in the task's own metric, with its bootstrap interval).
public enum EvalCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        let items = try FileCatalogue.artifacts(db, sql: """
            SELECT 'eval items', t.id, t.name, count(i.id) FROM eval_tasks t LEFT JOIN eval_items i ON i.task_id = t.id GROUP BY t.id
            """)
        var scores = try FileCatalogue.section(db, key: "eval_scores", title: "Evaluation scores (the task's metric, bootstrap 95% interval)", sql: """
            SELECT t.name AS task, t.kind, s.model, s.checkpoint_id AS checkpoint, s.metric,
                   round(s.value, 2) AS score, round(s.ci_low, 2) AS low, round(s.ci_high, 2) AS high, s.n_items AS items
            FROM eval_scores s JOIN eval_tasks t ON t.id = s.task_id
            WHERE s.metric = t.metric ORDER BY t.id, s.model, s.checkpoint_id IS NOT NULL, s.checkpoint_id
            """)
        // The checkpoint as its run and step, through training's read API.
        let steps = try StoredCheckpoints.steps(db)
        scores.columns.insert(contentsOf: ["run", "step"], at: 4)
        for i in scores.rows.indices {
            let id = Int64.fromDatabaseValue(scores.rows[i][3])
            let at = id.flatMap { steps[$0] }
            scores.rows[i].insert(contentsOf: [at.map { $0.run.databaseValue } ?? .null, at.map { $0.step.databaseValue } ?? .null], at: 4)
        }
        return [items, scores]
    }

    /// Tasks whose items are made from documents of this file: a set that does not hold them
    /// out (`build --exclude-eval`) trains on the test items.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        var rows: [[DatabaseValue]] = []
        for task in try EvalItems.taskNames(db) {
            let n = try StoredDocument.ids(db, withContentHashIn: EvalItems.contentHashes(db, tasks: [task]).contentHashes).count
            if n > 0 { rows.append([task.databaseValue, n.databaseValue]) }
        }
        return [FileCatalogue.Section(key: "eval_contamination", title: "Eval items made from documents of this file",
                                      columns: ["task", "documents"], rows: rows)]
    }
}
