import Foundation
import GRDB

/// Reads of `eval_tasks` and `eval_items`, which only evaluation writes (``TaskImport``); the
/// build reads which documents eval items come from through ``contentHashes(_:tasks:)``.
public enum EvalItems {
    /// The names of the file's eval tasks, in import order.
    public static func taskNames(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM eval_tasks ORDER BY id")
    }

    /// Which of `tasks` are eval tasks of the file, and the content hashes of their items that
    /// were made from a document (the documents to hold out of training). Matches
    /// ``EvalItemReader`` of LecternBuild.
    @Sendable
    public static func contentHashes(_ db: Database, tasks: [String]) throws -> (known: Set<String>, contentHashes: Set<Data>) {
        guard !tasks.isEmpty else { return ([], []) }
        let marks = tasks.map { _ in "?" }.joined(separator: ",")
        let known = Set(try String.fetchAll(db, sql: "SELECT name FROM eval_tasks WHERE name IN (\(marks))", arguments: StatementArguments(tasks)))
        let hashes = Set(try Data.fetchAll(db, sql: """
            SELECT i.content_hash FROM eval_items i JOIN eval_tasks t ON t.id = i.task_id
            WHERE t.name IN (\(marks)) AND i.content_hash IS NOT NULL
            """, arguments: StatementArguments(tasks)))
        return (known, hashes)
    }
}
