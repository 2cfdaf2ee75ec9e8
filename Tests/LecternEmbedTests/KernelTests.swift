import Foundation
import XCTest
@testable import LecternEmbed

/// The GEMM kernels (portable AVX2 Swift, AVX-512 C, AVX512_BF16 C) and the prefix tokenizer.
final class KernelTests: XCTestCase {
    struct Ref { let ids: [String]; let vectors: [Float]; let texts: [String] }

    func reference(_ n: Int) throws -> Ref {
        let base = TestSupport.repoRoot + "/Tests/LecternEmbedTests/Reference/minilm_pubmedqa"
        let ref = try JSONDecoder().decode(MiniLMReferenceTests.Reference.self, from: try Data(contentsOf: URL(fileURLWithPath: base + ".json")))
        let raw = try Data(contentsOf: URL(fileURLWithPath: base + ".f32"))
        let v: [Float] = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let ids = Array(ref.ids.prefix(n))
        return Ref(ids: ids, vectors: Array(v.prefix(n * 384)), texts: try TestSupport.pubmedqaDocuments(ids: ids))
    }

    /// The portable Swift kernel (what CPUs without AVX-512 run) and this CPU's fp32 kernel
    /// both match the reference (a quick check; MiniLMReferenceTests checks all 1000).
    func testPortableAndNativeKernelsMatchReference() throws {
        let r = try reference(100)
        let dir = try TestSupport.minilmDirectory()
        let e = try MiniLMEmbedder(directory: dir)
        for kernel in Set([GemmKernel.avx2, GemmKernel.fp32] + (GemmKernel.cpuHasAVX512 ? [GemmKernel.avx512] : [])) {
            let encoder = try BertEncoder(modelDirectory: dir, kernel: kernel)
            XCTAssertEqual(encoder.kernel, kernel)
            let got = try encoder.embed(r.texts.map { e.sequences(for: $0)[0] })
            for i in 0..<r.ids.count {
                XCTAssertGreaterThanOrEqual(TestSupport.cosine(got[(i * 384)..<((i + 1) * 384)], r.vectors[(i * 384)..<((i + 1) * 384)]), 0.9999, "\(kernel): \(r.ids[i])")
            }
        }
        print("fp32 kernel on this CPU: \(GemmKernel.fp32.rawValue)")
    }

    /// bf16: a separate fingerprint (fp32's unchanged), vectors close to fp32's.
    func testBF16IsASeparateEmbedderCloseToFP32() throws {
        let dir = try TestSupport.minilmDirectory()
        let fp32 = try MiniLMEmbedder(directory: dir)
        XCTAssertFalse(fp32.configJSON.contains("precision"), "fp32 keeps the fingerprint of earlier versions: \(fp32.configJSON)")
        guard GemmKernel.cpuHasBF16 else {
            XCTAssertThrowsError(try MiniLMEmbedder(directory: dir, precision: .bf16)) { e in
                XCTAssertTrue("\(e)".contains("AVX512_BF16"), "\(e)")
            }
            throw XCTSkip("this CPU has no AVX512_BF16")
        }
        let bf16 = try MiniLMEmbedder(directory: dir, precision: .bf16)
        XCTAssertEqual(bf16.encoder.kernel, .bf16)
        XCTAssertNotEqual(bf16.fingerprint, fp32.fingerprint)
        XCTAssertTrue(bf16.configJSON.contains("\"precision\":\"bf16\""), bf16.configJSON)
        let r = try reference(200)
        let got = try bf16.embed(r.texts)
        var worst = 1.0, sum = 0.0
        for i in 0..<r.ids.count {
            let c = TestSupport.cosine(got[(i * 384)..<((i + 1) * 384)], r.vectors[(i * 384)..<((i + 1) * 384)])
            worst = min(worst, c); sum += c
        }
        print("bf16 vs fp32 reference: min cosine \(worst), mean \(sum / Double(r.ids.count))")
        XCTAssertGreaterThan(worst, 0.99)
        XCTAssertGreaterThan(sum / Double(r.ids.count), 0.998)
    }

    /// Without AVX512_BF16 (simulated), `lectern embed --precision bf16` fails with a clear message.
    func testBF16OnACPUWithoutItSaysSo() throws {
        let exe = try TestSupport.lecternExecutable()
        _ = try TestSupport.minilmDirectory()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lectern-bf16-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("b.lectern").path
        _ = try TestSupport.makeStore(path, documents: ["a document"])
        let p = Process()
        p.executableURL = exe
        p.arguments = ["embed", path, "--precision", "bf16"]
        var env = ProcessInfo.processInfo.environment
        env["LECTERN_EMBED_KERNEL"] = "avx2"
        p.environment = env
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertNotEqual(p.terminationStatus, 0)
        XCTAssertTrue(msg.contains("--precision bf16 needs a CPU with AVX512_BF16"), msg)
    }

    /// Tokenizing in whitespace-cut segments, and stopping at a limit, changes no id.
    func testPrefixTokenizationEqualsWholeTokenization() throws {
        let e = try MiniLMEmbedder(directory: try TestSupport.minilmDirectory())
        let r = try reference(1000)
        let t = e.tokenizer
        let each = r.texts.map { t.tokenize($0) }
        let joined = r.texts.joined(separator: " ")  // 1.4 MB: segments cut at arbitrary spaces
        XCTAssertEqual(t.tokenize(joined), Array(each.joined()))
        for limit in [0, 1, 100, 254, 5000] {
            XCTAssertEqual(t.tokenize(joined, limit: limit).ids, Array(each.joined().prefix(limit)))
        }
        // A prefix cut anywhere: when it says complete, its ids are the whole text's.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            let cut = Int.random(in: 0..<min(joined.count, 20_000), using: &rng)
            let (ids, complete) = t.tokenize(String(joined.prefix(cut)), limit: 254, partial: true)
            if complete { XCTAssertEqual(ids, Array(each.joined().prefix(254)), "cut at \(cut)") }
            else { XCTAssertLessThan(ids.count, 254) }
        }
        XCTAssertFalse(t.tokenize("no-whitespace-at-all", limit: 1, partial: true).complete)
    }
}
