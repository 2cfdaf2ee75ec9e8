import GRDB
import LecternStore

/// The build's part of the file catalogue: instructions, examples per set, and the sets.
public enum BuildCatalogue: CatalogueContributor {
    public static func catalogue(_ db: Database) throws -> [FileCatalogue.Section] {
        [
            try FileCatalogue.artifacts(db, sql: """
                SELECT 'instructions', NULL, source, count(*) FROM instructions GROUP BY source
                UNION ALL SELECT 'training examples', s.id, s.name || ' (' || s.recipe || ')', count(x.id) FROM training_sets s
                  LEFT JOIN training_examples x ON x.training_set_id = s.id GROUP BY s.id
                """),
            try FileCatalogue.section(db, key: "training_sets", title: "Training sets (tokens per source, fill ratio of the packed sequences)", sql: """
                SELECT id, name, recipe, status, json_extract(stats, '$.examples') AS examples,
                       json_extract(stats, '$.contextLength') AS context, json_extract(stats, '$.tokens') AS tokens,
                       json_extract(stats, '$.domainTokens') AS domain_tokens, json_extract(stats, '$.generalTokens') AS general_tokens,
                       json_extract(stats, '$.tokensByPart.document') AS document, json_extract(stats, '$.tokensByPart.qa_pair') AS qa_pair,
                       json_extract(stats, '$.tokensByPart.rc_text') AS rc_text, json_extract(stats, '$.tokensByPart.instruction') AS instruction,
                       printf('%.4f', json_extract(stats, '$.fillRatio')) AS fill_ratio,
                       printf('%.4f', json_extract(stats, '$.fillRatioFFD')) AS fill_ffd,
                       json_extract(params, '$.options.excludeEval') AS held_out_tasks, generator_id
                FROM training_sets ORDER BY id
                """),
        ]
    }

    /// Provenance: the parts of each set's examples by kind (documents, clusters, QA pairs, mined
    /// texts, instructions), with their tokens.
    public static func details(_ db: Database) throws -> [FileCatalogue.Section] {
        [try FileCatalogue.section(db, key: "training_set_parts", title: "Where the training examples come from", sql: """
            SELECT x.training_set_id AS "set", p.part_kind AS part, count(*) AS parts, count(DISTINCT p.ref_id) AS distinct_rows,
                   coalesce(sum(p.n_tokens), 0) AS tokens
            FROM training_example_parts p JOIN training_examples x ON x.id = p.example_id
            GROUP BY x.training_set_id, p.part_kind ORDER BY x.training_set_id, p.part_kind
            """),
         // The documents a student generator learnt from (sets of the distill recipe): the
         // report compares teacher and student on the others.
         try FileCatalogue.section(db, key: "distill_documents", title: "Documents of distillation sets", sql: """
            SELECT DISTINCT x.training_set_id AS "set", p.ref_id AS document
            FROM training_example_parts p JOIN training_examples x ON x.id = p.example_id JOIN training_sets s ON s.id = x.training_set_id
            WHERE s.recipe = 'distill' AND p.part_kind = 'document' ORDER BY 1, 2
            """)]
    }
}
