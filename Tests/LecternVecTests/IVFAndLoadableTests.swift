import Foundation
import GRDB
import XCTest

final class IVFTests: XCTestCase {
    /// Clustered data (as embeddings are): recall@10 of IVF against exact search, measured.
    func testIVFRecallPersistenceAndMaintenance() throws {
        let path = tempPath("ivf.sqlite")
        var rng = TestRNG(77)
        let d = 32, n = 12000, nCenters = 60
        let centers = (0..<nCenters).map { _ in (0..<d).map { _ in rng.gaussian() * 3 } }
        var vectors: [Int64: [Float]] = [:]
        let q = try openQueue(path)
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE iv USING lectern_vec(v float[32] distance_metric=l2 indexed by ivf(nlist=64, nprobe=8), part integer partition key)")
            for i in 1...n {
                let c = centers[rng.int(nCenters)]
                let v = c.map { $0 + rng.gaussian() }
                vectors[Int64(i)] = v
                try db.execute(sql: "INSERT INTO iv(rowid, v, part) VALUES (?, ?, ?)", arguments: [i, blob(v), i % 2])
            }
            try db.execute(sql: "INSERT INTO iv(iv) VALUES ('compute-centroids')")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM iv_ivf_centroids"), 64)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM iv_ivf_rowids"), n)
        }
        func recall(_ nprobe: Int, queries: Int = 100) throws -> Double {
            var hit = 0
            var qrng = TestRNG(99)
            try q.read { db in
                for _ in 0..<queries {
                    let query = centers[qrng.int(nCenters)].map { $0 + qrng.gaussian() }
                    let exact = Set(try Int64.fetchAll(db, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 10 AND nprobe = 0", arguments: [blob(query)]))
                    let approx = try Int64.fetchAll(db, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 10 AND nprobe = ?", arguments: [blob(query), nprobe])
                    hit += approx.filter { exact.contains($0) }.count
                }
            }
            return Double(hit) / Double(queries * 10)
        }
        let r8 = try recall(8), r64 = try recall(64), r1 = try recall(1)
        print("IVF recall@10 (n=\(n), d=\(d), nlist=64): nprobe=1 \(r1), nprobe=8 \(r8), nprobe=64 \(r64)")
        XCTAssertEqual(r64, 1.0)
        XCTAssertGreaterThan(r8, 0.9)
        XCTAssertGreaterThanOrEqual(r8, r1)
        // The exact path still equals brute force.
        let query = rng.vector(d)
        let exact = try q.read { try Int64.fetchAll($0, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 5 AND nprobe = 0", arguments: [blob(query)]) }
        let pairs: [(Int64, Double)] = vectors.map { ($0.key, refL2(query, $0.value)) }
        let want = sortedPairs(pairs, 5).map { $0.0 }
        XCTAssertEqual(exact, want)

        // Maintenance after training: an insert is found through the index, a delete is gone from it.
        let probe = centers[0].map { $0 + 0.001 }
        try q.write { db in
            try db.execute(sql: "INSERT INTO iv(rowid, v, part) VALUES (999999, ?, 1)", arguments: [blob(probe)])
            try db.execute(sql: "DELETE FROM iv WHERE rowid = 1")
        }
        try q.read { db in
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 1 AND nprobe = 1", arguments: [blob(probe)]), 999999)
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 1 AND nprobe = 1 AND part = 1", arguments: [blob(probe)]), 999999)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM iv WHERE v MATCH ? AND k = 1 AND nprobe = 1 AND part = 0", arguments: [blob(probe)]), 1)
            XCTAssertFalse(try Int64.fetchAll(db, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 50 AND nprobe = 64", arguments: [blob(vectors[1]!)]).contains(1))
        }
        try q.close()
        // Stored in the file: a new connection uses the trained index.
        let q2 = try openQueue(path)
        try q2.read { db in
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 1 AND nprobe = 1", arguments: [blob(probe)]), 999999)
        }
        try q2.write { db in try db.execute(sql: "INSERT INTO iv(iv) VALUES ('clear-centroids')") }
        XCTAssertEqual(try q2.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM iv_ivf_centroids") }, 0)
    }
}

/// The loadable library as users load it: sqlite3 shell and Debian's python3, empty environment
/// (so no Swift toolchain on the library path).
final class LoadableTests: XCTestCase {
    func library() throws -> String {
        let lib = loadableLibrary()
        try requireComponent(lib != nil, "libLecternVec.so", setup: "swift build (builds the LecternVec product)")
        return lib!
    }

    func testLoadsInSQLiteShell() throws {
        let lib = try library()
        try requireComponent(FileManager.default.fileExists(atPath: "/usr/bin/sqlite3"), "/usr/bin/sqlite3", setup: "scripts/setup.d/20-sqlite-vec.sh")
        let db = tempPath("shell.sqlite")
        let sql = """
            .load \(lib)
            CREATE TABLE documents(id INTEGER PRIMARY KEY, title TEXT);
            INSERT INTO documents VALUES (1, 'alpha'), (2, 'beta'), (3, 'gamma');
            CREATE VIRTUAL TABLE dv USING lectern_vec(embedding float[3] distance_metric=cosine);
            INSERT INTO dv(rowid, embedding) VALUES (1, '[1,0,0]'), (2, '[0.9,0.1,0]'), (3, '[0,0,1]');
            SELECT d.title || ':' || printf('%.4f', v.distance) FROM (SELECT rowid, distance FROM dv WHERE embedding MATCH '[1,0,0]' AND k = 2) v JOIN documents d ON d.id = v.rowid ORDER BY v.distance;
            """
        let (status, out) = try runProcess("/usr/bin/sqlite3", [db], env: [:], stdin: sql)
        XCTAssertEqual(status, 0, out)
        let expected2 = 1 - 0.9 / (0.81 + 0.01).squareRoot()
        XCTAssertEqual(out.split(separator: "\n").map(String.init), ["alpha:0.0000", "beta:" + String(format: "%.4f", expected2)])
        // Persisted: a second shell session reads the file.
        let (s2, o2) = try runProcess("/usr/bin/sqlite3", [db], env: [:], stdin: ".load \(lib)\nSELECT count(*) FROM dv;\n")
        XCTAssertEqual(s2, 0, o2)
        XCTAssertEqual(o2.trimmingCharacters(in: .whitespacesAndNewlines), "3")
    }

    /// SQLite only through the api pointer, and no Swift runtime needed at load time.
    func testNoDirectSQLiteSymbolsAndNoSwiftRuntimeDependency() throws {
        let lib = try library() + ".so"
        try requireComponent(FileManager.default.fileExists(atPath: "/usr/bin/nm"), "/usr/bin/nm (binutils)", setup: "apt-get install binutils")
        let (s1, undefined) = try runProcess("/usr/bin/nm", ["-D", "--undefined-only", lib])
        XCTAssertEqual(s1, 0, undefined)
        let sqliteRefs = undefined.split(separator: "\n").filter { $0.contains("sqlite3") }
        XCTAssertEqual(sqliteRefs, [], "the extension must call SQLite only through sqlite3_api_routines")
        let (s2, defined) = try runProcess("/usr/bin/nm", ["-D", "--defined-only", lib])
        XCTAssertEqual(s2, 0, defined)
        XCTAssertTrue(defined.contains(" T sqlite3_extension_init"), defined)
        let (s3, deps) = try runProcess("/usr/bin/ldd", [lib])
        XCTAssertEqual(s3, 0, deps)
        XCTAssertFalse(deps.lowercased().contains("swift"), deps)
        XCTAssertFalse(deps.contains("not found"), deps)
    }

    func testLoadsInDebianPython() throws {
        let lib = try library()
        try requireComponent(FileManager.default.fileExists(atPath: "/usr/bin/python3"), "/usr/bin/python3", setup: "scripts/setup.d/20-sqlite-vec.sh")
        let script = """
            import sqlite3, struct, sys
            db = sqlite3.connect(':memory:')
            db.enable_load_extension(True)
            db.load_extension(sys.argv[1])
            db.execute('CREATE VIRTUAL TABLE v USING lectern_vec(e float[2], m text partition key)')
            for i, (x, y, m) in enumerate([(1, 0, 'a'), (0, 1, 'a'), (1, 1, 'b')], start=1):
                db.execute('INSERT INTO v(rowid, e, m) VALUES (?, ?, ?)', (i, struct.pack('<2f', x, y), m))
            rows = db.execute("SELECT rowid, distance FROM v WHERE e MATCH ? AND k = 2 AND m = 'a'", (struct.pack('<2f', 1, 0.2),)).fetchall()
            print(rows)
            try:
                db.execute('SELECT * FROM v WHERE e MATCH ? AND k = 2', (b'abc',)).fetchall()
            except sqlite3.OperationalError as e:
                print('error:', e)
            print(db.execute("SELECT lectern_vec_version()").fetchone()[0])
            """
        let (status, out) = try runProcess("/usr/bin/python3", ["-c", script, lib], env: [:])
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 3, out)
        XCTAssertTrue(lines[0].hasPrefix("[(1, 0.2"), out)
        XCTAssertTrue(lines[0].contains("(2, 1.2806"), out)
        XCTAssertTrue(lines[1].contains("divisible by 4"), out)
    }
}
