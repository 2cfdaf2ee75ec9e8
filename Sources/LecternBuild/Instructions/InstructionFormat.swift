/// The shape of the records of a general-instruction file.
///
/// The paper mixes general instruction data (LIMA, WizardLM, Orca) into its training sets; such
/// data circulates in three shapes, and `import-instructions` reads all three into one normalised
/// form (an OpenAI-style messages array) so that later stages never care where a conversation
/// came from.
public enum InstructionFormat: String, CaseIterable, Codable, Sendable {
    /// Decide per record from its keys: `messages`, `conversations` or `instruction`.
    /// Per record, not per file, so a file that mixes shapes still imports.
    case auto
    /// Stanford Alpaca: `{instruction, input?, output, system?}`.
    case alpaca
    /// ShareGPT / FastChat: `{conversations: [{from, value}], id?, system?}`.
    case sharegpt
    /// OpenAI chat: `{messages: [{role, content}]}`, content a string or text parts.
    case messages

    /// The concrete shapes (everything but ``auto``), in the order summaries list them.
    public static let shapes: [InstructionFormat] = [.alpaca, .sharegpt, .messages]
}

/// What one `import-instructions` run did to the file.
public struct InstructionImportSummary: Sendable {
    /// The input file, as an absolute path (what `instructions.source` holds).
    public var source: String
    /// Records read (good and bad; blank JSONL lines are not records).
    public var records = 0
    /// Conversations added to `instructions`.
    public var imported = 0
    /// Conversations already in the file (from an earlier run, another file, or earlier in this one).
    public var duplicates = 0
    /// Bad records, skipped; ``problems`` says why.
    public var skipped = 0
    /// Turns dropped because nothing answers or precedes them: trailing user turns and leading
    /// assistant turns (see ``InstructionImporter``).
    public var droppedTurns = 0
    /// Imported conversations per shape.
    public var importedByFormat: [InstructionFormat: Int] = [:]
    /// Duplicate conversations per shape.
    public var duplicatesByFormat: [InstructionFormat: Int] = [:]
    /// The first bad-record messages (`path:line: ...`), at most ``InstructionImporter/keptProblems``;
    /// `stage_runs.error` keeps more.
    public var problems: [String] = []
    /// The `stage_runs` row of this run.
    public var stageRunID: Int64 = 0

    public init(source: String) { self.source = source }
}

/// Why an instruction file could not be imported at all. Bad records are not errors: they are
/// skipped and counted; these are the cases where the file itself is unusable.
public enum InstructionImportError: Error, CustomStringConvertible, Sendable {
    /// The input file does not exist.
    case missing(path: String)
    /// The input cannot be read (permissions, a directory, I/O, corrupt gzip).
    case unreadable(path: String, detail: String)
    /// The input holds nothing but whitespace, or an empty array.
    case empty(path: String)
    /// The input is neither a JSON array nor JSON Lines.
    case notJSON(path: String, detail: String)
    /// An argument out of range (batch size, limit).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .missing(let path):
            return "\(path): no such file"
        case .unreadable(let path, let detail):
            return "\(path): cannot read: \(detail)"
        case .empty(let path):
            return "\(path): holds no records (the file is empty or an empty JSON array)"
        case .notJSON(let path, let detail):
            return "\(path): not instruction data: expected a JSON array of objects or JSON Lines (one object per line); \(detail)"
        case .invalidArgument(let message):
            return message
        }
    }
}
