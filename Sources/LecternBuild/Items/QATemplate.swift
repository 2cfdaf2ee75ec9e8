/// How a QA pair reads in a training example: a template with `{question}` and `{answer}`
/// (`BuildOptions.qaTemplate`, by default `Question: {question}\nAnswer: {answer}`).
///
/// Clustering budgets a document's length with its QA pairs before the build renders them, so
/// it asks this type what a pair costs beyond its question and answer (``ownTokens``) instead
/// of copying the template.
public enum QATemplate {
    /// The template with the pair filled in, in one pass (a question containing "{answer}" is
    /// not substituted twice).
    public static func render(_ template: String, question: String, answer: String) -> String {
        var out = ""
        var rest = Substring(template)
        while let r = rest.range(of: "{") {
            out += rest[..<r.lowerBound]
            let tail = rest[r.lowerBound...]
            if tail.hasPrefix("{question}") {
                out += question; rest = tail.dropFirst("{question}".count)
            } else if tail.hasPrefix("{answer}") {
                out += answer; rest = tail.dropFirst("{answer}".count)
            } else {
                out += "{"; rest = tail.dropFirst()
            }
        }
        return out + rest
    }

    /// Tokens a pair adds beyond its question's and answer's own: the template's text and the
    /// separator that joins it to the rest of the example, under `count`. An estimate: tokens
    /// of a concatenation are not exactly the sum of its parts' (merges can cross a join).
    public static func ownTokens(template: String, separator: String, count: (String) -> Int) -> Int {
        count(render(template, question: "", answer: "")) + count(separator)
    }
}
