import Foundation
import GRDB
import LecternStore
import LecternTestSupport
import XCTest

/// Shards and `lectern merge` on one machine: a corpus run as shards and merged in any order
/// equals the same corpus run in one process (documents, sources' counters, token counts, mined
/// texts, vectors byte for byte), merging twice adds nothing, a killed merge resumes, and bad
/// shards are refused without changing the file. The same under a real Slurm: SlurmShardTests.
final class ShardMergeTests: XCTestCase {
    /// Everything the per-document stages made, keyed by content hash and fingerprints (ids
    /// differ between a merged file and a single run), plus the sources' counters.
    static func dump(_ path: String) throws -> [String] {
        let store = try Store.open(path: path, access: .read)
        defer { try? store.pool.close() }
        return try store.pool.read { db in
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok")
            XCTAssertEqual(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").count, 0)
            var lines: [String] = []
            let queries = [
                "SELECT 'doc|' || hex(content_hash) || '|' || text || '|' || ifnull(title, '-') || '|' || source || '|' || ifnull(external_id, '-') || '|' || ifnull(metadata, '-') || '|' || n_chars FROM documents",
                "SELECT 'src|' || path || '|' || fingerprint || '|' || records_done || '|' || n_added || '|' || n_duplicates || '|' || n_skipped || '|' || status FROM sources",
                "SELECT 'tok|' || hex(d.content_hash) || '|' || t.fingerprint || '|' || c.n_tokens FROM token_counts c JOIN documents d ON d.id = c.document_id JOIN tokenizers t ON t.id = c.tokenizer_id",
                "SELECT 'rc|' || hex(d.content_hash) || '|' || r.fingerprint || '|' || r.n_tasks || '|' || r.text FROM rc_texts r JOIN documents d ON d.id = r.document_id",
                "SELECT 'task|' || hex(d.content_hash) || '|' || r.fingerprint || '|' || k.position || '|' || k.task_type || '|' || k.prompt || '|' || k.answer FROM rc_tasks k JOIN rc_texts r ON r.id = k.rc_text_id JOIN documents d ON d.id = r.document_id",
                "SELECT 'vec|' || hex(d.content_hash) || '|' || m.fingerprint || '|' || ifnull(e.n_tokens, '-') || '|' || hex(v.embedding) FROM embeddings e JOIN documents d ON d.id = e.document_id JOIN embedders m ON m.id = e.embedder_id JOIN lectern_vectors_384 v ON v.rowid = e.vector_rowid",
            ]
            for q in queries { lines += try String.fetchAll(db, sql: q) }
            return lines.sorted()
        }
    }

    struct Fixture {
        var dir: URL
        var lectern: URL
        /// The recipe writing `name.lectern` in `dir`.
        var recipe: (String) throws -> String
    }

    /// 300 PubMedQA abstracts as JSON Lines, with 3 bad lines and 2 duplicates.
    func fixture() throws -> Fixture {
        let gguf = ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"] ?? ""
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: gguf), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let docs = try CorpusFixture.abstracts().prefix(300)
        var lines = try docs.map { try CorpusFixture.jsonLine(["id": $0.id, "text": $0.text]) }
        lines.insert("{\"id\": \"broken\", \"text\": ", at: 17)
        lines.insert("{\"id\": \"no-text\"}", at: 120)
        lines.insert("[1, 2, 3]", at: 250)
        lines.append(lines[5])
        lines.append(lines[200])
        try lines.joined(separator: "\n").write(to: dir.appendingPathComponent("corpus.jsonl"), atomically: true, encoding: .utf8)
        let recipe = { (name: String) throws -> String in
            let path = dir.appendingPathComponent("\(name).toml")
            try """
            file = "\(name).lectern"
            domain = "biomedicine"
            [ingest]
            sources = ["corpus.jsonl"]
            [tokens]
            tokenizer = "\(gguf)"
            name = "smollm2"
            [cluster]
            lmax = 1024
            threshold = 0.4
            [build]
            recipe = "readcompre+cluster"
            context = 1024
            ratio = "1:0"
            """.write(to: path, atomically: true, encoding: .utf8)
            return path.path
        }
        return Fixture(dir: dir, lectern: lectern, recipe: recipe)
    }

