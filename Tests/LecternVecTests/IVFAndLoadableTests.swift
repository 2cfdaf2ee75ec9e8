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
            let vectorBytes = { try Int.fetchOne(db, sql: "SELECT sum(length(vectors)) FROM iv_vectors") ?? 0 }
            let untrained = try vectorBytes()
            try db.execute(sql: "INSERT INTO iv(iv) VALUES ('compute-centroids')")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM iv_ivf_centroids"), 64)
            // Each vector is stored once: the chunks became the lists (one chain per list and
            // partition), no second copy. Partly filled last chunks of the 128 chains cost some
            // space; a second copy would be more than 2x.
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name LIKE 'iv\\_ivf\\_%' ESCAPE '\\'"), 1)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(DISTINCT list_id) FROM iv_chunks"), 64)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT DISTINCT list_id, partition FROM iv_chunks)"),
                           try Int.fetchOne(db, sql: "SELECT count(*) FROM (SELECT list_id, partition FROM iv_chunks GROUP BY 1, 2 HAVING min(used) < 128 OR count(*) = 1)"))
            let trained = try vectorBytes()
            print("IVF vector bytes: \(untrained) untrained, \(trained) trained (\(String(format: "%.2f", Double(trained) / Double(untrained)))x)")
            XCTAssertLessThan(Double(trained), 1.6 * Double(untrained))
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT value FROM iv_info WHERE key = 'format'"), 2)
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
        // Cleared, the chunks keep their lists and an exact scan reads them all.
        var live = vectors
        live[1] = nil
        live[999999] = probe
        let after = try q2.read { try Int64.fetchAll($0, sql: "SELECT rowid FROM iv WHERE v MATCH ? AND k = 5", arguments: [blob(query)]) }
        XCTAssertEqual(after, sortedPairs(live.map { ($0.key, refL2(query, $0.value)) }, 5).map { $0.0 })
        XCTAssertEqual(try q2.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM iv") }, n)
    }

    /// A connection that opened the table before another one trained (or cleared) the index
    /// notices at its next statement: its inserts go to their nearest list, so a probe finds them.
    func testAnotherConnectionsTrainingIsSeen() throws {
        let path = tempPath("ivf-two.sqlite")
        var rng = TestRNG(31)
        let d = 8
        let centers = (0..<32).map { _ in (0..<d).map { _ in rng.gaussian() * 4 } }
        let a = try openQueue(path), b = try openQueue(path)
        try a.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE t USING lectern_vec(v float[8] indexed by ivf(nlist=32, nprobe=1))")
            for i in 1...3200 { try db.execute(sql: "INSERT INTO t(rowid, v) VALUES (?, ?)", arguments: [i, blob(centers[i % 32].map { $0 + rng.gaussian() * 0.1 })]) }
        }
        try b.write { db in try db.execute(sql: "INSERT INTO t(t) VALUES ('compute-centroids')") }
        // a's table object was made before the training; each probe lands far from list 0.
        var found = 0
        for (j, c) in centers.enumerated() {
            let v = c.map { $0 + 0.01 }
            try a.write { db in try db.execute(sql: "INSERT INTO t(rowid, v) VALUES (?, ?)", arguments: [100_000 + j, blob(v)]) }
            let hit = try b.read { try Int64.fetchOne($0, sql: "SELECT rowid FROM t WHERE v MATCH ? AND k = 1", arguments: [blob(v)]) }
            if hit == Int64(100_000 + j) { found += 1 }
        }
        XCTAssertEqual(found, centers.count, "rows inserted by the other connection after the training are in their lists")
        try b.write { db in try db.execute(sql: "INSERT INTO t(t) VALUES ('clear-centroids')") }
        try a.write { db in try db.execute(sql: "INSERT INTO t(rowid, v) VALUES (200000, ?)", arguments: [blob(centers[5])]) }
        XCTAssertEqual(try a.read { try Int.fetchOne($0, sql: "SELECT list_id FROM t_chunks WHERE chunk_id = (SELECT chunk_id FROM t_rowids WHERE rowid = 200000)") }, 0,
                       "after another connection cleared the index, new rows go to list 0")
    }

    /// A table whose IVF index an earlier lectern_vec built (format 1: a second copy of each vector
    /// in t_ivf_chunks / t_ivf_vectors / t_ivf_rowids): exact queries work, IVF queries and inserts
    /// say how to rebuild, and 'compute-centroids' rebuilds it in the current layout.
    func testFormatOneIVFTableIsRebuilt() throws {
        let path = tempPath("ivf-format1.sqlite")
        var rng = TestRNG(8)
        var vectors: [Int64: [Float]] = [:]
        let q = try openQueue(path)
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE old USING lectern_vec(v float[4] indexed by ivf(nlist=4, nprobe=1), chunk_size=16)")
            for i in Int64(1)...100 {
                let v = rng.vector(4)
                vectors[i] = v
                try db.execute(sql: "INSERT INTO old(rowid, v) VALUES (?, ?)", arguments: [i, blob(v)])
            }
            // What a format-1 file holds: format 1, no chunk_size row, the two-copy tables, centroids.
            try db.execute(sql: "UPDATE old_info SET value = 1 WHERE key = 'format'")
            try db.execute(sql: "DELETE FROM old_info WHERE key = 'chunk_size'")
            try db.execute(sql: "INSERT OR REPLACE INTO old_info(key, value) VALUES ('ivf_trained', 1), ('ivf_nlist', 1)")
            try db.execute(sql: "CREATE TABLE old_ivf_chunks(chunk_id INTEGER PRIMARY KEY, list_id INTEGER NOT NULL, partition, size INTEGER NOT NULL, used INTEGER NOT NULL, validity BLOB NOT NULL, UNIQUE(list_id, partition, chunk_id))")
            try db.execute(sql: "CREATE TABLE old_ivf_vectors(chunk_id INTEGER PRIMARY KEY, rowids BLOB NOT NULL, vectors BLOB NOT NULL)")
            try db.execute(sql: "CREATE TABLE old_ivf_rowids(rowid INTEGER PRIMARY KEY, chunk_id INTEGER NOT NULL, chunk_offset INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO old_ivf_rowids SELECT rowid, 1, 0 FROM old_rowids")
            try db.execute(sql: "INSERT INTO old_ivf_centroids(list_id, centroid) VALUES (0, ?)", arguments: [blob([Float](repeating: 0, count: 4))])
        }
        try q.close()
        let r = try openQueue(path)
        let query = rng.vector(4)
        let want = bruteForce(vectors, query, k: 5)
        XCTAssertEqual(try r.read { try Int64.fetchAll($0, sql: "SELECT rowid FROM old WHERE v MATCH ? AND k = 5 AND nprobe = 0", arguments: [blob(query)]) }, want)
        for sql in ["SELECT rowid FROM old WHERE v MATCH ? AND k = 5", "INSERT INTO old(rowid, v) VALUES (500, ?)"] {
            XCTAssertThrowsError(try r.write { try $0.execute(sql: sql, arguments: [blob(query)]) }) { e in
                let m = (e as? DatabaseError)?.message ?? ""
                XCTAssertTrue(m.contains("earlier lectern_vec") && m.contains("compute-centroids"), m)
            }
        }
        try r.write { db in try db.execute(sql: "INSERT INTO old(old) VALUES ('compute-centroids')") }
        try r.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT value FROM old_info WHERE key = 'format'"), 2)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT value FROM old_info WHERE key = 'chunk_size'"), 16)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM old_ivf_rowids"), 0)
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM old WHERE v MATCH ? AND k = 5 AND nprobe = 4", arguments: [blob(query)]), want)
        }
        // The emptied two-copy tables follow a rename and go with a DROP.
        try r.write { db in try db.execute(sql: "ALTER TABLE old RENAME TO renamed") }
        XCTAssertEqual(try r.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master WHERE name LIKE 'renamed\\_ivf\\_%' ESCAPE '\\'") }, 4)
        try r.write { db in try db.execute(sql: "DROP TABLE renamed") }
        XCTAssertEqual(try r.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master WHERE name LIKE 'renamed%'") }, 0)
    }

    func bruteForce(_ vectors: [Int64: [Float]], _ q: [Float], k: Int) -> [Int64] {
        sortedPairs(vectors.map { ($0.key, refL2(q, $0.value)) }, k).map { $0.0 }
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
