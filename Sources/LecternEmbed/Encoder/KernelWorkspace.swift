import Foundation

/// Work memory for the C kernels, lent per call and owned by this pool rather than by threads.
///
/// The kernels used to keep their packing and attention buffers in C thread-locals, grown with
/// `free`/`aligned_alloc`. Those buffers belonged to whichever thread happened to run a task: a
/// dispatch worker, or a caller's own short-lived `Thread` that joins `concurrentPerform` and
/// then exits with its buffer unaccounted for. A full test run with that design aborted in
/// glibc's allocator ("malloc_consolidate(): unaligned fastbin chunk") after an embedding on a
/// Foundation `Thread`. Here every buffer is an `AlignedBuffer` taken from a locked free list
/// for the length of one kernel call and returned after it, so its lifetime no longer depends
/// on any thread's. The pool holds at most one buffer per thread that was ever inside a kernel
/// at the same moment (a few MiB), and grows a buffer only when a longer sequence needs it.
final class KernelWorkspace: @unchecked Sendable {
    static let shared = KernelWorkspace()

    private let lock = NSLock()
    private var idle: [AlignedBuffer] = []

    /// Runs `body` with at least `floats` floats of 64-byte-aligned memory that no other call
    /// uses until `body` returns.
    func withBuffer<R>(floats: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
        lock.lock()
        let reusable = idle.popLast()
        lock.unlock()
        // Requests are of similar sizes; one too small is dropped for a larger one.
        let buffer = reusable.flatMap { $0.count >= floats ? $0 : nil } ?? AlignedBuffer(count: max(floats, 1))
        defer {
            lock.lock()
            idle.append(buffer)
            lock.unlock()
        }
        return body(buffer.pointer)
    }
}