    @discardableResult
    func lectern(_ f: Fixture, _ args: [String], succeeds: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try TestSupport.run(f.lectern, args, currentDirectory: f.dir)
        if succeeds { XCTAssertEqual(r.status, 0, "lectern \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line) }
        return r
    }

    /// Runs the recipe's per-document steps as `count` shards of `name`.lectern; returns the shard files.
    func shards(_ f: Fixture, main name: String, count: Int) throws -> [String] {
        try lectern(f, ["init", "\(name).lectern", "--domain", "biomedicine"])
        let recipe = try f.recipe(name)
        var paths: [String] = []
        for i in 0..<count {
            let r = try lectern(f, ["run", recipe, "--shard", "\(i)/\(count)", "--shard-dir", "\(name)-shards", "--scratch", "scratch"])
            XCTAssertTrue(r.stdout.contains("shard \(i)/\(count) of"), r.stdout)
            paths.append(f.dir.appendingPathComponent("\(name)-shards/shard-\(String(format: "%04d", i))-of-\(String(format: "%04d", count)).lectern").path)
        }
        for p in paths { XCTAssertTrue(FileManager.default.fileExists(atPath: p), p) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: paths[0] + "-wal"), "a complete shard is one file")
        return paths
    }

    func testShardsMergedInAnyOrderEqualOneProcessAndMergingTwiceAddsNothing() throws {
        let f = try fixture()
        try lectern(f, ["run", try f.recipe("single")])
        let single = try Self.dump(f.dir.appendingPathComponent("single.lectern").path)
        XCTAssertEqual(single.filter { $0.hasPrefix("doc|") }.count, 300)
        XCTAssertEqual(single.filter { $0.hasPrefix("vec|") }.count, 300)

        let paths = try shards(f, main: "main", count: 4)
        // Each shard holds only its own documents, and together they hold all of them once.
        var perShard: [Int] = []
        for p in paths {
            let q = try DatabaseQueue(path: p)
            perShard.append(try q.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0 })
            try q.close()
        }
        XCTAssertEqual(perShard.reduce(0, +), 300, "\(perShard)")
        XCTAssertTrue(perShard.allSatisfy { $0 > 30 }, "\(perShard)")

        let merged = try lectern(f, ["merge", "main.lectern", paths[2], paths[0], paths[3], paths[1]])
        XCTAssertTrue(merged.stdout.contains("4 shards merged"), merged.stdout)
        let main = f.dir.appendingPathComponent("main.lectern").path
        let after = try Self.dump(main)
        XCTAssertEqual(after, single, "merged shards equal one process")

        // Twice: nothing added, and the file is unchanged.
        let again = try lectern(f, ["merge", "main.lectern", "main-shards"])
        XCTAssertTrue(again.stdout.contains("0 shards merged, 4 already merged"), again.stdout)
        XCTAssertEqual(try Self.dump(main), single)

        // A shard of a finished plan is done: running it again does nothing.
        let rerun = try lectern(f, ["run", try f.recipe("main"), "--shard", "1/4", "--shard-dir", "main-shards", "--scratch", "scratch"])
        XCTAssertTrue(rerun.stderr.contains("nothing to do"), rerun.stderr)

        // The global stages then run on the merged file; the per-document ones find nothing to do.
        let rest = try lectern(f, ["run", try f.recipe("main")])
        XCTAssertTrue(rest.stdout.contains("already ingested"), rest.stdout)
        XCTAssertTrue(rest.stdout.contains("0 embedded, 300 already done"), rest.stdout)
        XCTAssertEqual(try Self.dump(main), single)
        let store = try Store.open(path: main, access: .read)
        let (members, runs, merges) = try store.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM cluster_members") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM stage_runs WHERE stage = 'embed'") ?? 0,
             try MergedShards.all(db).count)
        }
        try store.pool.close()
        XCTAssertEqual(members, 300)
        XCTAssertEqual(runs, 5, "the four shards' embed runs are kept as history, plus the merged file's own")
        XCTAssertEqual(merges, 4)
        // The clustering reads documents in content-hash order, so the merged file (other ids)
        // makes the same clusters, member for member, and the same training texts.
        func clustersAndTexts(_ path: String) throws -> ([String], [String]) {
            let s = try Store.open(path: path, access: .read)
            defer { try? s.pool.close() }
            return try s.pool.read { db in
                (try String.fetchAll(db, sql: """
                    SELECT c.ordinal || ':' || m.position || ':' || hex(d.content_hash) FROM cluster_members m
                    JOIN clusters c ON c.id = m.cluster_id JOIN documents d ON d.id = m.document_id ORDER BY c.ordinal, m.position
                    """),
                 try String.fetchAll(db, sql: "SELECT text FROM training_examples ORDER BY training_set_id, position"))
            }
        }
        let (mergedClusters, mergedTexts) = try clustersAndTexts(main)
        let (singleClusters, singleTexts) = try clustersAndTexts(f.dir.appendingPathComponent("single.lectern").path)
        XCTAssertEqual(mergedClusters.count, 300)
        XCTAssertEqual(mergedClusters, singleClusters, "the merged file clusters as one process")
        XCTAssertFalse(mergedTexts.isEmpty)
        XCTAssertEqual(mergedTexts, singleTexts, "the merged file builds the same training texts")

        // A derived stage alone in shards: mine with another seed, in 2 shards seeded from the
        // merged file, equals mining the single file.
        try lectern(f, ["mine", "single.lectern", "--seed", "5"])
        for i in 0..<2 {
            try lectern(f, ["mine", "main.lectern", "--seed", "5", "--shard", "\(i)/2", "--shard-dir", "mine-shards", "--scratch", "scratch"])
        }
        try lectern(f, ["merge", "main.lectern", "mine-shards"])
        XCTAssertEqual(try Self.dump(main), try Self.dump(f.dir.appendingPathComponent("single.lectern").path))
    }

    func testBadShardsAreRefusedAndChangeNothing() throws {
        let f = try fixture()
        let paths = try shards(f, main: "main", count: 4)
        try lectern(f, ["merge", "main.lectern", paths[0]])
        let main = f.dir.appendingPathComponent("main.lectern").path
        let before = try Self.dump(main)
        func refused(_ shard: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try lectern(f, ["merge", "main.lectern", shard, paths[1]], succeeds: false)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertTrue(r.stderr.contains(shard) && r.stderr.contains(expected), "expected '\(expected)' naming \(shard): \(r.stderr)", file: file, line: line)
            XCTAssertEqual(try Self.dump(main), before, "a refused merge changes nothing (not even the good shard given with it)", file: file, line: line)
        }
        // Damaged: bytes overwritten in the middle of the file.
        let damaged = f.dir.appendingPathComponent("damaged.lectern").path
        try FileManager.default.copyItem(atPath: paths[1], toPath: damaged)
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: damaged))
        let size = try handle.seekToEnd()
        try handle.seek(toOffset: size / 2)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 8192))
        try handle.close()
        try refused(damaged, "not a sound shard file")
        // Not a SQLite file at all.
        let text = f.dir.appendingPathComponent("text.lectern").path
        try "not a database".write(toFile: text, atomically: true, encoding: .utf8)
        try refused(text, "not a sound shard file")
        // A newer schema.
        let newer = f.dir.appendingPathComponent("newer.lectern").path
        try FileManager.default.copyItem(atPath: paths[2], toPath: newer)
        let q = try DatabaseQueue(path: newer)
        try q.write { db in try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('9999_future')") }
        try q.close()
        try refused(newer, "newer than this lectern knows")
        // Made for another main file.
        try lectern(f, ["init", "other.lectern", "--domain", "biomedicine"])
        try lectern(f, ["run", try f.recipe("main"), "--file", "other.lectern", "--shard", "3/4", "--shard-dir", "other-shards", "--scratch", "scratch"])
        try refused(f.dir.appendingPathComponent("other-shards/shard-0003-of-0004.lectern").path, "another main file")
        // Another plan (another shard count) beside a shard of this one.
        try lectern(f, ["run", try f.recipe("main"), "--shard", "1/2", "--shard-dir", "half-shards", "--scratch", "scratch"])
        let half = f.dir.appendingPathComponent("half-shards/shard-0001-of-0002.lectern").path
        let r = try lectern(f, ["merge", "main.lectern", paths[1], half], succeeds: false)
        XCTAssertTrue(r.stderr.contains("another plan"), r.stderr)
        XCTAssertEqual(try Self.dump(main), before)
        // A main file's own shards still merge after all that.
        try lectern(f, ["merge", "main.lectern", "main-shards", "--require-all"])
        XCTAssertEqual(try Self.dump(main).filter { $0.hasPrefix("doc|") }.count, 300)
    }

    func testMergeKilledAtRandomMomentsResumesToTheSameFile() throws {
        let f = try fixture()
        let paths = try shards(f, main: "main", count: 8)
        let mainPath = f.dir.appendingPathComponent("main.lectern").path
        let copy = f.dir.appendingPathComponent("clean.lectern").path
        try FileManager.default.copyItem(atPath: mainPath, toPath: copy)
        // The clean merge, into a byte copy of the main file (same file_id); kills land within its length.
        let t0 = Date()
        let clean = try lectern(f, ["merge", "clean.lectern"] + paths)
        let span = Date().timeIntervalSince(t0)
        XCTAssertTrue(clean.stdout.contains("8 shards merged"), clean.stdout)
        let expected = try Self.dump(copy)
        var rng = TestRandom(seed: 18)
        var kills = 0
        var finished = false
        var merged: [Int] = []
        for _ in 0..<40 where !finished {
            let outcome = try TestSupport.runAndKill(f.lectern, ["merge", mainPath] + paths, after: span * Double(rng.next() % 1000) / 1000)
            if outcome == .killed {
                kills += 1
                let store = try Store.open(path: mainPath, access: .read)
                merged.append(try store.pool.read { db in try MergedShards.all(db).count })
                try store.pool.close()
            }
            finished = outcome == .finished
        }
        print("merge killed \(kills) times (clean merge \(String(format: "%.2f", span)) s); shards merged after each kill: \(merged)")
        XCTAssertGreaterThan(kills, 0, "at least one merge was killed")
        let last = try lectern(f, ["merge", "main.lectern"] + paths)
        XCTAssertTrue(last.stdout.contains("0 shards merged, 8 already merged"), last.stdout)
        XCTAssertEqual(try Self.dump(mainPath), expected)
    }
}
