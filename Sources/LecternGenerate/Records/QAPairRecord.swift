import Foundation
import GRDB

/// A row of `qa_pairs`, which only `generate` writes. Other modules (tokens, cluster, build)
/// read QA pairs through this type and its requests.
public struct QAPairRecord: FetchableRecord, TableRecord, Sendable, Equatable {
    public static let databaseTableName = "qa_pairs"

    public enum Columns {
        public static let id = Column("id")
        public static let documentID = Column("document_id")
        public static let generatorID = Column("generator_id")
        public static let position = Column("position")
        public static let question = Column("question")
        public static let answer = Column("answer")
    }

    public var id: Int64
    public var documentID: Int64
    public var question: String
    public var answer: String

    public init(row: Row) throws {
        id = row["id"]
        documentID = row["document_id"]
        question = row["question"]
        answer = row["answer"]
    }

    static let selection: [any SQLSelectable] = [Columns.id, Columns.documentID, Columns.question, Columns.answer]

    /// The pair as the parser made it.
    public var pair: QAPair { QAPair(question: question, answer: answer) }
}

extension QAPairRecord {
    /// The pairs of one generator, by document and then in the order of its response.
    public static func filter(generator: Int64) -> QueryInterfaceRequest<QAPairRecord> {
        select(selection).filter(Columns.generatorID == generator).order(Columns.documentID, Columns.position)
    }

    /// The pairs of one generator for one document, in the order of its response.
    public static func filter(generator: Int64, document: Int64) -> QueryInterfaceRequest<QAPairRecord> {
        filter(generator: generator).filter(Columns.documentID == document)
    }

    /// Ids of the documents that have pairs from `generator`, in id order.
    public static func documentIDs(_ db: Database, generator: Int64) throws -> [Int64] {
        try Int64.fetchAll(db, select(Columns.documentID).distinct().filter(Columns.generatorID == generator).order(Columns.documentID))
    }

    /// The document of every pair of `generator`, by pair id.
    public static func documentsByPair(_ db: Database, generator: Int64) throws -> [Int64: Int64] {
        var out: [Int64: Int64] = [:]
        let rows = try Row.fetchCursor(db, select(Columns.id, Columns.documentID).filter(Columns.generatorID == generator))
        while let r = try rows.next() { out[r["id"]] = r["document_id"] }
        return out
    }

    /// Per document of `generator`: the number of pairs and the Unicode scalars of their
    /// questions and answers together.
    public static func characterTotals(_ db: Database, generator: Int64) throws -> [Int64: (pairs: Int, characters: Int)] {
        var out: [Int64: (pairs: Int, characters: Int)] = [:]
        let rows = try Row.fetchCursor(db, sql: """
            SELECT document_id, count(*) AS pairs, SUM(length(question) + length(answer)) AS chars
              FROM qa_pairs WHERE generator_id = ? GROUP BY document_id
            """, arguments: [generator])
        while let r = try rows.next() { out[r["document_id"]] = ((r["pairs"] as Int?) ?? 0, (r["chars"] as Int?) ?? 0) }
        return out
    }

    /// Count and largest id of the pairs of `generator` (nil: none): the build's input extent.
    public static func extent(_ db: Database, generator: Int64?) throws -> [Int64] {
        guard let generator else { return [0, 0] }
        let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(id), 0) FROM qa_pairs WHERE generator_id = ?", arguments: [generator])
        return [row?[0] ?? 0, row?[1] ?? 0]
    }

    /// Number of pairs (all generators, or those meeting `condition`: SQL over `qa_pairs` and the
    /// caller's own tables).
    public static func count(_ db: Database, where condition: String? = nil, _ arguments: StatementArguments = []) throws -> Int {
        var request = all()
        if let condition { request = request.filter(sql: condition, arguments: arguments) }
        return try request.fetchCount(db)
    }

    /// Up to `limit` pairs (of every generator) after id `after` that meet `condition`, in id order.
    public static func batch(_ db: Database, after: Int64, limit: Int, where condition: String, _ arguments: StatementArguments) throws -> [QAPairRecord] {
        try select(selection).filter(Columns.id > after).filter(sql: condition, arguments: arguments)
            .order(Columns.id).limit(limit).fetchAll(db)
    }
}

/// A row of `generators` as other modules name it.
public struct GeneratorRecord: FetchableRecord, TableRecord, Sendable, Equatable {
    public static let databaseTableName = "generators"
    public var id: Int64
    public var name: String
    public var fingerprint: String

    public init(row: Row) throws {
        id = row["id"]
        name = row["name"]
        fingerprint = row["fingerprint"]
    }

    static let selection: [any SQLSelectable] = [Column("id"), Column("name"), Column("fingerprint")]

    /// The generator `id`.
    public static func fetch(_ db: Database, id: Int64) throws -> GeneratorRecord? {
        try select(selection).filter(Column("id") == id).fetchOne(db)
    }

    /// The generators that have written at least one pair, in id order.
    public static func withPairs(_ db: Database) throws -> [GeneratorRecord] {
        try select(selection)
            .filter(sql: "EXISTS (SELECT 1 FROM qa_pairs q WHERE q.generator_id = generators.id)")
            .order(Column("id")).fetchAll(db)
    }
}
