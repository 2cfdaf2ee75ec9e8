import Foundation
import GRDB
import XCTest

/// A file is input: a corrupted or crafted shadow table must give an SQL error or a right answer,
/// never a trap. A trap would kill the XCTest process, so on Linux the cases run in a child: this
/// same test binary, re-run on `testCorruptionCasesChild` with `LECTERN_VEC_CORRUPTION_CHILD=1`.
/// The child logs each case before running it (unbuffered), so a crash names the case.
final class CorruptionTests: XCTestCase {
    static let childVariable = "LECTERN_VEC_CORRUPTION_CHILD"

    func testCorruptShadowTablesGiveErrorsOrRightAnswers() throws {
        if ProcessInfo.processInfo.environment[Self.childVariable] != nil { return }
        #if os(Linux)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var env = ProcessInfo.processInfo.environment
        env[Self.childVariable] = "1"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["LecternVecTests.CorruptionTests/testCorruptionCasesChild"]
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        let start = Date()
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        let lastCase = lines.last { $0.hasPrefix("CASE ") } ?? "(no case started)"
        for l in lines where l.hasPrefix("BAD ") { XCTFail(l) }
        XCTAssertFalse(p.terminationReason == .uncaughtSignal,
                       "the child process died (signal \(p.terminationStatus)) in: \(lastCase)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("DONE ") },
                      "the child did not finish (status \(p.terminationStatus)); last: \(lastCase)\n" + lines.suffix(15).joined(separator: "\n"))
        if let done = lines.last(where: { $0.hasPrefix("DONE ") }) {
            print(done + String(format: " (child process: %.1f s)", Date().timeIntervalSince(start)))
        }
        #else
        try CorruptionFuzz(report: { XCTFail($0) }, log: { _ in }).run()
        #endif
    }

    /// The child's half: does nothing in an ordinary run.
    func testCorruptionCasesChild() throws {
        guard ProcessInfo.processInfo.environment[Self.childVariable] != nil else { return }
        try CorruptionFuzz(report: { childLog("BAD " + $0) }, log: childLog).run()
    }
}

/// Unbuffered, so the last line before a crash is not lost.
private func childLog(_ s: String) {
    FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
}

/// The cases: three tables (flat l2; cosine with a partition key; IVF with a partition key), each
/// shadow-table column of each corrupted in several ways, then every kind of statement.
struct CorruptionFuzz {
    let report: (String) -> Void
    let log: (String) -> Void

    enum Oracle {
        /// The answer must be the uncorrupted table's (or an error).
        case exact
        /// The corruption can hide rows from scans (a cleared validity bit, a chunk moved to another
        /// IVF list or partition, a renumbered rowid): every row or neighbour returned must be right,
        /// but some may be missing.
        case mayHide
        /// The corruption changes data, not structure (a partition value, vector bytes): only "no crash".
        case anything
    }

    struct Mutation {
        let name: String
        let oracle: Oracle
        let apply: (Database) throws -> Void
    }

    struct Kind {
        let name: String
        let create: String
        let metric: String
        let partitioned: Bool
        let ivf: Bool
    }

    struct Model {
        var rows: [Int64: (v: [Float], p: Int)] = [:]
    }

    static let kinds = [
        Kind(name: "flat", create: "CREATE VIRTUAL TABLE t USING lectern_vec(v float[4], chunk_size=8)", metric: "l2", partitioned: false, ivf: false),
        Kind(name: "partitioned", create: "CREATE VIRTUAL TABLE t USING lectern_vec(v float[4] distance_metric=cosine, p integer partition key, chunk_size=8)",
             metric: "cosine", partitioned: true, ivf: false),
        Kind(name: "ivf", create: "CREATE VIRTUAL TABLE t USING lectern_vec(v float[4] indexed by ivf(nlist=4, nprobe=2), p integer partition key, chunk_size=8)",
             metric: "l2", partitioned: true, ivf: true),
    ]

    let query: [Float] = [0.1, -0.2, 0.3, 0.05]
    let newVector: [Float] = [0.11, -0.19, 0.31, 0.04]   // near the query: shows up in the KNN answer

