import ArgumentParser
import LecternStore

/// The `lectern` command: one sub-command per pipeline stage, each reading and writing one file.
@main
struct Lectern: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lectern",
        abstract: "Adapt an LLM to a domain by extended-text reading comprehension; every artifact in one SQLite file.",
        discussion: """
        Stages, in pipeline order: init, ingest, import-instructions, tokens, mine or generate, embed, cluster, build, \
        export, train, eval; `run` chains them from one recipe file and `report` draws the result, and status and \
        sql look inside the file at any time. Beyond one machine: the per-document stages take --shard I/N, `merge` \
        folds the shard files back, `slurm` runs a recipe as a job array. Every stage is resumable: re-run it after an interruption and it does only \
        what is missing.
        """,
        version: lecternVersion,
        subcommands: [
            RunCommand.self,
            ReportCommand.self,
            SlurmCommand.self,
            MergeCommand.self,
            InitCommand.self,
            IngestCommand.self,
            ImportInstructionsCommand.self,
            TokensCommand.self,
            MineCommand.self,
            GenerateCommand.self,
            EmbedCommand.self,
            TrainCommand.self,
            EvalCommand.self,
            ImportCommand.self,
            ClusterCommand.self,
            BuildCommand.self,
            ExportCommand.self,
            StatusCommand.self,
            SQLCommand.self,
            ModelsCommand.self,
        ]
    )
}

/// An error a command reports as it is: one message saying what is wrong and what to do, no
/// usage line (that is for malformed command lines: `ValidationError`).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
