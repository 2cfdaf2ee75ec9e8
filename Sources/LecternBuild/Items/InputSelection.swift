import Foundation
import GRDB

/// Which clustering, QA generator and mined texts a build reads. Each is given by id, name or
/// fingerprint prefix, or left nil to take the only (or newest complete) one in the file.
public struct InputSelection: Sendable {
    public var clustering: String?
    public var generator: String?
    public var mined: String?

    public init(clustering: String? = nil, generator: String? = nil, mined: String? = nil) {
        self.clustering = clustering
        self.generator = generator
        self.mined = mined
    }
}

/// The resolved inputs of a build, with the fingerprints that identify them.
public struct ResolvedInputs: Sendable, Codable, Equatable {
    public var clusteringId: Int64?
    public var clusteringFingerprint: String?
    public var generatorId: Int64?
    public var generatorName: String?
    public var generatorFingerprint: String?
    public var minedFingerprint: String?
}

enum InputResolver {
    static func resolve(_ db: Database, recipe: RecipePreset, selection: InputSelection) throws -> ResolvedInputs {
        var r = ResolvedInputs()
        if recipe.clustered {
            let rows = try Row.fetchAll(db, sql: "SELECT id, fingerprint, status, algorithm FROM clusterings ORDER BY id DESC")
            let row: Row
            if let sel = selection.clustering {
                let matches = rows.filter { String($0["id"] as Int64) == sel || ($0["fingerprint"] as String).hasPrefix(sel.lowercased()) }
                guard matches.count == 1, let m = matches.first else {
                    throw matches.isEmpty
                        ? BuildError.missingInput("no clustering '\(sel)' in the file (ids: \(rows.map { String($0["id"] as Int64) }.joined(separator: ", ")))")
                        : BuildError.ambiguous("clustering '\(sel)' matches \(matches.count) clusterings: give more of the fingerprint")
                }
                row = m
            } else {
                guard let m = rows.first(where: { ($0["status"] as String) == "complete" }) else {
                    throw BuildError.missingInput("recipe \(recipe.rawValue) needs a complete clustering: run `lectern cluster FILE` first")
                }
                row = m
            }
            guard (row["status"] as String) == "complete" else {
                throw BuildError.missingInput("clustering \(row["id"] as Int64) is incomplete: re-run `lectern cluster` to finish it")
            }
            r.clusteringId = row["id"]
            r.clusteringFingerprint = row["fingerprint"]
        }
        switch recipe.content {
        case .documents:
            break
        case .qaPairs:
            let rows = try Row.fetchAll(db, sql: """
                SELECT g.id, g.name, g.fingerprint, (SELECT count(*) FROM qa_pairs q WHERE q.generator_id = g.id) AS n
                FROM generators g ORDER BY g.id
                """)
            var candidates = rows.filter { ($0["n"] as Int) > 0 }
            if let sel = selection.generator {
                candidates = rows.filter { ($0["name"] as String) == sel || String($0["id"] as Int64) == sel || ($0["fingerprint"] as String).hasPrefix(sel.lowercased()) }
            }
            guard candidates.count == 1, let g = candidates.first else {
                if candidates.isEmpty {
                    throw BuildError.missingInput(selection.generator.map { "no generator '\($0)' in the file" }
                        ?? "recipe \(recipe.rawValue) needs QA pairs: run `lectern generate FILE --endpoint URL --model NAME` first")
                }
                let names = candidates.map { "\($0["name"] as String) (\(($0["fingerprint"] as String).prefix(12)))" }
                throw BuildError.ambiguous("several generators have QA pairs: \(names.joined(separator: ", ")); pick one with --generator")
            }
            r.generatorId = g["id"]
            r.generatorName = g["name"]
            r.generatorFingerprint = g["fingerprint"]
        case .mined:
            let fps = try String.fetchAll(db, sql: "SELECT DISTINCT fingerprint FROM rc_texts ORDER BY fingerprint")
            let matches = selection.mined.map { sel in fps.filter { $0.hasPrefix(sel.lowercased()) } } ?? fps
            guard matches.count == 1, let fp = matches.first else {
                if matches.isEmpty {
                    throw BuildError.missingInput(selection.mined.map { "no mined texts with fingerprint '\($0)'" }
                        ?? "recipe \(recipe.rawValue) needs mined texts: run `lectern mine FILE` first")
                }
                throw BuildError.ambiguous("mined texts of \(matches.count) miner configurations (\(matches.map { String($0.prefix(12)) }.joined(separator: ", "))): pick one with --mined")
            }
            r.minedFingerprint = fp
        }
        return r
    }
}
