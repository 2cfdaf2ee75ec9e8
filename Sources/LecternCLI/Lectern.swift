import ArgumentParser
import LecternStore

/// The `lectern` command: one sub-command per pipeline stage, each reading and writing one file.
@main
struct Lectern: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lectern",
        abstract: "Adapt an LLM to a domain by extended-text reading comprehension; every artifact in one SQLite file.",
        discussion: """
        Stages, in pipeline order: init, ingest, embed, tokens, cluster, mine or generate, build, export (train and evaluate are coming), \
        with status and sql to look inside the file at any time. Every stage is resumable: \
        re-run it after an interruption and it does only what is missing.
        """,
        version: lecternVersion,
        subcommands: [
            RunCommand.self,
            InitCommand.self,
            IngestCommand.self,
            ImportInstructionsCommand.self,
            ModelsCommand.self,
            EmbedCommand.self,
            TokensCommand.self,
            ClusterCommand.self,
            MineCommand.self,
            GenerateCommand.self,
            BuildCommand.self,
            ExportCommand.self,
            StatusCommand.self,
            SQLCommand.self,
        ]
    )
}
