import Foundation
import GRDB
import XCTest

/// The k smallest (rowid, distance) pairs, ties by rowid.
func sortedPairs(_ pairs: [(Int64, Double)], _ k: Int) -> [(Int64, Double)] {
    let s = pairs.sorted { (a: (Int64, Double), b: (Int64, Double)) -> Bool in
        a.1 < b.1 || (a.1 == b.1 && a.0 < b.0)
    }
    return Array(s.prefix(k))
}

/// The lectern_vec virtual table: exact KNN against brute force, partitions, DML, persistence.
final class TableTests: XCTestCase {
    /// Brute-force top k in float64, ties by rowid.
    func bruteForce(_ vectors: [Int64: [Float]], _ q: [Float], k: Int, metric: String) -> [(Int64, Double)] {
        let all: [(Int64, Double)] = vectors.map { ($0.key, refDistance(metric, q, $0.value)) }
        return sortedPairs(all, k)
    }

    /// Issue 19 item 3: a DELETE's emptied slot is filled by a later INSERT into the same chain
    /// (one IVF list of one partition), so a table that churns keeps its size.
    func testDeletedSlotsAreReusedAndTheFileDoesNotGrow() throws {
        try churn(ivf: false)
        try churn(ivf: true)
    }

    func churn(ivf: Bool) throws {
        let path = tempPath("churn-\(ivf ? "ivf" : "flat").sqlite")
        let q = try openQueue(path)
        var rng = TestRNG(5)
        var vectors: [Int64: [Float]] = [:]
        var next: Int64 = 1
        func insert(_ db: Database, _ n: Int) throws {
            for _ in 0..<n {
                let v = rng.vector(16)
                vectors[next] = v
                try db.execute(sql: "INSERT INTO c(rowid, e, p) VALUES (?, ?, ?)", arguments: [next, blob(v), next % 2])
                next += 1
            }
        }
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE c USING lectern_vec(e float[16]\(ivf ? " indexed by ivf(nlist=4, nprobe=4)" : ""), p integer partition key, chunk_size=64)")
            try insert(db, 2000)
            if ivf { try db.execute(sql: "INSERT INTO c(c) VALUES ('compute-centroids')") }
        }
        func sizes() throws -> (chunks: Int, pages: Int) {
            try q.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
            return try q.read { db in
                (try Int.fetchOne(db, sql: "SELECT count(*) FROM c_chunks") ?? 0,
                 try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0)
            }
        }
        let before = try sizes()
        // Three rounds: delete every other live row of each partition (one transaction), insert as
        // many new ones, half in each partition (another).
        for round in 0..<3 {
            try q.write { db in
                for parity in [Int64(0), 1] {
                    for (j, id) in vectors.keys.filter({ $0 % 2 == parity }).sorted().enumerated() where j % 2 == round % 2 {
                        try db.execute(sql: "DELETE FROM c WHERE rowid = ?", arguments: [id])
                        vectors[id] = nil
                    }
                }
            }
            try q.write { db in try insert(db, 1000) }
        }
        let after = try sizes()
        if ivf {
            // New vectors go to their nearest list, not necessarily where the deleted ones were: a
            // list may outgrow its holes by a chunk (4 lists x 2 partitions).
            XCTAssertLessThanOrEqual(after.chunks, before.chunks + 8, "the lists filled their holes instead of growing")
        } else {
            XCTAssertEqual(after.chunks, before.chunks, "the chunks' holes were filled instead of new chunks made")
        }
        XCTAssertLessThanOrEqual(Double(after.pages), Double(before.pages) * 1.1, "file \(before.pages) -> \(after.pages) pages")
        print("churn (\(ivf ? "IVF" : "flat")): chunks \(before.chunks) -> \(after.chunks), pages \(before.pages) -> \(after.pages)")
        // Every answer is still right: exact and IVF (all lists probed), whole table and one partition.
        try q.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM c"), 2000)
            for _ in 0..<5 {
                let qv = rng.vector(16)
                for nprobe in [0, 4] {
                    let got = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM c WHERE e MATCH ? AND k = 10 AND nprobe = ? ORDER BY distance", arguments: [blob(qv), nprobe])
                    assertSameKNN(got, bruteForce(vectors, qv, k: 10, metric: "l2"))
                    let even = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM c WHERE e MATCH ? AND k = 10 AND nprobe = ? AND p = 0 ORDER BY distance", arguments: [blob(qv), nprobe])
                    assertSameKNN(even, bruteForce(vectors.filter { $0.key % 2 == 0 }, qv, k: 10, metric: "l2"))
                }
            }
        }
    }

    func assertSameKNN(_ got: [Row], _ want: [(Int64, Double)], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, file: file, line: line)
        for (g, w) in zip(got, want) {
            let gd: Double = g["distance"]
            XCTAssertEqual(gd, w.1, accuracy: 1e-4 * max(1, abs(w.1)), file: file, line: line)
            // Rowids agree unless two reference distances are within float32 rounding of each other.
            if g["rowid"] as Int64 != w.0 {
                let tie = want.contains { $0.0 == g["rowid"] as Int64 && abs($0.1 - w.1) < 1e-4 * max(1, abs(w.1)) }
                XCTAssertTrue(tie, "rowid \(g["rowid"] as Int64) vs \(w.0)", file: file, line: line)
            }
        }
    }

    func testExactKNNEqualsBruteForce() throws {
        let q = try openQueue()
        var rng = TestRNG(11)
        for (metric, d) in [("l2", 64), ("cosine", 384), ("dot", 33), ("l1", 20)] {
            var vectors: [Int64: [Float]] = [:]
            try q.write { db in
                try db.execute(sql: "CREATE VIRTUAL TABLE t_\(metric) USING lectern_vec(v float[\(d)] distance_metric=\(metric), chunk_size=64)")
                for i in 1...1500 {
                    let v = rng.vector(d)
                    vectors[Int64(i)] = v
                    try db.execute(sql: "INSERT INTO t_\(metric)(rowid, v) VALUES (?, ?)", arguments: [i, blob(v)])
                }
            }
            try q.read { db in
                for k in [1, 10, 100] {
                    let query = rng.vector(d)
                    let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM t_\(metric) WHERE v MATCH ? AND k = ? ORDER BY distance", arguments: [blob(query), k])
                    assertSameKNN(rows, bruteForce(vectors, query, k: k, metric: metric))
                }
                // JSON query text works like the BLOB
                let query = rng.vector(d)
                let json = "[" + query.map { "\($0)" }.joined(separator: ",") + "]"
                let a = try Int64.fetchAll(db, sql: "SELECT rowid FROM t_\(metric) WHERE v MATCH ? AND k = 5", arguments: [json])
                let b = try Int64.fetchAll(db, sql: "SELECT rowid FROM t_\(metric) WHERE v MATCH ? AND k = 5", arguments: [blob(query)])
                XCTAssertEqual(a, b)
            }
        }
    }

    func testInt8AndBitTables() throws {
        let q = try openQueue()
        var rng = TestRNG(5)
        var i8: [Int64: [Int8]] = [:], bits: [Int64: [UInt8]] = [:]
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE ti USING lectern_vec(v int8[40] distance_metric=l2)")
            try db.execute(sql: "CREATE VIRTUAL TABLE tb USING lectern_vec(v bit[128])")
            for r in 1...500 {
                let a = (0..<40).map { _ in Int8(truncatingIfNeeded: rng.int(256) - 128) }
                let b = (0..<16).map { _ in UInt8(rng.int(256)) }
                i8[Int64(r)] = a; bits[Int64(r)] = b
                try db.execute(sql: "INSERT INTO ti(rowid, v) VALUES (?, vec_int8(?))", arguments: [r, blob(a)])
                try db.execute(sql: "INSERT INTO tb(rowid, v) VALUES (?, vec_bit(?))", arguments: [r, Data(b)])
            }
        }
        try q.read { db in
            let qa = (0..<40).map { _ in Int8(truncatingIfNeeded: rng.int(256) - 128) }
            let qf: [Float] = qa.map { Float($0) }
            let pairs: [(Int64, Double)] = i8.map { ($0.key, refL2(qf, $0.value.map { Float($0) })) }
            let want = sortedPairs(pairs, 10)
            assertSameKNN(try Row.fetchAll(db, sql: "SELECT rowid, distance FROM ti WHERE v MATCH vec_int8(?) AND k = 10", arguments: [blob(qa)]), want)
            let qb = (0..<16).map { _ in UInt8(rng.int(256)) }
            var bpairs: [(Int64, Double)] = []
            for (id, b) in bits {
                var h = 0
                for (x, y) in zip(qb, b) { h += (x ^ y).nonzeroBitCount }
                bpairs.append((id, Double(h)))
            }
            let wantB = sortedPairs(bpairs, 10)
            let got = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM tb WHERE v MATCH vec_bit(?) AND k = 10", arguments: [Data(qb)])
            XCTAssertEqual(got.map { $0["rowid"] as Int64 }, wantB.map { $0.0 })
            XCTAssertEqual(got.map { $0["distance"] as Double }, wantB.map { $0.1 })
        }
    }

    func testPartitionKeyFiltersDuringScan() throws {
        let q = try openQueue()
        var rng = TestRNG(3)
        var vectors: [Int64: [Float]] = [:], model: [Int64: Int] = [:]
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE pv USING lectern_vec(v float[16] distance_metric=cosine, model integer partition key, chunk_size=32)")
            for i in 1...900 {
                let v = rng.vector(16), m = i % 3
                vectors[Int64(i)] = v; model[Int64(i)] = m
                try db.execute(sql: "INSERT INTO pv(rowid, v, model) VALUES (?, ?, ?)", arguments: [i, blob(v), m])
            }
        }
        try q.read { db in
            let query = rng.vector(16)
            for m in 0..<3 {
                let subset = vectors.filter { model[$0.key] == m }
                let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance, model FROM pv WHERE v MATCH ? AND k = 20 AND model = ?", arguments: [blob(query), m])
                assertSameKNN(rows, bruteForce(subset, query, k: 20, metric: "cosine"))
                XCTAssertTrue(rows.allSatisfy { $0["model"] as Int == m })
            }
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM pv WHERE v MATCH ? AND k = 20 AND model = 7", arguments: [blob(query)]), 0)
        }
        XCTAssertThrowsError(try q.write { db in try db.execute(sql: "INSERT INTO pv(rowid, v, model) VALUES (5000, ?, 'x')", arguments: [blob(rng.vector(16))]) }) { e in
            XCTAssertTrue("\(e)".contains("must be an INTEGER"), "\(e)")
        }
    }

    func testDMLPersistenceReopenAndVacuum() throws {
        let path = tempPath("persist.sqlite")
        var rng = TestRNG(9)
        var vectors: [Int64: [Float]] = [:]
        do {
            let q = try openQueue(path)
            try q.write { db in
                try db.execute(sql: "CREATE VIRTUAL TABLE dv USING lectern_vec(emb float[24], chunk_size=16)")
                for i in 1...200 {
                    let v = rng.vector(24)
                    vectors[Int64(i)] = v
                    try db.execute(sql: "INSERT INTO dv(rowid, emb) VALUES (?, ?)", arguments: [i, blob(v)])
                }
                // auto rowid
                let v = rng.vector(24)
                try db.execute(sql: "INSERT INTO dv(emb) VALUES (?)", arguments: [blob(v)])
                XCTAssertEqual(db.lastInsertedRowID, 201)
                vectors[201] = v
                for i in stride(from: 2, through: 200, by: 3) {
                    try db.execute(sql: "DELETE FROM dv WHERE rowid = ?", arguments: [i])
                    vectors[Int64(i)] = nil
                }
                for i in stride(from: 1, through: 200, by: 7) where vectors[Int64(i)] != nil {
                    let v = rng.vector(24)
                    try db.execute(sql: "UPDATE dv SET emb = ? WHERE rowid = ?", arguments: [blob(v), i])
                    vectors[Int64(i)] = v
                }
                try db.execute(sql: "INSERT OR REPLACE INTO dv(rowid, emb) VALUES (1, ?)", arguments: [blob(vectors[1]!)])
            }
            try q.read { db in
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM dv"), vectors.count)
                XCTAssertEqual(try Data.fetchOne(db, sql: "SELECT emb FROM dv WHERE rowid = 4"), blob(vectors[4]!))
            }
            try q.close()
        }
        let query = rng.vector(24)
        func check(_ q: DatabaseQueue) throws {
            try q.read { db in
                XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM dv"), vectors.count)
                let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM dv WHERE emb MATCH ? AND k = 30", arguments: [blob(query)])
                assertSameKNN(rows, bruteForce(vectors, query, k: 30, metric: "l2"))
                for (id, v) in vectors.prefix(20) {
                    XCTAssertEqual(try Data.fetchOne(db, sql: "SELECT emb FROM dv WHERE rowid = ?", arguments: [id]), blob(v))
                }
            }
        }
        let q2 = try openQueue(path)
        try check(q2)
        try q2.writeWithoutTransaction { db in try db.execute(sql: "VACUUM") }
        try check(q2)
        try q2.close()
        try check(try openQueue(path))
    }

    func testSafetyErrors() throws {
        let q = try openQueue()
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE s USING lectern_vec(v float[4], p text partition key)")
            try db.execute(sql: "CREATE VIRTUAL TABLE e USING lectern_vec(v float[4])")
            try db.execute(sql: "INSERT INTO s(rowid, v, p) VALUES (1, '[1,2,3,4]', 'a')")
        }
        // The empty table answers with no rows.
        XCTAssertEqual(try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM e WHERE v MATCH '[1,2,3,4]' AND k = 5") }, 0)
        XCTAssertEqual(try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM s WHERE v MATCH '[1,2,3,4]' AND k = 0") }, 0)
        let cases: [(String, String)] = [
            ("INSERT INTO s(rowid, v, p) VALUES (2, '[1,2,3]', 'a')", "expected 4 dimensions, got 3"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, x'0000', 'a')", "divisible by 4"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, x'00000000000000000000000000000000000000', 'a')", "divisible by 4"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, '[1,2,3,1e40]', 'a')", "Inf"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, x'0000c07f000000000000000000000000', 'a')", "NaN"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, '[1,2,3,', 'a')", "missing ']'"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, NULL, 'a')", "cannot be NULL"),
            ("INSERT INTO s(rowid, v, p) VALUES (2, vec_int8('[1,2,3,4]'), 'a')", "expected a float32 vector"),
            ("INSERT INTO s(rowid, v, p) VALUES (1, '[1,2,3,4]', 'a')", "UNIQUE constraint"),
            ("INSERT INTO s(rowid, v, p) VALUES ('x', '[1,2,3,4]', 'a')", "rowid of s must be an integer, got TEXT 'x'"),
            ("INSERT INTO s(rowid, v, p) VALUES (3, '[1,2,3,4]', 5)", "must be TEXT"),
            ("UPDATE s SET v = '[1]' WHERE rowid = 1", "expected 4 dimensions"),
            ("SELECT * FROM s WHERE v MATCH '[1,2,3]' AND k = 3", "query vector"),
            ("SELECT * FROM s WHERE v MATCH '[1,2,3,4]' AND k = -1", "k must be >= 0"),
            ("SELECT * FROM s WHERE v MATCH '[1,2,3,4]' AND k = 100000", "too large"),
            ("SELECT * FROM s WHERE v MATCH '[1,2,3,4]' AND k = 'ten'", "k must be an integer in a KNN query on s, got the text 'ten'"),
            ("SELECT * FROM s WHERE v MATCH '[1,2,3,4]'", "needs 'k = ?'"),
            ("SELECT * FROM s WHERE v MATCH '{\"a\": 1}' AND k = 3", "does not start with '['"),
            ("INSERT INTO s(s) VALUES ('compute-centroids')", "has no IVF index"),
            ("INSERT INTO s(s) VALUES ('explode')", "unknown command"),
            ("CREATE VIRTUAL TABLE bad1 USING lectern_vec(v float[0])", "dimension must be between"),
            ("CREATE VIRTUAL TABLE bad2 USING lectern_vec(v float[4] distance_metric=manhattan)", "unknown distance_metric"),
            ("CREATE VIRTUAL TABLE bad3 USING lectern_vec(v bit[12])", "divisible by 8"),
            ("CREATE VIRTUAL TABLE bad4 USING lectern_vec(p text partition key)", "no vector column"),
            ("CREATE VIRTUAL TABLE bad5 USING lectern_vec(v float[4] indexed by ivf(nlist=4, nprobe=10))", "cannot exceed nlist"),
            ("CREATE VIRTUAL TABLE bad6 USING lectern_vec(v float[4], colour=red)", "unknown option"),
        ]
        assertSQLErrors(q, cases)
        // Nothing above changed the table.
        XCTAssertEqual(try q.read { try Data.fetchOne($0, sql: "SELECT v FROM s WHERE rowid = 1") }, blob([Float(1), 2, 3, 4]))
        XCTAssertEqual(try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM s") }, 1)
        // A small nlist without nprobe: the default nprobe (8) follows it down instead of failing.
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE small USING lectern_vec(v float[2] indexed by ivf(nlist=2))")
            for i in 1...20 { try db.execute(sql: "INSERT INTO small(rowid, v) VALUES (?, ?)", arguments: [i, blob([Float(i), Float(i % 3)])]) }
            try db.execute(sql: "INSERT INTO small(small) VALUES ('compute-centroids')")
            // nprobe = nlist = 2: every list, so the exact answer.
            XCTAssertEqual(try Int64.fetchAll(db, sql: "SELECT rowid FROM small WHERE v MATCH ? AND k = 3", arguments: [blob([Float(10.2), 1])]), [10, 11, 9])
        }
    }

    /// Random BLOBs, random queries and random DML against a model dictionary: no crash, every
    /// error a SQL error, and the table equal to the model at the end.
    func testFuzz() throws {
        let q = try openQueue()
        var rng = TestRNG(2024)
        let d = 8
        var model: [Int64: [Float]] = [:]
        try q.write { try $0.execute(sql: "CREATE VIRTUAL TABLE fz USING lectern_vec(v float[8] distance_metric=cosine, g integer partition key, chunk_size=8)") }
        var groups: [Int64: Int] = [:]
        func randomValue() -> DatabaseValueConvertible? {
            switch rng.int(8) {
            case 0: return Data((0..<rng.int(40)).map { _ in UInt8(rng.int(256)) })
            case 1: return "[" + (0..<rng.int(12)).map { _ in "\(rng.float())" }.joined(separator: ",") + (rng.int(2) == 0 ? "]" : "")
            case 2: return nil
            case 3: return Int64(rng.next() >> 1)
            case 4: return String(decoding: (0..<rng.int(20)).map { _ in UInt8(32 + rng.int(90)) }, as: UTF8.self)
            default: return blob(rng.vector(d))
            }
        }
        for _ in 0..<1500 {
            let id = Int64(rng.int(60))
            let g = rng.int(3)
            do {
                switch rng.int(6) {
                case 0, 1:
                    let v = randomValue()
                    try q.write { try $0.execute(sql: "INSERT INTO fz(rowid, v, g) VALUES (?, ?, ?)", arguments: [id, v, g]) }
                    if let data = v as? Data, data.count == d * 4 { model[id] = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
                    else if let s = v as? String { model[id] = try q.read { db in try Data.fetchOne(db, sql: "SELECT v FROM fz WHERE rowid = ?", arguments: [id]) }!.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }; _ = s }
                    groups[id] = g
                case 2:
                    try q.write { try $0.execute(sql: "DELETE FROM fz WHERE rowid = ?", arguments: [id]) }
                    model[id] = nil
                case 3:
                    let v = randomValue()
                    try q.write { try $0.execute(sql: "UPDATE fz SET v = ? WHERE rowid = ?", arguments: [v, id]) }
                    if model[id] != nil, let data = v as? Data { model[id] = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
                    else if model[id] != nil, v is String {
                        model[id] = try q.read { db in try Data.fetchOne(db, sql: "SELECT v FROM fz WHERE rowid = ?", arguments: [id]) }!.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                    }
                default:
                    let k = rng.int(4) == 0 ? Int64(rng.next() >> 1) - Int64(1 << 62) : Int64(rng.int(20))
                    _ = try q.read { try Row.fetchAll($0, sql: "SELECT rowid, distance FROM fz WHERE v MATCH ? AND k = ? AND g = ?", arguments: [randomValue(), k, g]) }
                }
            } catch let e as DatabaseError {
                XCTAssertFalse(e.message?.isEmpty ?? true)
            }
        }
        try q.read { db in
            let stored = try Int64.fetchAll(db, sql: "SELECT rowid FROM fz ORDER BY rowid")
            XCTAssertEqual(stored, model.keys.sorted())
            for (id, v) in model {
                XCTAssertEqual(try Data.fetchOne(db, sql: "SELECT v FROM fz WHERE rowid = ?", arguments: [id]), blob(v))
            }
            let query = rng.vector(d)
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM fz WHERE v MATCH ? AND k = 10", arguments: [blob(query)])
            assertSameKNN(rows, bruteForce(model, query, k: 10, metric: "cosine"))
        }
    }
}
