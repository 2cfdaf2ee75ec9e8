import Crypto
import Foundation

/// Canonical JSON (sorted keys) of an embedder configuration and its SHA-256, the same
/// recipe as the store's `Fingerprint.of`.
enum ConfigFingerprint {
    static func json<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? e.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func sha256Hex(_ s: String) -> String {
        SHA256.hash(data: Data(s.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
