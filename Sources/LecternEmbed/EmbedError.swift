import Foundation

/// Errors of the embedding stage. Each names the input at fault and what to do about it.
public enum EmbedError: Error, CustomStringConvertible, Equatable {
    /// A model file (path) is missing or malformed (reason).
    case badModel(String, String)
    /// The model is not installed and could not be installed (what to do).
    case modelNotInstalled(String)
    /// A remote embeddings server answered with an error or an unusable body.
    case remote(String)
    /// An argument is out of range.
    case invalidArgument(String)
    /// Another run is embedding with the same embedder on the same file.
    case concurrentRun(String)
    /// The CPU lacks an instruction set a requested option needs.
    case unsupportedCPU(String)

    public var description: String {
        switch self {
        case let .badModel(path, why): return "model file \(path): \(why)"
        case let .modelNotInstalled(what): return what
        case let .remote(what): return "embeddings server: \(what)"
        case let .invalidArgument(what): return what
        case let .concurrentRun(what): return what
        case let .unsupportedCPU(what): return what
        }
    }
}
