import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// Where `lectern_vec` behaves as sqlite-vec's `vec0` (issue 19's list of incompatibilities): the
/// same SQL run through sqlite-vec itself (Debian python3 + vec0.so) and through our loadable
/// extension with only `vec0` renamed, compared row for row; and our own checks of each behaviour
/// with the error messages we give.
final class SqliteVecCompatTests: XCTestCase {
    /// (name, setup statements, query): the query's rows, or the fact that some statement failed,
    /// must be the same in both extensions.
    static let cases: [(String, [String], String)] = [
        ("visible rowid column: positional INSERT and SELECT *",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t VALUES (1, '[1,2]')", "INSERT INTO t VALUES (2, '[3,4]')"],
         "SELECT * FROM t ORDER BY rowid"),
        ("rowid column names the rowid in INSERT, WHERE and UPDATE",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t(rowid, e) VALUES (7, '[1,2]')",
          "INSERT INTO t(rowid, e) VALUES (8, '[5,6]')", "UPDATE t SET e = '[3,4]' WHERE rowid = 7"],
         "SELECT rowid, vec_to_json(e) FROM t WHERE rowid = 7"),
        ("JSON: leading '.', leading '+', a trailing comma",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[3])", "INSERT INTO t(rowid, e) VALUES (1, '[.5, +1, -2.25,]')"],
         "SELECT vec_to_json(e) FROM t"),
        ("JSON: an empty element is refused",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[3])", "INSERT INTO t(rowid, e) VALUES (1, '[1,,2]')"], "SELECT count(*) FROM t"),
        ("a typed partition key takes NULL",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2], p integer partition key)",
          "INSERT INTO t(rowid, e, p) VALUES (1, '[1,2]', NULL)", "INSERT INTO t(rowid, e, p) VALUES (2, '[1,3]', 5)"],
         "SELECT rowid, p FROM t ORDER BY rowid"),
        ("NULL-keyed vectors are found without a partition filter",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2], p integer partition key)",
          "INSERT INTO t(rowid, e, p) VALUES (1, '[1,2]', NULL)", "INSERT INTO t(rowid, e, p) VALUES (2, '[1,3]', 5)"],
         "SELECT rowid FROM t WHERE e MATCH '[1,2]' AND k = 5 ORDER BY distance"),
        ("two partition keys: = on both reads one combination",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2], u integer partition key, r text partition key, y integer)",
          "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 60) INSERT INTO t(rowid, e, u, r, y) SELECT value, json_array((value * 37) % 101 / 10.0, (value * 53) % 97 / 10.0), value % 3, CASE value % 2 WHEN 0 THEN 'eu' ELSE 'us' END, 2000 + value % 20 FROM s"],
         "SELECT rowid, u, r FROM t WHERE e MATCH '[3,2]' AND k = 4 AND u = 1 AND r = 'eu' ORDER BY distance"),
        ("two partition keys: = on one of them, and a metadata filter",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2], u integer partition key, r text partition key, y integer)",
          "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 60) INSERT INTO t(rowid, e, u, r, y) SELECT value, json_array((value * 37) % 101 / 10.0, (value * 53) % 97 / 10.0), value % 3, CASE value % 2 WHEN 0 THEN 'eu' ELSE 'us' END, 2000 + value % 20 FROM s"],
         "SELECT rowid FROM t WHERE e MATCH '[1,4]' AND k = 5 AND r = 'us' AND y >= 2010 ORDER BY distance"),
        ("a typed partition key refuses another type",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2], p integer partition key)", "INSERT INTO t(rowid, e, p) VALUES (1, '[1,2]', 'x')"],
         "SELECT count(*) FROM t"),
        ("INSERT giving distance is refused",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t(rowid, e, distance) VALUES (1, '[1,2]', 0.5)"], "SELECT count(*) FROM t"),
        ("INSERT giving k is refused",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t(rowid, e, k) VALUES (1, '[1,2]', 3)"], "SELECT count(*) FROM t"),
        ("int8 column refuses a float32 BLOB",
         ["CREATE VIRTUAL TABLE t USING vec0(e int8[4])", "INSERT INTO t(rowid, e) VALUES (1, X'0000803f00000040')"], "SELECT count(*) FROM t"),
        ("int8 column refuses JSON text",
         ["CREATE VIRTUAL TABLE t USING vec0(e int8[2])", "INSERT INTO t(rowid, e) VALUES (1, '[1,2]')"], "SELECT count(*) FROM t"),
        ("int8 column takes vec_int8",
         ["CREATE VIRTUAL TABLE t USING vec0(e int8[2])", "INSERT INTO t(rowid, e) VALUES (1, vec_int8('[1,2]'))", "INSERT INTO t(rowid, e) VALUES (2, vec_int8('[5,-2]'))"],
         "SELECT rowid, distance FROM t WHERE e MATCH vec_int8('[1,1]') AND k = 2"),
        ("int8 MATCH refuses a float32 query",
         ["CREATE VIRTUAL TABLE t USING vec0(e int8[2])", "INSERT INTO t(rowid, e) VALUES (1, vec_int8('[1,2]'))"],
         "SELECT rowid FROM t WHERE e MATCH '[1,1]' AND k = 1"),
        ("bit column refuses a plain BLOB",
         ["CREATE VIRTUAL TABLE t USING vec0(e bit[8])", "INSERT INTO t(rowid, e) VALUES (1, X'0f')"], "SELECT count(*) FROM t"),
        ("bit column takes vec_bit",
         ["CREATE VIRTUAL TABLE t USING vec0(e bit[8])", "INSERT INTO t(rowid, e) VALUES (1, vec_bit(X'0f'))", "INSERT INTO t(rowid, e) VALUES (2, vec_bit(X'ff'))"],
         "SELECT rowid, distance FROM t WHERE e MATCH vec_bit(X'0e') AND k = 2"),
        ("k as text",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[1])", "INSERT INTO t(rowid, e) VALUES (1, '[1]'), (2, '[2]'), (3, '[3]')"],
         "SELECT rowid FROM t WHERE e MATCH '[0]' AND k = '2'"),
        ("k = NULL: no rows",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[1])", "INSERT INTO t(rowid, e) VALUES (1, '[1]'), (2, '[2]')"],
         "SELECT rowid FROM t WHERE e MATCH '[0]' AND k = NULL"),
        ("k = 0: no rows",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[1])", "INSERT INTO t(rowid, e) VALUES (1, '[1]'), (2, '[2]')"],
         "SELECT rowid FROM t WHERE e MATCH '[0]' AND k = 0"),
        ("a dimension mismatch is refused",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t(rowid, e) VALUES (1, '[1,2,3]')"], "SELECT count(*) FROM t"),
        ("a duplicate rowid is refused",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t(rowid, e) VALUES (1, '[1,2]')", "INSERT INTO t(rowid, e) VALUES (1, '[3,4]')"],
         "SELECT count(*) FROM t"),
        ("DELETE by rowid",
         ["CREATE VIRTUAL TABLE t USING vec0(e float[2])", "INSERT INTO t VALUES (1, '[1,2]'), (2, '[3,4]'), (3, '[5,6]')", "DELETE FROM t WHERE rowid = 2"],
         "SELECT rowid FROM t WHERE e MATCH '[3,4.2]' AND k = 3 ORDER BY distance"),
        // Item 2: metadata, auxiliary and primary key columns, vec_each, vec_type.
        ("metadata and auxiliary columns: SELECT * in declaration order",
         movies, "SELECT * FROM t ORDER BY id"),
        ("metadata filter = inside the scan", movies, "SELECT id, distance FROM t WHERE e MATCH '[0]' AND k = 2 AND g = 'b'"),
        ("metadata filter != and <", movies, "SELECT id FROM t WHERE e MATCH '[0]' AND k = 3 AND g != 'a' AND n < 40"),
        ("metadata filter >= on a float", movies, "SELECT id FROM t WHERE e MATCH '[0]' AND k = 3 AND f >= 2.5"),
        ("metadata filter IN on text", movies, "SELECT id FROM t WHERE e MATCH '[0]' AND k = 5 AND g IN ('a', 'c')"),
        ("metadata filter IN on integers", movies, "SELECT id FROM t WHERE e MATCH '[0]' AND k = 5 AND n IN (10, 50, -1)"),
        ("boolean metadata", movies, "SELECT id FROM t WHERE e MATCH '[0]' AND k = 5 AND b = 1"),
        ("an auxiliary column cannot filter a KNN query", movies, "SELECT id FROM t WHERE e MATCH '[0]' AND k = 5 AND x = 'one'"),
        ("a metadata type mismatch is refused", movies + ["INSERT INTO t(id, e, g, n, f, b) VALUES (9, '[9]', 5, 1, 1.0, 0)"], "SELECT count(*) FROM t"),
        ("a boolean other than 0 or 1 is refused", movies + ["INSERT INTO t(id, e, g, n, f, b) VALUES (9, '[9]', 'a', 1, 1.0, 2)"], "SELECT count(*) FROM t"),
        ("UPDATE of metadata and auxiliary values", movies + ["UPDATE t SET g = 'z', x = 'new', n = 1 WHERE id = 2"],
         "SELECT id, g, x, n FROM t WHERE e MATCH '[0]' AND k = 1 AND g = 'z'"),
        ("the primary key names the rowid", movies, "SELECT id FROM t WHERE id = 3"),
        ("vec_each over a float32 vector", [], "SELECT rowid, value FROM vec_each(vec_f32('[1,2.5,-3]'))"),
        ("vec_each over an int8 vector", [], "SELECT rowid, value FROM vec_each(vec_int8('[1,-2]'))"),
        ("vec_type", [], "SELECT vec_type('[1]'), vec_type(vec_int8('[1]')), vec_type(vec_bit(X'aa'))"),
    ]

    static let movies = [
        "CREATE VIRTUAL TABLE t USING vec0(id integer primary key, g text, e float[1], +x text, n integer, f float, b boolean, chunk_size=8)",
        "INSERT INTO t(id, e, g, x, n, f, b) VALUES (1, '[1]', 'a', 'one', 10, 1.5, 0), (2, '[2]', 'b', 'two', 20, 2.5, 1), (3, '[3]', 'c', 'three', 30, 3.5, 0), " +
        "(4, '[4]', 'a', 'four', 40, 4.5, 1), (5, '[5]', 'b', 'five', 50, 5.5, 0), (6, '[6]', 'c', 'six', 60, 6.5, 1)",
    ]

    static let script = """
        import sqlite3, sys, json
        def run(lib, module, cases):
            out = []
            for name, setup, query in cases:
                db = sqlite3.connect(':memory:')
                db.enable_load_extension(True)
                db.load_extension(lib)
                try:
                    for s in setup:
                        db.execute(s.replace('USING vec0(', 'USING ' + module + '('))
                    rows = db.execute(query).fetchall()
                    def norm(v):
                        if isinstance(v, bytes): return 'x' + v.hex()
                        if isinstance(v, float): return round(v, 5)
                        return v
                    out.append([[norm(v) for v in r] for r in rows])
                except sqlite3.Error as e:
                    out.append('error: ' + str(e))
            return out
        cases = json.loads(sys.stdin.read())
        print(json.dumps({'vec0': run(sys.argv[1], 'vec0', cases), 'ours': run(sys.argv[2], 'lectern_vec', cases)}))
        """

    func testTableBehavesAsSqliteVecOnTheListedIncompatibilities() throws {
        let vec0 = sqliteVecPath()
        try requireComponent(vec0 != nil, "sqlite-vec's vec0.so (SQLITE_VEC_PATH)", setup: "scripts/setup.d/20-sqlite-vec.sh")
        let ours = loadableLibrary()
        try requireComponent(ours != nil, "libLecternVec.so", setup: "swift build (builds the LecternVec product)")
        try requireComponent(FileManager.default.fileExists(atPath: "/usr/bin/python3"), "/usr/bin/python3", setup: "scripts/setup.d/20-sqlite-vec.sh")
        let input = try JSONSerialization.data(withJSONObject: Self.cases.map { [$0.0, $0.1, $0.2] as [Any] })
        let (status, output) = try runProcess("/usr/bin/python3", ["-c", Self.script, vec0!, ours!], stdin: String(decoding: input, as: UTF8.self))
        XCTAssertEqual(status, 0, output)
        let both = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: [Any]], output)
        let theirs = try XCTUnwrap(both["vec0"]), mine = try XCTUnwrap(both["ours"])
        XCTAssertEqual(theirs.count, Self.cases.count)
        for (i, c) in Self.cases.enumerated() {
            let t = theirs[i], m = mine[i]
            if let te = t as? String {
                // Both refuse; the wording is ours (it names the table, the column and the fix).
                XCTAssertTrue((m as? String)?.hasPrefix("error") == true, "\(c.0): sqlite-vec refused (\(te)), we gave \(m)")
                print("\(c.0): sqlite-vec \(te) | ours \(m)")
            } else {
                XCTAssertEqual("\(m)", "\(t)", c.0)
            }
        }
    }

    /// The same behaviours through GRDB (no sqlite-vec needed), with our messages.
    func testOurMessagesNameTheTableTheColumnAndTheFix() throws {
        let q = try openQueue()
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE t USING lectern_vec(e float[2], p integer partition key)")
            try db.execute(sql: "CREATE VIRTUAL TABLE i8 USING lectern_vec(e int8[2])")
            try db.execute(sql: "INSERT INTO t VALUES (1, '[1,2]', 3)")
            try db.execute(sql: "INSERT INTO t VALUES (2, '[+1,.5,]', NULL)")
        }
        let cases: [(String, String)] = [
            ("INSERT INTO t(rowid, e, distance) VALUES (9, '[1,2]', 1)", "distance is a query column of t"),
            ("INSERT INTO t(rowid, e, k) VALUES (9, '[1,2]', 1)", "k is a query column of t"),
            ("INSERT INTO i8(rowid, e) VALUES (1, '[1,2]')", "expected a int8 vector, got a float32 vector (wrap int8 values in vec_int8(...))"),
            ("INSERT INTO t(rowid, e) VALUES (9, '[1,,2]')", "expected a number at byte 3"),
            ("INSERT INTO t(rowid, e) VALUES (9, '[1, inf]')", "expected a number"),
            ("INSERT INTO t(rowid, e, p) VALUES (9, '[1,2]', 'x')", "must be an INTEGER, got TEXT"),
            ("SELECT rowid FROM t WHERE e MATCH '[1,2]' AND k = 'ten'", "k must be an integer in a KNN query on t, got the text 'ten'"),
        ]
        assertSQLErrors(q, cases)
        try q.read { db in
            XCTAssertEqual(try Row.fetchAll(db, sql: "SELECT * FROM t ORDER BY rowid").map { $0.count }, [3, 3], "SELECT * shows rowid, e, p")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(e) FROM t WHERE rowid = 2"), "[1.000000,0.500000]")
            XCTAssertEqual(try Int64?.fetchOne(db, sql: "SELECT p FROM t WHERE rowid = 2") ?? nil, nil)
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM t WHERE e MATCH '[1,2]' AND k = 2.9 ORDER BY distance"), [1, 2], "k = 2.9 is 2")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM t WHERE e MATCH '[1,2]' AND k = ' 1 '"), [1])
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM t WHERE e MATCH '[1,2]' AND k = NULL"), [])
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM t WHERE e MATCH '[1,2]' AND k = 5 AND p = 3"), [1], "the NULL key is not in partition 3")
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM t WHERE rowid = '2'"), [2], "a text rowid finds the row, as SQLite's own tables do")
        }
        // UPDATE moves the row through the visible rowid column; the old rowid is gone.
        try q.write { db in try db.execute(sql: "UPDATE t SET rowid = 5 WHERE rowid = 1") }
        try q.read { db in
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM t ORDER BY rowid"), [2, 5])
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(e) FROM t WHERE rowid = 5"), "[1.000000,2.000000]")
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT p FROM t WHERE rowid = 5"), 3)
        }
    }
}
