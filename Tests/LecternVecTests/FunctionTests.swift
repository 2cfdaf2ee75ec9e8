import Foundation
import GRDB
import XCTest

/// The vec_* functions against float64 references and against sqlite-vec itself.
final class FunctionTests: XCTestCase {
    func testDistancesMatchFloat64Reference() throws {
        let q = try openQueue()
        var rng = TestRNG(7)
        try q.read { db in
            for d in [1, 3, 16, 17, 33, 384, 1000] {
                for _ in 0..<5 {
                    let a = rng.vector(d), b = rng.vector(d)
                    let row = try Row.fetchOne(db, sql: """
                        SELECT vec_distance_l2(?1, ?2), vec_distance_l1(?1, ?2), vec_distance_cosine(?1, ?2), vec_distance_dot(?1, ?2)
                        """, arguments: [blob(a), blob(b)])!
                    let got: [Double] = [row[0], row[1], row[2], row[3]]
                    let want = [refL2(a, b), refL1(a, b), refCosine(a, b), -refDot(a, b)]
                    for (g, w) in zip(got, want) {
                        XCTAssertEqual(g, w, accuracy: 1e-5 * max(1, abs(w)), "d=\(d)")
                    }
                }
            }
            // int8: exact integer arithmetic
            for d in [5, 16, 100] {
                let a = (0..<d).map { _ in Int8(truncatingIfNeeded: rng.int(256) - 128) }
                let b = (0..<d).map { _ in Int8(truncatingIfNeeded: rng.int(256) - 128) }
                let row = try Row.fetchOne(db, sql: "SELECT vec_distance_l2(vec_int8(?1), vec_int8(?2)), vec_distance_l1(vec_int8(?1), vec_int8(?2)), vec_distance_cosine(vec_int8(?1), vec_int8(?2))",
                                           arguments: [blob(a), blob(b)])!
                let fa = a.map(Float.init), fb = b.map(Float.init)
                XCTAssertEqual(row[0] as Double, refL2(fa, fb), accuracy: 1e-4 * refL2(fa, fb))
                XCTAssertEqual(row[1] as Int64, Int64(refL1(fa, fb)))
                XCTAssertEqual(row[2] as Double, refCosine(fa, fb), accuracy: 1e-5)
            }
            // hamming
            for n in [1, 7, 8, 9, 64] {
                let a = Data((0..<n).map { _ in UInt8(rng.int(256)) }), b = Data((0..<n).map { _ in UInt8(rng.int(256)) })
                let want = zip(a, b).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
                XCTAssertEqual(try Double.fetchOne(db, sql: "SELECT vec_distance_hamming(vec_bit(?), vec_bit(?))", arguments: [a, b]), Double(want))
            }
        }
    }

    /// Two of sqlite-vec's results our float32 arithmetic missed (issue 19): L1 of two extreme
    /// float32 values overflowed to Inf in a float sum (sqlite-vec sums in double), and cosine's
    /// final quotient differed in the 7th digit (sqlite-vec divides in double and returns float32).
    func testL1SumsInDoubleAndCosineDividesInDoubleAsSqliteVec() throws {
        let q = try openQueue()
        try q.read { db in
            // FLT_MAX and -FLT_MAX (little-endian): |a - b| = 2 * FLT_MAX = 6.8e38, finite in double.
            let l1 = try Double.fetchOne(db, sql: "SELECT vec_distance_l1(X'ffff7f7f', X'ffff7fff')")!
            XCTAssertEqual(l1, 2 * Double(Float.greatestFiniteMagnitude))
            XCTAssertTrue(l1.isFinite)
            // 17 dimensions: the SIMD body and the scalar tail both sum in double.
            let big = [Float](repeating: .greatestFiniteMagnitude, count: 17), small = big.map { -$0 }
            XCTAssertEqual(try Double.fetchOne(db, sql: "SELECT vec_distance_l1(?, ?)", arguments: [blob(big), blob(small)]),
                           34 * Double(Float.greatestFiniteMagnitude))
            // sqlite-vec: float sums, 1 - dot / (sqrt(a) * sqrt(b)) in double, returned as a float.
            let cosine = try Double.fetchOne(db, sql: "SELECT vec_distance_cosine('[1.1,1.0]','[1.2,1.2]')")!
            let a: [Float] = [1.1, 1.0], b: [Float] = [1.2, 1.2]
            let dot = a[0] * b[0] + a[1] * b[1], na = a[0] * a[0] + a[1] * a[1], nb = b[0] * b[0] + b[1] * b[1]
            XCTAssertEqual(cosine, Double(Float(1 - Double(dot) / (Double(na).squareRoot() * Double(nb).squareRoot()))))
            // sqlite-vec 0.1.6's test_vec_distance_cosine value, to the last bit of the float.
            XCTAssertEqual(cosine, 0.001131898257881403)
        }
    }

