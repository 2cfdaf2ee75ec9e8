import Foundation
import GRDB
import LecternTestSupport
import LecternText
import XCTest

/// `lectern run` and `lectern build` on the real PubMedQA abstracts, with the real components:
/// MiniLM embeddings, Algorithm 1 clusters, AdaptLLM's miner, SmolLM2's tokenizer, the Alpaca
/// instructions; QA pairs for the llm-qa recipes are PubMedQA's own question and long answer
/// about each abstract (real pairs about the real text, written as a generator's output).
final class BuildPipelineTests: XCTestCase {
    /// One pipeline run shared by the tests of this class (it takes a minute).
    nonisolated(unsafe) static var fixture: URL?
    nonisolated(unsafe) static var fixtureRun: (status: Int32, stdout: String, stderr: String)?

    var smollm2: String { ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"] ?? "" }

    func pipelineFile() throws -> URL {
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: smollm2), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        if let f = Self.fixture { return f }
        let lectern = try TestSupport.lecternExecutable()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-build-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let recipe = TestSupport.packageRoot.appendingPathComponent("examples/pubmedqa.toml").path
        let file = dir.appendingPathComponent("p.lectern")
        let run = try TestSupport.run(lectern, ["run", recipe, "--file", file.path],
                                      environment: ["LECTERN_SHARED_DATA": TestSupport.sharedData.path])
        Self.fixtureRun = run
        XCTAssertEqual(run.status, 0, run.stderr)
        guard run.status == 0 else { throw XCTSkip("pipeline failed") }
        Self.fixture = file
        return file
    }

