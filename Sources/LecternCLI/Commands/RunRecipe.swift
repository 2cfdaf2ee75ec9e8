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
        for key in table.keys.sorted() where key != "file" && key != "domain" {
            guard let value = table[key], value.type == .table, let section = value.table else {
                throw RunError("\(path): unknown key '\(key)'; a recipe has `file`, `domain` and sections "
                    + "(\((stageSections.keys.sorted() + otherSections.keys.sorted()).map { "[\($0)]" }.joined(separator: ", ")))")
            }
            let type = stageSections[key]
            if type == nil, otherSections[key] == nil {
                throw RunError("\(path): unknown section [\(key)]; the sections are "
                    + (stageSections.keys.sorted() + otherSections.keys.sorted()).map { "[\($0)]" }.joined(separator: ", "))
            }
            var values: [String: RecipeValue] = [:]
            for k in section.keys {
                guard let v = section[k] else { continue }
                if let allowed = otherSections[key], !allowed.contains(k) {
                    let moved = key == "qa" ? movedQAKeys[k].map { ": it moved to \($0)" } ?? "" : ""
                    throw RunError("\(path): unknown key '\(key).\(k)'\(moved); [\(key)] has \(allowed.sorted().joined(separator: ", "))")
                }
                let value = try RecipeValue.from(v, key: "\(key).\(k)", recipe: path)
                let isPath = type?.pathKeys.contains(k) ?? false
                values[k] = try value.map { isPath ? try resolve($0) : try expand($0, environment: environment, recipe: path) }
            }
            recipe.sections[key] = values
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
