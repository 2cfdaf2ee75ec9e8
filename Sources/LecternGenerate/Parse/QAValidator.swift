import Foundation

/// Why a parsed pair was not kept.
public enum RejectReason: String, Codable, Sendable, CaseIterable, Comparable {
    case emptyQuestion = "empty_question"
    case emptyAnswer = "empty_answer"
    case duplicateQuestion = "duplicate_question"
    case answerRepeatsQuestion = "answer_repeats_question"
    case copiesDocument = "copies_document"

    public static func < (l: RejectReason, r: RejectReason) -> Bool { l.rawValue < r.rawValue }
}

/// Keeps the pairs worth training on.
///
/// Rules (the paper names none; these are Lectern's):
/// - question and answer non-empty after trimming;
/// - questions de-duplicated case- and whitespace-insensitively, first kept;
/// - an answer equal to its question is rejected;
/// - a pair that merely copies the document is rejected: its answer (normalised) is a
///   verbatim part of the document and at least `copyFraction` of the document's length,
///   i.e. the "answer" is the passage itself rather than an answer about it.
public struct QAValidator: Codable, Sendable, Hashable {
    public var copyFraction: Double

    public init(copyFraction: Double = 0.5) {
        self.copyFraction = copyFraction
    }

    public struct Outcome: Sendable, Equatable {
        public var accepted: [QAPair]
        public var rejected: [RejectReason: Int]
    }

    public func validate(_ pairs: [QAPair], document: String) -> Outcome {
        let doc = Self.normalise(document)
        var seen = Set<String>()
        var accepted: [QAPair] = []
        var rejected: [RejectReason: Int] = [:]
        for p in pairs {
            let q = p.question.trimmingCharacters(in: .whitespacesAndNewlines)
            let a = p.answer.trimmingCharacters(in: .whitespacesAndNewlines)
            let nq = Self.normalise(q), na = Self.normalise(a)
            let reason: RejectReason?
            if nq.isEmpty { reason = .emptyQuestion }
            else if na.isEmpty { reason = .emptyAnswer }
            else if seen.contains(nq) { reason = .duplicateQuestion }
            else if na == nq { reason = .answerRepeatsQuestion }
            else if !doc.isEmpty, Double(na.count) >= copyFraction * Double(doc.count), doc.contains(na) {
                reason = .copiesDocument
            } else { reason = nil }
            if let reason {
                rejected[reason, default: 0] += 1
            } else {
                seen.insert(nq)
                accepted.append(QAPair(question: q, answer: a))
            }
        }
        return Outcome(accepted: accepted, rejected: rejected)
    }

    /// Lower case, runs of whitespace as one space, outer punctuation and spaces trimmed.
    static func normalise(_ s: String) -> String {
        let words = s.lowercased().split(whereSeparator: { $0.isWhitespace })
        return words.joined(separator: " ").trimmingCharacters(in: .punctuationCharacters.union(.whitespaces))
    }
}
