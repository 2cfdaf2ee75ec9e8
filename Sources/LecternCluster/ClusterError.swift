/// What is wrong with a clustering's input or options; every case names the input at fault.
public enum ClusterError: Error, CustomStringConvertible, Equatable {
    case shapeMismatch(String)
    case invalidVector(index: Int, id: Int64, reason: String)
    case invalidLength(index: Int, id: Int64, length: Int)
    case duplicateID(Int64)
    case invalidOption(String)
    case oversizeDocument(id: Int64, length: Int, maxTokens: Int)

    public var description: String {
        switch self {
        case .shapeMismatch(let m):
            return "cluster input: \(m)"
        case .invalidVector(let i, let id, let reason):
            return "cluster input: vector of document \(id) (row \(i)) \(reason)"
        case .invalidLength(let i, let id, let n):
            return "cluster input: token length of document \(id) (row \(i)) is \(n); lengths must be >= 0"
        case .duplicateID(let id):
            return "cluster input: document id \(id) appears more than once"
        case .invalidOption(let m):
            return "cluster options: \(m)"
        case .oversizeDocument(let id, let n, let lmax):
            return "document \(id) has \(n) tokens, more than maxTokens = \(lmax); use oversize policy 'singleton' to keep it as a cluster of its own"
        }
    }
}
