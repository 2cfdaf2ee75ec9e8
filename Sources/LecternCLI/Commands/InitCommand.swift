import ArgumentParser
import Foundation
import LecternStore

/// `lectern init FILE --domain NAME`
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a Lectern file for a domain (idempotent: an existing file for the same domain is left as is).")

    @Argument(help: "The Lectern file to create, e.g. pubmed.lectern.")
    var file: String

    @Option(help: "The domain the corpus is about (biomedicine, finance, law, ...); used in prompts and mixing defaults.")
    var domain: String

    func validate() throws {
        guard !domain.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--domain must not be empty")
        }
    }

    func run() throws {
        let store = try Store.create(path: file, domain: domain)
        let created = try store.meta("created_at") ?? "?"
        print("\(file): Lectern file for domain '\(domain)', schema version \(Migrations.latestVersion), created \(created)")
    }
}

