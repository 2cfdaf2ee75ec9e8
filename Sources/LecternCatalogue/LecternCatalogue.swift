import GRDB
import LecternBuild
import LecternCluster
import LecternEmbed
import LecternEval
import LecternGenerate
import LecternIngest
import LecternMine
import LecternStore
import LecternTokens
import LecternTrain

/// The whole file's catalogue: every module's part (``CatalogueContributor``), in pipeline order.
/// `lectern status`, the `run` summary and the report read a file through this one list.
public enum LecternCatalogue {
    /// The contributors in the order their sections and rows appear.
    public static let contributors: [any CatalogueContributor.Type] = [
        StoreCatalogue.Metadata.self, IngestCatalogue.self, TokensCatalogue.self, EmbedCatalogue.self,
        ClusterCatalogue.self, GenerateCatalogue.self, MineCatalogue.self, BuildCatalogue.self,
        TrainCatalogue.self, EvalCatalogue.self, StoreCatalogue.StageHistory.self,
    ]

    /// Reads the catalogue of the file `db` belongs to, in one read transaction; with `details`,
    /// also the distributions and curves `lectern report` draws.
    public static func read(_ db: Database, details: Bool = false) throws -> FileCatalogue {
        try FileCatalogue.read(db, from: contributors, details: details)
    }
}
