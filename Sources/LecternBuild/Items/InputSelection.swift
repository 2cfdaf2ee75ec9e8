import Foundation
import GRDB
import LecternCluster
import LecternGenerate
import LecternMine
import LecternStore

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
            let clustering: StoredClusterings.Clustering
            if let sel = selection.clustering {
                let ref = try RowReference.resolve(db, table: "clusterings", kind: "clustering", sel)
                guard let found = try StoredClusterings.fetch(db, id: ref.id) else {
                    throw BuildError.missingInput("clustering \(ref.id) vanished while the build read it")
                }
                clustering = found
            } else {
                guard let newest = try StoredClusterings.newestComplete(db) else {
                    throw BuildError.missingInput("recipe \(recipe.rawValue) needs a complete clustering: run `lectern cluster FILE` first")
                }
                clustering = newest
            }
            guard clustering.complete else {
                throw BuildError.missingInput("clustering \(clustering.id) is incomplete: re-run `lectern cluster` to finish it")
            }
            r.clusteringId = clustering.id
            r.clusteringFingerprint = clustering.fingerprint
        }
        switch recipe.content {
        case .documents:
            break
        case .qaPairs:
            let g: GeneratorRecord
            if let sel = selection.generator {
                let ref = try RowReference.resolve(db, table: "generators", kind: "generator", sel)
                guard let found = try GeneratorRecord.fetch(db, id: ref.id) else {
                    throw BuildError.missingInput("generator \(ref.id) vanished while the build read it")
                }
                g = found
            } else {
                let candidates = try GeneratorRecord.withPairs(db)
                guard candidates.count == 1, let only = candidates.first else {
                    if candidates.isEmpty {
                        throw BuildError.missingInput("recipe \(recipe.rawValue) needs QA pairs: run `lectern generate FILE --endpoint URL --model NAME` first")
                    }
                    let names = candidates.map { "\($0.name) (\($0.fingerprint.prefix(12)))" }
                    throw BuildError.ambiguous("several generators have QA pairs: \(names.joined(separator: ", ")); pick one with --generator")
                }
                g = only
            }
            r.generatorId = g.id
            r.generatorName = g.name
            r.generatorFingerprint = g.fingerprint
        case .mined:
            let fps = try MinedTexts.fingerprints(db)
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
