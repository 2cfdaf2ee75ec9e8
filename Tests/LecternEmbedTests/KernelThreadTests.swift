import Foundation
import XCTest
@testable import LecternEmbed

/// The AVX-512 kernels on threads that come and go: a caller's own `Thread` takes part in the
/// kernels' `concurrentPerform` and then exits. A heap corruption once followed exactly this
/// (issue 13); the vectors must match the ones computed on the main thread, every time, and the
/// process must live through it.
final class KernelThreadTests: XCTestCase {
    func testShortLivedThreadsEmbedTheSameVectors() throws {
        let kernels = [GemmKernel.avx512] + (GemmKernel.cpuHasBF16 ? [GemmKernel.bf16] : [])
        guard GemmKernel.cpuHasAVX512 else { throw XCTSkip("this CPU has no AVX-512") }
        let dir = try TestSupport.minilmDirectory()
        let tokenizer = try MiniLMEmbedder(directory: dir)
        let refURL = URL(fileURLWithPath: TestSupport.repoRoot + "/Tests/LecternEmbedTests/Reference/minilm_pubmedqa.json")
        let ref = try JSONDecoder().decode(MiniLMReferenceTests.Reference.self, from: try Data(contentsOf: refURL))
        let texts = try TestSupport.pubmedqaDocuments(ids: Array(ref.ids.prefix(24)))
        let seqs = texts.map { tokenizer.sequences(for: $0)[0] }
        for kernel in kernels {
            let encoder = try BertEncoder(modelDirectory: dir, kernel: kernel)
            let expected = try encoder.embed(seqs)
            final class Box: @unchecked Sendable { var vectors: [Float] = [] }
            for round in 0..<40 {
                let box = Box(), done = DispatchSemaphore(value: 0)
                // Sequences of changing lengths, so the work buffers grow between rounds.
                let n = 4 + round % 20
                let thread = Thread { box.vectors = (try? encoder.embed(Array(seqs.prefix(n)))) ?? []; done.signal() }
                thread.stackSize = 1 << 19
                thread.start()
                XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
                XCTAssertEqual(box.vectors, Array(expected.prefix(n * 384)), "\(kernel) round \(round)")
                // Meanwhile the allocator is busy on this thread too.
                var junk: [[UInt8]] = []
                for i in 0..<2000 { junk.append([UInt8](repeating: UInt8(i & 255), count: 16 + i % 200)) }
                XCTAssertEqual(junk.count, 2000)
            }
        }
    }
}
