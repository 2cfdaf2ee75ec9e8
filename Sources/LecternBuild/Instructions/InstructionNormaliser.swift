import Foundation
import LecternCore
import LecternIngest
import LecternStore

/// A conversation in its stored form, ready to insert.
struct NormalisedInstruction {
    var format: InstructionFormat
    var externalID: String?
    /// Canonical messages JSON (see ``InstructionNormaliser/canonicalJSON(_:)``).
    var messagesJSON: String
    var nChars: Int
    /// ``ContentHash`` of `messagesJSON`'s exact bytes: the dedup key.
    var contentHash: [UInt8]
    /// Edge turns dropped (unanswered trailing user turns, leading assistant turns).
    var droppedTurns: Int
}

/// Turns one parsed record of any accepted shape into the normalised conversation:
/// an optional system message, then user and assistant turns alternating, starting with a user
/// turn and ending with an assistant turn, every content trimmed and non-empty.
///
/// Why that form: it is what every chat template (and the paper's mixing of instruction data into
/// reading-comprehension texts) can take without special cases, so the check happens once, here,
/// with a message naming the record, instead of as a crash or a silently odd example at build time.
enum InstructionNormaliser {
    enum Role: String { case system, user, assistant }

    struct Message: Equatable {
        var role: Role
        var content: String
    }

    /// A reason a record is refused; the importer prefixes its location.
    struct Problem: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// ShareGPT `from` values (matched case-insensitively). `chatgpt`, `bing` and `bard` are the
    /// assistants of ShareGPT-era dumps.
    static let shareGPTRoles: [String: Role] = [
        "human": .user, "user": .user,
        "gpt": .assistant, "assistant": .assistant, "chatgpt": .assistant, "bing": .assistant, "bard": .assistant,
        "system": .system,
    ]
    static let shareGPTRoleList = "human, user, gpt, assistant, chatgpt, bing, bard or system"

    typealias Value = JSONScanner.Value

    /// Normalises `value`, of shape `format` (``InstructionFormat/auto``: decided from its keys).
    static func normalise(_ value: Value, format requested: InstructionFormat) throws -> NormalisedInstruction {
        guard case .object(let fields) = value else {
            throw Problem("the record is \(value.typeName), not a JSON object")
        }
        let format = try requested == .auto ? detect(fields) : requested
        var messages: [Message]
        var dropped = 0
        switch format {
        case .alpaca:
            messages = try alpaca(value)
        case .sharegpt:
            (messages, dropped) = try shareGPT(value)
        case .messages, .auto:
            (messages, dropped) = try openAIMessages(value)
        }
        let externalID = try idField(value)
        let json = canonicalJSON(messages)
        var nChars = 0
        for m in messages {
            var content = m.content
            nChars += content.withUTF8 { UTF8Scan.scalarCount($0) }
        }
        var text = json
        let hash = text.withUTF8 { ContentHash.of(normalizedUTF8: UnsafeRawBufferPointer($0)) }
        return NormalisedInstruction(format: format, externalID: externalID, messagesJSON: json, nChars: nChars,
                                     contentHash: hash, droppedTurns: dropped)
    }

    /// The shape of a record from its keys. Exactly one of the distinguishing keys must be there:
    /// guessing between two would import the wrong half of a record without a word.
    static func detect(_ fields: [(key: String, value: Value)]) throws -> InstructionFormat {
        let keys = Set(fields.map(\.key))
        let candidates: [(String, InstructionFormat)] = [("instruction", .alpaca), ("conversations", .sharegpt), ("messages", .messages)]
        let found = candidates.filter { keys.contains($0.0) }
        if found.count == 1 { return found[0].1 }
        if found.isEmpty {
            let names = fields.prefix(8).map { "\"\($0.key)\"" }.joined(separator: ", ")
            throw Problem("cannot tell the record's shape: it has \(fields.isEmpty ? "no fields" : "fields " + names), "
                          + "none of \"instruction\" (alpaca), \"conversations\" (ShareGPT) or \"messages\"")
        }
        let names = found.map { "\"\($0.0)\"" }.joined(separator: " and ")
        throw Problem("ambiguous shape: the record has both \(names); force one with --format")
    }

    // MARK: - Fields

