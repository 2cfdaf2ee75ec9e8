/// Why `lectern train` (or an adapter export or import) stopped, with the input at fault named.
public enum TrainError: Error, CustomStringConvertible, Sendable {
    /// The engine (Python, its packages or `lectern_train.py`) cannot be found or started.
    case engineMissing(String)
    /// The engine stopped with an error (its own one-line message).
    case engine(String)
    /// The base model is missing, unreadable or of an unknown kind.
    case badBase(String)
    /// The training set cannot be trained on (incomplete, no token ids, ...).
    case badSet(String)
    /// The base model's tokenizer is not the one the set was tokenised with.
    case tokenizerMismatch(String)
    /// An option out of range.
    case badOption(String)
    /// Another process is training the same run.
    case concurrentRun(String)
    /// A stored checkpoint or adapter that cannot be used.
    case badCheckpoint(String)

    public var description: String {
        switch self {
        case .engineMissing(let m): return "train: the training engine is not available: \(m)"
        case .engine(let m): return "train: the training engine failed: \(m)"
        case .badBase(let m): return "train: base model: \(m)"
        case .badSet(let m): return "train: training set: \(m)"
        case .tokenizerMismatch(let m): return "train: the base model's tokenizer is not the set's: \(m)"
        case .badOption(let m): return "train: \(m)"
        case .concurrentRun(let m): return "train: \(m)"
        case .badCheckpoint(let m): return "checkpoint: \(m)"
        }
    }
}
