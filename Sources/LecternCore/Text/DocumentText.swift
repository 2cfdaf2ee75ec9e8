/// How a document with a title reads as one text: the title, a blank line, the body. The one
/// rendering used wherever a document is embedded, counted in tokens (`token_counts.n_tokens`)
/// or put into a training example, so the lengths one stage budgets are those the next emits.
///
/// Token counts of concatenations are not sums of counts (merges can cross the join), so stages
/// that pack documents count the text they actually emit; the per-document count of this text is
/// the figure clustering budgets with.
public enum DocumentText {
    /// Between a title and its body.
    public static let titleSeparator = "\n\n"

    /// The document as one text (the body alone when there is no title or it is empty).
    public static func render(title: String?, text: String) -> String {
        guard let title, !title.isEmpty else { return text }
        return title + titleSeparator + text
    }
}