    /// A string field: nil when absent or null; a problem when of another type.
    static func optionalString(_ value: Value, _ key: String, in what: String = "") throws -> String? {
        switch value[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case let other?: throw Problem("\(what)field \"\(key)\" is \(other.typeName), not a string")
        }
    }

    static func requiredString(_ value: Value, _ key: String, in what: String = "", missing: String = "") throws -> String {
        guard let s = try optionalString(value, key, in: what) else {
            throw Problem(value[key] == nil ? "\(what)no \"\(key)\" field\(missing)" : "\(what)field \"\(key)\" is null, not a string")
        }
        return s
    }

    static func idField(_ value: Value) throws -> String? {
        switch value["id"] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        case .number(let n)?: return n
        case let other?: throw Problem("field \"id\" is \(other.typeName), not a string or number")
        }
    }

    /// Removes Unicode White_Space at both ends. In Swift rather than Foundation's
    /// `trimmingCharacters`, which goes through UTF-16 and was a third of the import's time.
    static func trim(_ s: String) -> String {
        let utf8 = s.utf8
        // Common case: starts and ends with a visible ASCII character.
        if let first = utf8.first, let last = utf8.last, first > 0x20, first < 0x80, last > 0x20, last < 0x80 { return s }
        let scalars = s.unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[start...end])
    }

    // MARK: - Shapes

    /// Alpaca: user = instruction, then a blank line and the input when there is one (Alpaca's own
    /// prompt puts the input under the instruction); assistant = output.
    static func alpaca(_ value: Value) throws -> [Message] {
        let instruction = trim(try requiredString(value, "instruction", missing: " (no user turn)"))
        let input = trim(try optionalString(value, "input") ?? "")
        let output = trim(try requiredString(value, "output", missing: " (no assistant turn)"))
        let system = trim(try optionalString(value, "system") ?? "")
        guard !instruction.isEmpty else { throw Problem("field \"instruction\" is empty (no user turn)") }
        guard !output.isEmpty else { throw Problem("field \"output\" is empty (no assistant turn)") }
        var messages: [Message] = []
        if !system.isEmpty { messages.append(Message(role: .system, content: system)) }
        messages.append(Message(role: .user, content: input.isEmpty ? instruction : instruction + "\n\n" + input))
        messages.append(Message(role: .assistant, content: output))
        return messages
    }

    /// A raw turn: its role, its content (untrimmed) and its 1-based number in the record.
    typealias Turn = (role: Role, content: String, number: Int)

    static func shareGPT(_ value: Value) throws -> ([Message], Int) {
        let turns = try array(value, "conversations")
        var raw: [Turn] = []
        for (index, turn) in turns.enumerated() {
            let n = index + 1
            guard case .object = turn else { throw Problem("turn \(n) is \(turn.typeName), not an object") }
            let from = try requiredString(turn, "from", in: "turn \(n): ")
            guard let role = shareGPTRoles[from.lowercased()] else {
                throw Problem("turn \(n): unknown role \"\(from)\" in \"from\" (expected \(shareGPTRoleList))")
            }
            raw.append((role, try requiredString(turn, "value", in: "turn \(n): "), n))
        }
        return try conversation(raw, system: try optionalString(value, "system"))
    }

    static func openAIMessages(_ value: Value) throws -> ([Message], Int) {
        let turns = try array(value, "messages")
        var raw: [Turn] = []
        for (index, turn) in turns.enumerated() {
            let n = index + 1
            guard case .object = turn else { throw Problem("message \(n) is \(turn.typeName), not an object") }
            let name = try requiredString(turn, "role", in: "message \(n): ")
            guard let role = Role(rawValue: name.lowercased()) else {
                throw Problem("message \(n): unknown role \"\(name)\" (expected system, user or assistant)")
            }
            let content: String
            switch turn["content"] {
            case .string(let s)?:
                content = s
            case .array(let parts)?:
                content = try textParts(parts, message: n)
            case nil:
                throw Problem("message \(n): no \"content\" field")
            case let other?:
                throw Problem("message \(n): field \"content\" is \(other.typeName), not a string or an array of text parts")
            }
            raw.append((role, content, n))
        }
        return try conversation(raw, system: nil, unit: "message")
    }

    /// OpenAI content parts: only text, joined by newlines (as vLLM does for text-only models).
    static func textParts(_ parts: [Value], message n: Int) throws -> String {
        var texts: [String] = []
        for (index, part) in parts.enumerated() {
            let where_ = "message \(n), content part \(index + 1): "
            guard case .object = part else { throw Problem("\(where_)is \(part.typeName), not an object") }
            let type = try requiredString(part, "type", in: where_)
            guard type == "text" else { throw Problem("\(where_)type \"\(type)\"; only \"text\" parts are accepted") }
            texts.append(try requiredString(part, "text", in: where_))
        }
        return texts.joined(separator: "\n")
    }

    static func array(_ value: Value, _ key: String) throws -> [Value] {
        switch value[key] {
        case .array(let items)?: return items
        case nil: throw Problem("no \"\(key)\" field")
        case let other?: throw Problem("field \"\(key)\" is \(other.typeName), not an array")
        }
    }

    /// The common rules of multi-turn shapes. A system message may come first (from the turns or
    /// the record's `system` field), never later. Turns before the first user turn and after the
    /// last assistant turn are dropped: an assistant turn that answers nothing, or a user turn
    /// nothing answers, teaches the model nothing (FastChat drops the same). What remains must
    /// alternate user/assistant with no empty content.
    static func conversation(_ turns: [Turn], system field: String?, unit: String = "turn") throws -> ([Message], Int) {
        var body = turns[...]
        var system = trim(field ?? "")
        if let first = body.first, first.role == .system {
            let content = trim(first.content)
            if !content.isEmpty && !system.isEmpty {
                throw Problem("two system messages: the \"system\" field and \(unit) 1")
            }
            if !content.isEmpty { system = content }
            body = body.dropFirst()
        }
        if let late = body.first(where: { $0.role == .system }) {
            throw Problem("\(unit) \(late.number): a system message may only be the first \(unit)")
        }
        guard let firstUser = body.firstIndex(where: { $0.role == .user }) else {
            throw Problem(turns.isEmpty ? "no \(unit)s: no user turn and no assistant turn" : "no user turn")
        }
        guard let lastAssistant = body.lastIndex(where: { $0.role == .assistant }) else {
            throw Problem("no assistant turn")
        }
        guard lastAssistant > firstUser else {
            throw Problem("no assistant turn after the first user turn (\(unit) \(body[firstUser].number))")
        }
        let kept = body[firstUser...lastAssistant]
        let dropped = body.count - kept.count
        var messages: [Message] = []
        messages.reserveCapacity(kept.count + 1)
        if !system.isEmpty { messages.append(Message(role: .system, content: system)) }
        for (offset, turn) in kept.enumerated() {
            let content = trim(turn.content)
            if content.isEmpty { throw Problem("\(unit) \(turn.number) (\(turn.role.rawValue)) is empty") }
            let expected: Role = offset % 2 == 0 ? .user : .assistant
            if turn.role != expected {
                throw Problem("\(unit) \(turn.number): two \(turn.role.rawValue) turns in a row; turns must alternate between user and assistant")
            }
            messages.append(Message(role: turn.role, content: content))
        }
        return (messages, dropped)
    }

    // MARK: - Canonical JSON

    /// `[{"role":"user","content":"..."},...]`: role before content, no whitespace, only `"`, `\`
    /// and control characters escaped. Written by hand rather than by JSONEncoder so that the
    /// bytes (hence the dedup hashes) cannot change with a Foundation upgrade.
    static func canonicalJSON(_ messages: [Message]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(messages.reduce(2) { $0 + $1.content.utf8.count + 32 })
        out.append(UInt8(ascii: "["))
        for (i, m) in messages.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"role":""#.utf8)
            out.append(contentsOf: m.role.rawValue.utf8)
            out.append(contentsOf: #"","content":"#.utf8)
            quote(m.content, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends `s` as a JSON string. Byte-wise: every byte that needs an escape is ASCII, and
    /// every other byte (multi-byte UTF-8 included) is copied as it is, in runs.
    static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { buf in
            var run = 0
            for i in 0..<buf.count {
                let b = buf[i]
                guard b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[run..<i]))
                run = i + 1
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), b])
                case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                default: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 0x30, 0x30, hexDigits[Int(b >> 4)], hexDigits[Int(b & 15)]])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[run..<buf.count]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
