import Foundation
import GRDB
import XCTest

/// Metadata columns (filtered inside a KNN scan), auxiliary `+columns`, an integer primary key
/// column, declaration order, `vec_each`, `vec_type` and `vec_version`: sqlite-vec's table surface.
final class MetadataColumnTests: XCTestCase {
    static let genres = ["horror", "comedy", "scifi", "fantasy", "documentary", "drama"]

    /// A table with every column kind, rows with seeded random values (some NULL).
    private func movies(_ db: Database, name: String = "m", rows: Int, dims: Int, ivf: Bool = false, seed: UInt64 = 7, options: String = "") throws {
        let index = ivf ? " indexed by ivf(nlist=8, nprobe=8)" : ""
        try db.execute(sql: """
            CREATE VIRTUAL TABLE \(name) USING lectern_vec(
              movie_id integer primary key,
              genre text,
              e float[\(dims)]\(index),
              +title text,
              fav boolean,
              user integer partition key,
              reviews int,
              rating float,
              chunk_size=16\(options))
            """)
        var rng = TestRNG(seed)
        for i in 1...rows {
            let genre: String? = rng.int(10) == 0 ? nil : Self.genres[rng.int(Self.genres.count)]
            try db.execute(sql: "INSERT INTO \(name)(movie_id, e, genre, title, fav, user, reviews, rating) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           arguments: [i, blob(rng.vector(dims)), genre, "title \(i)", rng.int(2), rng.int(3), rng.int(500), Double(rng.int(50)) / 10])
        }
        if ivf { try db.execute(sql: "INSERT INTO \(name)(\(name)) VALUES ('compute-centroids')") }
    }

    /// Filters of every operator the scan takes; each KNN answer must equal the same filter applied
    /// by SQLite itself in a full scan ordered by the distance function (the brute-force oracle).
    static let filters = [
        "genre = 'horror'", "genre != 'horror'", "genre < 'd'", "genre >= 'fantasy'", "genre <= 'fantasy'", "genre > 'horror'", "genre > 'e'", "genre <= 'e'", "genre != 'nope'", "genre = NULL", "genre IN ('scifi', 'drama')",
        "genre LIKE 'h%'", "genre GLOB '*o*'", "genre IS NULL", "genre IS NOT NULL", "genre IS 'comedy'",
        "reviews < 100", "reviews <= 10", "reviews > 450 AND fav = 1", "reviews IN (1, 2, 3, 400, 401, 402)",
        "rating >= 4.5", "rating = 2.5", "fav = 0 AND genre = 'comedy' AND rating < 3",
        "movie_id IN (5, 50, 150, 250, 1000)", "movie_id > 280", "movie_id <= 3",
        "user = 1 AND genre = 'scifi'", "user IN (0, 2) AND reviews < 50", "user > 0", "genre IN ()",
    ]

    private func checkFiltersMatchBruteForce(_ db: Database, table: String, dims: Int, extra: String = "") throws {
        var rng = TestRNG(99)
        for f in Self.filters {
            for k in [1, 7, 40] {
                let q = blob(rng.vector(dims))
                let knn = try Row.fetchAll(db, sql: "SELECT movie_id, distance FROM \(table) WHERE e MATCH ? AND k = ? \(extra) AND \(f) ORDER BY distance", arguments: [q, k])
                let brute = try Row.fetchAll(db, sql: "SELECT movie_id, vec_distance_l2(e, ?) AS d FROM \(table) WHERE \(f) ORDER BY d, movie_id LIMIT ?", arguments: [q, k])
                XCTAssertEqual(knn.map { $0[0] as Int64 }, brute.map { $0[0] as Int64 }, "\(table) WHERE \(f), k = \(k)")
                for (a, b) in zip(knn, brute) {
                    XCTAssertEqual(a[1] as Double, b[1] as Double, accuracy: 1e-4, "\(f): distance")
                }
            }
        }
    }

    func testFilteredKNNEqualsBruteForceForEveryOperator() throws {
        let q = try openQueue()
        try q.write { db in try movies(db, rows: 300, dims: 8) }
        // Inside a write transaction that changed the table the filter is computed in SQL, not from
        // the in-memory snapshot: both ways must give the brute-force answer.
        try q.write { db in
            try db.execute(sql: "INSERT INTO m(movie_id, e, genre, fav, user, reviews, rating) VALUES (301, ?, 'horror', 1, 1, 3, 4.75)",
                           arguments: [blob([Float](repeating: 0.1, count: 8))])
            try checkFiltersMatchBruteForce(db, table: "m", dims: 8)
        }
        // cache_mb = 0: no snapshot fits, every filter runs in SQL outside a write transaction too.
        try q.write { db in try movies(db, name: "nocache", rows: 300, dims: 8, options: ", cache_mb=0") }
        try q.read { db in try checkFiltersMatchBruteForce(db, table: "nocache", dims: 8) }
        try q.read { db in
            try checkFiltersMatchBruteForce(db, table: "m", dims: 8)
            // The filtered answer is k rows when k rows pass: no row lost to a filter applied after the scan.
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM m WHERE e MATCH ? AND k = 20 AND genre = 'drama'", arguments: [blob([Float](repeating: 0, count: 8))]), 20)
            // Declaration order: rowid (the primary key's name), then the columns as written.
            let row = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM m WHERE movie_id = 3"))
            XCTAssertEqual(Array(row.columnNames), ["movie_id", "genre", "e", "title", "fav", "user", "reviews", "rating"])
            XCTAssertEqual(row["title"] as String, "title 3")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM m WHERE movie_id IN (4, 2) ORDER BY 1"), [2, 4])
            // A join reaches the table through `rowid = outer.id`: still the k nearest, then the join.
            let q = blob([Float](repeating: 0, count: 8))
            let nearest = try Int64.fetchAll(db, sql: "SELECT movie_id FROM m WHERE e MATCH ? AND k = 3 ORDER BY distance", arguments: [q])
            let joined = try Int64.fetchAll(db, sql: """
                WITH ids(id) AS (SELECT value FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]') UNION ALL SELECT ?1 UNION ALL SELECT ?2 UNION ALL SELECT ?3)
                SELECT v.movie_id FROM (SELECT movie_id, distance FROM m WHERE e MATCH ?4 AND k = 3) v JOIN ids ON ids.id = v.movie_id ORDER BY v.distance
                """, arguments: [nearest[0], nearest[1], nearest[2], q])
            XCTAssertEqual(joined, nearest)
        }
    }

    func testIVFScanHonoursTheSameFilters() throws {
        let q = try openQueue()
        try q.write { db in try movies(db, name: "iv", rows: 300, dims: 8, ivf: true) }
        // nprobe = nlist: every list is probed, so the IVF answer is exact and must equal brute force.
        try q.read { db in try checkFiltersMatchBruteForce(db, table: "iv", dims: 8, extra: "AND nprobe = 8") }
        // Rows inserted after training go to their lists with their metadata.
        try q.write { db in
            try db.execute(sql: "INSERT INTO iv(movie_id, e, genre, fav, user, reviews, rating) VALUES (1001, ?, 'western', 1, 0, 7, 1.5)",
                           arguments: [blob([Float](repeating: 0.5, count: 8))])
        }
        try q.read { db in
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT movie_id FROM iv WHERE e MATCH ? AND k = 5 AND nprobe = 1 AND genre = 'western'",
                                              arguments: [blob([Float](repeating: 0.5, count: 8))]), [1001])
        }
    }

    func testWritesCheckTypesAndKeepRowsWhole() throws {
        let path = tempPath("metadata.db")
        let q = try openQueue(path)
        try q.write { db in try movies(db, rows: 20, dims: 4) }
        let v = blob([Float](repeating: 1, count: 4))
        let bad: [(String, StatementArguments, String)] = [
            ("INSERT INTO m(movie_id, e, fav) VALUES (100, ?, 44)", [v], "metadata column m.fav is BOOLEAN: expected 0 or 1, got 44"),
            ("INSERT INTO m(movie_id, e, fav) VALUES (100, ?, 'yes')", [v], "m.fav is BOOLEAN: expected 0 or 1, got TEXT"),
            ("INSERT INTO m(movie_id, e, reviews) VALUES (100, ?, 'many')", [v], "metadata column m.reviews is INTEGER: expected INTEGER, got TEXT"),
            ("INSERT INTO m(movie_id, e, rating) VALUES (100, ?, 'high')", [v], "m.rating is FLOAT: expected FLOAT, got TEXT"),
            ("INSERT INTO m(movie_id, e, genre) VALUES (100, ?, 5)", [v], "m.genre is TEXT: expected TEXT, got INTEGER"),
            ("INSERT INTO m(movie_id, e, title) VALUES (100, ?, 5)", [v], "auxiliary column m.title is TEXT, got INTEGER"),
            ("UPDATE m SET reviews = 'x' WHERE movie_id = 1", [], "m.reviews is INTEGER"),
            ("SELECT movie_id FROM m WHERE e MATCH ? AND k = 3 AND title = 'title 1'", [v], "m.title is an auxiliary column: a KNN query cannot filter on it"),
            ("SELECT movie_id FROM m WHERE e MATCH ? AND k = 3 AND genre MATCH 'x'", [v], "cannot filter genre with this operator"),
        ]
        assertSQLErrors(q, bad.map { (sql: $0.0, arguments: $0.1, fragment: $0.2) })
        try q.write { db in
            // A refused INSERT left nothing behind; a refused UPDATE left the row as it was.
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM m"), 20)
            XCTAssertNil(try Row.fetchOne(db, sql: "SELECT * FROM m WHERE movie_id = 100"))
            // An integer into a float column is widened (sqlite-vec 0.1.6 refuses it).
            try db.execute(sql: "INSERT INTO m(movie_id, e, rating, genre) VALUES (100, ?, 4, NULL)", arguments: [v])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT typeof(rating) FROM m WHERE movie_id = 100"), "real")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT movie_id FROM m WHERE e MATCH ? AND k = 3 AND rating = 4.0", arguments: [v]), [100])
            // UPDATE of metadata and auxiliary values only; the vector stays.
            let before = try Data.fetchOne(db, sql: "SELECT e FROM m WHERE movie_id = 2")
            try db.execute(sql: "UPDATE m SET genre = 'noir', title = 'renamed', reviews = 9999 WHERE movie_id = 2")
            let row = try XCTUnwrap(Row.fetchOne(db, sql: "SELECT genre, title, reviews, e FROM m WHERE movie_id = 2"))
            XCTAssertEqual(row[0] as String, "noir")
            XCTAssertEqual(row[1] as String, "renamed")
            XCTAssertEqual(row[2] as Int64, 9999)
            XCTAssertEqual(row[3] as Data, before)
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT movie_id FROM m WHERE e MATCH ? AND k = 5 AND genre = 'noir'", arguments: [v]), [2])
            // DELETE by a metadata column (a full scan filtered by SQLite) removes every match and its auxiliary row.
            let horror = try Int.fetchOne(db, sql: "SELECT count(*) FROM m WHERE genre = 'horror'") ?? 0
            try db.execute(sql: "DELETE FROM m WHERE genre = 'horror'")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM m"), 21 - horror)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM m_auxiliary"), 21 - horror)
        }
        // The values survive closing and reopening the file.
        let reopened = try openQueue(path)
        try reopened.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT title FROM m WHERE movie_id = 2"), "renamed")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT movie_id FROM m WHERE e MATCH ? AND k = 5 AND reviews = 9999", arguments: [v]), [2])
        }
    }

    /// Several vector columns in one table (sqlite-vec's `vec0(a float[4], b int8[8], ...)`): each
    /// with its own type and metric, each searchable by MATCH, filters included.
    func testSeveralVectorColumns() throws {
        let q = try openQueue()
        var rng = TestRNG(11)
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE mv USING lectern_vec(a float[4], g text, b int8[8] distance_metric=cosine, c bit[16], chunk_size=8)")
            for i in 1...60 {
                let b = (0..<8).map { _ in Int8(rng.int(200) - 100) }
                let c = [UInt8(rng.int(256)), UInt8(rng.int(256))]
                try db.execute(sql: "INSERT INTO mv(rowid, a, g, b, c) VALUES (?, ?, ?, vec_int8(?), vec_bit(?))",
                               arguments: [i, blob(rng.vector(4)), ["x", "y"][i % 2], blob(b), Data(c)])
            }
        }
        let qa = blob(rng.vector(4)), qb = blob((0..<8).map { _ in Int8(rng.int(200) - 100) }), qc = Data([0x5a, 0xa5])
        try q.read { db in
            XCTAssertEqual(Array(try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM mv WHERE rowid = 1")).columnNames), ["rowid", "a", "g", "b", "c"])
            for (col, arg, fn) in [("a", "?", "vec_distance_l2"), ("b", "vec_int8(?)", "vec_distance_cosine"), ("c", "vec_bit(?)", "vec_distance_hamming")] {
                let v: DatabaseValueConvertible = col == "a" ? qa : col == "b" ? qb : qc
                for filter in ["", "AND g = 'x'"] {
                    let knn = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM mv WHERE \(col) MATCH \(arg) AND k = 7 \(filter) ORDER BY distance", arguments: [v])
                    let brute = try Row.fetchAll(db, sql: "SELECT rowid, \(fn)(\(col), \(arg)) AS d FROM mv WHERE 1 \(filter) ORDER BY d, rowid LIMIT 7", arguments: [v])
                    XCTAssertEqual(knn.map { $0[0] as Int64 }, brute.map { $0[0] as Int64 }, "\(col) \(filter)")
                    for (x, y) in zip(knn, brute) { XCTAssertEqual(x[1] as Double, y[1] as Double, accuracy: 1e-5, "\(col)") }
                }
            }
        }
        try q.write { db in
            // UPDATE one vector column: the others stay; the row moves slots together.
            let before = try Row.fetchOne(db, sql: "SELECT a, c FROM mv WHERE rowid = 3")!
            try db.execute(sql: "UPDATE mv SET b = vec_int8('[1,2,3,4,5,6,7,8]') WHERE rowid = 3")
            let after = try Row.fetchOne(db, sql: "SELECT a, vec_to_json(b), c FROM mv WHERE rowid = 3")!
            XCTAssertEqual(after[0] as Data, before[0] as Data)
            XCTAssertEqual(after[1] as String, "[1,2,3,4,5,6,7,8]")
            XCTAssertEqual(after[2] as Data, before[1] as Data)
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM mv WHERE b MATCH vec_int8('[1,2,3,4,5,6,7,8]') AND k = 1"), [3])
            // Deleted slots are refilled with all of a new row's vectors.
            try db.execute(sql: "DELETE FROM mv WHERE rowid <= 10")
            try db.execute(sql: "INSERT INTO mv(rowid, a, g, b, c) VALUES (100, '[9,9,9,9]', 'z', vec_int8('[9,9,9,9,9,9,9,9]'), vec_bit(X'ffff'))")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM mv WHERE c MATCH vec_bit(X'ffff') AND k = 1 AND g = 'z'"), [100])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(b) FROM mv WHERE rowid = 100"), "[9,9,9,9,9,9,9,9]")
        }
        let bad: [(String, String)] = [
            ("INSERT INTO mv(rowid, a, g, c) VALUES (200, '[1,1,1,1]', 'x', vec_bit(X'0000'))", "mv.b cannot be NULL"),
            ("INSERT INTO mv(rowid, a, g, b, c) VALUES (200, '[1,1,1,1]', 'x', '[1,2]', vec_bit(X'0000'))", "mv.b: expected a int8 vector"),
            ("SELECT rowid FROM mv WHERE a MATCH '[1,1,1,1]' AND b MATCH vec_int8('[1,1,1,1,1,1,1,1]') AND k = 3", "can MATCH one vector column"),
            ("CREATE VIRTUAL TABLE bad USING lectern_vec(a float[4], b float[4] indexed by ivf(nlist=2, nprobe=1))", "only the first vector column can have an IVF index"),
        ]
        assertSQLErrors(q, bad)
        // RENAME and DROP carry every shadow table, the further vector columns' included.
        try q.write { db in
            try db.execute(sql: "ALTER TABLE mv RENAME TO mv2")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM mv2 WHERE c MATCH vec_bit(X'ffff') AND k = 1"), [100])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name LIKE 'mv\\_%' ESCAPE '\\'"), 0)
            // The old name is free again: a new table can take it.
            try db.execute(sql: "CREATE VIRTUAL TABLE mv USING lectern_vec(a float[4])")
            try db.execute(sql: "DROP TABLE mv")
            try db.execute(sql: "DROP TABLE mv2")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name LIKE 'mv2%'"), 0)
        }
    }

    /// `id text primary key`: text ids in column 0, unique, found by `id = ?`, returned by KNN.
    func testTextPrimaryKey() throws {
        let path = tempPath("textpk.db")
        let q = try openQueue(path)
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE docs USING lectern_vec(id text primary key, e float[2], lang text, chunk_size=8)")
            for i in 0..<20 {
                try db.execute(sql: "INSERT INTO docs(id, e, lang) VALUES (?, ?, ?)", arguments: ["doc-\(i)", "[\(i), 0]", i % 2 == 0 ? "en" : "de"])
            }
        }
        try q.read { db in
            XCTAssertEqual(Array(try XCTUnwrap(Row.fetchOne(db, sql: "SELECT * FROM docs WHERE id = 'doc-3'")).columnNames), ["id", "e", "lang"])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(e) FROM docs WHERE id = 'doc-3'"), "[3.000000,0.000000]")
            XCTAssertNil(try Row.fetchOne(db, sql: "SELECT * FROM docs WHERE id = 'nope'"))
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT id FROM docs WHERE e MATCH '[4.2, 0]' AND k = 3 ORDER BY distance"), ["doc-4", "doc-5", "doc-3"])
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT id FROM docs WHERE e MATCH '[4.2, 0]' AND k = 2 AND lang = 'de' ORDER BY distance"), ["doc-5", "doc-3"])
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT id FROM docs WHERE e MATCH '[0, 0]' AND k = 3 AND id IN ('doc-7', 'doc-9', 'x') ORDER BY distance"), ["doc-7", "doc-9"])
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT id FROM docs WHERE e MATCH '[0, 0]' AND k = 2 AND id > 'doc-5' ORDER BY distance"), ["doc-6", "doc-7"])
            // A join on the text id keeps "k nearest, then join".
            XCTAssertEqual(try String.fetchAll(db, sql: """
                SELECT v.id FROM (SELECT id, distance FROM docs WHERE e MATCH '[0, 0]' AND k = 2) v
                JOIN (SELECT 'doc-' || value AS id FROM json_each('[0,1,2,3,4,5]')) w ON w.id = v.id ORDER BY v.distance
                """), ["doc-0", "doc-1"])
        }
        try q.write { db in
            XCTAssertThrowsError(try db.execute(sql: "INSERT INTO docs(id, e) VALUES ('doc-1', '[1,1]')")) { e in
                XCTAssertTrue("\(e)".contains("UNIQUE constraint failed on docs primary key (id 'doc-1')"), "\(e)")
            }
            XCTAssertThrowsError(try db.execute(sql: "INSERT INTO docs(id, e) VALUES (5, '[1,1]')")) { e in
                XCTAssertTrue("\(e)".contains("primary key docs.id must be TEXT, got INTEGER"), "\(e)")
            }
            XCTAssertThrowsError(try db.execute(sql: "INSERT INTO docs(e) VALUES ('[1,1]')")) { e in
                XCTAssertTrue("\(e)".contains("must be TEXT, got NULL"), "\(e)")
            }
            try db.execute(sql: "INSERT OR REPLACE INTO docs(id, e, lang) VALUES ('doc-1', '[100, 0]', 'fr')")
            try db.execute(sql: "UPDATE docs SET e = '[50, 0]' WHERE id = 'doc-2'")
            try db.execute(sql: "UPDATE docs SET id = 'doc-2b' WHERE id = 'doc-2'")
            XCTAssertThrowsError(try db.execute(sql: "UPDATE docs SET id = 'doc-3' WHERE id = 'doc-4'"))
            try db.execute(sql: "DELETE FROM docs WHERE id = 'doc-0'")
        }
        let reopened = try openQueue(path)
        try reopened.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM docs"), 19)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT id FROM docs WHERE e MATCH '[100, 0]' AND k = 2 ORDER BY distance"), ["doc-1", "doc-2b"])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT lang FROM docs WHERE id = 'doc-1'"), "fr")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(e) FROM docs WHERE id = 'doc-4'"), "[4.000000,0.000000]")
            XCTAssertNil(try Row.fetchOne(db, sql: "SELECT * FROM docs WHERE id = 'doc-0'"))
        }
    }

    /// Several partition keys (sqlite-vec allows 4): `=` on all of them reads that combination's
    /// chain only; `=` on some, IN or ranges filter rows like metadata. Every answer equals
    /// SQLite's own full-scan filter, exact and IVF, before and after UPDATEs that move rows
    /// between chains, and after reopening the file.
    func testSeveralPartitionKeys() throws {
        let path = tempPath("several-partition-keys.sqlite")
        var queue: DatabaseQueue? = try openQueue(path)
        let dims = 6
        try queue!.write { db in
            for (name, index) in [("pk", ""), ("pkivf", " indexed by ivf(nlist=4, nprobe=4)")] {
                try db.execute(sql: "CREATE VIRTUAL TABLE \(name) USING lectern_vec(e float[\(dims)]\(index), user integer partition key, region text partition key, year integer, chunk_size=8)")
                var rng = TestRNG(11)
                for i in 1...240 {
                    let region: String? = i % 37 == 0 ? nil : ["eu", "us", "asia"][rng.int(3)]
                    try db.execute(sql: "INSERT INTO \(name)(rowid, e, user, region, year) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [i, blob(rng.vector(dims)), rng.int(4), region, 1990 + rng.int(30)])
                }
                if !index.isEmpty { try db.execute(sql: "INSERT INTO \(name)(\(name)) VALUES ('compute-centroids')") }
            }
        }
        let filters = ["user = 2 AND region = 'eu'", "user = 0 AND region = 'asia' AND year > 2005", "user = 3", "region = 'us'",
                       "user IN (1, 3) AND region = 'eu'", "user >= 2 AND region != 'us'", "user = 1 AND region = 'nowhere'",
                       "user = 2 AND region IS NULL", "region IS NULL"]
        func check(_ db: Database, _ label: String) throws {
            var rng = TestRNG(5)
            for table in ["pk", "pkivf"] {
                for f in filters {
                    for k in [1, 6, 30] {
                        let q = blob(rng.vector(dims))
                        let knn = try Int64.fetchAll(db, sql: "SELECT rowid FROM \(table) WHERE e MATCH ? AND k = ? AND \(f) ORDER BY distance", arguments: [q, k])
                        let brute = try Int64.fetchAll(db, sql: "SELECT rowid FROM \(table) WHERE \(f) ORDER BY vec_distance_l2(e, ?), rowid LIMIT ?", arguments: [q, k])
                        XCTAssertEqual(knn, brute, "\(label): \(table) WHERE \(f), k = \(k)")
                    }
                }
                // `key = NULL` matches nothing, as in SQL; the NULL-keyed rows are still in the table.
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE e MATCH ? AND k = 5 AND user = 1 AND region = NULL", arguments: [blob(rng.vector(dims))]), 0)
                // Rows 37, 74, ..., 222 were inserted with a NULL region; the UPDATE gives 185 one.
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE region IS NULL"), label == "as inserted" ? 6 : 5)
            }
        }
        try queue!.read { db in try check(db, "as inserted") }
        try queue!.write { db in
            // 1 and '1' are different chains, and the keys are type-checked one by one.
            for table in ["pk", "pkivf"] {
                try db.execute(sql: "UPDATE \(table) SET user = 3, region = 'eu' WHERE rowid % 5 = 0")
                try db.execute(sql: "DELETE FROM \(table) WHERE rowid % 7 = 0")
                XCTAssertEqual(try Row.fetchOne(db, sql: "SELECT user, region FROM \(table) WHERE rowid = 10"), ["user": 3, "region": "eu"])
                for (sql, message) in [("INSERT INTO \(table)(rowid, e, user, region) VALUES (9001, ?, '1', 'eu')", "partition key \(table).user must be an INTEGER, got TEXT"),
                                       ("INSERT INTO \(table)(rowid, e, user, region) VALUES (9002, ?, 1, 2)", "partition key \(table).region must be TEXT, got INTEGER")] {
                    XCTAssertThrowsError(try db.execute(sql: sql, arguments: [blob([Float](repeating: 0, count: dims))])) { e in
                        XCTAssertTrue("\(e)".contains(message), "\(e)")
                    }
                }
            }
        }
        try queue!.read { db in try check(db, "after UPDATE and DELETE") }
        queue = nil
        queue = try openQueue(path)
        try queue!.read { db in try check(db, "reopened") }
    }

    func testDeclarationErrors() throws {
        let q = try openQueue()
        let cases: [(String, String)] = [
            ("e float[2], " + (0...16).map { "m\($0) integer" }.joined(separator: ", "), "more than 16 metadata columns"),
            ("e float[2], " + (0...16).map { "+a\($0) text" }.joined(separator: ", "), "more than 16 auxiliary columns"),
            ("e float[2], g text, g integer", "column 'g' is declared twice"),
            ("e float[2], g varchar", "column 'g' has an unknown type 'varchar'"),
            ("id blob primary key, e float[2]", "a primary key is INTEGER or TEXT"),
            ("id text primary key, n integer primary key, e float[2]", "only one primary key column is allowed"),
            ("e float[2], +note json", "auxiliary column '+note' has an unknown type 'json'"),
            ("e float[2], distance float", "'distance' cannot be a column name"),
            ("e float[2], " + (0...4).map { "p\($0) integer partition key" }.joined(separator: ", "), "more than 4 partition key columns"),
        ]
        assertSQLErrors(q, cases.map { ("CREATE VIRTUAL TABLE bad USING lectern_vec(\($0.0))", $0.1) })
    }

    func testVecEachVecTypeAndVecVersion() throws {
        let q = try openQueue()
        try q.read { db in
            let f = try Row.fetchAll(db, sql: "SELECT rowid, value FROM vec_each(vec_f32('[1.5, -2, 3]'))")
            XCTAssertEqual(f.map { $0[0] as Int64 }, [0, 1, 2])
            XCTAssertEqual(f.map { $0[1] as Double }, [1.5, -2, 3])
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT value FROM vec_each(vec_int8('[7, -8]'))"), [7, -8])
            // Bits in the order vec_to_json and vec_quantize_binary use (least significant bit first).
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT value FROM vec_each(vec_bit(X'05'))"), [1, 0, 1, 0, 0, 0, 0, 0])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(vec_bit(X'05'))"), "[1,0,1,0,0,0,0,0]")
            // As a join: one row per element per vector.
            XCTAssertEqual(try Double.fetchOne(db, sql: "SELECT sum(e.value) FROM (SELECT '[1,2]' AS v UNION ALL SELECT '[3,4]') t, vec_each(t.v) e"), 10)
            XCTAssertEqual(try String.fetchAll(db, sql: "SELECT vec_type('[1]') UNION ALL SELECT vec_type(vec_int8('[1]')) UNION ALL SELECT vec_type(vec_bit(X'aa'))"),
                           ["float32", "int8", "bit"])
            let version = try XCTUnwrap(String.fetchOne(db, sql: "SELECT vec_version()"))
            XCTAssertTrue(version.hasPrefix("v0.1.6-lectern."), version)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_debug()")?.split(separator: "\n").count, 4)
        }
        for (sql, fragment) in [("SELECT vec_type(X'aa')", "invalid float32 vector"), ("SELECT vec_type(NULL)", "found NULL"),
                                ("SELECT value FROM vec_each('[1,')", "vec_each: JSON parsing error"),
                                ("SELECT value FROM vec_each", "vec_each: a vector argument is required")] {
            XCTAssertThrowsError(try q.read { try Row.fetchAll($0, sql: sql) }, sql) { error in
                let m = (error as? DatabaseError)?.message ?? "\(error)"
                XCTAssertTrue(m.contains(fragment), "\(sql): \(m)")
            }
        }
    }
}
