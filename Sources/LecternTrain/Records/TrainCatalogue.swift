import GRDB
import LecternBuild
import LecternStore

/// Training's part of the file catalogue: checkpoints per run, and the runs.
public enum TrainCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        var runs = try FileCatalogue.section(db, key: "training_runs", title: "Training runs (steps with metrics, last loss, checkpoints in the file)", sql: """
            SELECT r.id, substr(r.fingerprint, 1, 12) AS fingerprint, r.training_set_id AS set_id, r.training_set_id AS "set",
                   r.base_model AS base, r.engine, r.method,
                   json_extract(r.params, '$.options.rank') AS rank, json_extract(r.params, '$.options.targets') AS targets, r.status,
                   (SELECT count(DISTINCT step) FROM training_metrics m WHERE m.run_id = r.id) AS steps, r.total_steps,
                   (SELECT printf('%.4f', value) FROM training_metrics m WHERE m.run_id = r.id AND m.name = 'loss' ORDER BY step DESC LIMIT 1) AS last_loss,
                   (SELECT count(*) FROM checkpoints c WHERE c.run_id = r.id) AS checkpoints,
                   (SELECT max(step) FROM checkpoints c WHERE c.run_id = r.id) AS last_checkpoint,
                   (SELECT coalesce(sum(n_bytes), 0) FROM checkpoints c WHERE c.run_id = r.id) AS tensor_bytes
            FROM training_runs r ORDER BY r.id
            """)
        // The set by name, through the build's request.
        let names = try StoredTrainingSets.names(db)
        if let column = runs.columns.firstIndex(of: "set") {
            for i in runs.rows.indices {
                if let id = Int64.fromDatabaseValue(runs.rows[i][column]) { runs.rows[i][column] = (names[id] ?? "set \(id)").databaseValue }
            }
        }
        return [
            try FileCatalogue.artifacts(db, sql: """
                SELECT 'checkpoints', r.id, r.base_model || ' run ' || r.id, count(k.id) FROM training_runs r
                  LEFT JOIN checkpoints k ON k.run_id = r.id GROUP BY r.id
                """),
            runs,
        ]
    }

    /// Loss and learning-rate curves of every run, and its checkpoints.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        [
            try FileCatalogue.section(db, key: "training_curves", title: "Training curves", sql: """
                SELECT run_id AS run, step, name, value FROM training_metrics WHERE name IN ('loss', 'learning_rate', 'grad_norm')
                ORDER BY run_id, name, step
                """),
            try FileCatalogue.section(db, key: "checkpoints", title: "Checkpoints in the file", sql: """
                SELECT id, run_id AS run, step, kind, n_bytes AS bytes, created_at FROM checkpoints ORDER BY run_id, step
                """),
        ]
    }
}
