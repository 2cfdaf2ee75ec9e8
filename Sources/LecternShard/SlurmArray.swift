import Foundation
import LecternCore

/// The two batch scripts of a sharded run under Slurm: one job array over the shards still
/// missing, and a merge job that depends on it (`--dependency=afterok`).
///
/// The shard count and the shard numbers are written into the script as literals: a task reads
/// only `SLURM_ARRAY_TASK_ID`, never `SLURM_ARRAY_TASK_COUNT` (which is 1 when one task is
/// resubmitted alone), so `sbatch --array=3 shards.sbatch` redoes exactly the shards of task 3.
/// When more shards are missing than the cluster's `MaxArraySize` allows indexes, each task runs
/// several shards, one after the other: task t runs missing[t], missing[t + tasks], ...
public struct SlurmArray: Sendable {
    public var lectern: String
    public var recipe: String
    public var main: String
    public var folder: String
    public var scratch: String?
    public var count: Int
    /// Shards with no complete file and not merged, ascending.
    public var missing: [Int]
    /// The cluster's `MaxArraySize` (array indexes run from 0 to MaxArraySize - 1).
    public var maxArraySize: Int
    /// At most this many tasks at once (`%K` of `--array`), or nil.
    public var maxParallel: Int?
    /// Extra `#SBATCH` options for both jobs (`--partition=...`, `--time=...`).
    public var sbatchOptions: [String]

    public init(lectern: String, recipe: String, main: String, folder: String, scratch: String?, count: Int, missing: [Int],
                maxArraySize: Int, maxParallel: Int?, sbatchOptions: [String]) {
        self.lectern = lectern
        self.recipe = recipe
        self.main = main
        self.folder = folder
        self.scratch = scratch
        self.count = count
        self.missing = missing
        self.maxArraySize = max(1, maxArraySize)
        self.maxParallel = maxParallel
        self.sbatchOptions = sbatchOptions
    }

    /// Array tasks: one per missing shard, at most `MaxArraySize`.
    public var tasks: Int { min(missing.count, maxArraySize) }

    /// The shards task `t` runs.
    public func shards(ofTask t: Int) -> [Int] {
        guard t >= 0, tasks > 0 else { return [] }
        return Swift.stride(from: t, to: missing.count, by: tasks).map { missing[$0] }
    }

    /// A word quoted for bash.
    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    var logs: String { (folder as NSString).appendingPathComponent("logs") }

    /// The job array script.
    public var arrayScript: String {
        var s = "#!/bin/bash\n#SBATCH --job-name=lectern-shards\n"
        s += "#SBATCH --array=0-\(max(0, tasks - 1))" + (maxParallel.map { "%\($0)" } ?? "") + "\n"
        s += "#SBATCH --output=\(logs)/task-%a.out\n"
        for o in sbatchOptions { s += "#SBATCH \(o)\n" }
        s += """
            # Written by `lectern slurm`: \(count) shards, pinned here (never read from Slurm's array size), of
            # \(main)
            # Resubmit one task alone with `sbatch --array=T` on this file: it redoes the same shards.
            set -euo pipefail
            SHARDS=(\(missing.map(String.init).joined(separator: " ")))
            TASKS=\(tasks)
            i=${SLURM_ARRAY_TASK_ID:?this script runs as a Slurm array task}
            echo "lectern slurm: task $i (the array has ${SLURM_ARRAY_TASK_COUNT:-?} tasks now; \(tasks) planned) on $(hostname)"
            while [ "$i" -lt "${#SHARDS[@]}" ]; do
              \(Self.quote(lectern)) run \(Self.quote(recipe)) --file \(Self.quote(main)) --shard "${SHARDS[$i]}/\(count)" --shard-dir \(Self.quote(folder))\(scratch.map { " --scratch " + Self.quote($0) } ?? "")
              i=$((i + TASKS))
            done

            """
        return s
    }

    /// The merge job's script: every shard of the plan merged (all \(count) required), then the
    /// recipe's global stages on the merged file.
    public var mergeScript: String {
        var s = "#!/bin/bash\n#SBATCH --job-name=lectern-merge\n#SBATCH --output=\(logs)/merge.out\n"
        for o in sbatchOptions { s += "#SBATCH \(o)\n" }
        s += """
            # Written by `lectern slurm`: merges the \(count) shards of \(folder), then runs the rest of the recipe.
            set -euo pipefail
            \(Self.quote(lectern)) merge \(Self.quote(main)) \(Self.quote(folder)) --require-all
            \(Self.quote(lectern)) run \(Self.quote(recipe)) --file \(Self.quote(main))

            """
        return s
    }

    /// `MaxArraySize` from `scontrol show config` output, or nil.
    public static func maxArraySize(fromConfig text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("MaxArraySize") {
            if let v = line.split(separator: "=").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) { return v }
        }
        return nil
    }
}
