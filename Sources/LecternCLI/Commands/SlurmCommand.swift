import ArgumentParser
import Foundation
import GRDB
import LecternCore
import LecternShard
import LecternStore

/// `lectern slurm RECIPE.toml --shards N`
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Run a recipe's per-document stages as a Slurm job array of N shards, then merge and run the rest.",
        discussion: """
        Prepares the main file (creates it, records the plan, checkpoints it so shards can read a complete \
        snapshot), writes two batch scripts into FILE.shards/PLAN/slurm/ and submits them: a job array over the \
        shards not done yet (`lectern run RECIPE --shard I/N` each; more shards per task when MaxArraySize is \
        smaller) and a merge job after it (--dependency=afterok: `lectern merge`, then `lectern run RECIPE` for \
        clustering, the build, training, evaluation). Shards are written on node-local disk and moved into the \
        shard folder when complete. Run it again after a failure: it submits only the shards still missing. \
        With --print the scripts are written and shown, not submitted. See docs/scale-out.md.
        """)

    @Argument(help: "The recipe file (TOML).")
    var recipe: String

    @Option(help: "How many shards (pinned in the scripts; the same N on every resubmission).")
    var shards: Int

    @Option(help: "Write the Lectern file here instead of the recipe's `file`.")
    var file: String?

    @Option(help: "Folder complete shard files go to (shared by every node; default FILE.shards/PLAN).")
    var shardDir: String?

    @Option(help: "Node-local folder shards are written in until complete (default on each node: $LECTERN_SCRATCH, $TMPDIR or /tmp).")
    var scratch: String?

    @Option(help: "Slurm partition (sbatch --partition).")
    var partition: String?

    @Option(help: "Time limit of each job (sbatch --time), e.g. 02:00:00.")
    var time: String?

    @Option(help: "CPUs per shard task (sbatch --cpus-per-task).")
    var cpusPerTask: Int?

    @Option(help: "At most this many shard tasks at once (the %K of --array).")
    var maxParallel: Int?

    @Option(help: "More sbatch options for both jobs, e.g. --sbatch-option=--mem=8G (repeatable).")
    var sbatchOption: [String] = []

    @Option(help: "The cluster's MaxArraySize (default: read from `scontrol show config`, else 1001).")
    var maxArraySize: Int?

    @Flag(help: "Write the scripts and print them; submit nothing.")
    var print = false

    func validate() throws {
        guard shards >= 1, shards <= Shard.maxCount else { throw ValidationError("--shards must be between 1 and \(Shard.maxCount)") }
        if let maxParallel, maxParallel < 1 { throw ValidationError("--max-parallel must be positive") }
        if let cpusPerTask, cpusPerTask < 1 { throw ValidationError("--cpus-per-task must be positive") }
        if let maxArraySize, maxArraySize < 1 { throw ValidationError("--max-array-size must be positive") }
    }

    func run() throws {
        var r = try RunRecipe.load(path: recipe)
        if let file { r.file = URL(fileURLWithPath: file).standardizedFileURL.path }
        let plan = try RunPlan(recipe: r, recipePath: recipe, llmURL: nil, llmModel: nil, llmLimit: nil)
        guard !plan.shardSteps.isEmpty else { throw RunError("\(recipe): no per-document step to run in shards") }
        let planID = try plan.shardPlan(count: shards)
        let main = r.file

        // The main file: created, planned, and checkpointed so every shard reads a complete snapshot.
        try FileManager.default.createDirectory(at: URL(fileURLWithPath: main).deletingLastPathComponent(), withIntermediateDirectories: true)
        let store = try Store.create(path: main, domain: r.domain ?? "")
        try store.setMeta("shard_plan", planID)
        try store.pool.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let merged = try store.pool.read { db in try MergedShards.indexes(db, plan: planID) }
        try store.pool.close()

        let folder = shardDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path } ?? ShardWorkspace.defaultFolder(main: main, plan: planID)
        let missing = try (0..<shards).filter { i in
            try !merged.contains(i) && ShardWorkspace.completed(folder: folder, shard: Shard(index: i, count: shards)) == nil
        }
        var options: [String] = []
        if let partition { options.append("--partition=\(partition)") }
        if let time { options.append("--time=\(time)") }
        if let cpusPerTask { options.append("--cpus-per-task=\(cpusPerTask)") }
        options += sbatchOption
        let arraySize = maxArraySize ?? Self.clusterMaxArraySize() ?? 1001
        let lectern = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let array = SlurmArray(lectern: lectern, recipe: URL(fileURLWithPath: recipe).standardizedFileURL.path, main: main, folder: folder,
                               scratch: scratch, count: shards, missing: missing, maxArraySize: arraySize, maxParallel: maxParallel,
                               sbatchOptions: options)
        let scripts = (folder as NSString).appendingPathComponent("slurm")
        try FileManager.default.createDirectory(atPath: scripts, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: (folder as NSString).appendingPathComponent("logs"), withIntermediateDirectories: true)
        let arrayPath = (scripts as NSString).appendingPathComponent("shards.sbatch")
        let mergePath = (scripts as NSString).appendingPathComponent("merge.sbatch")
        try array.arrayScript.write(toFile: arrayPath, atomically: true, encoding: .utf8)
        try array.mergeScript.write(toFile: mergePath, atomically: true, encoding: .utf8)

        Swift.print("\(main): plan \(planID.prefix(12)), \(shards) shards: \(merged.count) merged, \(shards - merged.count - missing.count) complete in \(folder), \(missing.count) to run"
            + (missing.isEmpty ? "" : " in \(array.tasks) array tasks" + (array.tasks < missing.count ? " (MaxArraySize \(arraySize): several shards per task)" : "")))
        if print {
            Swift.print("--- \(arrayPath)\n\(array.arrayScript)--- \(mergePath)\n\(array.mergeScript)")
            Swift.print(missing.isEmpty ? "submit: sbatch \(mergePath)"
                        : "submit: id=$(sbatch --parsable \(arrayPath)) && sbatch --dependency=afterok:${id%%;*} \(mergePath)")
            return
        }
        var mergeArgs = ["--parsable"]
        if !missing.isEmpty {
            let id = try Self.sbatch(["--parsable", arrayPath])
            Swift.print("submitted shard array: job \(id) (\(array.tasks) tasks, logs in \(folder)/logs)")
            mergeArgs.append("--dependency=afterok:\(id)")
        }
        let mergeID = try Self.sbatch(mergeArgs + [mergePath])
        Swift.print("submitted merge: job \(mergeID)" + (missing.isEmpty ? "" : " (after the array succeeds)"))
    }

    /// `MaxArraySize` of the cluster, if `scontrol` answers.
    static func clusterMaxArraySize() -> Int? {
        guard let out = try? capture(["scontrol", "show", "config"]) else { return nil }
        return SlurmArray.maxArraySize(fromConfig: out)
    }

    /// Submits with sbatch; returns the job id.
    static func sbatch(_ arguments: [String]) throws -> String {
        let out = try capture(["sbatch"] + arguments)
        let id = out.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else { throw CLIError("sbatch did not return a job id: \(out)") }
        return id
    }

    /// Runs a command found on PATH; its standard output, or an error with its standard error.
    static func capture(_ command: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = command
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { throw CLIError("\(command[0]): cannot run it (\(error)); is Slurm installed and on PATH?") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw CLIError("\(command.joined(separator: " ")) failed (exit \(p.terminationStatus)): \(String(decoding: errData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
