import Foundation
import LecternKernels

/// The metrics of the paper's tasks, computed by Lectern from the stored predictions (x 100), with
/// a seeded bootstrap 95% interval (1,000 resamples of the items, percentile method).
public enum Metrics {
    /// Share of correct items.
    public static func accuracy(_ correct: [Bool]) -> Double {
        correct.isEmpty ? 0 : 100 * Double(correct.filter { $0 }.count) / Double(correct.count)
    }

    /// Exact match of a generated answer with the reference, after trimming and lowercasing; two
    /// numbers match within 0.01 (ConvFinQA-style answers, as AdaptLLM scores them).
    public static func exactMatch(_ predicted: String, _ reference: String) -> Bool {
        func norm(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }
        let a = norm(predicted), b = norm(reference)
        if a == b { return true }
        func number(_ s: String) -> Double? { Double(s.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "%", with: "")) }
        if let x = number(a), let y = number(b) { return abs(x - y) <= 0.01 }
        return false
    }

    /// F1 over classes: `micro` (= accuracy for single-label items), `macro` (unweighted mean of
    /// per-class F1) or `weighted` (weighted by each class's support), as scikit-learn computes them.
    public static func f1(gold: [Int], predicted: [Int], average: String) -> Double {
        precondition(gold.count == predicted.count)
        let classes = Set(gold).union(predicted).sorted()
        var perClass: [(f1: Double, support: Int)] = []
        var tp = 0, fp = 0, fn = 0
        for c in classes {
            var t = 0, p = 0, n = 0
            for (g, y) in zip(gold, predicted) {
                if y == c && g == c { t += 1 } else if y == c { p += 1 } else if g == c { n += 1 }
            }
            tp += t; fp += p; fn += n
            let precision = t + p == 0 ? 0 : Double(t) / Double(t + p)
            let recall = t + n == 0 ? 0 : Double(t) / Double(t + n)
            let f = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            perClass.append((f, gold.filter { $0 == c }.count))
        }
        switch average {
        case "micro":
            let precision = tp + fp == 0 ? 0 : Double(tp) / Double(tp + fp)
            let recall = tp + fn == 0 ? 0 : Double(tp) / Double(tp + fn)
            return precision + recall == 0 ? 0 : 100 * 2 * precision * recall / (precision + recall)
        case "macro":
            let present = perClass.filter { $0.support > 0 }
            return present.isEmpty ? 0 : 100 * present.map(\.f1).reduce(0, +) / Double(present.count)
        default:
            let total = perClass.map(\.support).reduce(0, +)
            return total == 0 ? 0 : 100 * perClass.map { $0.f1 * Double($0.support) }.reduce(0, +) / Double(total)
        }
    }

    /// A choice task's metric over gold and predicted option indexes.
    public static func choice(_ metric: String, gold: [Int], predicted: [Int]) -> Double {
        switch metric {
        case "micro_f1": return f1(gold: gold, predicted: predicted, average: "micro")
        case "macro_f1": return f1(gold: gold, predicted: predicted, average: "macro")
        case "weighted_f1": return f1(gold: gold, predicted: predicted, average: "weighted")
        default: return accuracy(zip(gold, predicted).map { $0 == $1 })
        }
    }

    /// The (entity, type) pairs of a NER answer: items separated by newlines or ';', each
    /// `span : type`, `span (type)` or a bare `span` (type ""); compared trimmed and lowercased,
    /// duplicates counted once. "none" or an empty answer is no entity.
    public static func entities(_ text: String) -> Set<String> {
        var out = Set<String>()
        for piece in text.split(whereSeparator: { $0 == "\n" || $0 == ";" }) {
            var span = piece.trimmingCharacters(in: .whitespaces).lowercased()
            var type = ""
            if let colon = span.lastIndex(of: ":") {
                type = span[span.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                span = span[..<colon].trimmingCharacters(in: .whitespaces)
            } else if span.hasSuffix(")"), let open = span.lastIndex(of: "(") {
                type = span[span.index(after: open)..<span.index(before: span.endIndex)].trimmingCharacters(in: .whitespaces)
                span = span[..<open].trimmingCharacters(in: .whitespaces)
            }
            if span.isEmpty || span == "none" { continue }
            out.insert(span + "\u{0}" + type)
        }
        return out
    }

    /// Entity-level F1 pooled over items (CoNLL style): an entity counts only with its exact span
    /// and type; true positives, predictions and references summed over every item.
    public static func entityF1(predicted: [String], reference: [String]) -> Double {
        var tp = 0, np = 0, nr = 0
        for (p, r) in zip(predicted, reference) {
            let a = entities(p), b = entities(r)
            tp += a.intersection(b).count
            np += a.count
            nr += b.count
        }
        if np == 0 && nr == 0 { return 100 }  // nothing to find and nothing found
        let precision = np == 0 ? 0 : Double(tp) / Double(np), recall = nr == 0 ? 0 : Double(tp) / Double(nr)
        return precision + recall == 0 ? 0 : 100 * 2 * precision * recall / (precision + recall)
    }

    /// Percentile bootstrap interval of `statistic` over items resampled with replacement.
    public static func bootstrap(count n: Int, seed: UInt64 = 0, resamples: Int = 1000,
                                 _ statistic: ([Int]) -> Double) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 0) }
        var rng = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var indices = [Int](repeating: 0, count: n)
        for _ in 0..<resamples {
            for k in 0..<n { indices[k] = rng.below(n) }
            values.append(statistic(indices))
        }
        values.sort()
        let lo = values[Int(Double(resamples) * 0.025)], hi = values[min(resamples - 1, Int(Double(resamples) * 0.975))]
        return (lo, hi)
    }
}

/// The metric a task is reported by (`eval_tasks.metric`).
public enum TaskMetric: String, Codable, Sendable, CaseIterable {
    /// Choice tasks: AdaptLLM's (lowest mean NLL per option token).
    case accuracy
    /// Choice tasks: lm-evaluation-harness's summed and per-character log-likelihood choices.
    case acc, acc_norm
    /// Choice tasks: F1 over the options as classes (ChemProt and RCT micro, FPB and FiQA SA weighted).
    case micro_f1, macro_f1, weighted_f1
    /// Generation tasks: exact match (numbers within 0.01), entity-level F1 (NER).
    case exact_match, entity_f1

    public var kind: String { [.exact_match, .entity_f1].contains(self) ? "generation" : "choice" }

    /// The metric given on the command line, else the task file's, else the kind's default;
    /// refused when it does not fit the task's kind.
    static func resolve(given: TaskMetric?, file: String?, kind: String) throws -> TaskMetric {
        if let given {
            guard given.kind == kind else {
                let fits = allCases.filter { $0.kind == kind }.map(\.rawValue).joined(separator: ", ")
                throw EvalError.badOption("--metric \(given.rawValue) does not fit a \(kind) task (use one of \(fits))")
            }
            return given
        }
        if let file, let m = TaskMetric(rawValue: file), m.kind == kind { return m }
        return kind == "generation" ? .exact_match : .accuracy
    }
}
