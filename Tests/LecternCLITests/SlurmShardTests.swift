import Foundation
import GRDB
import LecternStore
import LecternTestSupport
import XCTest

/// The PubMedQA recipe as 8 shards under a real Slurm (a private single-node cluster started by
/// scripts/slurm-local.sh; Debian's slurm-wlm and munge installed by scripts/setup.d/75-slurm.sh):
/// `lectern slurm` submits the job array and the merge job; one shard task is cancelled mid-way,
/// the merge job never runs (afterok), the task is resubmitted alone (`sbatch --array=3`, where
/// Slurm says the array has 1 task) and resumes its scratch file; `lectern slurm` again submits
/// only the merge. The merged file equals a single-process run of the same recipe.
final class SlurmShardTests: XCTestCase {
    var clusterDir: URL?
    var environment: [String: String] = [:]

    override func tearDownWithError() throws {
        if let clusterDir {
            let script = TestSupport.packageRoot.appendingPathComponent("scripts/slurm-local.sh").path
            _ = system("bash '\(script)' stop '\(clusterDir.path)' > /dev/null 2>&1 < /dev/null")
            try? FileManager.default.removeItem(at: clusterDir)
        }
    }

    /// `scontrol show job -o ID`: each task's (ArrayTaskId or job, JobState).
    func states(_ job: String) throws -> [String: String] {
        let r = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["scontrol", "show", "job", "-o", job], environment: environment)
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            var fields: [String: String] = [:]
            for word in line.split(separator: " ") {
                let kv = word.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
            }
            out[fields["ArrayTaskId"] ?? fields["JobId"] ?? "?"] = fields["JobState"]
        }
        return out
    }

    func wait(_ what: String, timeout: Double = 600, until done: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try !done() {
            guard Date() < deadline else { XCTFail("timed out waiting for \(what)"); throw XCTSkip("timeout") }
            usleep(300_000)
        }
    }

    static let terminal: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"]

    func testPubMedQARecipeAsEightSlurmShardsWithAKilledTaskEqualsOneProcess() throws {
        let gguf = ProcessInfo.processInfo.environment["LECTERN_SMOLLM2_GGUF"] ?? ""
        try TestSupport.requireComponent(FileManager.default.fileExists(atPath: gguf), "SmolLM2 GGUF (LECTERN_SMOLLM2_GGUF)")
        let sbatch = ["/usr/bin/sbatch", "/usr/local/bin/sbatch"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try TestSupport.requireComponent(sbatch != nil, "Slurm (sbatch; scripts/setup.d/75-slurm.sh installs it)")
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)

        // The cluster: its folder path must stay short (unix socket paths).
        var template = Array("/tmp/lectern-slurm-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw XCTSkip("mkdtemp failed") }
        clusterDir = URL(fileURLWithPath: String(cString: made))
        chmod(made, 0o755)
        let t0 = Date()
        // Through files, not pipes: the daemons outlive the script and must hold none of our pipes.
        let script = TestSupport.packageRoot.appendingPathComponent("scripts/slurm-local.sh").path
        let envFile = clusterDir!.appendingPathComponent("env.out").path
        // system(3), which waits with waitpid itself: Foundation's Process was seen not to notice
        // this script's exit here (its daemons fork away), leaving the test waiting.
        let start = system("bash '\(script)' start '\(clusterDir!.path)' > '\(envFile)' 2> '\(envFile).err' < /dev/null")
        XCTAssertEqual(start, 0, (try? String(contentsOfFile: envFile + ".err", encoding: .utf8)) ?? "")
        let startOut = (try? String(contentsOfFile: envFile, encoding: .utf8)) ?? ""
        guard let conf = startOut.split(separator: "\n").first(where: { $0.hasPrefix("export SLURM_CONF=") })?.dropFirst("export SLURM_CONF=".count) else {
            XCTFail("slurm-local.sh printed no SLURM_CONF: \(startOut)")
            return
        }
        environment["SLURM_CONF"] = String(conf)
        print("single-node Slurm cluster started in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")

        let recipe = { (name: String) throws -> String in
            let path = dir.appendingPathComponent("\(name).toml")
            try """
            file = "\(dir.path)/\(name).lectern"
            domain = "biomedicine"
            [ingest]
            sources = ["\(try TestSupport.pubmedqaPath())"]
            format = "pubmedqa"
            [embed]
            embedder = "minilm"
            [tokens]
            tokenizer = "\(gguf)"
            name = "smollm2"
            [mine]
            seed = 0
            [cluster]
            lmax = 2048
            threshold = 0.4
            [build]
            recipe = "readcompre+cluster"
            context = 2048
            ratio = "1:0"
            """.write(to: path, atomically: true, encoding: .utf8)
            return path.path
        }
        let t1 = Date()
        let single = try TestSupport.run(lectern, ["run", try recipe("single")], currentDirectory: dir)
        XCTAssertEqual(single.status, 0, single.stderr)
        let singleSeconds = Date().timeIntervalSince(t1)

        // Submit: 8 shards, scratch on "node-local" disk, shards into the shared folder.
        let main = try recipe("main")
        let args = ["slurm", main, "--shards", "8", "--scratch", dir.appendingPathComponent("scratch").path,
                    "--shard-dir", dir.appendingPathComponent("shards").path]
        let t2 = Date()
        let submit = try TestSupport.run(lectern, args, environment: environment, currentDirectory: dir)
        XCTAssertEqual(submit.status, 0, submit.stderr)
        func job(_ label: String, in text: String) -> String? {
            // "submitted shard array: job 12 (...)": the word after "job".
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(label) }) else { return nil }
            let words = line.split(separator: " ")
            return words.firstIndex(of: "job").flatMap { $0 + 1 < words.count ? String(words[$0 + 1]) : nil }
        }
        guard let array = job("submitted shard array:", in: submit.stdout), let merge = job("submitted merge:", in: submit.stdout) else {
            XCTFail("no job ids in: \(submit.stdout)")
            return
        }
        XCTAssertTrue(submit.stdout.contains("8 to run in 8 array tasks"), submit.stdout)

        // Cancel task 3 once it runs (mid-way: a shard task takes seconds).
        try wait("task 3 to run") { try states(array)["3"] == "RUNNING" }
        usleep(1_500_000)
        let cancel = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["scancel", "\(array)_3"], environment: environment)
        XCTAssertEqual(cancel.status, 0, cancel.stderr)
        try wait("the other tasks") {
            let s = try states(array)
            return s.count == 8 && s.values.allSatisfy { Self.terminal.contains($0) }
        }
        let after = try states(array)
        XCTAssertEqual(after["3"], "CANCELLED", "\(after)")
        XCTAssertEqual(after.filter { $0.value == "COMPLETED" }.count, 7, "\(after)")
        let shardFolder = dir.appendingPathComponent("shards")
        XCTAssertFalse(FileManager.default.fileExists(atPath: shardFolder.appendingPathComponent("shard-0003-of-0008.lectern").path),
                       "a cancelled shard leaves nothing in the shared folder")
        // The merge waits on an array that failed: it never runs.
        usleep(2_000_000)
        XCTAssertNotEqual(try states(merge)[merge], "COMPLETED")
        _ = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["scancel", merge], environment: environment)

        // Resubmitted alone: Slurm now says the array has 1 task; the script still does shard 3 of 8.
        let arrayScript = shardFolder.appendingPathComponent("slurm/shards.sbatch").path
        let again = try TestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["sbatch", "--parsable", "--array=3", arrayScript], environment: environment, currentDirectory: dir)
        XCTAssertEqual(again.status, 0, again.stderr)
        let retry = again.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try wait("the resubmitted task") { try states(retry).values.allSatisfy { Self.terminal.contains($0) } && !(try states(retry).isEmpty) }
        XCTAssertEqual(try states(retry).values.first, "COMPLETED")
        let log = try String(contentsOf: shardFolder.appendingPathComponent("logs/task-3.out"), encoding: .utf8)
        XCTAssertTrue(log.contains("the array has 1 tasks now"), log)
        XCTAssertTrue(log.contains("shard 3/8 of"), log)
        XCTAssertTrue(FileManager.default.fileExists(atPath: shardFolder.appendingPathComponent("shard-0003-of-0008.lectern").path))

        // `lectern slurm` again: nothing left to shard, only the merge is submitted.
        let finish = try TestSupport.run(lectern, args, environment: environment, currentDirectory: dir)
        XCTAssertEqual(finish.status, 0, finish.stderr)
        XCTAssertTrue(finish.stdout.contains("0 to run"), finish.stdout)
        guard let merge2 = job("submitted merge:", in: finish.stdout) else { XCTFail(finish.stdout); return }
        try wait("the merge job") { try states(merge2).values.allSatisfy { Self.terminal.contains($0) } }
        let mergeLog = (try? String(contentsOf: shardFolder.appendingPathComponent("logs/merge.out"), encoding: .utf8)) ?? ""
        XCTAssertEqual(try states(merge2)[merge2], "COMPLETED", mergeLog)
        XCTAssertTrue(mergeLog.contains("8 shards merged"), mergeLog)
        let shardedSeconds = Date().timeIntervalSince(t2)

        let mainFile = dir.appendingPathComponent("main.lectern").path
        XCTAssertEqual(try ShardMergeTests.dump(mainFile), try ShardMergeTests.dump(dir.appendingPathComponent("single.lectern").path),
                       "the merged file equals one process: documents, sources, token counts, mined texts, vectors byte for byte")
        let store = try Store.open(path: mainFile, access: .read)
        let (members, merges) = try store.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM cluster_members") ?? 0, try MergedShards.all(db).count)
        }
        try store.pool.close()
        XCTAssertEqual(members, 1000, "the merge job ran the global stages")
        XCTAssertEqual(merges, 8)
        print(String(format: "Slurm: one process %.1f s; 8 shards on 2 cores with a cancelled and resubmitted task, merge and global stages %.1f s", singleSeconds, shardedSeconds))
    }
}
