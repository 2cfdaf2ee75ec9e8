import Foundation
import TOMLKit

/// A `lectern run` recipe file (TOML): the Lectern file, the corpus's domain, and one section per
/// stage holding that stage's options, keyed as its command's flags (``RecipeSection``).
///
/// The recipe is read in two steps. ``load(path:environment:)`` reads the TOML, expands `${VAR}` and
/// `${VAR:-default}` in every string, resolves relative paths (the keys each section's options type
/// marks as paths) against the recipe's folder, and keeps each section as a table of values.
/// ``RunPlan`` then parses each section with its stage's own options type, so a section's keys,
/// types and values are checked by the declarations the command line uses. Unknown sections and
/// unknown keys are errors: a typo must not silently fall back to a default.
struct RunRecipe {
    /// The Lectern file (created when missing).
    var file: String
    var domain: String?
    /// Every section but the top-level keys, by name, its values expanded and resolved.
    var sections: [String: [String: RecipeValue]]
    /// `[[experiment]]` entries: each a named variant of the build, training and evaluation
    /// (its own `build`, `train`, `eval` keys over the recipe's sections), run after the shared
    /// data steps, one adapter each. Empty for a plain recipe.
    var experiments: [Experiment] = []
    /// Sections switched off with `enabled = false`, kept for what other steps read from them
    /// (the held-out eval items are imported before the build even when scoring is off, so the
    /// set is the same either way).
    var disabledSections: [String: [String: RecipeValue]] = [:]

    /// One `[[experiment]]`: a name and the keys it changes in `[build]`, `[train]`, `[eval]`.
    struct Experiment: Equatable {
        var name: String
        var overrides: [String: [String: RecipeValue]]
        /// The sections an experiment may change.
        static let sections = ["build", "train", "eval"]
    }

    /// The stage sections a recipe may have, with the options type that parses each.
    static let stageSections: [String: any RecipeSection.Type] = Dictionary(
        uniqueKeysWithValues: RunPlan.sectionTypes.map { ($0.section, $0) })
    /// Sections that are not a stage's options: `[qa]` picks the QA step.
    static let otherSections: [String: Set<String>] = ["qa": ["source"]]
    /// Keys of `[qa]` before the stage sections existed, and where they went.
    static let movedQAKeys: [String: String] = [
        "url": "[generate] endpoint", "model": "[generate] model", "concurrency": "[generate] concurrency",
        "max_tokens": "[generate] max_tokens", "limit": "[generate] sample", "min_ok": "[generate] min_ok",
        "seed": "[mine] seed", "domain_spm": "[mine] domain_spm", "general_spm": "[mine] general_spm",
    ]

