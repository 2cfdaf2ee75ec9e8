/// Lectern's task templates. The paper's Table 2 gives one template per task; AdaptLLM's code
/// paraphrases each into many. These paraphrases are written for Lectern in its own words (none
/// is copied from AdaptLLM; version 2 rewrote the plain-article templates and the intro lines,
/// whose version 1 wording followed AdaptLLM's too closely); a run picks one per example with
/// its seeded generator. Slot names:
/// `premise`, `hypothesis`, `verbalizer`, `cause`, `effect`, `sentence1`, `sentence2`,
/// `keywords`, `sentence`, `word`, `definition`, `topic`, `domain`, `options`, `answer`,
/// `connective`, `relation`; article templates use `context`, `title`, `first`, `second`, `qa`.
public enum Templates {
    /// Version tag, part of the miner's fingerprint: change it when any template changes.
    public static let version = "lectern-templates-2"

    // MARK: Natural language inference

    /// NLI as classification: the answer is Yes / No / Maybe, a connective, or a relation name.
    public static let nliClassify: [QATemplate] = [
        .init("{premise}\nGiven the sentence above, is it true that \"{hypothesis}\"?", "{answer}"),
        .init("Statement: {premise}\nClaim: {hypothesis}\nDoes the statement support the claim?\n{options}", "{answer}"),
        .init("Read this: {premise}\nNow consider: {hypothesis}\nIs the second sentence implied by the first? Answer:", "{answer}"),
        .init("Premise: \"{premise}\"\nHypothesis: \"{hypothesis}\"\nCan the hypothesis be concluded from the premise?", "{answer}"),
        .init("Suppose that {premise} Would it then hold that {hypothesis}\n{options}", "{answer}"),
        .init("\"{premise}\" Taking this as given, is \"{hypothesis}\" a valid conclusion?", "{answer}"),
        .init("First sentence: \"{premise}\"\nSecond sentence: \"{hypothesis}\"\nWhich word joins them best: Therefore, However or Moreover?", "{connective}"),
        .init("Pick the connective (Therefore, However, Moreover) that links\n1. {premise}\n2. {hypothesis}\nConnective:", "{connective}"),
        .init("Sentence A: \"{premise}\"\nSentence B: \"{hypothesis}\"\nIs their relation Entailment, Neutral or Contradictory?", "{relation}"),
        .init("How are these two sentences related (Entailment, Neutral, Contradictory)?\n- {premise}\n- {hypothesis}", "{relation}"),
    ]

    /// NLI as generation, by sub-category: continue the premise after its connective.
    public static let nliGenerate: [String: [QATemplate]] = [
        "Entail": [
            .init("{premise} {verbalizer},", "{hypothesis}"),
            .init("Finish the thought: {premise} Consequently,", "{hypothesis}"),
            .init("{premise}\nWrite a sentence that follows from the statement above.", "{hypothesis}"),
            .init("Continue \"{premise}\" with a conclusion that starts with \"{verbalizer}\".", "{hypothesis}"),
        ],
        "Contradict": [
            .init("{premise} {verbalizer},", "{hypothesis}"),
            .init("Finish the thought: {premise} Nevertheless,", "{hypothesis}"),
            .init("{premise}\nWrite a sentence that qualifies or opposes the statement above.", "{hypothesis}"),
            .init("Continue \"{premise}\" with a contrasting sentence that starts with \"{verbalizer}\".", "{hypothesis}"),
        ],
        "Neutral": [
            .init("{premise} {verbalizer},", "{hypothesis}"),
            .init("Finish the thought: {premise} Besides,", "{hypothesis}"),
            .init("{premise}\nAdd a further, related point to the statement above.", "{hypothesis}"),
            .init("Continue \"{premise}\" with another point that starts with \"{verbalizer}\".", "{hypothesis}"),
        ],
    ]

    // MARK: Common-sense reasoning

    public static let causeEffect: [QATemplate] = [
        .init("What follows from \"{cause}\"?", "{effect}"),
        .init("Cause: {cause}\nWhat is the consequence?", "{effect}"),
        .init("{cause}\nWhat result does this lead to?", "{effect}"),
        .init("Given that {cause} What outcome would you expect?", "{effect}"),
        .init("Q: If \"{cause}\", then what? A:", "{effect}"),
        .init("Describe the effect of the following.\n{cause}\nEffect:", "{effect}"),
    ]

    public static let effectCause: [QATemplate] = [
        .init("Why is it that \"{effect}\"?", "{cause}"),
        .init("Observation: {effect}\nWhat explains it?", "{cause}"),
        .init("{effect}\nWhat brought this about?", "{cause}"),
        .init("Q: What is the reason behind \"{effect}\"? A:", "{cause}"),
        .init("Complete the sentence: {effect} {verbalizer}", "{cause}"),
        .init("Name the cause of the following.\n{effect}\nCause:", "{cause}"),
    ]

    // MARK: Paraphrase

