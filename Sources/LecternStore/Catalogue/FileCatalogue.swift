import GRDB

/// The one catalogue of what a Lectern file holds: its metadata, sources, artifacts per
/// configuration, training sets and runs, stage runs and the bad-input messages kept with them.
///
/// `lectern status` prints it (as tables or JSON), `lectern run` summarises a run from it, and the
/// report will read it: one catalogue, so the three never disagree about what is in a file. Each
/// module describes the tables it owns (``CatalogueContributor``), so no module queries another's
/// tables; rows are the raw database values, so every consumer formats them its own way. Reading
/// it writes nothing (it works on a read-only or immutable file).
public struct FileCatalogue: Sendable {
    /// One titled table of the catalogue.
    public struct Section: Sendable {
        /// Stable key (`file`, `sources`, `artifacts`, `training_sets`, `stages`, `problems`).
        public var key: String
        public var title: String
        public var columns: [String]
        public var rows: [[DatabaseValue]]

        public init(key: String, title: String, columns: [String], rows: [[DatabaseValue]]) {
            self.key = key
            self.title = title
            self.columns = columns
            self.rows = rows
        }

        /// The value of `column` in `row`, or nil when there is no such column.
        public func value(_ row: [DatabaseValue], _ column: String) -> DatabaseValue? {
            columns.firstIndex(of: column).flatMap { $0 < row.count ? row[$0] : nil }
        }
    }

    public var sections: [Section]

    /// The section with `key`.
    public func section(_ key: String) -> Section? { sections.first { $0.key == key } }

    /// Number of rows of one kind of artifact (`documents` is in the `file` section; the
    /// `artifacts` section counts QA pairs, reading-comprehension texts, instructions, ...), over
    /// every configuration, or of the configuration row `id` (a clustering, a generator, ...).
    public func artifactRows(_ artifact: String, id: Int64? = nil) -> Int {
        guard let s = section("artifacts") else { return 0 }
        return s.rows.reduce(0) { total, row in
            guard String.fromDatabaseValue(s.value(row, "artifact") ?? .null) == artifact else { return total }
            if let id, Int64.fromDatabaseValue(s.value(row, "id") ?? .null) != id { return total }
            return total + (Int.fromDatabaseValue(s.value(row, "rows") ?? .null) ?? 0)
        }
    }

    /// A value of the `file` section (`documents`, `characters`, `domain`, `schema_version`, ...).
    public func fileFact(_ key: String) -> DatabaseValue? {
        section("file")?.rows.first { String.fromDatabaseValue($0.first ?? .null) == key }.flatMap { $0.count > 1 ? $0[1] : nil }
    }

    /// The `training_sets` row of set `id`, as column -> value.
    public func trainingSet(id: Int64) -> [String: DatabaseValue]? {
        guard let s = section("training_sets"),
              let row = s.rows.first(where: { Int64.fromDatabaseValue(s.value($0, "id") ?? .null) == id }) else { return nil }
        return Dictionary(uniqueKeysWithValues: zip(s.columns, row))
    }

    /// Reads the catalogue in one read transaction (a consistent snapshot) from `contributors`,
    /// in order: a section's rows are those of every contributor of its key, in contributor
    /// order, and sections come in the order their keys first appear. Each module describes the
    /// tables it owns (``CatalogueContributor``); the full list is `LecternCatalogue.contributors`.
    ///
    /// With `details`, each contributor's ``CatalogueContributor/details(_:)`` sections follow its
    /// summary ones: the distributions and curves the HTML report draws, too long for a terminal.
    public static func read(_ db: Database, from contributors: [any CatalogueContributor.Type], details: Bool = false) throws -> FileCatalogue {
        var sections: [Section] = []
        for contributor in contributors {
            for part in try contributor.catalogue(db) + (details ? contributor.details(db) : []) {
                if let i = sections.firstIndex(where: { $0.key == part.key }) {
                    precondition(sections[i].columns == part.columns, "catalogue section \(part.key): contributors disagree on columns")
                    sections[i].rows += part.rows
                } else {
                    sections.append(part)
                }
            }
        }
        return FileCatalogue(sections: sections)
    }

    /// One section from one query over the caller's own tables.
    public static func section(_ db: Database, key: String, title: String, sql: String, arguments: StatementArguments = []) throws -> Section {
        let statement = try db.makeStatement(sql: sql)
        let rows = try Row.fetchAll(statement, arguments: arguments).map { Array($0.databaseValues) }
        return Section(key: key, title: title, columns: statement.columnNames, rows: rows)
    }

    /// The columns of the shared `artifacts` section: what, of which configuration row, named how, how many rows.
    public static let artifactColumns = ["artifact", "id", "by", "rows"]

