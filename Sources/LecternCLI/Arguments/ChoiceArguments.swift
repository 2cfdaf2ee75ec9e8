import ArgumentParser
import LecternBuild
import LecternCluster
import LecternEmbed
import LecternGenerate
import LecternIngest

// Every option that takes one of a fixed set of values is typed by the module's own enum: the
// parser rejects anything else with the list of values, and `--help` shows them. The enums are
// `CaseIterable` with `String` raw values, which is all ArgumentParser needs.

extension ClusterStage.Algorithm: ExpressibleByArgument {}
extension SimilarityTarget: ExpressibleByArgument {}
extension OversizePolicy: ExpressibleByArgument {}
extension OverflowPolicy: ExpressibleByArgument {}
extension NeighbourSearch: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension ResponseFormatMode: ExpressibleByArgument {}
extension LongItemPolicy: ExpressibleByArgument {}
extension PackerKind: ExpressibleByArgument {}
extension SetFormat: ExpressibleByArgument {}
extension InstructionTemplate: ExpressibleByArgument {}
extension InstructionFormat: ExpressibleByArgument {}
extension SourceFormat: ExpressibleByArgument {}

/// The embedders built into `lectern embed` (others are reached with `--url`).
enum BuiltinEmbedder: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// all-MiniLM-L6-v2, run by the Swift encoder.
    case minilm
}
