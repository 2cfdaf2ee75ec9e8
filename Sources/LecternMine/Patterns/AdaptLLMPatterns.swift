import Foundation

/// AdaptLLM's nine mining regexes (microsoft/LMOps `adaptllm/utils/read.py`), verbatim, with
/// the task type and sub-category each one feeds. They are matched case-insensitively over the
/// whole (truncated, title-less) text, exactly as AdaptLLM's `re.findall` does.
public enum AdaptLLMPatterns {
    /// Task families, named as in the `rc_tasks.task_type` column.
    public enum TaskType: String, Sendable, CaseIterable, Codable {
        case nli, commonsense, paraphrase, word2text, summarize, completion
    }

    /// One mining rule: a pattern and where its matches go.
    public struct Rule: Sendable {
        /// Task family.
        public let type: TaskType
        /// Sub-category, spelt as AdaptLLM spells it (`Entail`, `Cause-effect`, `definition`, ...).
        public let subcategory: String
        /// Python `re` source of the pattern.
        public let source: String
        /// Group index of the premise (first sentence / word / topic sentence).
        public var premiseGroup: Int { 1 }
        /// Group index of the connective.
        public var verbalizerGroup: Int { 3 }
        /// Group index of the hypothesis (second sentence / definition / topic).
        public var hypothesisGroup: Int { 5 }
    }

    static let sentencePair = #"([.!?]+[\s]+)([^.!?\n,]{50,}[.!?]+)([\s]+)(%@)([\s]*,[\s]+)([^.!?\n,]{50,}[.!?]+)([\s]+)"#
    static let paraphrasePair = #"([.!?]+[\s]+)([^.!?\n]{50,}[.!?]+)([\s]+)(%@)([\s]*,[\s]+)([^.!?\n]{50,}[.!?]+)([\s]+)"#

    static func fill(_ shape: String, _ alternatives: String) -> String {
        shape.replacingOccurrences(of: "%@", with: alternatives)
    }

    /// The rules in AdaptLLM's order (its task types, then the dictionary order of each type).
    public static let rules: [Rule] = [
        Rule(type: .nli, subcategory: "Entail",
             source: fill(sentencePair, "Yes|Therefore|Thus|Accordingly|Hence|For this reason")),
        Rule(type: .nli, subcategory: "Contradict",
             source: fill(sentencePair, "No|However|But|On the contrary|In contrast|Whereas")),
        Rule(type: .nli, subcategory: "Neutral",
             source: fill(sentencePair, "Maybe|Also|Furthermore|Secondly|Additionally|Moreover|In addition")),
        Rule(type: .commonsense, subcategory: "Cause-effect",
             source: fill(sentencePair, "Thus|Therefore|Accordingly|Hence|For this reason")),
        Rule(type: .commonsense, subcategory: "Effect-cause",
             source: #"([.!?]+[\s]+)([^.!?;\n,]{50,}[.!?]+)([\s]+)(due to|on account of|owing to)([\s]+)([^.!?;\n,]{50,}[.!?]+)([\s]+)"#),
        Rule(type: .paraphrase, subcategory: "Similar",
             source: fill(paraphrasePair, "In other words|In other word|Namely|That is to say|i.e.|Scilicet|Similarly|Equally")),
        Rule(type: .paraphrase, subcategory: "Different",
             source: fill(paraphrasePair, "No|However|But|On the contrary|In contrast|Whereas")),
        Rule(type: .word2text, subcategory: "definition",
             source: #"([\s]+)([^.!?,;\s\"]{10,})([\s]+)(is defined as|\'s definition is)([\s]+)([^.!?\n]{20,}[.!?]+)([\s]+)"#),
        Rule(type: .word2text, subcategory: "topic",
             source: #"([.!?]+[\s]+)([^.!?,;\n]{20,})([\s]+)(was about|talks about|is about|\'s topic is)([\s]+)([^.!?\n]{20,}[.!?]+)([\s]+)"#),
    ]

    /// The rules compiled once (the sources are constants checked by the tests).
    public static let compiled: [(rule: Rule, matcher: PatternMatcher)] = rules.map { rule in
        // The sources above are fixed strings; a failure here is a programming error.
        let p = try! MinePattern(rule.source)
        return (rule, PatternMatcher(p))
    }
}