    /// Rows of the shared `artifacts` section from a query whose columns are ``artifactColumns``.
    public static func artifacts(_ db: Database, sql: String) throws -> Section {
        var s = try section(db, key: "artifacts", title: "Artifacts", sql: sql)
        s.columns = artifactColumns
        return s
    }

    /// The `stages` section: the latest run per stage and configuration.
    static func stages(_ db: Database) throws -> Section {
        try section(db, key: "stages", title: "Stages (latest run per stage and configuration)", sql: """
            SELECT stage, substr(fingerprint, 1, 12) AS config, status, n_processed AS processed, n_skipped AS skipped,
                   n_failed AS failed, runs, host, finished_at
            FROM (SELECT *, count(*) OVER (PARTITION BY stage, fingerprint) AS runs,
                         row_number() OVER (PARTITION BY stage, fingerprint ORDER BY id DESC) AS rn FROM stage_runs)
            WHERE rn = 1 ORDER BY id
            """)
    }

    /// The bad-input messages and errors kept with the latest run of each stage and configuration
    /// (`stage_runs.error`: the first 100 of a run, then a count of the rest), one row a message.
    static func problems(_ db: Database) throws -> Section {
        let runs = try Row.fetchAll(db, sql: """
            SELECT id, stage, status, error FROM (
                SELECT *, row_number() OVER (PARTITION BY stage, fingerprint ORDER BY id DESC) AS rn FROM stage_runs)
            WHERE rn = 1 AND error IS NOT NULL AND error != '' ORDER BY id
            """)
        var rows: [[DatabaseValue]] = []
        for run in runs {
            let text = String.fromDatabaseValue(run["error"] as DatabaseValue) ?? ""
            for line in text.split(whereSeparator: \.isNewline) {
                rows.append([run["id"] as DatabaseValue, run["stage"] as DatabaseValue, run["status"] as DatabaseValue,
                             String(line).databaseValue])
            }
        }
        return Section(key: "problems", title: "Bad input and errors (kept with the latest run of each stage and configuration)",
                       columns: ["run", "stage", "status", "message"], rows: rows)
    }
}

/// A module's part of the catalogue: sections (or rows of shared sections such as `file` and
/// `artifacts`) about the tables it owns.
public protocol CatalogueContributor {
    /// The summary: what `lectern status` prints.
    static func catalogue(_ db: Database) throws -> [FileCatalogue.Section]
    /// Distributions, curves and examples of the module's tables (histogram bins, loss curves,
    /// an example cluster): what `lectern report` draws. Sections with no rows are left out there.
    static func details(_ db: Database) throws -> [FileCatalogue.Section]
}

extension CatalogueContributor {
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] { [] }
}

extension FileCatalogue {
    /// Equal-width histogram bins over `values` (`bins` of them, the width rounded up to 1, 2 or
    /// 5 times a power of ten so the edges read well), as rows `[group, from, to, count]` with
    /// `from` inclusive and `to` exclusive; values at or above the last edge go into the last bin.
    public static func histogramRows(group: DatabaseValue, values: [Int], bins: Int = 16) -> [[DatabaseValue]] {
        guard let top = values.max(), bins > 0 else { return [] }
        let raw = max(1, (top + bins) / bins)
        var magnitude = 1
        while magnitude * 10 <= raw { magnitude *= 10 }
        let width = [1, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        let used = min(bins, top / width + 1)
        var counts = [Int](repeating: 0, count: used)
        for v in values { counts[min(used - 1, max(0, v) / width)] += 1 }
        return counts.enumerated().map { i, n in
            [group, (i * width).databaseValue, ((i + 1) * width).databaseValue, n.databaseValue]
        }
    }
}

/// The store's own parts: the file's metadata (first) and the stage history (last).
public enum StoreCatalogue {
    /// `lectern_meta` as the first rows of the `file` section.
    public enum Metadata: CatalogueContributor {
        public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
            [try FileCatalogue.section(db, key: "file", title: "File", sql: "SELECT key, value FROM lectern_meta")]
        }
    }

    /// The `stages` and `problems` sections.
    public enum StageHistory: CatalogueContributor {
        public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
            [try FileCatalogue.stages(db), try FileCatalogue.problems(db)]
        }

        /// Every stage run, oldest first, with its configuration and wall time.
        public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
            [try FileCatalogue.section(db, key: "stage_runs", title: "Stage runs", sql: """
                SELECT id, stage, substr(fingerprint, 1, 12) AS config_id, config, status, started_at, finished_at,
                       CASE WHEN finished_at IS NULL THEN NULL
                            ELSE round((julianday(finished_at) - julianday(started_at)) * 86400.0, 1) END AS seconds,
                       n_processed AS processed, n_skipped AS skipped, n_failed AS failed, host
                FROM stage_runs ORDER BY id
                """)]
        }
    }
}
