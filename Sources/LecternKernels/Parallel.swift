#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Data-parallel loops for the kernels. pthreads rather than Dispatch: this target goes into the
// loadable SQLite extension, which must load into the sqlite3 shell or Python without
// libdispatch or Foundation.

/// Cores available to this process (at least 1).
public let processorCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

/// Runs `body(i)` for every i in `0..<n` on up to `threads` threads (the caller's thread is one of
/// them); thread `w` takes i = w, w + t, w + 2t, ... A thread that cannot be created leaves its
/// share to the caller's thread, so the loop always completes.
public func parallelFor(_ n: Int, threads: Int, _ body: @escaping (Int) -> Void) {
    let t = max(1, min(threads, n))
    if t == 1 { for i in 0..<n { body(i) }; return }
    final class Box { let f: () -> Void; init(_ f: @escaping () -> Void) { self.f = f } }
    var tids: [pthread_t] = []
    for w in 1..<t {
        let box = Box { var i = w; while i < n { body(i); i += t } }
        #if canImport(Darwin)
        var tid: pthread_t? = nil
        #else
        var tid = pthread_t()
        #endif
        let arg = Unmanaged.passRetained(box).toOpaque()
        let rc = pthread_create(&tid, nil, { p in
            #if canImport(Darwin)
            let b = Unmanaged<Box>.fromOpaque(p).takeRetainedValue()
            #else
            let b = Unmanaged<Box>.fromOpaque(p!).takeRetainedValue()
            #endif
            b.f()
            return nil
        }, arg)
        #if canImport(Darwin)
        if rc == 0, let tid { tids.append(tid) } else {
            Unmanaged<Box>.fromOpaque(arg).release()
            var i = w; while i < n { body(i); i += t }
        }
        #else
        if rc == 0 { tids.append(tid) } else {
            Unmanaged<Box>.fromOpaque(arg).release()
            var i = w; while i < n { body(i); i += t }
        }
        #endif
    }
    var i = 0; while i < n { body(i); i += t }
    for tid in tids { pthread_join(tid, nil) }
}

/// Runs `body(chunkIndex, range)` over `0..<count` split into contiguous chunks of at least
/// `minChunk` items (about four per core, so uneven chunks still balance), on every core when
/// the work is large enough to pay for the threads. Chunks never overlap, so `body` may write
/// to per-item slots of a shared buffer without locks.
public func parallelChunks(count: Int, minChunk: Int, _ body: (Int, Range<Int>) -> Void) {
    let chunks = max(1, min(processorCount * 4, count / max(1, minChunk)))
    if chunks == 1 {
        body(0, 0..<count)
        return
    }
    let per = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { body in
        parallelFor(chunks, threads: processorCount) { c in
            let lo = c * per
            let hi = min(count, lo + per)
            if lo < hi { body(c, lo..<hi) }
        }
    }
}