    /// A private copy of the pipeline file, for tests that add sets.
    func copyOfPipeline() throws -> String {
        let src = try pipelineFile()
        let dst = try TestSupport.temporaryDirectory(self).appendingPathComponent("copy.lectern")
        let q = try DatabaseQueue(path: src.path)
        try q.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [dst.path]) }
        try q.close()
        return dst.path
    }

    func lectern(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(try TestSupport.lecternExecutable(), args)
    }

    /// Checks every example of a set: within the context, ids stored exactly as SmolLM2's
    /// tokenizer encodes the stored text, provenance rows present.
    func checkPackedSet(_ db: Database, setId: Int64, context: Int = 2048, tokenizer: any Tokenizer) throws {
        let rows = try Row.fetchAll(db, sql: "SELECT id, text, input_ids, n_tokens FROM training_examples WHERE training_set_id = ? ORDER BY position", arguments: [setId])
        XCTAssertFalse(rows.isEmpty)
        for row in rows {
            let n: Int = row["n_tokens"]
            XCTAssertLessThanOrEqual(n, context)
            let blob: Data = row["input_ids"]
            XCTAssertEqual(blob.count, n * 4)
            let ids = blob.withUnsafeBytes { raw in (0..<n).map { Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self)) } }
            // The text re-tokenizes to exactly the stored ids: what a trainer reading the text
            // export sees is what was packed (SmolLM2 splits its special tokens out first).
            XCTAssertEqual(tokenizer.encode(row["text"], addSpecialTokens: false), ids, "example \(row["id"] as Int64)")
            let parts = try Int.fetchOne(db, sql: "SELECT count(*) FROM training_example_parts WHERE example_id = ?", arguments: [row["id"] as Int64])!
            XCTAssertGreaterThan(parts, 0)
        }
    }

    func testRunBuildsTheOfflineSetEndToEnd() throws {
        let file = try pipelineFile()
        let out = Self.fixtureRun!.stdout
        XCTAssertTrue(out.contains("lectern run:"), out)
        for step in ["ingest", "import-instructions", "tokens", "mine", "embed", "cluster", "build", "export"] {
            XCTAssertTrue(out.contains("    \(step)"), "summary lacks step \(step): \(out)")
        }
        let tok = try TokenizerLoader.load(path: smollm2)
        let q = try DatabaseQueue(path: file.path)
        defer { try? q.close() }
        try q.read { db in
            let set = try Row.fetchOne(db, sql: "SELECT id, recipe, status, stats FROM training_sets WHERE name = 'readcompre+cluster'")!
            XCTAssertEqual(set["status"] as String, "complete")
            let stats = try JSONSerialization.jsonObject(with: Data((set["stats"] as String).utf8)) as! [String: Any]
            let fill = stats["fillRatio"] as! Double, ffd = stats["fillRatioFFD"] as! Double
            XCTAssertGreaterThanOrEqual(fill, 0.98, "fill ratio")
            XCTAssertGreaterThanOrEqual(fill, ffd)
            let domain = stats["domainTokens"] as! Int, general = stats["generalTokens"] as! Int
            // 1:1 by tokens: general reaches the target and overshoots by at most one instruction.
            XCTAssertGreaterThanOrEqual(general, domain)
            XCTAssertLessThan(general - domain, 2048)
            try checkPackedSet(db, setId: set["id"], tokenizer: tok)
            // The 20 PubMedQA items [eval] scores were imported before the build, which held their
            // abstracts out; every other document is in the set (through its mined text), and
            // every cluster with a member left.
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM eval_items"), 20)
            let heldOut = "SELECT d.id FROM documents d JOIN eval_items i ON i.content_hash = d.content_hash"
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM (\(heldOut))"), 20)
            let docsCovered = try Int.fetchOne(db, sql: "SELECT count(DISTINCT ref_id) FROM training_example_parts WHERE part_kind = 'document'")!
            XCTAssertEqual(docsCovered, try Int.fetchOne(db, sql: "SELECT count(*) FROM documents")! - 20)
            XCTAssertEqual(try Int.fetchOne(db, sql: """
                SELECT count(*) FROM training_example_parts WHERE part_kind = 'document' AND ref_id IN (\(heldOut))
                """), 0, "no scored item's abstract is in the set")
            let clustersCovered = try Int.fetchOne(db, sql: "SELECT count(DISTINCT ref_id) FROM training_example_parts WHERE part_kind = 'cluster'")!
            XCTAssertEqual(clustersCovered, try Int.fetchOne(db, sql: """
                SELECT count(DISTINCT cluster_id) FROM cluster_members WHERE document_id NOT IN (\(heldOut))
                """)!)
            // Scored: the base and the adapter, on the 20 held-out items each.
            XCTAssertEqual(try Int.fetchAll(db, sql: "SELECT n_items FROM eval_scores WHERE metric = 'accuracy' ORDER BY checkpoint_id IS NOT NULL"), [20, 20])
            let sum = try Int.fetchOne(db, sql: "SELECT sum(n_tokens) FROM training_examples WHERE training_set_id = ?", arguments: [set["id"] as Int64])!
            XCTAssertEqual(sum, domain + general)
        }
        // The export the recipe asked for, next to the file's folder.
        let exportDir = TestSupport.packageRoot.appendingPathComponent("out/pubmedqa-export")
        _ = exportDir  // the recipe's export dir is relative to examples/; checked in the export tests
    }

    /// The pipeline's HTML report, rendered by Chromium: see ReportPageTests.swift.
    func testReportOfThePipelineInAHeadlessBrowser() throws {
        try checkReportInBrowser(file: try pipelineFile())
    }

    /// The six recipes of the paper's comparison, each with its provenance.
    func testSixRecipesWithProvenance() throws {
        let file = try copyOfPipeline()
        // PubMedQA's own question and long answer per abstract, as a generator's pairs.
        let pqa = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try TestSupport.pubmedqaPath()))) as! [String: [String: Any]]
        let q = try DatabaseQueue(path: file)
        try q.write { db in
            try db.execute(sql: """
                INSERT INTO generators(name, model, template_version, template, params, fingerprint, created_at)
                VALUES ('pubmedqa-gold', 'pubmedqa', 'gold', '{DOCUMENT}', '{}', 'feedface', '2026-01-01T00:00:00Z')
                """)
            let g = db.lastInsertedRowID
            for row in try Row.fetchAll(db, sql: "SELECT id, external_id FROM documents") {
                guard let ext: String = row["external_id"], let e = pqa[ext] else { continue }
                try db.execute(sql: "INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (?, ?, 0, ?, ?)",
                               arguments: [row["id"] as Int64, g, e["QUESTION"] as! String, e["LONG_ANSWER"] as! String])
                try db.execute(sql: "INSERT INTO qa_pairs(document_id, generator_id, position, question, answer) VALUES (?, ?, 1, ?, ?)",
                               arguments: [row["id"] as Int64, g, "Is the answer yes, no or maybe?", e["final_decision"] as! String])
            }
        }
        try q.close()
        let tok = try TokenizerLoader.load(path: smollm2)
        for recipe in ["dapt", "dapt+cluster", "readcompre", "readcompre+cluster", "llm-qa", "llm-qa+cluster"] {
            let r = try lectern(["build", file, "--recipe", recipe, "--name", "t-\(recipe)", "--tokenizer", smollm2])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("fill ratio"), r.stdout)
        }
        let q2 = try DatabaseQueue(path: file)
        defer { try? q2.close() }
        try q2.read { db in
            for row in try Row.fetchAll(db, sql: "SELECT id, name, stats FROM training_sets WHERE name LIKE 't-%'") {
                try checkPackedSet(db, setId: row["id"], tokenizer: tok)
                let stats = try JSONSerialization.jsonObject(with: Data((row["stats"] as String).utf8)) as! [String: Any]
                XCTAssertGreaterThanOrEqual(stats["fillRatio"] as! Double, 0.98, row["name"] as String)
            }
            // The paper's method: one text per cluster, its documents in cluster order, then the
            // union of their QA pairs; pairs never come from outside the cluster.
            let setId = try Int64.fetchOne(db, sql: "SELECT id FROM training_sets WHERE name = 't-llm-qa+cluster'")!
            let examples = try Row.fetchAll(db, sql: "SELECT id, text FROM training_examples WHERE training_set_id = ?", arguments: [setId])
            var clustersChecked = 0
            for ex in examples {
                let parts = try Row.fetchAll(db, sql: "SELECT part_kind, ref_id FROM training_example_parts WHERE example_id = ? ORDER BY position", arguments: [ex["id"] as Int64])
                var i = 0
                while i < parts.count {
                    guard (parts[i]["part_kind"] as String) == "cluster" else { i += 1; continue }
                    let cluster: Int64 = parts[i]["ref_id"]
                    var docs: [Int64] = [], pairs: [Int64] = []
                    i += 1
                    while i < parts.count, ["document", "qa_pair"].contains(parts[i]["part_kind"] as String) {
                        if (parts[i]["part_kind"] as String) == "document" { XCTAssertTrue(pairs.isEmpty, "documents come before the pairs"); docs.append(parts[i]["ref_id"]) } else { pairs.append(parts[i]["ref_id"]) }
                        i += 1
                    }
                    let members = try Int64.fetchAll(db, sql: "SELECT document_id FROM cluster_members WHERE cluster_id = ? ORDER BY position", arguments: [cluster])
                    XCTAssertEqual(docs, members, "cluster \(cluster): documents in cluster order")
                    let pairDocs = Set(try Int64.fetchAll(db, sql: "SELECT document_id FROM qa_pairs WHERE id IN (\(pairs.map(String.init).joined(separator: ",")))"))
                    XCTAssertTrue(pairDocs.isSubset(of: Set(members)), "cluster \(cluster): pairs only from its documents")
                    XCTAssertEqual(pairs.count, 2 * members.count, "cluster \(cluster): every pair of every member")
                    // In the text: the first member's text before the first pair's question.
                    let text: String = ex["text"]
                    let firstQ = try String.fetchOne(db, sql: "SELECT question FROM qa_pairs WHERE id = ?", arguments: [pairs[0]])!
                    let firstDoc = try String.fetchOne(db, sql: "SELECT substr(text, 1, 60) FROM documents WHERE id = ?", arguments: [members[0]])!
                    // (The question may also belong to another item of the same example: search after the document.)
                    if let d = text.range(of: firstDoc) {
                        XCTAssertNotNil(text.range(of: "Question: " + firstQ, range: d.upperBound..<text.endIndex), "cluster \(cluster): pairs follow the documents")
                    } else { XCTFail("cluster \(cluster) text lacks its first document") }
                    clustersChecked += 1
                }
            }
            XCTAssertEqual(clustersChecked, try Int.fetchOne(db, sql: "SELECT count(*) FROM clusters"), "each cluster is one item (none needed splitting)")
        }
    }

    func testDeterministicForASeedIdempotentAndChatSets() throws {
        let file = try copyOfPipeline()
        let args = ["build", file, "--recipe", "dapt", "--tokenizer", smollm2]
        let a = try lectern(args + ["--name", "a", "--seed", "5"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let again = try lectern(args + ["--name", "a", "--seed", "5"])
        XCTAssertTrue(again.stdout.contains("already built"), again.stdout)
        let b = try lectern(args + ["--name", "b", "--seed", "6"])
        XCTAssertEqual(b.status, 0, b.stderr)
        let q = try DatabaseQueue(path: file)
        defer { try? q.close() }
        try q.read { db in
            func texts(_ name: String) throws -> [String] {
                try String.fetchAll(db, sql: "SELECT e.text FROM training_examples e JOIN training_sets s ON s.id = e.training_set_id WHERE s.name = ? ORDER BY position", arguments: [name])
            }
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM training_sets WHERE name = 'a'"), 1)
            XCTAssertNotEqual(try texts("a"), try texts("b"), "another seed, another order")
            XCTAssertEqual(try texts("a").joined().count > 0, true)
        }
        // A second file built the same way gives the same examples, byte for byte.
        let file2 = try copyOfPipeline()
        XCTAssertEqual(try lectern(["build", file2, "--recipe", "dapt", "--tokenizer", smollm2, "--name", "a", "--seed", "5"]).status, 0)
        let digest = { (path: String) throws -> String in
            let q = try DatabaseQueue(path: path)
            defer { try? q.close() }
            return try q.read { db in
                try String.fetchAll(db, sql: "SELECT hex(input_ids) || text FROM training_examples e JOIN training_sets s ON s.id = e.training_set_id WHERE s.name = 'a' ORDER BY position").joined()
            }
        }
        XCTAssertEqual(try digest(file), try digest(file2))

        // Chat sets: one conversation per item, roles alternating, ending with the assistant.
        let chat = try lectern(["build", file, "--recipe", "readcompre+cluster", "--format", "chat", "--name", "chat", "--tokenizer", smollm2])
        XCTAssertEqual(chat.status, 0, chat.stderr)
        try q.read { db in
            let msgs = try String.fetchAll(db, sql: "SELECT messages FROM training_examples e JOIN training_sets s ON s.id = e.training_set_id WHERE s.name = 'chat'")
            XCTAssertGreaterThan(msgs.count, 1000)
            for m in msgs {
                let a = try JSONSerialization.jsonObject(with: Data(m.utf8)) as! [[String: String]]
                let roles = a.map { $0["role"]! }.filter { $0 != "system" }
                XCTAssertEqual(roles.first, "user")
                XCTAssertEqual(roles.last, "assistant")
                for (i, r) in roles.enumerated() { XCTAssertEqual(r, i % 2 == 0 ? "user" : "assistant") }
            }
        }
    }

    func testBadOptionsAndRecipesFailClearlyAndChangeNothing() throws {
        let file = try copyOfPipeline()
        func count() throws -> Int {
            let q = try DatabaseQueue(path: file)
            defer { try? q.close() }
            return try q.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM training_examples")! }
        }
        let before = try count()
        let cases: [([String], String)] = [
            (["build", file, "--recipe", "nonsense"], "nonsense"),
            (["build", file, "--recipe", "llm-qa", "--tokenizer", smollm2], "needs QA pairs"),
            (["build", file, "--recipe", "dapt", "--ratio", "1-1", "--tokenizer", smollm2], "ratio '1-1'"),
            (["build", file, "--recipe", "dapt", "--context", "4", "--tokenizer", smollm2], "context length 4"),
            (["build", file, "--recipe", "dapt", "--tokenizer", "/nonexistent/tok.json"], "/nonexistent/tok.json"),
            (["build", file, "--recipe", "dapt", "--format", "chat", "--tokenizer", smollm2], "no questions"),
            (["build", file, "--recipe", "dapt", "--eos", "not a token", "--tokenizer", smollm2], "not a single token"),
            (["build", file, "--recipe", "readcompre", "--mined", "zzzz", "--tokenizer", smollm2], "zzzz"),
        ]
        for (args, expected) in cases {
            let r = try lectern(args)
            XCTAssertNotEqual(r.status, 0, args.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        XCTAssertEqual(try count(), before)

        let dir = try TestSupport.temporaryDirectory(self)
        let recipes: [(String, String)] = [
            ("file = \"x.lectern\"\n[ingest]\nsources = [\"a\"]\n[tokens]\ntokenizer = \"t\"\n[build]\nrecipe = \"dapt\"\ncontxt = 10\n", "contxt"),
            ("file = \"x.lectern\"\n[ingest\n", "recipe.toml"),
            ("file = \"${LECTERN_NOT_SET_ANYWHERE}/x\"\n[ingest]\nsources = []\n[tokens]\ntokenizer = \"t\"\n[build]\nrecipe = \"dapt\"\n", "LECTERN_NOT_SET_ANYWHERE"),
            ("file = \"x.lectern\"\n[tokens]\ntokenizer = \"t\"\n[build]\nrecipe = \"dapt\"\n", "ingest"),
            ("file = \"x.lectern\"\ndomain = \"law\"\n[ingest]\nsources = []\n[tokens]\ntokenizer = \"t\"\n[build]\nrecipe = \"paperish\"\n", "paperish"),
        ]
        for (text, expected) in recipes {
            let path = dir.appendingPathComponent("recipe.toml")
            try text.write(to: path, atomically: true, encoding: .utf8)
            let r = try lectern(["run", path.path])
            XCTAssertNotEqual(r.status, 0, text)
            XCTAssertTrue(r.stderr.contains(expected), "\(text): \(r.stderr)")
        }
    }
}
