/// How a document is turned into one text for token counts (`token_counts.n_tokens`), so every
/// stage that budgets lengths counts the same thing: the title, a blank line, then the text.
///
/// Token counts of concatenations are not sums of counts (merges can cross the join), so stages
/// that pack documents should count the text they actually emit; this is the per-document figure
/// used for clustering budgets.
public enum TokenCounting {
    /// Separator between a document's title and its text.
    public static let titleSeparator = "\n\n"

    /// The text whose tokens are counted for a document.
    public static func documentText(title: String?, text: String) -> String {
        guard let title, !title.isEmpty else { return text }
        return title + titleSeparator + text
    }
}