    func run() throws {
        var counts = (cases: 0, statements: 0, errors: 0, corruptErrors: 0, answers: 0)
        for kind in Self.kinds {
            let (pristine, model) = try buildPristine(kind)
            for m in mutations(kind) {
                let path = tempPath("corrupt-\(kind.name)-case.sqlite")
                try FileManager.default.copyItem(atPath: pristine, toPath: path)
                let q = try openQueue(path)
                try fastButUnsafe(q)
                do {
                    try q.inDatabase { try m.apply($0) }
                } catch {
                    try q.close()   // not applicable (e.g. a duplicate primary key): skipped
                    continue
                }
                counts.cases += 1
                let label = "\(kind.name): \(m.name)"
                for (sname, run) in statements(kind, model, m.oracle) {
                    log("CASE \(label) | \(sname)")
                    counts.statements += 1
                    do {
                        if let problem = try q.inDatabase({ try run($0) }) { report("\(label) | \(sname): \(problem)") }
                        counts.answers += 1
                    } catch let e as DatabaseError {
                        let msg = e.message ?? ""
                        if msg.isEmpty { report("\(label) | \(sname): an error without a message") }
                        counts.errors += 1
                        if msg.hasPrefix("corrupt shadow table ") { counts.corruptErrors += 1 } else { log("NOTE \(label) | \(sname): \(msg)") }
                    }
                    // Whatever happened, no transaction is left open for the next statement.
                    try q.inDatabase { db in if !db.isInsideTransaction { return }; try db.execute(sql: "ROLLBACK") }
                }
                try q.close()
            }
        }
        try issueReproducer()
        log("DONE \(counts.cases) corruptions, \(counts.statements) statements: \(counts.answers) right answers, \(counts.errors) SQL errors (\(counts.corruptErrors) 'corrupt shadow table ...')")
    }

    /// The exact report of issue 13: chunk_offset = 200000000 trapped in Int32(offset).
    func issueReproducer() throws {
        let q = try openQueue(tempPath("corrupt-issue13.sqlite"))
        try q.write { db in
            try db.execute(sql: "CREATE VIRTUAL TABLE t USING lectern_vec(v float[4])")
            for i in 1...3 { try db.execute(sql: "INSERT INTO t(rowid, v) VALUES (?, ?)", arguments: [i, blob([Float(i), 0, 0, 0])]) }
        }
        for offset: Int64 in [200_000_000, Int64.max, Int64.max / 2, -1] {
            try q.inDatabase { try $0.execute(sql: "UPDATE t_rowids SET chunk_offset = ?", arguments: [offset]) }
            for sql in ["SELECT v FROM t", "SELECT v FROM t WHERE rowid = 2", "DELETE FROM t WHERE rowid = 2"] {
                log("CASE issue 13: chunk_offset = \(offset) | \(sql)")
                do {
                    _ = try q.inDatabase { try Row.fetchAll($0, sql: sql) }
                    report("issue 13: \(sql) with chunk_offset \(offset) succeeded")
                } catch let e as DatabaseError {
                    let m = e.message ?? ""
                    if !m.hasPrefix("corrupt shadow table t_rowids:") { report("issue 13: \(sql): unexpected message '\(m)'") }
                }
            }
        }
        try q.close()
    }

