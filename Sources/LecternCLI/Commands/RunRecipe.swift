import Foundation
import TOMLKit

/// A `lectern run` recipe file (TOML): which corpus, which models, which settings for each
/// stage, and where the training set goes. Unknown keys are errors (a typo must not silently
/// fall back to a default). Strings may use `${VAR}` and `${VAR:-default}`; relative paths are
/// relative to the recipe file's folder. See examples/pubmedqa.toml.
struct RunRecipe: Decodable {
    /// The Lectern file (created when missing).
    var file: String
    var domain: String?
    var ingest: Ingest
    var instructions: Instructions?
    var embed: Embed?
    var tokens: Tokens
    var qa: QA?
    var cluster: Cluster?
    var build: Build
    var export: Export?

    struct Ingest: Decodable {
        var sources: [String]
        var format: String?
        var titleFirstLine: Bool?
        enum CodingKeys: String, CodingKey { case sources, format, titleFirstLine = "title_first_line" }
    }

    struct Instructions: Decodable {
        var sources: [String]
        var format: String?
    }

    struct Embed: Decodable {
        /// `minilm` (built in) unless `url` is given.
        var embedder: String?
        var url: String?
        var model: String?
        var maxTokens: Int?
        enum CodingKeys: String, CodingKey { case embedder, url, model, maxTokens = "max_tokens" }
    }

    struct Tokens: Decodable {
        /// Target model's tokenizer: tokenizer.json, a folder, vocab.txt or a .gguf.
        var tokenizer: String
        var name: String?
    }

    struct QA: Decodable {
        /// `miner` (AdaptLLM's regex tasks, offline) or `llm` (an OpenAI-compatible endpoint).
        var source: String?
        var url: String?
        var model: String?
        var concurrency: Int?
        var maxTokens: Int?
        var limit: Int?
        var seed: Int?
        var domainSpm: String?
        var generalSpm: String?
        /// With `source = "llm"`: the run fails when fewer than this share of the requests it sent
        /// succeeded (default 0.5), or when the generator has no pairs at all.
        var minOK: Double?
        enum CodingKeys: String, CodingKey {
            case source, url, model, concurrency, limit, seed
            case maxTokens = "max_tokens", domainSpm = "domain_spm", generalSpm = "general_spm", minOK = "min_ok"
        }
    }

    struct Cluster: Decodable {
        var algorithm: String?
        var lmax: Int?
        var dmax: Int?
        var threshold: Double?
        var seed: Int?
    }

    struct Build: Decodable {
        var recipe: String
        var name: String?
        var context: Int?
        var ratio: String?
        var seed: Int?
        var packer: String?
        var longItems: String?
        var format: String?
        var qaTemplate: String?
        enum CodingKeys: String, CodingKey {
            case recipe, name, context, ratio, seed, packer, format
            case longItems = "long_items", qaTemplate = "qa_template"
        }
    }

    struct Export: Decodable {
        var dir: String
        var formats: [String]?
    }

    /// Reads and checks a recipe file; errors name the file and the key or line at fault.
    static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> RunRecipe {
        guard let data = FileManager.default.contents(atPath: path) else { throw RunError("\(path): cannot read the recipe file") }
        guard let text = String(data: data, encoding: .utf8) else { throw RunError("\(path): not UTF-8 text") }
        var recipe: RunRecipe
        do {
            recipe = try TOMLDecoder(strictDecoding: true).decode(RunRecipe.self, from: text)
        } catch let e as TOMLParseError {
            throw RunError("\(path): \(e.description) (\(e.source.debugDescription))")
        } catch let e as UnexpectedKeysError {
            throw RunError("\(path): unknown key(s) \(e.keys.keys.sorted().joined(separator: ", ")); see examples/pubmedqa.toml for the keys")
        } catch let e as DecodingError {
            throw RunError("\(path): \(describe(e))")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ s: String) throws -> String {
            let expanded = try expand(s, environment: environment, recipe: path)
            if expanded.hasPrefix("/") { return expanded }
            if expanded.hasPrefix("~/") { return FileManager.default.homeDirectoryForCurrentUser.path + expanded.dropFirst(1) }
            return base.appendingPathComponent(expanded).standardizedFileURL.path
        }
        recipe.file = try resolve(recipe.file)
        recipe.ingest.sources = try recipe.ingest.sources.map(resolve)
        if var i = recipe.instructions { i.sources = try i.sources.map(resolve); recipe.instructions = i }
        recipe.tokens.tokenizer = try resolve(recipe.tokens.tokenizer)
        if var q = recipe.qa {
            q.url = try q.url.map { try expand($0, environment: environment, recipe: path) }
            q.model = try q.model.map { try expand($0, environment: environment, recipe: path) }
            q.domainSpm = try q.domainSpm.map(resolve)
            q.generalSpm = try q.generalSpm.map(resolve)
            recipe.qa = q
        }
        if var e = recipe.embed { e.url = try e.url.map { try expand($0, environment: environment, recipe: path) }; recipe.embed = e }
        if var x = recipe.export { x.dir = try resolve(x.dir); recipe.export = x }
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

    private static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String { c.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let ctx):
            // TOMLKit reports a value of the wrong type as a missing key whose coding path already
            // ends with the key, and says "A "Int" does not exist at ..." in the description.
            let keys = ctx.codingPath.last?.stringValue == k.stringValue ? ctx.codingPath : ctx.codingPath + [k]
            if let r = ctx.debugDescription.range(of: "A \""), let e = ctx.debugDescription[r.upperBound...].firstIndex(of: "\""),
               ctx.debugDescription.contains("does not exist at") {
                let wanted = ctx.debugDescription[r.upperBound..<e]
                let words = ["Int": "an integer (no quotes)", "String": "a string (in quotes)", "Double": "a number",
                             "Float": "a number", "Bool": "true or false"]
                return "'\(path(keys))' has the wrong type: it should be \(words[String(wanted)] ?? String(wanted))"
            }
            return "missing key '\(path(keys))'"
        case .typeMismatch(let t, let ctx): return "'\(path(ctx.codingPath))' should be \(t)"
        case .valueNotFound(let t, let ctx): return "'\(path(ctx.codingPath))' should be \(t)"
        case .dataCorrupted(let ctx): return "'\(path(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// A recipe or run error, with the message as its description.
struct RunError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
