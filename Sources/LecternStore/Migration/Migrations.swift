import GRDB

/// The schema migrations, in order: one per `migrations/NNNN_name.sql` file, embedded into the
/// binary at build time by the `EmbedMigrations` plugin. The SQL files are the single source of
/// truth; `schema/schema.sql` documents their cumulative result (a test keeps the two equal).
public enum Migrations {
    /// Identifiers (file names without `.sql`), in application order.
    public static var identifiers: [String] { EmbeddedMigrations.all.map(\.name) }

    /// The SQL of each migration, in application order.
    public static var all: [(name: String, sql: String)] { EmbeddedMigrations.all }

    /// The schema version a file has once every migration is applied: the number of the last one.
    /// Mirrored into `PRAGMA user_version` so the sqlite3 shell can see it.
    public static var latestVersion: Int { identifiers.last.flatMap(version(of:)) ?? 0 }

    static func version(of identifier: String) -> Int? {
        Int(identifier.prefix { $0.isNumber })
    }

    /// A GRDB migrator with every embedded migration registered.
    static func migrator() -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for (name, sql) in all {
            migrator.registerMigration(name) { db in
                try db.execute(sql: sql)
            }
        }
        return migrator
    }
}
