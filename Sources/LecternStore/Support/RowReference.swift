import GRDB

/// How a user (or a pipeline step) names a row of a catalogue table (`embedders`, `tokenizers`,
/// `generators`, `clusterings`, `training_sets`, ...): a name, an id, or a fingerprint prefix.
///
/// Names are labels: two rows may share one (a tokenizer re-registered under another file name
/// keeps its first name; an embedder name can be reused with other options). A pipeline step
/// therefore hands the next one a **fingerprint**, which identifies exactly one configuration;
/// people type names. The order of resolution:
///
/// 1. a full 64-hex-digit fingerprint;
/// 2. a name (the newest row of that name);
/// 3. an id (digits);
/// 4. a fingerprint prefix of at least 6 hex digits, if exactly one row has it.
public enum RowReference {
    /// The table must be one of Lectern's catalogues: the name goes into SQL.
    public static let tables: Set<String> = ["embedders", "tokenizers", "generators", "clusterings", "training_sets", "training_runs"]

    /// Resolves `reference` in `table`; `kind` names the rows in messages ("embedder").
    public static func resolve(_ db: Database, table: String, kind: String, _ reference: String) throws -> (id: Int64, fingerprint: String) {
        precondition(tables.contains(table), "RowReference: \(table) is not a catalogue table")
        let hasName = table != "clusterings" && table != "training_runs"
        let lower = reference.lowercased()
        let isHex = !lower.isEmpty && lower.unicodeScalars.allSatisfy { ("0"..."9").contains($0) || ("a"..."f").contains($0) }
        if isHex && lower.count == 64,
           let row = try Row.fetchOne(db, sql: "SELECT id, fingerprint FROM \(table) WHERE fingerprint = ?", arguments: [lower]) {
            return (row["id"], row["fingerprint"])
        }
        if hasName, let row = try Row.fetchOne(
            db, sql: "SELECT id, fingerprint FROM \(table) WHERE name = ? ORDER BY id DESC LIMIT 1", arguments: [reference]) {
            return (row["id"], row["fingerprint"])
        }
        if let id = Int64(reference), let row = try Row.fetchOne(db, sql: "SELECT id, fingerprint FROM \(table) WHERE id = ?", arguments: [id]) {
            return (row["id"], row["fingerprint"])
        }
        if isHex && lower.count >= 6 {
            let rows = try Row.fetchAll(db, sql: "SELECT id, fingerprint FROM \(table) WHERE substr(fingerprint, 1, ?) = ? LIMIT 2",
                                        arguments: [lower.count, lower])
            if rows.count == 1 { return (rows[0]["id"], rows[0]["fingerprint"]) }
            if rows.count > 1 { throw RowReferenceError.ambiguous(kind: kind, reference: reference) }
        }
        let known = try String.fetchAll(db, sql: hasName
            ? "SELECT name || ' (' || substr(fingerprint, 1, 12) || ')' FROM \(table) ORDER BY id"
            : "SELECT id || ' (' || substr(fingerprint, 1, 12) || ')' FROM \(table) ORDER BY id")
        throw RowReferenceError.notFound(kind: kind, reference: reference, known: known)
    }
}

/// A name, id or fingerprint that matches no row, or more than one.
public enum RowReferenceError: Error, CustomStringConvertible, Sendable {
    case notFound(kind: String, reference: String, known: [String])
    case ambiguous(kind: String, reference: String)

    public var description: String {
        switch self {
        case .notFound(let kind, let reference, let known):
            return "no \(kind) named '\(reference)' in the file (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case .ambiguous(let kind, let reference):
            return "'\(reference)' is the start of several \(kind) fingerprints: give more of it, or the name or id"
        }
    }
}