    func testFormatAndTransforms() throws {
        let q = try openQueue()
        try q.read { db in
            let v: [Float] = [1, -2.5, 3.25, 0.1]
            XCTAssertEqual(try Data.fetchOne(db, sql: "SELECT vec_f32('[1, -2.5, 3.25, 0.1]')"), blob(v))
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(?)", arguments: [blob(v)]), "[1.000000,-2.500000,3.250000,0.100000]")
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT vec_length(?)", arguments: [blob(v)]), 4)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT vec_length(vec_bit(x'ffff'))"), 16)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(vec_slice(?, 1, 3))", arguments: [blob(v)]), "[-2.500000,3.250000]")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(vec_add('[1,2]', '[10,20]'))"), "[11.000000,22.000000]")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(vec_sub(vec_int8('[1,2]'), vec_int8('[10,20]')))"), "[-9,-18]")
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(vec_bit(x'05'))"), "[1,0,1,0,0,0,0,0]")
            let n = try Data.fetchOne(db, sql: "SELECT vec_normalize('[3, 4]')")!
            XCTAssertEqual(n, blob([Float(0.6), Float(0.8)]))
            // quantization, against the formula written out in float64
            let x: [Float] = [-1, -0.5, 0, 0.3, 1, 2, -3, 0.999]
            let qi = try Data.fetchOne(db, sql: "SELECT vec_quantize_int8(?, 'unit')", arguments: [blob(x)])!
            let step = Double(Float(2.0 / 255))
            XCTAssertEqual(Array(qi).map { Int8(bitPattern: $0) }, x.map { Int8(max(-128, min(127, (Double($0) + 1) / step - 128))) })
            XCTAssertEqual(try Data.fetchOne(db, sql: "SELECT vec_quantize_binary(?)", arguments: [blob(x)]), Data([0b1011_1000]))
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT vec_distance_hamming(vec_quantize_binary(?), vec_quantize_binary(?))", arguments: [blob(x), blob(x.map { -$0 })]), 7)
        }
    }

    func testBadInputsAreSQLErrors() throws {
        let q = try openQueue()
        let cases: [(String, String)] = [
            ("SELECT vec_f32(x'000000')", "divisible by 4"),
            ("SELECT vec_f32('[1, 2')", "missing ']'"),
            ("SELECT vec_f32('[1, nan]')", "expected a number"),
            ("SELECT vec_f32('1, 2]')", "does not start with '['"),
            ("SELECT vec_f32('[]')", "zero-length"),
            ("SELECT vec_f32('[1e39]')", "Inf"),
            ("SELECT vec_f32(x'0000c07f')", "NaN"),
            ("SELECT vec_f32(12)", "BLOB (compact format) or TEXT (JSON)"),
            ("SELECT vec_int8('[1, 300]')", "int8 range"),
            ("SELECT vec_distance_l2('[1,2]', '[1,2,3]')", "dimension mistmatch"),
            ("SELECT vec_distance_l2('[1,2]', vec_int8('[1,2]'))", "type mistmatch"),
            ("SELECT vec_distance_hamming('[1,2]', '[1,2]')", "hamming"),
            ("SELECT vec_distance_cosine(vec_bit(x'01'), vec_bit(x'01'))", "bitvectors"),
            ("SELECT vec_slice('[1,2]', 2, 1)", "greater than 'end'"),
            ("SELECT vec_slice('[1,2]', 0, 5)", "greater than the number of dimensions"),
            ("SELECT vec_quantize_int8('[1]', 'other')", "must be 'unit'"),
            ("SELECT vec_quantize_binary('[1,2,3]')", "divisible by 8"),
            ("SELECT vec_normalize(vec_int8('[1]'))", "only float32"),
        ]
        try q.read { db in
            for (sql, fragment) in cases {
                XCTAssertThrowsError(try Row.fetchAll(db, sql: sql), sql) { error in
                    let m = (error as? DatabaseError)?.message ?? "\(error)"
                    XCTAssertTrue(m.contains(fragment), "\(sql): \(m)")
                }
            }
        }
    }

    /// The same calls through sqlite-vec (Debian python3 + vec0.so) and through LecternVec.
    func testSameResultsAsSqliteVec() throws {
        let vec0 = sqliteVecPath()
        try requireComponent(vec0 != nil, "sqlite-vec's vec0.so (SQLITE_VEC_PATH)", setup: "scripts/setup.d/20-sqlite-vec.sh")
        try requireComponent(FileManager.default.fileExists(atPath: "/usr/bin/python3"), "/usr/bin/python3", setup: "scripts/setup.d/20-sqlite-vec.sh")
        let exprs = [
            "vec_to_json(vec_f32('[0.1, -2, 3e-7, 123456.789]'))",
            "hex(vec_f32('[1.5, 2.25]'))",
            "vec_distance_l2('[1,2,3]', '[4,5,6.5]')",
            "vec_distance_l1('[1,2,3]', '[4,5,6.5]')",
            "vec_distance_cosine('[1,2,3]', '[4,5,6.5]')",
            "vec_distance_l2(vec_int8('[1,2,3]'), vec_int8('[-4,5,6]'))",
            "vec_distance_l1(vec_int8('[1,2,3]'), vec_int8('[-4,5,6]'))",
            "vec_distance_cosine(vec_int8('[1,2,3]'), vec_int8('[-4,5,6]'))",
            "vec_distance_hamming(vec_bit(x'f0aa'), vec_bit(x'0faa'))",
            // In range only: sqlite-vec 0.1.6 wraps out-of-range values around (later versions clamp, as we do).
            "hex(vec_quantize_int8('[-1, -0.5, 0, 0.3, 1, 0.7, -0.99, 0.999]', 'unit'))",
            "hex(vec_quantize_binary('[-1, -0.5, 0, 0.3, 1, 2, -3, 0.999]'))",
            "hex(vec_normalize('[3, 4, 12]'))",
            "vec_to_json(vec_add(vec_int8('[1,2]'), vec_int8('[3,4]')))",
            "vec_to_json(vec_sub('[1,2]', '[3,4.5]'))",
            "vec_to_json(vec_slice(vec_bit(x'f00f'), 8, 16))",
            "vec_length(vec_int8(x'010203'))",
            "vec_to_json(vec_bit(x'81'))",
        ]
        let script = """
            import sqlite3, sys, json
            db = sqlite3.connect(':memory:')
            db.enable_load_extension(True)
            db.load_extension(sys.argv[1])
            out = []
            for e in json.loads(sys.stdin.read()):
                out.append(repr(db.execute('SELECT ' + e).fetchone()[0]))
            print(json.dumps(out))
            """
        let input = String(decoding: try JSONEncoder().encode(exprs), as: UTF8.self)
        let (status, output) = try runProcess("/usr/bin/python3", ["-c", script, vec0!], stdin: input)
        XCTAssertEqual(status, 0, output)
        let theirs = try JSONDecoder().decode([String].self, from: Data(output.utf8))
        let q = try openQueue()
        try q.read { db in
            for (e, t) in zip(exprs, theirs) {
                let v = try DatabaseValue.fetchOne(db, sql: "SELECT " + e)!
                switch v.storage {
                case .int64(let i): XCTAssertEqual(String(i), t, e)
                case .double(let d):
                    // float32 sums in a different order (SIMD lanes): equal to float32 rounding.
                    let theirs = Double(t) ?? .nan
                    XCTAssertEqual(d, theirs, accuracy: 1e-6 * max(1, abs(theirs)), e)
                case .string(let s): XCTAssertEqual("'" + s + "'", t, e)
                default: XCTFail("unexpected \(v) for \(e)")
                }
            }
        }
    }
}

