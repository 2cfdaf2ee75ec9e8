import Foundation
import GRDB

/// Reads of `rc_texts` and `rc_tasks`, which only the mine stage writes; the build reads mined
/// texts through these requests.
public enum MinedTexts {
    /// The miner configurations (fingerprints) that have texts in the file, sorted.
    public static func fingerprints(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT DISTINCT fingerprint FROM rc_texts ORDER BY fingerprint")
    }

    /// The text mined from each document under `fingerprint`, by document id.
    public static func texts(_ db: Database, fingerprint: String) throws -> [Int64: (id: Int64, text: String)] {
        var out: [Int64: (id: Int64, text: String)] = [:]
        let rows = try Row.fetchCursor(db, sql: "SELECT id, document_id, text FROM rc_texts WHERE fingerprint = ?", arguments: [fingerprint])
        while let r = try rows.next() { out[r["document_id"]] = (r["id"], r["text"]) }
        return out
    }

    /// The tasks (rendered prompt and answer, in order) of every text mined under `fingerprint`,
    /// by text id.
    public static func tasks(_ db: Database, fingerprint: String) throws -> [Int64: [(prompt: String, answer: String)]] {
        var out: [Int64: [(prompt: String, answer: String)]] = [:]
        let rows = try Row.fetchCursor(db, sql: """
            SELECT t.rc_text_id, t.prompt, t.answer FROM rc_tasks t JOIN rc_texts r ON r.id = t.rc_text_id
            WHERE r.fingerprint = ? ORDER BY t.rc_text_id, t.position
            """, arguments: [fingerprint])
        while let r = try rows.next() { out[r["rc_text_id"], default: []].append((r["prompt"], r["answer"])) }
        return out
    }

    /// Count and largest id of the texts of `fingerprint` (nil: none): the build's input extent.
    public static func extent(_ db: Database, fingerprint: String?) throws -> [Int64] {
        guard let fingerprint else { return [0, 0] }
        let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(rowid), 0) FROM rc_texts WHERE fingerprint = ?", arguments: [fingerprint])
        return [row?[0] ?? 0, row?[1] ?? 0]
    }

    /// Number of mined texts (all configurations).
    public static func count(_ db: Database) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM rc_texts") ?? 0
    }
}