    public static let similar: [QATemplate] = [
        .init("{sentence1} {verbalizer},", "{sentence2}"),
        .init("Say it another way: \"{sentence1}\"", "{sentence2}"),
        .init("{sentence1}\nRestate or elaborate the sentence above.", "{sentence2}"),
        .init("Continue \"{sentence1}\" with a sentence that starts with \"{verbalizer}\".", "{sentence2}"),
        .init("Give a sentence that expresses a similar idea to: {sentence1}\nSentence:", "{sentence2}"),
    ]

    public static let different: [QATemplate] = [
        .init("Write a sentence that contrasts with \"{sentence1}\"", "{sentence2}"),
        .init("{sentence1}\nGive a sentence with an opposing or qualifying idea.", "{sentence2}"),
        .init("What could be said against this? \"{sentence1}\"", "{sentence2}"),
        .init("Here is a statement: {sentence1}\nOffer a contrasting statement:", "{sentence2}"),
        .init("Counter the following sentence with another one.\n{sentence1}\nCounter:", "{sentence2}"),
    ]

    // MARK: Word-to-text

    public static let keywords: [QATemplate] = [
        .init("Keywords: {keywords}\nWrite a {domain} sentence that uses all of them.", "{sentence}"),
        .init("Which sentence of the article mentions these {domain} terms: {keywords}?", "{sentence}"),
        .init("Use the {domain} words [{keywords}] in one sentence.\nSentence:", "{sentence}"),
        .init("Terms: {keywords}\nFind the sentence in the text that contains them.", "{sentence}"),
        .init("{sentence}\nList the key {domain} terms in this sentence.", "{keywords}"),
        .init("Extract the {domain} keywords from the sentence below.\n{sentence}\nKeywords:", "{keywords}"),
    ]

    public static let definition: [QATemplate] = [
        .init("{word} {verbalizer}", "{definition}"),
        .init("Define {word}.", "{definition}"),
        .init("What does the term \"{word}\" mean?", "{definition}"),
        .init("Q: How is {word} defined? A:", "{definition}"),
        .init("Give the definition of {word}.\nDefinition:", "{definition}"),
    ]

    public static let topic: [QATemplate] = [
        .init("{sentence} {verbalizer}", "{topic}"),
        .init("Q: {sentence} {verbalizer}? A:", "{topic}"),
        .init("Answer this: {sentence} {verbalizer}?", "{topic}"),
        .init("What is the subject? {sentence} {verbalizer}:", "{topic}"),
        .init("Fill in the rest: {sentence} {verbalizer}", "{topic}"),
    ]

    // MARK: Whole-article templates

    /// Summarisation only: the title is the answer.
    public static let summarize: [Template] = [
        "{context}\n\nSuggest a title for this {domain} text.\nTitle: {title}{qa}",
        "{domain} article: {context}{qa}\n\nWhat would be a good title for it? {title}",
        "{context}\n\nSummarise the {domain} passage above in one line. {title}{qa}",
        "Passage: {context}{qa}\n\nWhat is this {domain} passage about? {title}",
        "Write a {domain} article titled \"{title}\".\nArticle: {context}{qa}",
        "Title: {title}\nCompose a {domain} text that fits this title. {context}{qa}",
    ]

    /// Text completion only: the first part is shown, the rest is the answer.
    public static let complete: [Template] = [
        "Continue this {domain} article: {first} {second}{qa}",
        "Here is the start of a {domain} text: {first}\n\nHow does it go on? {second}{qa}",
        "Beginning of a {domain} article: {first}\nWrite the rest. {second}{qa}",
        "Read the opening of this {domain} article: {first}\n\nContinuation: {second}{qa}",
    ]

    /// Completion and summarisation together.
    public static let completeAndSummarize: [Template] = [
        "Continue this {domain} article: {first} {second}{qa}\n\nWhat is the article about?\nAnswer: {title}",
        "Here is the start of a {domain} text: {first}\n\nHow does it go on? {second}\n\nGive it a title. {title}{qa}",
        "Beginning of a {domain} article: {first}\n\nWrite the rest. {second}\n\nSummarise it in one line: {title}{qa}",
        "Read the opening of this {domain} article: {first}\n\nContinuation: {second}\n\nA short title for it: {title}{qa}",
    ]

    /// Neither: the article (with its title if any) followed by the questions.
    public static let plain: [Template] = [
        "{context}{qa}",
        "The following {domain} passage is followed by questions on it.\n{context}{qa}",
        "From the {domain} literature:\n{context}{qa}",
        "Text to study:\n{context}{qa}",
        "Study the {domain} text below, then respond to what follows it.\n{context}{qa}",
    ]

    /// Lines that join the article to its task blocks.
    public static let intros: [Template] = [
        "\n\n",
        "\nWhat the {domain} passage above tells us, question by question:\n\n",
        "\n\nWith that passage in mind, reply to each item below.\n\n",
        "\nDrawing only on the text, respond to the following:\n\n",
        "\n\nComprehension check on the {domain} text above:\n",
        "\nSee how much of the passage you retained:\n\n",
    ]
}
