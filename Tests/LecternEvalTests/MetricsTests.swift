import Foundation
import XCTest
@testable import LecternEval

/// The paper's metrics on hand-checked cases: F1 averages as scikit-learn computes them, entity F1
/// as CoNLL pools it, exact match with the numeric tolerance, and the metric each kind of task allows.
final class MetricsTests: XCTestCase {
    func testF1AveragesMatchScikitLearn() {
        // sklearn.metrics.f1_score([0,0,1,1,2,2,2], [0,1,1,1,2,0,2], average=...) (scikit-learn in the
        // cache venv): micro 0.7142857, macro 0.7000000, weighted 0.7142857. Per class F1: 0.5, 0.8, 0.8.
        let gold = [0, 0, 1, 1, 2, 2, 2], predicted = [0, 1, 1, 1, 2, 0, 2]
        XCTAssertEqual(Metrics.choice("micro_f1", gold: gold, predicted: predicted), 71.42857, accuracy: 1e-4)
        XCTAssertEqual(Metrics.choice("macro_f1", gold: gold, predicted: predicted), 70.0, accuracy: 1e-4)
        XCTAssertEqual(Metrics.choice("weighted_f1", gold: gold, predicted: predicted), 71.42857, accuracy: 1e-4)
        // Supports that differ make weighted and macro differ: gold [0,0,0,1], predicted [0,0,1,1]:
        // F1 0.8 (support 3) and 0.6667 (support 1): macro 0.7333, weighted 0.7667 (scikit-learn).
        XCTAssertEqual(Metrics.choice("macro_f1", gold: [0, 0, 0, 1], predicted: [0, 0, 1, 1]), 73.33333, accuracy: 1e-4)
        XCTAssertEqual(Metrics.choice("weighted_f1", gold: [0, 0, 0, 1], predicted: [0, 0, 1, 1]), 76.66667, accuracy: 1e-4)
        XCTAssertEqual(Metrics.choice("accuracy", gold: gold, predicted: predicted), 100 * 5 / 7, accuracy: 1e-9)
    }

    func testEntityF1PoolsExactSpanAndTypeMatches() {
        XCTAssertEqual(Metrics.entities("Bank of America : ORG; John Smith : person\nParis (LOC)"),
                       ["bank of america\u{0}org", "john smith\u{0}person", "paris\u{0}loc"])
        XCTAssertEqual(Metrics.entities("none"), [])
        // Item 1: 2 of 2 right; item 2: 1 right, 1 wrong type, 1 missed. TP 3, predicted 4, gold 5.
        let predicted = ["Apple : ORG; Tim Cook : PER", "Berlin : LOC; Siemens : LOC"]
        let reference = ["Apple : ORG; Tim Cook : PER", "Berlin : LOC; Siemens : ORG; Munich : LOC"]
        let precision = 3.0 / 4, recall = 3.0 / 5
        XCTAssertEqual(Metrics.entityF1(predicted: predicted, reference: reference), 100 * 2 * precision * recall / (precision + recall), accuracy: 1e-9)
        XCTAssertEqual(Metrics.entityF1(predicted: ["none"], reference: [""]), 100, "nothing to find, nothing found")
        XCTAssertEqual(Metrics.entityF1(predicted: ["x : a"], reference: ["none"]), 0)
    }

    func testExactMatchTrimsAndAllowsNumericTolerance() {
        XCTAssertTrue(Metrics.exactMatch(" Yes\n", "yes"))
        XCTAssertTrue(Metrics.exactMatch("12.344", "12.35"))
        XCTAssertTrue(Metrics.exactMatch("1,200", "1200"))
        XCTAssertFalse(Metrics.exactMatch("12.4", "12.35"))
        XCTAssertFalse(Metrics.exactMatch("maybe", "yes"))
    }

    func testTaskMetricMustFitTheKind() throws {
        XCTAssertEqual(try TaskMetric.resolve(given: nil, file: nil, kind: "choice"), .accuracy)
        XCTAssertEqual(try TaskMetric.resolve(given: nil, file: nil, kind: "generation"), .exact_match)
        XCTAssertEqual(try TaskMetric.resolve(given: nil, file: "acc_norm", kind: "choice"), .acc_norm)
        XCTAssertEqual(try TaskMetric.resolve(given: .weighted_f1, file: "acc", kind: "choice"), .weighted_f1)
        XCTAssertThrowsError(try TaskMetric.resolve(given: .entity_f1, file: nil, kind: "choice")) { e in
            XCTAssertTrue("\(e)".contains("does not fit a choice task"), "\(e)")
        }
    }

    /// An echoed completion as vLLM returns it (OpenAI's legacy completions schema): the
    /// continuation's tokens are those starting at or after the prompt's end.
    func testEchoedLogprobsSplitAtThePromptsEnd() throws {
        // prompt "Answer:" (7 scalars) + " yes" (4), then one generated token.
        let reply: [String: Any] = ["choices": [["text": "Answer: yes.", "logprobs": [
            "tokens": ["Answer", ":", " yes", "."],
            "token_logprobs": [NSNull(), -0.5, -1.25, -0.1],
            "text_offset": [0, 6, 7, 11],
        ]]]]
        let (sum, n) = try ServerEvalStage.continuation(in: reply, promptScalars: 7, fullScalars: 11)
        XCTAssertEqual(sum, -1.25)
        XCTAssertEqual(n, 1)
        // llama-server ignores echo: only the generated token, after the text.
        let noEcho: [String: Any] = ["choices": [["text": ".", "logprobs": ["tokens": ["."], "token_logprobs": [-0.1], "text_offset": [11]]]]]
        XCTAssertThrowsError(try ServerEvalStage.continuation(in: noEcho, promptScalars: 7, fullScalars: 11)) { XCTAssertTrue($0 is ServerCannotEcho) }
        let none: [String: Any] = ["choices": [["text": "."]]]
        XCTAssertThrowsError(try ServerEvalStage.continuation(in: none, promptScalars: 7, fullScalars: 11)) { XCTAssertTrue($0 is ServerCannotEcho) }
    }
}
