import Foundation

/// Why a training set could not be built. Each case names the input at fault and what to do.
public enum BuildError: Error, CustomStringConvertible, Sendable {
    case invalidOption(String)
    case missingInput(String)
    case ambiguous(String)

    public var description: String {
        switch self {
        case .invalidOption(let m): return "invalid option: \(m)"
        case .missingInput(let m): return "missing input: \(m)"
        case .ambiguous(let m): return "ambiguous: \(m)"
        }
    }
}
