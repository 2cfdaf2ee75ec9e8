import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// `lectern run` defects found by a new-user trial (issue 13, items 3 to 6 and 16): steps hand
/// each other what they made, recipe mistakes are caught before anything runs, and a QA step that
/// produced nothing stops the run. Real binary, real MiniLM, real SmolLM2 tokenizer, on 40
/// PubMedQA abstracts so that a whole run takes seconds.
final class RunRecipeDefectTests: XCTestCase {
    var smollm2: String { ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"] ?? "" }

    /// A folder with `corpus.jsonl` (40 abstracts) and a recipe writing `run.lectern`; `edit`
    /// changes the recipe text.
    func smallRecipe(_ edit: (String) -> String = { $0 }) throws -> (dir: URL, recipe: String, file: String) {
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: smollm2), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let dir = try TestSupport.temporaryDirectory(self)
        let data = try Data(contentsOf: URL(fileURLWithPath: try TestSupport.pubmedqaPath()))
        let json = try JSONSerialization.jsonObject(with: data) as! [String: [String: Any]]
        var lines: [String] = []
        for key in json.keys.sorted().prefix(40) {
            let text = (json[key]?["CONTEXTS"] as? [String] ?? []).joined(separator: " ")
            let line = try JSONSerialization.data(withJSONObject: ["id": key, "text": text])
            lines.append(String(decoding: line, as: UTF8.self))
        }
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("corpus.jsonl"), atomically: true, encoding: .utf8)
        let recipe = """
            file = "run.lectern"
            domain = "biomedicine"
            [ingest]
            sources = ["corpus.jsonl"]
            [embed]
            embedder = "minilm"
            [tokens]
            tokenizer = "\(smollm2)"
            name = "smollm2"
            [qa]
            source = "miner"
            [cluster]
            lmax = 2048
            dmax = 4
            threshold = 0.5
            [build]
            recipe = "readcompre+cluster"
            ratio = "1:0"
            """
        let path = dir.appendingPathComponent("recipe.toml")
        try edit(recipe).write(to: path, atomically: true, encoding: .utf8)
        return (dir, path.path, dir.appendingPathComponent("run.lectern").path)
    }

    func lectern(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try TestSupport.run(try TestSupport.lecternExecutable(), args)
    }

    /// Item 3: the clustering uses the embedder the recipe names, though a newer 384-d embedder exists;
    /// and a tokenizer registered earlier under another name does not break `cluster`.
    func testRunUsesTheRecipesEmbedderAndTokenizerByFingerprint() throws {
        let (_, recipe, file) = try smallRecipe()
        // The file already knows SmolLM2's tokenizer under its file name (a hand-run `lectern tokens`).
        XCTAssertEqual(try lectern(["init", file, "--domain", "biomedicine"]).status, 0)
        let tokens = try lectern(["tokens", file, "--tokenizer", smollm2])
        XCTAssertEqual(tokens.status, 0, tokens.stderr)
        // First run: minilm vectors.
        let first = try lectern(["run", recipe])
        XCTAssertEqual(first.status, 0, first.stderr)
        // A second 384-dimensional embedder appears later (newer id) in the same vector table.
        let q = try DatabaseQueue(path: file)
        try q.write { db in
            try db.execute(sql: """
                INSERT INTO embedders(name, kind, model, dim, metric, vector_table, fingerprint, config, created_at)
                SELECT 'other-384', kind, 'other', dim, metric, vector_table, 'ffff' || substr(fingerprint, 5), config, created_at
                FROM embedders WHERE name = 'minilm'
                """)
            for table in ["training_example_parts", "training_examples", "training_sets", "cluster_members", "clusters", "clusterings"] {
                try db.execute(sql: "DELETE FROM \(table)")
            }
        }
        try q.close()
        let second = try lectern(["run", recipe])
        XCTAssertEqual(second.status, 0, second.stderr)
        let q2 = try DatabaseQueue(path: file)
        try q2.read { db in
            let used = try String.fetchAll(db, sql: "SELECT e.name FROM clusterings c JOIN embedders e ON e.id = c.embedder_id")
            XCTAssertEqual(used, ["minilm"])
            let tok = try String.fetchAll(db, sql: "SELECT t.name FROM clusterings c JOIN tokenizers t ON t.id = c.tokenizer_id")
            XCTAssertEqual(tok, ["SmolLM2-135M-Instruct.Q4_1.gguf"], "the tokenizer keeps its first name; the run found it by fingerprint")
            let singletons = try Int.fetchOne(db, sql: "SELECT count(*) FROM clusters WHERE n_documents = 1") ?? 0
            let clusters = try Int.fetchOne(db, sql: "SELECT count(*) FROM clusters") ?? 0
            XCTAssertLessThan(singletons, clusters, "some clusters group several documents: the vectors were minilm's")
        }
        try q2.close()
    }

    /// Item 5: a recipe without `domain` is refused, naming the key, and creates no file.
    func testRecipeWithoutDomainIsRefused() throws {
        let (_, recipe, file) = try smallRecipe { $0.replacingOccurrences(of: "domain = \"biomedicine\"\n", with: "") }
        let r = try lectern(["run", recipe])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("`domain` is missing"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file))
    }

    /// `[[experiment]]`: the shared data steps once, then one set per experiment (LLM-QA ones left
    /// out, and said so, without an endpoint); `--plan` prints the steps and writes nothing; a
    /// re-run builds nothing new; `enabled = false` switches a section off; mistakes are named.
    func testExperimentsShareTheDataStepsAndRerunAddsNothing() throws {
        let experiments = """

            [[experiment]]
            name = "dapt"
            build = { recipe = "dapt" }

            [[experiment]]
            name = "readcompre"
            build = { recipe = "readcompre" }

            [[experiment]]
            name = "clustered"
            build = { recipe = "readcompre+cluster" }

            [[experiment]]
            name = "llm"
            build = { recipe = "llm-qa+cluster" }

            [[experiment]]
            name = "short"
            build = { recipe = "dapt", context = 512 }
            """
        let (_, recipe, file) = try smallRecipe { $0 + experiments }
        let plan = try lectern(["run", recipe, "--plan"])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let steps = plan.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") && $0.contains(". ") }
            .map { String($0.split(separator: ". ", maxSplits: 1)[1]) }
        XCTAssertEqual(steps, ["ingest", "mine", "tokens", "embed", "cluster", "build (dapt)", "build (readcompre)", "build (clustered)", "build (short)"])
        XCTAssertTrue(plan.stdout.contains("left out: experiment 'llm'") && plan.stdout.contains("--llm-url"), plan.stdout)
        XCTAssertTrue(plan.stdout.contains("expected time on a fresh file"), plan.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "--plan writes nothing")
        // With an endpoint, the LLM experiment and its generate step are in the plan.
        let withLLM = try lectern(["run", recipe, "--plan", "--llm-url", "http://127.0.0.1:9/v1"])
        XCTAssertTrue(withLLM.stdout.contains("generate") && withLLM.stdout.contains("build (llm)"), withLLM.stdout)

        let run = try lectern(["run", recipe])
        XCTAssertEqual(run.status, 0, run.stderr)
        let q = try DatabaseQueue(path: file)
        let sets = try q.read { db in try Row.fetchAll(db, sql: "SELECT name, recipe, json_extract(params, '$.options.contextLength') AS context FROM training_sets ORDER BY id") }
        try q.close()
        // Experiments that change only the recipe keep the recipe's name; "short" changes the build's options.
        XCTAssertEqual(sets.map { $0["name"] as String }, ["dapt", "readcompre", "readcompre+cluster", "short"])
        XCTAssertEqual(sets.map { $0["recipe"] as String }, ["dapt", "readcompre", "readcompre+cluster", "dapt"])
        XCTAssertEqual(sets.last?["context"] as Int?, 512)
        let again = try lectern(["run", recipe])
        XCTAssertEqual(again.status, 0, again.stderr)
        let q2 = try DatabaseQueue(path: file)
        defer { try? q2.close() }
        XCTAssertEqual(try q2.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM training_sets") }, 4, "a re-run builds nothing new")

        // Switched off: a step leaves the plan; one the build needs is refused with the reason.
        for on in [true, false] {
            let (_, r, _) = try smallRecipe { $0 + "\n[export]\ndir = \"x\"\nenabled = \(on)\n" }
            let p = try lectern(["run", r, "--plan"])
            XCTAssertEqual(p.status, 0, p.stderr)
            XCTAssertEqual(p.stdout.contains(". export"), on, p.stdout)
        }
        let (_, off, _) = try smallRecipe { $0.replacingOccurrences(of: "[cluster]", with: "[cluster]\nenabled = false") }
        let o = try lectern(["run", off, "--plan"])
        XCTAssertNotEqual(o.status, 0)
        XCTAssertTrue(o.stderr.contains("[cluster] is switched off, but build.recipe readcompre+cluster needs clusters"), o.stderr)
        let (_, noBuild, _) = try smallRecipe { $0.replacingOccurrences(of: "[build]", with: "[build]\nenabled = false") }
        XCTAssertTrue(try lectern(["run", noBuild, "--plan"]).stderr.contains("[build] cannot be switched off"))
        let (_, badFlag, _) = try smallRecipe { $0.replacingOccurrences(of: "[cluster]", with: "[cluster]\nenabled = \"sometimes\"") }
        XCTAssertTrue(try lectern(["run", badFlag, "--plan"]).stderr.contains("cluster.enabled' should be true or false"))
        // Experiment mistakes: no name, a twice-used name, an unknown key, a recipe that is not one.
        for (text, message) in [("[[experiment]]\nbuild = { recipe = \"dapt\" }", "experiment[0] has no name"),
                                ("[[experiment]]\nname = \"a\"\n[[experiment]]\nname = \"a\"", "two experiments are named 'a'"),
                                ("[[experiment]]\nname = \"a\"\ncluster = { lmax = 5 }", "experiment 'a': unknown key 'cluster'"),
                                ("[[experiment]]\nname = \"a\"\nbuild = { recipe = \"dpat\" }", "build.recipe 'dpat' is not a recipe"),
                                ("[[experiment]]\nname = \"a\"\nbuild = { enabled = false }", "a step of one experiment cannot be switched off")] {
            let (_, bad, badFile) = try smallRecipe { $0 + "\n" + text + "\n" }
            let r = try lectern(["run", bad])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains(message), "\(message): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: badFile))
        }
    }

    /// Item 6: problems anywhere in the recipe are reported before the first step, and leave no file.
    func testRecipeProblemsSurfaceBeforeAnyStep() throws {
        // The paper's preset with the offline miner: no QA pairs would ever exist.
        let (_, paper, paperFile) = try smallRecipe { $0.replacingOccurrences(of: "recipe = \"readcompre+cluster\"", with: "recipe = \"paper\"") }
        let p = try lectern(["run", paper])
        XCTAssertNotEqual(p.status, 0)
        XCTAssertTrue(p.stderr.contains("needs QA pairs from an LLM"), p.stderr)
        XCTAssertFalse(p.stderr.contains("[lectern run] embed"), "failed before embedding: \(p.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: paperFile))

        // A string where a number belongs names the key and the type.
        let (_, typed, _) = try smallRecipe { $0.replacingOccurrences(of: "lmax = 2048", with: "lmax = \"lots\"") }
        let t = try lectern(["run", typed])
        XCTAssertNotEqual(t.status, 0)
        XCTAssertTrue(t.stderr.contains("cluster.lmax"), t.stderr)
        XCTAssertFalse(t.stderr.contains("cluster.lmax.lmax"), t.stderr)

        // A missing source: refused, no empty .lectern left behind.
        let (_, missing, missingFile) = try smallRecipe { $0.replacingOccurrences(of: "corpus.jsonl", with: "nowhere.jsonl") }
        let m = try lectern(["run", missing])
        XCTAssertNotEqual(m.status, 0)
        XCTAssertTrue(m.stderr.contains("ingest.sources[0]") && m.stderr.contains("nowhere.jsonl: no such file"), m.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: missingFile))

        // A bad option value is caught by the step's own validation, before any step runs.
        let (_, badValue, badFile) = try smallRecipe { $0.replacingOccurrences(of: "dmax = 4", with: "dmax = 4\nalgorithm = \"kmeans\"") }
        let b = try lectern(["run", badValue])
        XCTAssertNotEqual(b.status, 0)
        XCTAssertTrue(b.stderr.contains("[cluster]") && b.stderr.contains("kmeans"), b.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: badFile))
    }

    /// Item 4: with an endpoint that refuses every request the run fails with the counts and the
    /// first error, and builds no set.
    func testRunFailsWhenEveryLLMRequestFailed() throws {
        let (_, recipe, file) = try smallRecipe {
            $0 + "\n[generate]\nsample = 3\n"
        }
        // A port nothing listens on: every request is refused.
        let r = try lectern(["run", recipe, "--llm-url", "http://127.0.0.1:9/v1"])
        XCTAssertNotEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stderr.contains("3 requests: 0 ok"), r.stderr)
        XCTAssertTrue(r.stderr.contains("first error"), r.stderr)
        XCTAssertFalse(r.stderr.contains("[lectern run] build"), r.stderr)
        let q = try DatabaseQueue(path: file)
        XCTAssertEqual(try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM training_sets") }, 0)
        try q.close()
        // The message about the refused connection has balanced parentheses.
        let line = r.stderr.split(separator: "\n").first { $0.contains("first error") }.map(String.init) ?? ""
        XCTAssertEqual(line.filter { $0 == "(" }.count, line.filter { $0 == ")" }.count, line)
    }

    /// Item 16: `cluster` without --tokenizer uses the file's only tokenizer and says so.
    func testClusterUsesTheOnlyTokenizer() throws {
        let (_, recipe, file) = try smallRecipe()
        XCTAssertEqual(try lectern(["run", recipe]).status, 0)
        let r = try lectern(["cluster", file, "--embedder", "minilm", "--dmax", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("the file's only tokenizer"), r.stderr)
        let q = try DatabaseQueue(path: file)
        let nulls = try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM clusterings WHERE tokenizer_id IS NULL") }
        XCTAssertEqual(nulls, 0)
        try q.close()
    }

    /// Item 18: the README's KNN query filters on the embedder, so a second embedder of the same
    /// dimension (sharing `lectern_vectors_384`) does not mix into the neighbours.
    func testReadmeKNNQueryStaysWithinOneEmbedder() throws {
        let (_, recipe, file) = try smallRecipe()
        XCTAssertEqual(try lectern(["run", recipe]).status, 0)
        let readme = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let start = readme.range(of: "'.load .build/release/libLecternVec' \""),
              let end = readme.range(of: "\"\n```", range: start.upperBound..<readme.endIndex) else {
            return XCTFail("README has no KNN example in the expected shape")
        }
        let query = String(readme[start.upperBound..<end.lowerBound])
        // A copy of every minilm vector under a second 384-d embedder, as another embedder would add.
        let copy = try lectern(["sql", file, """
            INSERT INTO embedders(name, kind, model, dim, metric, vector_table, fingerprint, config, created_at)
              SELECT 'copy-384', kind, 'copy', dim, metric, vector_table, 'eeee' || substr(fingerprint, 5), config, created_at
              FROM embedders WHERE name = 'minilm';
            INSERT INTO lectern_vectors_384(embedding, embedder)
              SELECT v.embedding, (SELECT id FROM embedders WHERE name = 'copy-384') FROM lectern_vectors_384 v
              WHERE v.embedder = (SELECT id FROM embedders WHERE name = 'minilm');
            """])
        XCTAssertEqual(copy.status, 0, copy.stderr)
        let r = try lectern(["sql", file, query, "--csv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ids = r.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").first.map(String.init) ?? "" }
        XCTAssertEqual(ids.count, 5, r.stdout)
        XCTAssertEqual(Set(ids).count, ids.count, "each neighbour once: \(r.stdout)")
    }

    /// Issue 14, item 2: a recipe section and its command's flags are one declaration, so for every
    /// stage the recipe's keys and the matching flags give the same configuration fingerprint. The
    /// recipe runs first; then each stage command, given the same values as flags, re-runs on the
    /// same file: its stage run must carry the recipe step's fingerprint (and so find its work done).
    func testRecipeKeysAndFlagsGiveTheSameFingerprints() throws {
        let instructions = try TestSupport.temporaryDirectory(self).appendingPathComponent("instructions.json")
        try #"[{"instruction": "Name a colour.", "output": "Blue."}, {"instruction": "Add 2 and 3.", "output": "5"}]"#
            .write(to: instructions, atomically: true, encoding: .utf8)
        let (dir, recipe, file) = try smallRecipe { text in
            text.replacingOccurrences(of: "[embed]\nembedder = \"minilm\"", with: """
                [embed]
                embedder = "minilm"
                max_tokens = 128
                batch_size = 64
                [instructions]
                sources = ["\(instructions.path)"]
                format = "alpaca"
                [mine]
                seed = 5
                token_budget = 900
                """)
            .replacingOccurrences(of: "threshold = 0.5", with: "threshold = 0.5\nseed = 3\nsimilarity_to = \"centroid\"\noverflow = \"skip\"")
            .replacingOccurrences(of: "ratio = \"1:0\"", with: "ratio = \"1:1\"\ncontext = 1024\nseed = 2\npacker = \"ffd\"\nqa_template = \"Q: {question}\\nA: {answer}\"")
            + "\n[export]\ndir = \"out\"\nformat = [\"text\", \"input-ids\"]\n"
            + "\n[train]\nbase = \"\(smollm2)\"\nrank = 8\nsteps = 1\ncheckpoint_every = 1\nlearning_rate = 0.001\nthreads = 2\n"
        }
        let run = try lectern(["run", recipe])
        XCTAssertEqual(run.status, 0, run.stderr)
        func fingerprints(_ stage: String) throws -> [String] {
            let q = try DatabaseQueue(path: file)
            defer { try? q.close() }
            return try q.read { try String.fetchAll($0, sql: "SELECT fingerprint FROM stage_runs WHERE stage = ? ORDER BY id", arguments: [stage]) }
        }
        let corpus = dir.appendingPathComponent("corpus.jsonl").path
        let commands: [(String, [String])] = [
            ("ingest", ["ingest", file, corpus]),
            ("import-instructions", ["import-instructions", file, instructions.path, "--format", "alpaca"]),
            ("mine", ["mine", file, "--seed", "5", "--token-budget", "900", "--tokenizer", smollm2]),
            ("tokens", ["tokens", file, "--tokenizer", smollm2, "--name", "smollm2"]),
            ("embed", ["embed", file, "--embedder", "minilm", "--max-tokens", "128", "--batch-size", "64"]),
            ("cluster", ["cluster", file, "--embedder", "minilm", "--tokenizer", "smollm2", "--lmax", "2048", "--dmax", "4",
                         "--threshold", "0.5", "--seed", "3", "--similarity-to", "centroid", "--overflow", "skip",
                         "--qa-template", "Q: {question}\\nA: {answer}"]),
            ("build", ["build", file, "--recipe", "readcompre+cluster", "--tokenizer", smollm2, "--ratio", "1:1", "--context", "1024",
                       "--seed", "2", "--packer", "ffd", "--qa-template", "Q: {question}\\nA: {answer}"]),
            ("export", ["export", "set", file, dir.appendingPathComponent("out").path, "--set", "readcompre+cluster",
                        "--format", "text", "--format", "input-ids"]),
            ("train", ["train", file, "--set", "readcompre+cluster", "--base", smollm2, "--rank", "8", "--steps", "1",
                       "--checkpoint-every", "1", "--learning-rate", "1e-3", "--threads", "2"]),
        ]
        for (stage, args) in commands {
            let fromRecipe = try fingerprints(stage)
            XCTAssertEqual(fromRecipe.count, 1, "\(stage): one run from the recipe")
            let r = try lectern(args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            let all = try fingerprints(stage)
            XCTAssertEqual(all.count, 2, stage)
            XCTAssertEqual(all.last, fromRecipe.first, "\(stage): the flags \(args.dropFirst(2)) give the recipe's fingerprint")
        }
        // The embed step found its work done: no second vector per document.
        let q = try DatabaseQueue(path: file)
        XCTAssertEqual(try q.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM embeddings") }, 40)
        try q.close()
    }
}
