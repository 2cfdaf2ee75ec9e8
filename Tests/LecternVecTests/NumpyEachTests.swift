import Foundation
import GRDB
import XCTest

/// `vec_npy_each` over `.npy` BLOBs and files (`vec_npy_file`), as sqlite-vec's: rows of float32
/// vectors that load straight into a table; every malformed array an error naming what is wrong.
final class NumpyEachTests: XCTestCase {
    /// An `.npy` file as NumPy writes it (format 1.0, or 2.0 with a 4-byte header length):
    /// magic, version, header length, the header dict padded with spaces to a multiple of 64
    /// and ending in a newline, then the little-endian data.
    func npy(_ rows: [[Float]], shape: String? = nil, descr: String = "<f4", fortranOrder: Bool = false, version: UInt8 = 1,
             dict: String? = nil) -> Data {
        let shapeText = shape ?? (rows.count == 1 ? "(\(rows[0].count),)" : "(\(rows.count), \(rows.first?.count ?? 0))")
        var header = dict ?? "{'descr': '\(descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        let prefix = version == 1 ? 10 : 12
        while (prefix + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var d = Data([0x93] + Array("NUMPY".utf8) + [version, 0])
        let n = header.utf8.count
        d += version == 1 ? Data([UInt8(n & 0xFF), UInt8(n >> 8)]) : Data([UInt8(n & 0xFF), UInt8((n >> 8) & 0xFF), UInt8((n >> 16) & 0xFF), UInt8(n >> 24)])
        d += Data(header.utf8)
        for r in rows { for x in r { withUnsafeBytes(of: x.bitPattern.littleEndian) { d += Data($0) } } }
        return d
    }

    func testRowsLoadIntoATableFromBlobsAndFiles() throws {
        let q = try openQueue()
        var rng = TestRNG(4)
        let m = (0..<300).map { _ in rng.vector(12) }
        let path = tempPath("vectors.npy")
        try npy(m, version: 2).write(to: URL(fileURLWithPath: path))
        try q.write { db in
            // One vector (shape (D,)), then a matrix: rowid = index, vector = the row's float32 bytes.
            let one = try Row.fetchAll(db, sql: "SELECT rowid, vector FROM vec_npy_each(?)", arguments: [npy([[1.5, -2, 3]])])
            XCTAssertEqual(one.count, 1)
            XCTAssertEqual(one[0]["rowid"] as Int64, 0)
            XCTAssertEqual(one[0]["vector"] as Data, blob([1.5, -2, 3]))
            let rows = try Row.fetchAll(db, sql: "SELECT rowid, vector FROM vec_npy_each(?)", arguments: [npy(m)])
            XCTAssertEqual(rows.map { $0["rowid"] as Int64 }, (0..<300).map(Int64.init))
            XCTAssertEqual(rows.map { $0["vector"] as Data }, m.map(blob))
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM vec_npy_each(?)", arguments: [npy([], shape: "(0,)")]), 0)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM vec_npy_each(?)", arguments: [npy([], shape: "(0, 12)")]), 0)
            // From a file (memory-mapped), straight into a table, then found by KNN.
            try db.execute(sql: "CREATE VIRTUAL TABLE t USING lectern_vec(e float[12])")
            try db.execute(sql: "INSERT INTO t(rowid, e) SELECT rowid + 1, vector FROM vec_npy_each(vec_npy_file(?))", arguments: [path])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM t"), 300)
            XCTAssertEqual(try Int64.fetchOne(db, sql: "SELECT rowid FROM t WHERE e MATCH ? AND k = 1", arguments: [blob(m[41])]), 42)
            XCTAssertEqual(try String.fetchOne(db, sql: "SELECT vec_to_json(vector) FROM vec_npy_each(?) WHERE rowid = 1", arguments: [npy([[0, 0], [0.5, 1]])]), "[0.500000,1.000000]")
        }
    }

    func testMalformedArraysAreClearErrors() throws {
        let q = try openQueue()
        let good = npy([[1, 2], [3, 4]])
        var notADict = good
        notADict[notADict.startIndex + 10] = UInt8(ascii: "[")   // the header's first character
        let cases: [(Data, String)] = [
            (Data(), "too short to be a .npy array (0 bytes)"),
            (Data([0x93] + Array("NUMPX".utf8) + [1, 0, 0x76, 0]), "no .npy magic header"),
            (Data([0x93] + Array("NUMPY".utf8) + [1, 0, 0x76, 0]), "header length 118 runs past the end"),
            (Data([0x93] + Array("NUMPY".utf8) + [9, 0, 4, 0]) + Data("{}  ".utf8), "unsupported .npy format version 9"),
            (npy([[1, 2]], descr: "<f8"), "only little-endian float32 arrays ('<f4') are supported, got descr '<f8'"),
            (npy([[1, 2]], descr: ">f4"), "got descr '>f4'"),
            (npy([[1, 2], [3, 4]], fortranOrder: true), "only C-ordered arrays"),
            (npy([[1, 2], [3, 4]], shape: "(2, 2, 1)"), "1-d (one vector) or 2-d (one vector per row) arrays only"),
            (npy([[1, 2], [3, 4]], shape: "()"), "a 0-d array (shape ()) holds no vector"),
            (npy([[1, 2], [3, 4]], shape: "(3, 2)"), "needs 3 x 2 float32 values but 16 bytes follow the header"),
            (npy([[1, 2]], shape: "(x, 2)"), "is not a tuple of sizes"),
            (npy([[1, 2]], shape: "(2)"), "shape (2) is not a tuple (one element is written (2,))"),
            (npy([[1, 2]], dict: "{'descr': '<f4', 'fortran_ordre': False, 'shape': (2,), }"), "unknown key 'fortran_ordre' in the header"),
            (good.prefix(good.count - 1), "needs 2 x 2 float32 values but 15 bytes follow the header"),
            (notADict, "does not start with '{'"),
        ]
        try q.read { db in
            for (bytes, message) in cases {
                XCTAssertThrowsError(try Row.fetchAll(db, sql: "SELECT * FROM vec_npy_each(?)", arguments: [bytes]), message) { e in
                    XCTAssertTrue("\(e)".contains(message), "expected '\(message)', got \(e)")
                }
            }
            for (sql, message) in [("SELECT * FROM vec_npy_each(vec_npy_file('/nonexistent/a.npy'))", "cannot open numpy file '/nonexistent/a.npy'"),
                                   ("SELECT * FROM vec_npy_each(42)", "must be a .npy BLOB or vec_npy_file(path), got INTEGER"),
                                   ("SELECT * FROM vec_npy_each", "an array argument is required"),
                                   ("SELECT vec_npy_file(1)", "the argument must be a file path")] {
                XCTAssertThrowsError(try Row.fetchAll(db, sql: sql)) { e in XCTAssertTrue("\(e)".contains(message), "expected '\(message)', got \(e)") }
            }
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM vec_npy_each(NULL)"), 0)
        }
    }
}
