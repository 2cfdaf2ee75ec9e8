import Foundation
import GRDB
import LecternCluster
import LecternStore
import LecternTestSupport
import XCTest

/// `kill -9` a real `lectern cluster` process at random moments, re-run it each time: the file
/// ends up with exactly the clusters of one uninterrupted run, and the paper's invariants hold
/// (every document in exactly one cluster, no cluster over Lmax but a lone oversize document,
/// every joined document at or above the threshold).
final class ClusterKillResumeTests: XCTestCase {
    static let n = 20_000, dim = 32, lmax = 2048, threshold = 0.7

    /// A file with `n` documents, vectors with topic structure in a plain BLOB table, and token
    /// counts drawn like the PubMedQA abstracts' (100 to 700 tokens, some over Lmax).
    func makeFile(_ path: String) throws {
        let store = try Store.create(path: path, domain: "biomedicine")
        let n = Self.n, d = Self.dim
        let vectors = SyntheticCorpus.vectors(count: n, dim: d, topics: n / 40, seed: 11)
        var rng = TestRandom(seed: 5)
        try store.pool.write { db in
            let now = "2026-11-30T00:00:00Z"
            try db.execute(sql: "CREATE TABLE vec_test(embedding BLOB)")
            try db.execute(sql: """
                INSERT INTO embedders(id, name, kind, model, dim, vector_table, fingerprint, config, created_at)
                VALUES (1, 'synthetic', 'builtin', 'synthetic', ?, 'vec_test', 'synthetic-fp', '{}', ?)
                """, arguments: [d, now])
            try db.execute(sql: "INSERT INTO tokenizers(id, name, kind, fingerprint, created_at) VALUES (1, 'target', 'bpe', 'tok-fp', ?)", arguments: [now])
            for i in 0..<n {
                let id = Int64(i + 1)
                let tokens = i % 997 == 0 ? 2500 : 100 + Int(rng.next() % 600)
                try db.execute(sql: "INSERT INTO documents(id, text, source, n_chars, content_hash, created_at) VALUES (?, ?, 'test', ?, ?, ?)",
                               arguments: [id, "document \(i)", tokens * 4, Data("doc-\(i)".utf8), now])
                let blob = vectors[i * d..<(i + 1) * d].withUnsafeBytes { Data($0) }
                try db.execute(sql: "INSERT INTO vec_test(rowid, embedding) VALUES (?, ?)", arguments: [id, blob])
                try db.execute(sql: "INSERT INTO embeddings(embedder_id, document_id, vector_rowid) VALUES (1, ?, ?)", arguments: [id, id])
                try db.execute(sql: "INSERT INTO token_counts(tokenizer_id, document_id, n_tokens) VALUES (1, ?, ?)", arguments: [id, tokens])
            }
        }
    }

    /// Clusters in order: (ordinal, tokens, members with their join similarity).
    func dump(_ path: String) throws -> [String] {
        try readVerified(path) { db in
            let clusterings = try String.fetchAll(db, sql: "SELECT algorithm || '|' || fingerprint || '|' || status || '|' || coalesce(report, '') FROM clusterings ORDER BY id")
            let clusters = try String.fetchAll(db, sql: """
                SELECT c.ordinal || '|' || c.n_documents || '|' || c.n_tokens || '|' ||
                       (SELECT group_concat(document_id || ':' || printf('%.6f', similarity), ',') FROM
                          (SELECT document_id, similarity FROM cluster_members m WHERE m.cluster_id = c.id ORDER BY position))
                FROM clusters c ORDER BY c.ordinal
                """)
            return clusterings + clusters
        }
    }

