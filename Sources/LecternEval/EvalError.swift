/// Why an evaluation command stopped, with the input at fault named.
public enum EvalError: Error, CustomStringConvertible, Sendable {
    case badTaskFile(String)
    case badOption(String)
    case unknownTask(String)
    case noItems(String)
    /// The server cannot score this kind of task (it gives no prompt log-probabilities).
    case serverCannotScore(String)
    /// The server could not be reached or kept failing.
    case serverFailed(String)

    public var description: String {
        switch self {
        case .badTaskFile(let m): return "eval: task file: \(m)"
        case .badOption(let m): return "eval: \(m)"
        case .unknownTask(let m): return "eval: \(m)"
        case .noItems(let m): return "eval: \(m)"
        case .serverCannotScore(let m): return "eval: \(m)"
        case .serverFailed(let m): return "eval: server: \(m)"
        }
    }
}
