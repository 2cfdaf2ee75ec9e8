import Foundation
import LecternTestSupport
import XCTest

/// The ownership rule of ARCHITECTURE.md, checked on the sources: each table is named in SQL
/// only by the module that owns it; every other module reads it through the owner's requests.
final class TableOwnershipTests: XCTestCase {
    /// Module -> tables, from the `<!-- ownership -->` list of ARCHITECTURE.md.
    func ownership() throws -> [String: String] {
        let doc = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("ARCHITECTURE.md"), encoding: .utf8)
        guard let start = doc.range(of: "<!-- ownership:"), let end = doc.range(of: "<!-- /ownership -->") else {
            XCTFail("ARCHITECTURE.md has no <!-- ownership --> list")
            return [:]
        }
        var owner: [String: String] = [:]
        for line in doc[start.upperBound..<end.lowerBound].split(separator: "\n") where line.hasPrefix("- ") {
            let parts = line.dropFirst(2).split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let module = parts[0].trimmingCharacters(in: .whitespaces)
            for table in parts[1].split(separator: ",") {
                let name = table.trimmingCharacters(in: CharacterSet(charactersIn: " `"))
                XCTAssertNil(owner[name], "\(name) has two owners in ARCHITECTURE.md")
                owner[name] = module
            }
        }
        return owner
    }

    func testEveryTableOfTheSchemaHasOneOwner() throws {
        let owner = try ownership()
        let schema = try String(contentsOf: TestSupport.packageRoot.appendingPathComponent("schema/schema.sql"), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: #"CREATE TABLE (\w+)"#)
        let tables = regex.matches(in: schema, range: NSRange(schema.startIndex..., in: schema)).compactMap {
            Range($0.range(at: 1), in: schema).map { String(schema[$0]) }
        }
        XCTAssertGreaterThan(tables.count, 20)
        for t in tables { XCTAssertNotNil(owner[t], "table \(t) of schema/schema.sql has no owner in ARCHITECTURE.md") }
        for t in owner.keys { XCTAssertTrue(tables.contains(t), "ARCHITECTURE.md names \(t), which schema/schema.sql does not create") }
    }

    func testNoModuleNamesAnotherModulesTableInSQL() throws {
        let owner = try ownership()
        XCTAssertFalse(owner.isEmpty)
        let sources = TestSupport.packageRoot.appendingPathComponent("Sources")
        let regex = try NSRegularExpression(pattern: #"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+"?([a-z_]+)\b"#)
        var violations: [String] = []
        var files = 0
        let walker = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)
        while let url = walker?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            let module = url.path.dropFirst(sources.path.count + 1).split(separator: "/").first.map(String.init) ?? ""
            let text = try String(contentsOf: url, encoding: .utf8)
            files += 1
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let code = line.trimmingCharacters(in: .whitespaces)
                if code.hasPrefix("//") { continue }  // prose may name any table
                let s = String(line)
                for m in regex.matches(in: s, range: NSRange(s.startIndex..., in: s)) {
                    guard let r = Range(m.range(at: 1), in: s) else { continue }
                    let table = String(s[r])
                    if let o = owner[table], o != module {
                        violations.append("\(module)/\(url.lastPathComponent):\(n + 1): SQL on \(table), owned by \(o)")
                    }
                }
            }
        }
        XCTAssertGreaterThan(files, 100, "the walk found the sources")
        XCTAssertEqual(violations, [], "read another module's table through its owner's requests (ARCHITECTURE.md, Table ownership)")
    }
}
