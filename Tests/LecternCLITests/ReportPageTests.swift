import Foundation
import GRDB
import LecternTestSupport
import XCTest

/// `lectern report` on the file of the README's main command (ingest to evaluation), rendered
/// by Debian's Chromium headless: the page loads with no console message (no script, no
/// network), every section the file has appears, the charts carry the file's numbers (read back
/// from the SVG text of the rendered DOM), the bytes are the same for the same file, and one
/// screenshot is kept as a test artifact (`test-artifacts/report.png`, or $LECTERN_TEST_ARTIFACTS).
extension BuildPipelineTests {
    func chromium() throws -> String {
        let env = ProcessInfo.processInfo.environment
        let candidates = [env["LECTERN_CHROMIUM"], "/usr/bin/chromium", "/usr/bin/chromium-browser"].compactMap { $0 }
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            try TestSupport.missing("Chromium (LECTERN_CHROMIUM)", setup: "scripts/setup.d/70-chromium.sh")
        }
        return path
    }

    /// Chromium headless on `page`: the DOM after load, and its log (console messages included).
    func render(_ page: URL, screenshot: URL? = nil) throws -> (dom: String, log: String) {
        let profile = try TestSupport.temporaryDirectory(self)
        var args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile.path)",
                    "--enable-logging=stderr", "--v=0", "--window-size=1180,2400"]
        if let screenshot { args += ["--screenshot=\(screenshot.path)", "--hide-scrollbars"] } else { args.append("--dump-dom") }
        let r = try TestSupport.run(URL(fileURLWithPath: try chromium()), args + [page.absoluteString])
        XCTAssertEqual(r.status, 0, "chromium: \(r.stderr.suffix(2000))")
        return (r.stdout, r.stderr)
    }

    /// The `<text class="value">` numbers of chart `id` in `dom`, by data-label, in order.
    func chartValues(_ dom: String, _ id: String) -> [(series: String, label: String, value: Double)] {
        guard let start = dom.range(of: "data-chart=\"\(id)\""), let end = dom.range(of: "</svg>", range: start.upperBound..<dom.endIndex) else { return [] }
        let svg = String(dom[start.upperBound..<end.lowerBound])
        let pattern = try! NSRegularExpression(pattern: #"<text class="value[^"]*" data-series="([^"]*)" data-label="([^"]*)"[^>]*>([^<]*)</text>"#)
        return pattern.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)).compactMap { m in
            func group(_ i: Int) -> String { Range(m.range(at: i), in: svg).map { String(svg[$0]) } ?? "" }
            func unescape(_ s: String) -> String {
                s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                    .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
            }
            return Double(group(3)).map { (unescape(group(1)), unescape(group(2)), $0) }
        }
    }

    func checkReportInBrowser(file: URL) throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let page = dir.appendingPathComponent("report.html")
        let l = try TestSupport.lecternExecutable()
        let r = try TestSupport.run(l, ["report", file.path, "-o", page.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("sections: corpus, clusters, qa, training-sets, training, evaluation, stages"), r.stdout)
        // The same file gives the same bytes (and the run's own report step wrote this page too).
        let again = dir.appendingPathComponent("again.html")
        XCTAssertEqual(try TestSupport.run(l, ["report", file.path, "--output", again.path]).status, 0)
        let bytes = try Data(contentsOf: page)
        XCTAssertEqual(bytes, try Data(contentsOf: again), "two reports of one file differ")
        XCTAssertTrue(Self.fixtureRun?.stdout.contains("report of") ?? false, "the recipe's [report] step ran")
        // Self-contained: nothing is loaded from elsewhere.
        let html = String(decoding: bytes, as: UTF8.self)
        for needle in ["<script", "<link", "@import", "<img", "<iframe"] {
            XCTAssertFalse(html.contains(needle), "the page contains \(needle)")
        }
        XCTAssertNil(html.range(of: #"(src|href)="(https?:)?//"#, options: .regularExpression), "the page references the network")

        let (dom, log) = try render(page)
        XCTAssertFalse(log.contains("CONSOLE"), "console messages: \(log.components(separatedBy: "\n").filter { $0.contains("CONSOLE") }.prefix(5))")
        for id in ["corpus", "clusters", "qa", "training-sets", "training", "evaluation", "stages"] {
            XCTAssertTrue(dom.contains("<section id=\"\(id)\">"), "section \(id) missing from the rendered page")
        }
        XCTAssertFalse(dom.contains("<section id=\"evaluation\"><h2>Evaluation</h2></section>"), "an empty section was drawn")

        let q = try DatabaseQueue(path: file.path)
        defer { try? q.close() }
        try q.read { db in
            // Evaluation: one bar per model with the stored score (one decimal), base first.
            let scores = try Double.fetchAll(db, sql: """
                SELECT s.value FROM eval_scores s JOIN eval_tasks t ON t.id = s.task_id AND s.metric = t.metric
                WHERE t.name = 'pubmedqa' ORDER BY s.model, s.checkpoint_id IS NOT NULL, s.checkpoint_id
                """)
            let bars = chartValues(dom, "eval-pubmedqa")
            XCTAssertEqual(bars.map(\.label), ["base", "run 1"])
            XCTAssertEqual(bars.count, scores.count)
            for (bar, score) in zip(bars, scores) { XCTAssertEqual(bar.value, score, accuracy: 0.051, bar.label) }
            XCTAssertTrue(dom.contains("base: "), "the table names the base model")
            // Training: the loss curve ends at the last logged loss.
            let lastLoss = try Double.fetchOne(db, sql: "SELECT value FROM training_metrics WHERE name = 'loss' ORDER BY step DESC LIMIT 1")!
            let loss = chartValues(dom, "training-loss")
            XCTAssertEqual(loss.count, 1)
            XCTAssertEqual(loss.first?.value ?? .nan, lastLoss, accuracy: 0.00006)
            // Corpus: the token-length histogram counts every document once.
            let counted = try Int.fetchOne(db, sql: "SELECT count(*) FROM token_counts")!
            let lengths = chartValues(dom, "token-lengths-smollm2")
            XCTAssertGreaterThan(lengths.count, 3)
            XCTAssertEqual(Int(lengths.map(\.value).reduce(0, +)), counted)
            // Clusters: the size histogram sums to the clusters; the similarity bars are the report's.
            let clusters = try Int.fetchOne(db, sql: "SELECT count(*) FROM clusters")!
            let sizes = chartValues(dom, "cluster-sizes-1")
            XCTAssertEqual(Int(sizes.map(\.value).reduce(0, +)), clusters)
            XCTAssertEqual(Int(sizes.map { Double($0.label)! * $0.value }.reduce(0, +)), try Int.fetchOne(db, sql: "SELECT count(*) FROM cluster_members"))
            let similarity = try Double.fetchOne(db, sql: "SELECT json_extract(report, '$.clustering.meanIntraSimilarity') FROM clusterings")!
            let random = try Double.fetchOne(db, sql: "SELECT json_extract(report, '$.randomBaseline.meanIntraSimilarity') FROM clusterings")!
            let sim = chartValues(dom, "cluster-similarity")
            XCTAssertEqual(sim.map(\.series), ["clusters", "random"])
            XCTAssertEqual(sim.first?.value ?? .nan, similarity, accuracy: 0.0006)
            XCTAssertEqual(sim.last?.value ?? .nan, random, accuracy: 0.0006)
            XCTAssertGreaterThan(similarity, random, "Algorithm 1's clusters are more similar than random groups")
            // Mined tasks by type sum to the file's tasks.
            let tasks = try Int.fetchOne(db, sql: "SELECT count(*) FROM rc_tasks")!
            let types = dom.components(separatedBy: "data-chart=\"rc-task-types-").count - 1
            XCTAssertEqual(types, 1)
            if let miner = try String.fetchOne(db, sql: "SELECT substr(fingerprint, 1, 12) FROM rc_texts LIMIT 1") {
                XCTAssertEqual(Int(chartValues(dom, "rc-task-types-\(miner)").map(\.value).reduce(0, +)), tasks)
            }
            // Held out: the page says the scored items' documents stayed out of training.
            XCTAssertTrue(dom.contains("was trained on a set that held them out"), "held-out note missing")
        }

        // A screenshot, kept as the test's artifact (look at it when the layout changes).
        let artifacts = ProcessInfo.processInfo.environment["LECTERN_TEST_ARTIFACTS"].map { URL(fileURLWithPath: $0) }
            ?? TestSupport.packageRoot.appendingPathComponent("test-artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let shot = artifacts.appendingPathComponent("report.png")
        try? FileManager.default.removeItem(at: shot)
        _ = try render(page, screenshot: shot)
        let png = try Data(contentsOf: shot)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        XCTAssertGreaterThan(png.count, 50_000, "the screenshot has content")
        try? FileManager.default.copyItem(at: page, to: artifacts.appendingPathComponent("report.html"))

        // A file with only documents: the corpus and what ran, nothing drawn empty.
        let small = dir.appendingPathComponent("small.lectern").path
        let corpus = dir.appendingPathComponent("c.jsonl")
        try #"{"text": "One short document about enzymes."}"#.appending("\n").write(to: corpus, atomically: true, encoding: .utf8)
        for args in [["init", small, "--domain", "biomedicine"], ["ingest", small, corpus.path]] {
            XCTAssertEqual(try TestSupport.run(l, args).status, 0)
        }
        let smallPage = dir.appendingPathComponent("small.html")
        let s = try TestSupport.run(l, ["report", small, "-o", smallPage.path])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("sections: corpus, stages"), s.stdout)
        let smallHTML = try String(contentsOf: smallPage, encoding: .utf8)
        XCTAssertFalse(smallHTML.contains("<section id=\"evaluation\""))
        XCTAssertFalse(smallHTML.contains("data-chart="), "no chart without data to draw")
        // Bad input: a missing file, a folder that cannot be written.
        let missing = try TestSupport.run(l, ["report", dir.appendingPathComponent("nope.lectern").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("nope.lectern"), missing.stderr)
        let blocked = try TestSupport.run(l, ["report", small, "-o", corpus.path + "/x.html"])
        XCTAssertNotEqual(blocked.status, 0)
        XCTAssertTrue(blocked.stderr.contains("cannot write"), blocked.stderr)
    }
}