    /// Reads and checks a recipe file; errors name the file and the key or line at fault.
    static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RunRecipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw RunError("\(path): cannot read the recipe file") }
        guard let text = String(data: data, encoding: .utf8) else { throw RunError("\(path): not UTF-8 text") }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw RunError("\(path): \(e.description) (\(e.source.debugDescription))")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ s: String) throws -> String {
            let expanded = try expand(s, environment: environment, recipe: path)
            if expanded.hasPrefix("/") { return expanded }
            if expanded.hasPrefix("~/") { return FileManager.default.homeDirectoryForCurrentUser.path + expanded.dropFirst(1) }
            return base.appendingPathComponent(expanded).standardizedFileURL.path
        }
        func string(_ key: String) throws -> String? {
            guard let v = table[key] else { return nil }
            guard v.type == .string, let s = v.string else {
                throw RunError("\(path): '\(key)' has the wrong type: it should be a string (in quotes)")
            }
            return s
        }
        guard let file = try string("file") else { throw RunError("\(path): missing key 'file' (the Lectern file to write)") }
        var recipe = RunRecipe(file: try resolve(file), domain: try string("domain").map { try expand($0, environment: environment, recipe: path) },
                               sections: [:])
        // Keys of one section (or of one experiment's part of it), expanded and resolved.
        func values(of section: TOMLTable, key: String, type: (any RecipeSection.Type)?, label: String) throws -> [String: RecipeValue] {
            var values: [String: RecipeValue] = [:]
            for k in section.keys where k != "enabled" {
                guard let v = section[k] else { continue }
                if let allowed = otherSections[key], !allowed.contains(k) {
                    let moved = key == "qa" ? movedQAKeys[k].map { ": it moved to \($0)" } ?? "" : ""
                    throw RunError("\(path): unknown key '\(label).\(k)'\(moved); [\(key)] has \(allowed.sorted().joined(separator: ", "))")
                }
                let value = try RecipeValue.from(v, key: "\(label).\(k)", recipe: path)
                let isPath = type?.pathKeys.contains(k) ?? false
                values[k] = try value.map { isPath ? try resolve($0) : try expand($0, environment: environment, recipe: path) }
            }
            return values
        }
        if let list = table["experiment"] {
            guard list.type == .array, let entries = list.array else {
                throw RunError("\(path): 'experiment' should be a list of tables: [[experiment]] with name = \"...\" and build/train/eval keys")
            }
            var names: Set<String> = []
            for (i, entry) in entries.enumerated() {
                guard entry.type == .table, let t = entry.table else { throw RunError("\(path): experiment[\(i)] should be a table") }
                guard let nameValue = t["name"], nameValue.type == .string, let name = nameValue.string, !name.isEmpty else {
                    throw RunError("\(path): experiment[\(i)] has no name (name = \"readcompre+cluster\", ...): it names the experiment's steps")
                }
                guard names.insert(name).inserted else { throw RunError("\(path): two experiments are named '\(name)'") }
                var overrides: [String: [String: RecipeValue]] = [:]
                for k in t.keys where k != "name" {
                    guard Experiment.sections.contains(k), let v = t[k], v.type == .table, let part = v.table else {
                        throw RunError("\(path): experiment '\(name)': unknown key '\(k)'; an experiment has name and the tables "
                            + Experiment.sections.joined(separator: ", "))
                    }
                    if part["enabled"] != nil {
                        throw RunError("\(path): experiment '\(name)': \(k).enabled: a step of one experiment cannot be switched off (switch off [\(k)] for all, or leave the experiment out)")
                    }
                    overrides[k] = try values(of: part, key: k, type: stageSections[k], label: "experiment '\(name)'.\(k)")
                }
                recipe.experiments.append(Experiment(name: name, overrides: overrides))
            }
        }
        for key in table.keys.sorted() where key != "file" && key != "domain" && key != "experiment" {
            guard let value = table[key], value.type == .table, let section = value.table else {
                throw RunError("\(path): unknown key '\(key)'; a recipe has `file`, `domain` and sections "
                    + "(\((stageSections.keys.sorted() + otherSections.keys.sorted()).map { "[\($0)]" }.joined(separator: ", ")))")
            }
            let type = stageSections[key]
            if type == nil, otherSections[key] == nil {
                throw RunError("\(path): unknown section [\(key)]; the sections are "
                    + (stageSections.keys.sorted() + otherSections.keys.sorted()).map { "[\($0)]" }.joined(separator: ", "))
            }
            // `enabled = false` switches a stage section off (the key is the recipe's, not the command's).
            if let flag = section["enabled"] {
                let on: Bool
                if let b = flag.bool { on = b } else if let s = flag.string, ["true", "false"].contains(try expand(s, environment: environment, recipe: path)) {
                    on = try expand(s, environment: environment, recipe: path) == "true"
                } else {
                    throw RunError("\(path): '\(key).enabled' should be true or false")
                }
                guard type != nil else { throw RunError("\(path): [\(key)] cannot be switched off (only stage sections can)") }
                if !on {
                    if ["ingest", "tokens", "build"].contains(key) {
                        throw RunError("\(path): [\(key)] cannot be switched off: every run needs it")
                    }
                    recipe.disabledSections[key] = try values(of: section, key: key, type: type, label: key)
                    continue
                }
            }
            recipe.sections[key] = try values(of: section, key: key, type: type, label: key)
        }
        return recipe
    }

    /// `${VAR}` and `${VAR:-default}`; an unset variable without a default is an error.
    static func expand(_ s: String, environment: [String: String], recipe: String) throws -> String {
        var out = ""
        var rest = Substring(s)
        while let open = rest.range(of: "${") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw RunError("\(recipe): unterminated ${ in '\(s)'")
            }
            let body = rest[open.upperBound..<close]
            let name: Substring, fallback: Substring?
            if let d = body.range(of: ":-") { name = body[..<d.lowerBound]; fallback = body[d.upperBound...] } else { name = body; fallback = nil }
            if let v = environment[String(name)], !v.isEmpty {
                out += v
            } else if let fallback {
                out += fallback
            } else {
                throw RunError("\(recipe): '\(s)' uses ${\(name)}, which is not set (set it, or give a default: ${\(name):-value})")
            }
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }

}

/// A recipe or run error, with the message as its description.
struct RunError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
