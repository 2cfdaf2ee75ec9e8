import ArgumentParser
import Foundation
import TOMLKit

/// The options of one stage command, declared once: the command's flags (`@OptionGroup`) and the
/// keys of its `lectern run` recipe section are the same declarations.
///
/// A recipe section is read by the same parser as the command line: each key is the flag's name
/// in snake case (`qa_template` is `--qa-template`), a `true` boolean is the flag given, an array
/// is the option repeated, and the keys in ``positionalKeys`` are the command's positional
/// arguments. So the section's types, ranges and allowed values are checked by the options'
/// own declarations and `validate()`, exactly as on the command line, and a new option is one
/// new `@Option`, nowhere else.
protocol RecipeSection: ParsableArguments {
    /// The recipe section's name (`[cluster]`).
    static var section: String { get }
    /// Keys that are the command's positional arguments, in order (`sources` of `ingest`).
    static var positionalKeys: [String] { get }
    /// Keys whose strings are paths: relative ones are resolved against the recipe's folder.
    static var pathKeys: Set<String> { get }
    /// Path keys that must exist before the pipeline starts (default: all of ``pathKeys``).
    static var inputPathKeys: Set<String> { get }
}

extension RecipeSection {
    static var positionalKeys: [String] { [] }
    static var pathKeys: Set<String> { [] }
    static var inputPathKeys: Set<String> { pathKeys }

    /// Parses a recipe section: `table` (already `${VAR}`-expanded and path-resolved) into the
    /// options, with errors naming `section.key`.
    static func parse(section table: [String: RecipeValue], recipe: String) throws -> Self {
        let args = try arguments(table, recipe: recipe)
        do {
            return try parse(args)
        } catch {
            throw RunError("\(recipe): [\(section)]: \(RecipeSectionMessage.rewrite(fullMessage(for: error), section: section))")
        }
    }

    /// The command-line words the section stands for (what `parse` reads).
    static func arguments(_ table: [String: RecipeValue], recipe: String) throws -> [String] {
        var options: [String] = [], positionals: [String] = []
        for key in table.keys.sorted() {
            guard let value = table[key] else { continue }
            if positionalKeys.contains(key) { continue }
            let flag = "--" + key.replacingOccurrences(of: "_", with: "-")
            switch value {
            case .bool(true): options.append(flag)
            case .bool(false): continue
            case .scalar(let s): options.append("\(flag)=\(s)")
            case .list(let items): options += items.map { "\(flag)=\($0)" }
            }
        }
        for key in positionalKeys {
            switch table[key] {
            case .scalar(let s): positionals.append(s)
            case .list(let items): positionals += items
            case .bool: throw RunError("\(recipe): \(section).\(key) should be a string or a list of strings")
            case nil: continue
            }
        }
        return options + (positionals.isEmpty ? [] : ["--"] + positionals)
    }
}

/// A recipe value as the command line sees it.
enum RecipeValue: Equatable {
    case scalar(String)
    case bool(Bool)
    case list([String])

    /// Converts a TOML value; `key` names it in errors. Tables and dates are not options.
    static func from(_ value: TOMLValueConvertible, key: String, recipe: String) throws -> RecipeValue {
        switch value.type {
        case .string: return .scalar(value.string ?? "")
        case .int: return .scalar(String(value.int ?? 0))
        case .double: return .scalar(String(value.double ?? 0))
        case .bool: return .bool(value.bool ?? false)
        case .array:
            var items: [String] = []
            for (i, element) in (value.array ?? TOMLArray()).enumerated() {
                switch try from(element, key: "\(key)[\(i)]", recipe: recipe) {
                case .scalar(let s): items.append(s)
                default: throw RunError("\(recipe): '\(key)[\(i)]' should be a string or a number")
                }
            }
            return .list(items)
        default:
            throw RunError("\(recipe): '\(key)' is a \(value.type), which no option takes")
        }
    }

    /// The value with every string mapped (variable expansion, path resolution).
    func map(_ f: (String) throws -> String) rethrows -> RecipeValue {
        switch self {
        case .scalar(let s): return .scalar(try f(s))
        case .bool: return self
        case .list(let items): return .list(try items.map(f))
        }
    }
}

/// ArgumentParser's messages speak of flags; a recipe's reader thinks in keys.
enum RecipeSectionMessage {
    static func rewrite(_ message: String, section: String) -> String {
        var out = message.components(separatedBy: "\n").first { !$0.isEmpty && !$0.hasPrefix("Usage:") } ?? message
        if out.hasPrefix("Error: ") { out.removeFirst("Error: ".count) }
        // '--lmax' -> 'cluster.lmax'
        var result = "", rest = Substring(out)
        while let r = rest.range(of: "--") {
            result += rest[..<r.lowerBound]
            let after = rest[r.upperBound...]
            let name = after.prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if name.isEmpty { result += "--"; rest = after; continue }
            result += "\(section).\(name.replacingOccurrences(of: "-", with: "_"))"
            rest = after.dropFirst(name.count)
        }
        return (result + rest).replacingOccurrences(of: "Unknown option", with: "Unknown key")
    }
}
