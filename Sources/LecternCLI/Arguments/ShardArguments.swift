import ArgumentParser
import Foundation
import LecternCore
import LecternShard
import LecternStore

/// `--shard I/N` and where shard files go: the options of every per-document stage command
/// (ingest, tokens, embed, mine, generate) and of `lectern run`.
struct ShardArguments: ParsableArguments {
    @Option(help: ArgumentHelp("Do only shard I of N (0-based) into a shard file, for `lectern merge` (docs/scale-out.md).", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Folder complete shard files are moved to (default: FILE.shards/PLAN).", valueName: "dir"))
    var shardDir: String?

    @Option(help: ArgumentHelp("Node-local folder the shard file is written in until complete (default: $LECTERN_SCRATCH, $TMPDIR or /tmp).", valueName: "dir"))
    var scratch: String?

    func validate() throws {
        if let shard { _ = try parsed(shard) }
        if shard == nil && (shardDir != nil || scratch != nil) { throw ValidationError("--shard-dir and --scratch go with --shard I/N") }
    }

    func parsed(_ text: String) throws -> Shard {
        do { return try Shard(parsing: text) } catch { throw ValidationError("--shard: \(error)") }
    }

    /// The shard asked for, if any.
    var spec: Shard? { get throws { try shard.map(parsed) } }

    /// Runs `body` on shard `shard`'s file of `main` (seeded with its documents), then moves the
    /// file into the shard folder; does nothing when that folder already holds the complete file.
    func runSharded(main: String, shard: Shard, plan: String, body: (Store) async throws -> Void) async throws {
        guard let workspace = try ShardWorkspace.open(main: main, shard: shard, plan: plan, folder: shardDir, scratch: scratch) else { return }
        try await body(workspace.store)
        let path = try workspace.finish()
        print("shard \(shard) of \(main): complete in \(path) (merge it with `lectern merge \(main) \((path as NSString).deletingLastPathComponent)`)")
    }

    /// The plan of a single stage command run in shards: its name, its arguments and the count.
    static func plan(stage: String, arguments: [String], count: Int) -> String {
        var args: [String] = []
        var skip = false
        for a in arguments {
            if skip { skip = false; continue }
            if ["--shard", "--shard-dir", "--scratch"].contains(a) { skip = true; continue }
            if ["--shard=", "--shard-dir=", "--scratch="].contains(where: { a.hasPrefix($0) }) { continue }
            args.append(a)
        }
        return Fingerprint.hex(of: Array("stage \(stage)\ncount \(count)\n\(args.dropFirst(1).joined(separator: "\u{0}"))".utf8))
    }

    /// Runs one per-document stage command: on the file itself, or with `--shard`, on its shard file.
    func run(file: String, stage: String, body: (Store) async throws -> Void) async throws {
        if let shard = try spec {
            try await runSharded(main: file, shard: shard, plan: Self.plan(stage: stage, arguments: CommandLine.arguments, count: shard.count), body: body)
        } else {
            try await body(try Store.open(path: file))
        }
    }
}