    /// Throwaway files: no fsync (the cases run in a few seconds instead of a minute on a busy disk).
    func fastButUnsafe(_ q: DatabaseQueue) throws {
        try q.inDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = OFF")
            try db.execute(sql: "PRAGMA journal_mode = MEMORY")
        }
    }

    // MARK: the table before corruption

    func buildPristine(_ kind: Kind) throws -> (String, Model) {
        let path = tempPath("corrupt-\(kind.name)-pristine.sqlite")
        var model = Model()
        var rng = TestRNG(13)
        let q = try openQueue(path)
        try fastButUnsafe(q)
        func insert(_ db: Database, _ id: Int64) throws {
            let v = rng.vector(4), p = Int(id % 2)
            if kind.partitioned {
                try db.execute(sql: "INSERT INTO t(rowid, v, p) VALUES (?, ?, ?)", arguments: [id, blob(v), p])
            } else {
                try db.execute(sql: "INSERT INTO t(rowid, v) VALUES (?, ?)", arguments: [id, blob(v)])
            }
            model.rows[id] = (v, p)
        }
        try q.write { db in
            try db.execute(sql: kind.create)
            for id in Int64(1)...20 { try insert(db, id) }
            for id: Int64 in [3, 12] { try db.execute(sql: "DELETE FROM t WHERE rowid = ?", arguments: [id]); model.rows[id] = nil }
            if kind.ivf {
                try db.execute(sql: "INSERT INTO t(t) VALUES ('compute-centroids')")
                try insert(db, 21)
                try insert(db, 22)
                try db.execute(sql: "DELETE FROM t WHERE rowid = 5"); model.rows[5] = nil
            }
        }
        // NOT NULL off, so that NULL is one of the corruptions.
        try q.inDatabase { db in
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(sql: "UPDATE sqlite_master SET sql = replace(sql, ' NOT NULL', '') WHERE type = 'table' AND name LIKE 't\\_%' ESCAPE '\\'")
            try db.execute(sql: "PRAGMA writable_schema = OFF")
        }
        try q.close()
        return (path, model)
    }

    // MARK: corruptions

    func mutations(_ kind: Kind) -> [Mutation] {
        var out: [Mutation] = []
        let chunkOf2 = "(SELECT chunk_id FROM t_rowids WHERE rowid = 2)"
        let intValues = ["9223372036854775807", "-9223372036854775808", "200000000", "-1", "0",
                         "%C + 1", "%C - 1", "NULL", "'abc'", "x'01'", "1.5"]
        let keyValues = ["1000000", "-1", "%C + 100", "NULL", "0"]
        let blobValues = ["NULL", "x''", "substr(%C, 1, length(%C) - 1)", "%C || x'00'", "zeroblob(length(%C) * 2)",
                          "'text'", "42", "zeroblob(8)"]
        func update(_ table: String, _ column: String, _ value: String, _ whereSQL: String, _ oracle: Oracle) {
            let v = value.replacingOccurrences(of: "%C", with: column)
            let sql = "UPDATE \(table) SET \(column) = \(v) WHERE \(whereSQL)"
            out.append(Mutation(name: "\(table).\(column) = \(v) WHERE \(whereSQL)", oracle: oracle) { try $0.execute(sql: sql) })
        }
        func custom(_ name: String, _ oracle: Oracle, _ f: @escaping (Database) throws -> Void) {
            out.append(Mutation(name: name, oracle: oracle, apply: f))
        }
        /// Rewrites one BLOB through a Swift closure (bit-level corruptions).
        func editBlob(_ table: String, _ column: String, _ key: String, _ keyValue: String, _ name: String, _ oracle: Oracle,
                      _ edit: @escaping (inout [UInt8], Database) throws -> Void) {
            custom("\(table).\(column) WHERE \(key) = \(keyValue): \(name)", oracle) { db in
                guard var b = try Data.fetchOne(db, sql: "SELECT \(column) FROM \(table) WHERE \(key) = \(keyValue)").map({ [UInt8]($0) }) else {
                    throw DatabaseError(message: "no row")
                }
                try edit(&b, db)
                try db.execute(sql: "UPDATE \(table) SET \(column) = ? WHERE \(key) = \(keyValue)", arguments: [Data(b)])
            }
        }
        func slot(_ db: Database, _ map: String, _ rowid: Int64) throws -> Int {
            try Int.fetchOne(db, sql: "SELECT chunk_offset FROM \(map) WHERE rowid = ?", arguments: [rowid]) ?? 0
        }

        // <t>_info
        for v in ["3", "'x'", "NULL", "x'01'", "1.0", kind.ivf ? "1" : "2"] { update("t_info", "value", v, "key = 'format'", .exact) }
        for v in ["7", "0", "'x'", "NULL", "1024", "65544"] { update("t_info", "value", v, "key = 'chunk_size'", .exact) }
        custom("t_info: no 'chunk_size' row", .exact) { try $0.execute(sql: "DELETE FROM t_info WHERE key = 'chunk_size'") }
        for v in ["'x'", "NULL", "-5"] { update("t_info", "value", v, "key = 'ivf_generation'", .exact) }
        custom("t_info: no 'format' row", .exact) { try $0.execute(sql: "DELETE FROM t_info WHERE key = 'format'") }
        for v in ["'yes'", "NULL", "-1"] { update("t_info", "value", v, "key = 'ivf_trained'", .exact) }

        // The chunks (once trained, the IVF table's chunks are its lists: each vector is stored once).
        do {
            let chunk = chunkOf2, map = "t_rowids"
            let chunks = "t_chunks", vectors = "t_vectors"
            let lastChunk = "(SELECT max(chunk_id) FROM \(chunks))"
            // What a chunk moved to another list does: without an IVF index an error (every chunk
            // must be list 0); with one, an exact scan still reads it and a probe may miss it.
            let listOracle: Oracle = kind.ivf ? .mayHide : .exact
            for target in [chunk, lastChunk] {
                for v in intValues { update(chunks, "size", v, "chunk_id = \(target)", .exact) }
                for v in intValues { update(chunks, "used", v, "chunk_id = \(target)", .exact) }
                for v in intValues { update(chunks, "list_id", v, "chunk_id = \(target)", listOracle) }
                for v in blobValues { update(chunks, "validity", v, "chunk_id = \(target)", v == "zeroblob(8)" ? .mayHide : .exact) }
                for v in blobValues { update(vectors, "rowids", v, "chunk_id = \(target)", .exact) }
                for v in blobValues { update(vectors, "vectors", v, "chunk_id = \(target)", .exact) }
                for v in ["'other'", "NULL", "1 - coalesce(partition, 0)", "x'00'"] {
                    update(chunks, "partition", v, "chunk_id = \(target)", kind.partitioned ? .mayHide : .exact)
                }
            }
            for v in keyValues { update(chunks, "chunk_id", v, "chunk_id = \(chunk)", .exact) }
            for v in keyValues { update(vectors, "chunk_id", v, "chunk_id = \(chunk)", .exact) }
            // Bit-level: every bit set (slots past `used` and deleted slots); only the first empty
            // slot's bit; the bit of a live row cleared.
            editBlob(chunks, "validity", "chunk_id", chunk, "all bits set", .exact) { b, _ in b = b.map { _ in 0xFF } }
            editBlob(chunks, "validity", "chunk_id", lastChunk, "bit of the first unused slot set", .exact) { b, db in
                let used = try Int.fetchOne(db, sql: "SELECT used FROM \(chunks) WHERE chunk_id = \(lastChunk)") ?? 0
                if used / 8 < b.count { b[used / 8] |= 1 << UInt8(used % 8) }
            }
            editBlob(chunks, "validity", "chunk_id", chunk, "bit of rowid 2 cleared", .mayHide) { b, db in
                let s = try slot(db, map, 2)
                b[s / 8] &= ~(1 << UInt8(s % 8))
            }
            editBlob(vectors, "rowids", "chunk_id", chunk, "rowid 2 + 1", .exact) { b, db in
                let s = try slot(db, map, 2)
                b[s * 8] &+= 1
            }
            editBlob(vectors, "rowids", "chunk_id", chunk, "every slot says rowid 2", .exact) { b, _ in
                for i in stride(from: 0, to: b.count, by: 8) { b[i] = 2; for j in 1..<8 { b[i + j] = 0 } }
            }
            editBlob(vectors, "vectors", "chunk_id", chunk, "NaN bytes", .anything) { b, _ in b = b.map { _ in 0xFF } }
            // The rowid map.
            for target in ["2", "20"] {
                for v in intValues { update(map, "chunk_offset", v, "rowid = \(target)", .exact) }
                for v in intValues { update(map, "chunk_id", v, "rowid = \(target)", .exact) }
            }
            for v in keyValues { update(map, "rowid", v, "rowid = 2", .mayHide) }
        }
        // A deleted row's slot marked filled again (exact index: rowid 3 was deleted, its bytes stay).
        editBlob("t_chunks", "validity", "chunk_id", "1", "all bits of chunk 1 set (deleted slots come back)", .exact) { b, _ in b = b.map { _ in 0xFF } }
        // Partition values of rows are data.
        if kind.partitioned {
            for v in ["1 - p", "NULL", "'zzz'", "x'00'"] {
                update("t_rowids", "partition", v.replacingOccurrences(of: "p", with: "partition"), "rowid = 2", .anything)
            }
        }
        // IVF centroids.
        if kind.ivf {
            for v in blobValues + ["zeroblob(16)"] { update("t_ivf_centroids", "centroid", v, "list_id = 1", .exact) }
            for v in keyValues { update("t_ivf_centroids", "list_id", v, "list_id = 1", .exact) }
            editBlob("t_ivf_centroids", "centroid", "list_id", "0", "NaN", .exact) { b, _ in b = b.map { _ in 0xFF } }
            custom("t_ivf_centroids: 10 extra centroids (more than nlist)", .exact) { db in
                for l in 4..<14 { try db.execute(sql: "INSERT INTO t_ivf_centroids(list_id, centroid) VALUES (?, zeroblob(16))", arguments: [l]) }
            }
            custom("t_ivf_centroids: all deleted (index lists without centroids)", .mayHide) { try $0.execute(sql: "DELETE FROM t_ivf_centroids") }
        } else {
            custom("t_ivf_centroids: a centroid in a table without an IVF index", .exact) { db in
                try db.execute(sql: "INSERT INTO t_ivf_centroids(list_id, centroid) VALUES (0, zeroblob(16))")
            }
        }
        return out
    }

    // MARK: statements and their oracles

    typealias Check = (Database) throws -> String?

    func statements(_ kind: Kind, _ model: Model, _ oracle: Oracle) -> [(String, Check)] {
        var out: [(String, Check)] = []
        let knnSuffix = kind.ivf ? " AND nprobe = 0" : ""
        func reads(_ m: Model) -> [(String, Check)] {
            var r: [(String, Check)] = [
                ("SELECT rowid, v FROM t", { db in
                    try self.checkListing(try Row.fetchAll(db, sql: "SELECT rowid, v FROM t ORDER BY rowid"), m, oracle)
                }),
                ("SELECT * FROM t", { db in _ = try Row.fetchAll(db, sql: "SELECT * FROM t"); return nil }),
            ]
            for id: Int64 in [1, 2, 3, 20] {
                r.append(("SELECT v FROM t WHERE rowid = \(id)", { db in
                    try self.checkListing(try Row.fetchAll(db, sql: "SELECT rowid, v FROM t WHERE rowid = ?", arguments: [id]),
                                          Model(rows: m.rows.filter { $0.key == id }), oracle)
                }))
            }
            r.append(("KNN k = 5", { db in
                let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM t WHERE v MATCH ? AND k = 5\(knnSuffix)", arguments: [blob(self.query)])
                return self.checkKNN(rows, m.rows.mapValues { $0.v }, k: 5, kind.metric, oracle)
            }))
            if kind.partitioned {
                r.append(("KNN k = 4 AND p = 1", { db in
                    let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM t WHERE v MATCH ? AND k = 4 AND p = 1\(knnSuffix)", arguments: [blob(self.query)])
                    return self.checkKNN(rows, m.rows.filter { $0.value.p == 1 }.mapValues { $0.v }, k: 4, kind.metric, oracle)
                }))
            }
            if kind.ivf {
                // nprobe = nlist: every list, so the exact answer.
                r.append(("IVF KNN k = 5 nprobe = 4", { db in
                    let rows = try Row.fetchAll(db, sql: "SELECT rowid, distance FROM t WHERE v MATCH ? AND k = 5 AND nprobe = 4", arguments: [blob(self.query)])
                    return self.checkKNN(rows, m.rows.mapValues { $0.v }, k: 5, kind.metric, oracle)
                }))
            }
            return r
        }
        out += reads(model)
        /// A write in a transaction that is rolled back; when it succeeds, the table is read back.
        func write(_ name: String, _ sql: String, _ args: StatementArguments, _ after: Model) {
            out.append((name, { db in
                try db.execute(sql: "BEGIN")
                defer { try? db.execute(sql: "ROLLBACK") }
                try db.execute(sql: sql, arguments: args)
                for (rname, check) in reads(after) {
                    do {
                        if let p = try check(db) { return "after it, \(rname): \(p)" }
                    } catch is DatabaseError {
                        // The corruption found by a later statement: fine.
                    }
                }
                return nil
            }))
        }
        var ins = model
        ins.rows[100] = (newVector, 1)
        write("INSERT rowid 100", kind.partitioned ? "INSERT INTO t(rowid, v, p) VALUES (100, ?, 1)" : "INSERT INTO t(rowid, v) VALUES (100, ?)",
              [blob(newVector)], ins)
        if model.rows[2] != nil {
            var upd = model
            upd.rows[2] = (newVector, model.rows[2]!.p)
            write("UPDATE rowid 2", "UPDATE t SET v = ? WHERE rowid = 2", [blob(newVector)], upd)
        }
        for id: Int64 in [2, 20] {
            var del = model
            del.rows[id] = nil
            write("DELETE rowid \(id)", "DELETE FROM t WHERE rowid = ?", [id], del)
        }
        if kind.ivf {
            write("compute-centroids", "INSERT INTO t(t) VALUES ('compute-centroids')", [], model)
            write("clear-centroids", "INSERT INTO t(t) VALUES ('clear-centroids')", [], model)
        }
        return out
    }

    /// (rowid, v) rows against the model: equal, or (mayHide) a subset of it.
    func checkListing(_ rows: [Row], _ m: Model, _ oracle: Oracle) throws -> String? {
        if case .anything = oracle { return nil }
        var seen = Set<Int64>()
        for r in rows {
            let id: Int64 = r["rowid"]
            guard let want = m.rows[id] else { return "rowid \(id) is not in the table" }
            guard !seen.contains(id) else { return "rowid \(id) twice" }
            seen.insert(id)
            let got: Data? = r["v"]
            guard got == blob(want.v) else { return "rowid \(id): wrong vector" }
        }
        if case .exact = oracle, seen.count != m.rows.count {
            return "\(seen.count) rows, expected \(m.rows.count)"
        }
        return nil
    }

    /// KNN rows against brute force: equal (exact), or (mayHide) real rows with their true
    /// distances, sorted, no duplicates, at most k.
    func checkKNN(_ rows: [Row], _ vectors: [Int64: [Float]], k: Int, _ metric: String, _ oracle: Oracle) -> String? {
        if case .anything = oracle { return nil }
        guard rows.count <= k else { return "\(rows.count) rows for k = \(k)" }
        var seen = Set<Int64>()
        var last = -Double.infinity
        for r in rows {
            let id: Int64 = r["rowid"], d: Double = r["distance"]
            guard let v = vectors[id] else { return "rowid \(id) is not a row (of this partition)" }
            guard !seen.contains(id) else { return "rowid \(id) twice" }
            seen.insert(id)
            let want = refDistance(metric, query, v)
            guard abs(d - want) <= 1e-4 * max(1, abs(want)) else { return "rowid \(id): distance \(d), expected \(want)" }
            guard d >= last - 1e-6 else { return "not sorted by distance" }
            last = d
        }
        if case .exact = oracle {
            let want = sortedPairs(vectors.map { ($0.key, refDistance(metric, query, $0.value)) }, k)
            guard rows.count == want.count else { return "\(rows.count) neighbours, expected \(want.count)" }
            // Same distances in order (ties may swap rowids).
            for (r, w) in zip(rows, want) {
                let d: Double = r["distance"]
                guard abs(d - w.1) <= 1e-4 * max(1, abs(w.1)) else { return "neighbours \(rows.map { $0["rowid"] as Int64 }), expected \(want.map { $0.0 })" }
            }
        }
        return nil
    }
}
