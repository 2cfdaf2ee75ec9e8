// Merge throughput: `lectern merge` of S shard files totalling N documents with 384-d embeddings
// and token counts, side by side with the reference: SQLite copying the same rows and vector
// bytes with plain `INSERT ... SELECT` over ATTACH into an empty file (no natural keys, no id
// remapping, no checks): the floor of moving those bytes through SQLite on this machine.
//
// usage: lectern-bench-merge [--docs N] [--shards S] [--dir DIR]
import Foundation
import GRDB
import LecternCore
import LecternKernels
import LecternShard
import LecternStore

var docs = 1_000_000, shardCount = 8
var dir = NSTemporaryDirectory() + "lectern-bench-merge"
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--docs": docs = Int(args.next() ?? "") ?? docs
    case "--shards": shardCount = Int(args.next() ?? "") ?? shardCount
    case "--dir": dir = args.next() ?? dir
    default: FileHandle.standardError.write(Data("unknown argument \(a)\n".utf8)); exit(2)
    }
}
let dim = 384
try? FileManager.default.removeItem(atPath: dir)
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
func path(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
func mb(_ p: String) -> Double { Double((try? FileManager.default.attributesOfItem(atPath: p)[.size] as? Int) ?? 0) / 1e6 }

// The main file and S shard files for it, made the way a shard run writes them.
let main = try Store.create(path: path("main.lectern"), domain: "bench")
let fileID = try main.meta("file_id") ?? ""
let plan = Fingerprint.hex(of: Array("bench \(docs) \(shardCount)".utf8))
var rng = SplitMix64(seed: 42)
let words = (0..<5000).map { i in "w\(i)" + String(repeating: "x", count: i % 7) }
let t0 = Date()
var shards: [Store] = []
for i in 0..<shardCount {
    let s = try Store.create(path: path(try Shard(index: i, count: shardCount).fileName), domain: "bench")
    try s.setMeta("shard_of", fileID)
    try s.setMeta("shard_index", String(i))
    try s.setMeta("shard_count", String(shardCount))
    try s.setMeta("shard_plan", plan)
    try s.pool.write { db in
        try db.execute(sql: "CREATE VIRTUAL TABLE lectern_vectors_384 USING lectern_vec(embedding float[384] distance_metric=cosine, embedder integer partition key)")
        try db.execute(sql: "INSERT INTO embedders(id, name, kind, model, dim, metric, vector_table, fingerprint, config, created_at) VALUES (1, 'minilm', 'builtin', 'm', 384, 'cosine', 'lectern_vectors_384', 'efp', '{}', 't')")
        try db.execute(sql: "INSERT INTO tokenizers(id, name, kind, fingerprint, created_at) VALUES (1, 'tok', 'bpe', 'tfp', 't')")
        try db.execute(sql: "INSERT INTO sources(id, path, format, options, size_bytes, mtime, fingerprint, records_done, n_added, status, created_at, updated_at) VALUES (1, '/corpus.jsonl', 'jsonl', '{}', 1, 1, 'sfp', \(docs), 0, 'complete', 't', 't')")
    }
    shards.append(s)
}
// Documents of about 1 kB (a PubMedQA abstract is 1.2 kB), each routed to the shard owning its hash.
var pending = [[(text: String, hash: [UInt8], vector: Data)]](repeating: [], count: shardCount)
func flush(_ i: Int) throws {
    let batch = pending[i]
    pending[i] = []
    try shards[i].pool.write { db in
        let doc = try db.makeStatement(sql: "INSERT INTO documents(text, source, source_id, n_chars, content_hash, created_at) VALUES (?, '/corpus.jsonl', 1, ?, ?, 't')")
        let vec = try db.makeStatement(sql: "INSERT INTO lectern_vectors_384(rowid, embedding, embedder) VALUES (?, ?, 1)")
        let emb = try db.makeStatement(sql: "INSERT INTO embeddings(embedder_id, document_id, vector_rowid, n_tokens) VALUES (1, ?, ?, 256)")
        let tok = try db.makeStatement(sql: "INSERT INTO token_counts(tokenizer_id, document_id, n_tokens) VALUES (1, ?, ?)")
        for d in batch {
            try doc.execute(arguments: [d.text, d.text.count, Data(d.hash)])
            let id = db.lastInsertedRowID
            try vec.execute(arguments: [id, d.vector])
            try emb.execute(arguments: [id, id])
            try tok.execute(arguments: [id, d.text.count / 4])
        }
        try db.execute(sql: "UPDATE sources SET n_added = n_added + ?", arguments: [batch.count])
    }
}
for n in 0..<docs {
    var text = "document \(n):"
    while text.utf8.count < 1000 { text += " " + words[Int(rng.next() % UInt64(words.count))] }
    let hash = ContentHash.of(text: text)
    var v = [Float](repeating: 0, count: dim)
    for k in 0..<dim { v[k] = Float(Int(rng.next() % 2001) - 1000) / 1000 }
    let i = Shard.of(contentHash: hash, count: shardCount)
    pending[i].append((text, hash, v.withUnsafeBytes { Data($0) }))
    if pending[i].count >= 5000 { try flush(i) }
}
for i in 0..<shardCount { try flush(i) }
for s in shards {
    try s.pool.writeWithoutTransaction { db in _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
    try s.pool.close()
    let q = try DatabaseQueue(path: s.path)
    try q.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = DELETE") }
    try q.close()
}
let shardPaths = (0..<shardCount).map { path(try! Shard(index: $0, count: shardCount).fileName) }
let shardMB = shardPaths.reduce(0) { $0 + mb($1) }
print(String(format: "made %d shard files, %d documents, %.0f MB, in %.1f s", shardCount, docs, shardMB, Date().timeIntervalSince(t0)))

// Reference: plain SQLite copies of the same rows and vector bytes into an empty WAL file.
let ref = try DatabasePool(path: path("reference.sqlite"))
let t1 = Date()
var refRows = 0
for (i, p) in shardPaths.enumerated() {
    try ref.writeWithoutTransaction { db in
        try db.execute(sql: "ATTACH DATABASE ? AS shard", arguments: [Store.snapshotURI(path: p) ?? p])
        defer { try? db.execute(sql: "DETACH DATABASE shard") }
        try db.inTransaction {
            for t in ["documents", "embeddings", "token_counts", "lectern_vectors_384_chunks", "lectern_vectors_384_vectors"] {
                if i == 0 { try db.execute(sql: "CREATE TABLE \(t) AS SELECT * FROM shard.\(t) WHERE 0") }
                try db.execute(sql: "INSERT INTO main.\(t) SELECT * FROM shard.\(t)")
                refRows += t.hasPrefix("lectern_vectors") ? 0 : db.changesCount
            }
            return .commit
        }
    }
}
let refSeconds = Date().timeIntervalSince(t1)

// Lectern: the merge, as `lectern merge MAIN SHARD...` runs it.
var merger = ShardMerger(store: main)
merger.log = { _ in }
let t2 = Date()
let outcomes = try merger.merge(paths: shardPaths)
let mergeSeconds = Date().timeIntervalSince(t2)
let rows = outcomes.reduce(0) { $0 + $1.counts.values.reduce(0, +) }
let merged = try main.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM embeddings") ?? 0 }
precondition(merged == docs, "merged \(merged) embeddings of \(docs)")
// Merging again: every shard found by its SHA-256, nothing added.
let t3 = Date()
let again = try merger.merge(paths: shardPaths)
precondition(again.allSatisfy(\.alreadyMerged))
let againSeconds = Date().timeIntervalSince(t3)

print(String(format: "lectern merge:      %6.1f s  %9.0f rows/s  %6.1f MB/s of shard files  (%d rows: documents, embeddings, token counts, sources, stage runs)",
             mergeSeconds, Double(rows) / mergeSeconds, shardMB / mergeSeconds, rows))
print(String(format: "plain SQLite copy:  %6.1f s  %9.0f rows/s  %6.1f MB/s  (same rows and vector bytes, no keys, no remapping)",
             refSeconds, Double(refRows) / refSeconds, shardMB / refSeconds))
print(String(format: "ratio lectern / plain copy: %.2fx the time; merging all %d again (already merged): %.1f s (SHA-256 of %.0f MB)",
             mergeSeconds / refSeconds, shardCount, againSeconds, shardMB))
try? FileManager.default.removeItem(atPath: dir)

