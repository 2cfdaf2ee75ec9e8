import Foundation
import XCTest
import LecternTestSupport
@testable import LecternEmbed

/// Locating what the tests need; a missing component fails under LECTERN_REQUIRE_COMPONENTS=1.
enum TestSupport {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// PubMedQA in the shared data folder (`$LECTERN_SHARED_DATA`, else `../shared/data` beside the checkout).
    static var pubmedqaPath: String { LecternTestSupport.TestSupport.sharedData.appendingPathComponent("pubmedqa/ori_pqal.json").path }

    static func require(_ what: String, setup: String, file: StaticString = #filePath, line: UInt = #line) throws -> Never {
        try LecternTestSupport.TestSupport.missing(what, setup: setup, file: file, line: line)
    }

    static func minilmDirectory() throws -> String {
        do { return try ModelInstaller.minilmDirectory(install: false) } catch {
            try require("the MiniLM model (\(error))", setup: "scripts/setup.d/10-models.sh or `lectern models install minilm`")
        }
    }

    /// PubMedQA abstracts as the ingest stage stores them: CONTEXTS joined with one space, in file order.
    static func pubmedqaDocuments(ids: [String]) throws -> [String] {
        let path = pubmedqaPath
        guard let data = FileManager.default.contents(atPath: path),
              let json = try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]] else {
            try require("PubMedQA at \(path)", setup: "the shared data folder (set LECTERN_SHARED_DATA)")
        }
        return try ids.map { id in
            guard let ctx = json[id]?["CONTEXTS"] as? [String] else { throw EmbedError.invalidArgument("PubMedQA lacks \(id)") }
            return ctx.joined(separator: " ")
        }
    }

    static func cosine(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        var dot = 0.0, na = 0.0, nb = 0.0
        for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
        return dot / (na.squareRoot() * nb.squareRoot())
    }
}