    func testKillNineDuringClusterThenRerunEqualsCleanRunAndInvariantsHold() throws {
        let lectern = try TestSupport.lecternExecutable()
        let dir = try TestSupport.temporaryDirectory(self)
        let pristine = dir.appendingPathComponent("pristine.lectern").path
        try makeFile(pristine)
        let args = ["--embedder", "synthetic", "--tokenizer", "target", "--lmax", String(Self.lmax),
                    "--threshold", String(Self.threshold), "--seed", "3", "--batch-clusters", "3"]

        let clean = dir.appendingPathComponent("clean.lectern").path
        try FileManager.default.copyItem(atPath: pristine, toPath: clean)
        let t0 = Date()
        let cleanRun = try TestSupport.run(lectern, ["cluster", clean] + args)
        let cleanSeconds = Date().timeIntervalSince(t0)
        XCTAssertEqual(cleanRun.status, 0, cleanRun.stderr)

        let killed = dir.appendingPathComponent("killed.lectern").path
        try FileManager.default.copyItem(atPath: pristine, toPath: killed)
        var rng = TestRandom(seed: 20261130)
        var kills = 0, midWrite = 0
        var finished = false
        for attempt in 0..<40 where !finished {
            // Start-up, clustering, or between and inside batches: early attempts die sooner, later
            // ones are given longer. Written batches persist, so a run eventually outlasts its kill.
            let cap = min(0.9 * cleanSeconds, 0.15 + 0.05 * Double(attempt))
            let outcome = try TestSupport.runAndKill(lectern, ["cluster", killed] + args,
                                                     after: Double(rng.next() % 1000) / 1000 * cap,
                                                     environment: ["PATH": "/usr/bin:/bin"])
            if outcome == .killed { kills += 1 }
            finished = outcome == .finished
            // What a kill leaves is a prefix of the clusters, never a cluster without all its members.
            let partial = try dump(killed).dropFirst(1)
            let written = partial.map { $0.split(separator: "|")[0] }.compactMap { Int($0) }
            XCTAssertEqual(written, Array(0..<written.count), "clusters written out of order or with gaps")
            for row in partial {
                let f = row.split(separator: "|", omittingEmptySubsequences: false)
                XCTAssertEqual(Int(f[1]), f[3].split(separator: ",").count, "a cluster lost members: \(row)")
            }
            if !finished && !written.isEmpty { midWrite += 1 }
        }
        if !finished {
            let last = try TestSupport.run(lectern, ["cluster", killed] + args)
            XCTAssertEqual(last.status, 0, last.stderr)
        }
        XCTAssertGreaterThanOrEqual(kills, 5, "the test must really interrupt the stage several times")
        XCTAssertGreaterThanOrEqual(midWrite, 1, "at least one kill must land while clusters are being written")

        let a = try dump(clean), b = try dump(killed)
        XCTAssertEqual(a.count, b.count, "cluster counts differ after \(kills) kills")
        XCTAssertEqual(a, b, "the clusters after \(kills) kills and re-runs differ from a clean run")

        // The paper's invariants on the result.
        let queue = try DatabaseQueue(path: killed)
        defer { try? queue.close() }
        try queue.read { db in
            let placed = try Int64.fetchAll(db, sql: "SELECT document_id FROM cluster_members ORDER BY document_id")
            XCTAssertEqual(placed, (1...Int64(Self.n)).map { $0 }, "every document in exactly one cluster")
            let over = try Row.fetchAll(db, sql: "SELECT n_documents, n_tokens FROM clusters WHERE n_tokens > ?", arguments: [Self.lmax])
            XCTAssertTrue(over.allSatisfy { ($0["n_documents"] as Int) == 1 }, "only a lone oversize document may exceed Lmax")
            XCTAssertEqual(over.count, (Self.n + 996) / 997, "each oversize document is its own cluster")
            let below = try Int.fetchOne(db, sql: "SELECT count(*) FROM cluster_members WHERE position > 0 AND similarity < ?",
                                         arguments: [Self.threshold - 1e-6]) ?? -1
            XCTAssertEqual(below, 0, "a document joined a cluster below the threshold")
            XCTAssertGreaterThan(try Int.fetchOne(db, sql: "SELECT count(*) FROM clusters WHERE n_documents > 1") ?? 0, Self.n / 20)
        }
    }
}
