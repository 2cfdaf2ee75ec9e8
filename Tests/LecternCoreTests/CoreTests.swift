import Foundation
import XCTest
@testable import LecternCore

/// The single copies of LecternCore: content hashes, document text, JSON quoting, the async
/// bridge, and the file reader's error.
final class CoreTests: XCTestCase {
    func testContentHashNormalisesWhitespaceOnly() {
        XCTAssertEqual(ContentHash.of(text: "  a b\n\tc  "), ContentHash.of(text: "a b c"))
        XCTAssertEqual(ContentHash.of(text: "a\u{00A0}\u{3000}b"), ContentHash.of(text: "a b"))
        XCTAssertNotEqual(ContentHash.of(text: "a b"), ContentHash.of(text: "A b"))
        XCTAssertNotEqual(ContentHash.of(text: "ab"), ContentHash.of(text: "a b"))
        XCTAssertEqual(ContentHash.of(text: "héllo wörld 𝔘"), ContentHash.of(text: "héllo  wörld\n𝔘"))
        XCTAssertEqual(ContentHash.of(text: "x").count, 16)
    }

    /// The byte-level fast paths agree with a plain reference on random texts.
    func testContentHashAndScalarCountAgreeWithReference() {
        let pieces = ["a", "bc", "déf", " ", "  ", "\t", "\n", "\u{00A0}", "\u{3000}", "\u{2009}", "\u{1F600}", "\u{1C}", "x y", "\u{0085}", "é"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<40, using: &rng)
            let text = (0..<n).map { _ in pieces.randomElement(using: &rng)! }.joined()
            let reference = text.unicodeScalars.split(whereSeparator: { $0.properties.isWhitespace })
                .map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
            XCTAssertEqual(ContentHash.of(text: text), ContentHash.of(text: reference), "text \(text.debugDescription)")
            var copy = text
            XCTAssertEqual(copy.withUTF8 { UTF8Scan.scalarCount($0) }, text.unicodeScalars.count)
            copy = reference
            XCTAssertFalse(copy.withUTF8 { ContentHash.needsNormalising($0) }, "reference \(reference.debugDescription)")
        }
    }

    func testFingerprintIsCanonicalJSONHashed() throws {
        struct Config: Codable { var b = 2; var a = "x/y" }
        XCTAssertEqual(try Fingerprint.canonicalJSON(Config()), #"{"a":"x/y","b":2}"#)
        XCTAssertEqual(try Fingerprint.of(Config()), Fingerprint.hex(of: Array(#"{"a":"x/y","b":2}"#.utf8)))
        // SHA-256 of "abc" (FIPS 180-2 test vector).
        XCTAssertEqual(Fingerprint.hex(of: Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    func testDocumentTextJoinsTitleAndBodyWithABlankLine() {
        XCTAssertEqual(DocumentText.render(title: "T", text: "body"), "T\n\nbody")
        XCTAssertEqual(DocumentText.render(title: "", text: "body"), "body")
        XCTAssertEqual(DocumentText.render(title: nil, text: "body"), "body")
    }

    func testJSONQuoteRoundTripsThroughFoundation() throws {
        for s in ["plain", "quote \" back \\ slash", "ctl \u{01}\u{1F}\n\r\t", "ünïcode 🙂", "</script>"] {
            let json = "[" + JSONText.quote(s) + "]"
            let back = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String]
            XCTAssertEqual(back, [s], json)
        }
        XCTAssertEqual(JSONText.quote("\u{01}"), "\"\\u0001\"")
    }

    func testTimestampIsISO8601UTCWithMilliseconds() throws {
        let t = Timestamp.now()
        XCTAssertNotNil(t.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression), t)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let parsed = try XCTUnwrap(f.date(from: t))
        XCTAssertLessThan(abs(parsed.timeIntervalSinceNow), 5)
    }

    func testRunBlockingReturnsValuesAndErrors() throws {
        XCTAssertEqual(try runBlocking { () async throws -> Int in
            try await Task.sleep(nanoseconds: 1_000_000)
            return 42
        }, 42)
        struct Boom: Error, Equatable {}
        XCTAssertThrowsError(try runBlocking { () async throws -> Int in throw Boom() }) { XCTAssertEqual($0 as? Boom, Boom()) }
    }

    func testByteStreamNamesAFileItCannotRead() {
        let path = "/nonexistent-\(UUID().uuidString)/corpus.jsonl"
        XCTAssertThrowsError(try ByteStream(path: path)) { error in
            XCTAssertEqual((error as? UnreadableFile)?.path, path)
            XCTAssertEqual("\(error)", "\(path): cannot read: No such file or directory")
        }
    }
}
